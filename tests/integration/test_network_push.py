"""Plan, push, verify and roll back against the lab's SSH devices, through the playbook runner.

Every injected fault (a rejected command mid-push, a session dropped mid-push, a slow device, a BGP peer
that never comes up) must end with the device's running config equal to its backup; a changed host key
must stop the push before anything is sent. Secrets never reach the journal or the session logs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from migrate_cli.core.events import Event
from migrate_cli.core.oneshot import build_playbook, run_playbook
from migrate_cli.core.runner import RunOptions, RunResult
from migrate_cli.core.settings import Settings
from migrate_cli.lab.devices import RemotePeer
from migrate_cli.network.backups import BackupStore
from migrate_cli.network.plan import normalize
from tests.integration.network_lab import SECRETS, NetLab

FAST = {"timeout": 5.0, "verify_timeout": 2.0, "verify_interval": 0.2, "rollback_timeout": 20.0}


def run(lab: NetLab, action: str = "network.push", check: bool = False, forks: int = 10, **params: Any):
    events: list[Event] = []
    values = (FAST | params) if action == "network.push" else {"timeout": 5.0, **params}
    batches = params.pop("batches", None)
    values.pop("batches", None)
    playbook = build_playbook(action, action, values, disruptive=action != "network.plan", batches=batches)
    settings = Settings(inventory_dir=lab.inventory_dir, state_dir=lab.state_dir)
    result = run_playbook(settings, playbook, RunOptions(check=check, yes=True, forks=forks), [events.append])
    return result, events


def outcome(result: RunResult, host: str):
    return next(h for s in result.steps for h in s.hosts if h.host == host)


def assert_no_secrets(lab: NetLab, events: list[Event]) -> None:
    journal = (lab.state_dir / "journal.sqlite").read_bytes()
    logs = [p.read_text() for p in (lab.state_dir / "network" / "sessions").rglob("*.log")]
    assert logs, "session logs are written"
    text = "\n".join(logs) + "\n".join(f"{e.message} {e.data}" for e in events)
    for secret in SECRETS.values():
        assert secret not in text, f"secret in logs/events: {secret[:3]}..."
        assert secret.encode() not in journal


def test_push_converges_verifies_saves_and_a_second_push_changes_nothing(tmp_path: Path) -> None:
    with NetLab.start(tmp_path, count=2) as lab:
        before = {n: d.running_config() for n, d in lab.fleet.devices.items()}
        planned, plan_events = run(lab, "network.plan", check=True)
        assert planned.ok and outcome(planned, "edge1").status == "changed"
        assert "router bgp 65010" in outcome(planned, "edge1").diff
        assert all(d.running_config() == before[n] for n, d in lab.fleet.devices.items()), "plan changes nothing"

        result, events = run(lab)
        assert result.ok, [h.error for s in result.steps for h in s.hosts]
        edge1 = outcome(result, "edge1")
        assert edge1.status == "changed" and edge1.data["bgp"] == "3/3 established" and edge1.data["bfd"] == "up"
        assert edge1.diff == outcome(planned, "edge1").diff, "push sends exactly what the plan showed"
        device = lab.device("edge1")
        assert device.startup_config() == device.running_config(), "write memory after verification"
        backup = BackupStore(lab.state_dir).find("edge1", result.run_id)
        assert normalize(backup.text()) == normalize(before["edge1"])
        assert backup.path.stat().st_mode & 0o777 == 0o600

        again, _ = run(lab)
        assert again.ok and [h.status for s in again.steps for h in s.hosts] == ["ok", "ok"]
        verified, _ = run(lab, "network.verify")
        assert verified.ok and outcome(verified, "edge2").data["pending"] == 0
        assert_no_secrets(lab, plan_events + events)


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        (
            {"reject_patterns": [r"^neighbor \S+ fall-over bfd"]},
            "device rejected 'neighbor 169.254.100.1 fall-over bfd'",
        ),
        ({"drop_after_commands": 40}, "session dropped"),
        ({"delay_seconds": 0.05}, "no answer within 0.4 s"),
    ],
    ids=["rejected-command", "dropped-session", "slow-device"],
)
def test_a_fault_mid_push_rolls_back_to_the_backup(tmp_path: Path, fault: dict[str, Any], words: str) -> None:
    with NetLab.start(tmp_path, count=1) as lab:
        device = lab.device("edge1")
        before = device.running_config()
        for key, value in fault.items():
            setattr(device.faults, key, value)
        result, events = run(lab, timeout=0.4 if "delay_seconds" in fault else 5.0)
        host = outcome(result, "edge1")
        assert not result.ok and host.status == "failed"
        assert words in host.error and "rolled back to backup" in host.error, host.error
        assert "running config equals the backup" in host.error
        backup = BackupStore(lab.state_dir).find("edge1")
        device.faults.clear()
        assert normalize(device.running_config()) == normalize(backup.text()) == normalize(before)
        assert normalize(device.startup_config()) == normalize(before)
        assert_no_secrets(lab, events)


def test_a_session_that_never_comes_up_is_rolled_back(tmp_path: Path) -> None:
    with NetLab.start(tmp_path, count=1, vpn=False) as lab:
        device = lab.device("edge1")
        device.set_peer(RemotePeer("169.254.100.1", asn=64512, md5="not-the-key-we-have"))
        before = device.running_config()
        result, _ = run(lab, verify_timeout=0.6)
        error = outcome(result, "edge1").error or ""
        assert "verify failed: BGP dx neighbor 169.254.100.1 is Active" in error, error
        assert "running config equals the backup" in error
        assert normalize(device.running_config()) == normalize(before)


def test_a_changed_host_key_stops_before_anything_is_sent(tmp_path: Path) -> None:
    with NetLab.start(tmp_path, count=2) as lab:
        before = lab.device("edge2").running_config()
        lab.fleet.rotate_host_key("edge2")
        lab.device("edge2").commands_received.clear()
        result, _ = run(lab)
        edge2 = outcome(result, "edge2")
        assert edge2.status == "failed" and "HOST KEY CHANGED" in edge2.error and "SHA256:" in edge2.error
        assert lab.device("edge2").commands_received == []
        assert lab.device("edge2").running_config() == before
        assert BackupStore(lab.state_dir).list("edge2") == []
        assert outcome(result, "edge1").status == "changed", "the other device is not held back"


def test_rollback_restores_a_backup_and_proves_it(tmp_path: Path) -> None:
    with NetLab.start(tmp_path, count=1) as lab:
        device = lab.device("edge1")
        original = device.running_config()
        first, _ = run(lab)
        assert first.ok
        pushed = device.running_config()
        checked, _ = run(lab, "network.rollback", check=True)
        assert "no router bgp 65010" in outcome(checked, "edge1").diff
        assert device.running_config() == pushed
        back, _ = run(lab, "network.rollback", to=first.run_id)
        assert back.ok and outcome(back, "edge1").data["proved"] == "running config equals the backup"
        assert normalize(device.running_config()) == normalize(original)
        assert device.startup_config() == device.running_config()


def test_canary_failure_leaves_the_other_devices_untouched(tmp_path: Path) -> None:
    with NetLab.start(tmp_path, count=3, vpn=False, uplinks=False) as lab:
        lab.device("edge1").faults.reject_patterns = [r"^router bgp"]
        before = {n: d.running_config() for n, d in lab.fleet.devices.items()}
        result, _ = run(lab, batches=[["edge1"], ["edge2", "edge3"]])
        assert result.status == "failed" and len(result.steps) == 1
        assert outcome(result, "edge1").status == "failed"
        for name in ("edge2", "edge3"):
            assert lab.device(name).running_config() == before[name]
            assert not [c for c in lab.device(name).commands_received if c == "configure terminal"]


@pytest.mark.slow
def test_parallel_push_to_twenty_devices(tmp_path: Path) -> None:
    with NetLab.start(tmp_path, count=20) as lab:
        start = time.monotonic()
        result, events = run(lab, forks=20)
        elapsed = time.monotonic() - start
        assert result.ok, [h.error for s in result.steps for h in s.hosts if h.error]
        hosts = [h for s in result.steps for h in s.hosts]
        assert len(hosts) == 20 and all(h.status == "changed" and h.data["bgp"] == "3/3 established" for h in hosts)
        assert len({h.data["backup"] for h in hosts}) == 1, "one backup id per run"
        again, _ = run(lab, "network.plan", check=True, forks=20)
        assert [h.status for s in again.steps for h in s.hosts] == ["ok"] * 20
        assert elapsed < 30, elapsed
        assert_no_secrets(lab, events)
