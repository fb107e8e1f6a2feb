"""`migrate network ...` as an engineer runs it in a change window, against the lab's SSH devices."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.e2e.cli import migrate
from tests.integration.network_lab import SECRETS, NetLab


def _args(lab: NetLab, *rest: str) -> tuple[str, ...]:
    return ("-i", str(lab.inventory_dir), "--state-dir", str(lab.state_dir), *rest)


def _no_secrets(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS.values():
            assert secret not in text


@pytest.mark.slow
def test_render_plan_push_backups_rollback(tmp_path: Path) -> None:
    with NetLab.start(tmp_path, count=2) as lab:
        env = lab.env
        original = lab.device("edge1").running_config()

        rendered = migrate(*_args(lab, "network", "render"), cwd=tmp_path, env=env)
        assert rendered.returncode == 0, rendered.stderr
        assert "! ---- edge1 (cisco_ios) ----" in rendered.stdout and "router bgp 65010" in rendered.stdout
        assert " neighbor 169.254.100.1 password ********" in rendered.stdout
        out_dir = tmp_path / "rendered"
        written = migrate(*_args(lab, "network", "render", "-l", "edge2", "--out", str(out_dir)), cwd=tmp_path, env=env)
        assert written.returncode == 0 and sorted(p.name for p in out_dir.iterdir()) == ["edge2.cfg"]

        plan = migrate(*_args(lab, "network", "plan"), cwd=tmp_path, env=env)
        assert plan.returncode == 0, plan.stdout + plan.stderr
        assert re.search(r"--- edge1 \(changed\): would send \d+ line\(s\)", plan.stdout)
        assert "router bgp 65010" in plan.stdout and "  neighbor 169.254.100.1 password ********" in plan.stdout

        refused = migrate(*_args(lab, "network", "push"), cwd=tmp_path, env=env)
        assert refused.returncode == 3 and "--yes" in refused.stderr
        assert lab.device("edge1").running_config() == original

        push = migrate(*_args(lab, "network", "push", "--yes", "--verify-timeout", "5"), cwd=tmp_path, env=env)
        assert push.returncode == 0, push.stdout + push.stderr
        assert "bgp=3/3 established" in push.stdout and re.search(r"run \S+ ok: 1 steps, 2 changed", push.stdout)
        run_id = re.search(r"run (\S+) ok", push.stdout)[1]

        again = migrate(*_args(lab, "network", "push", "--yes", "--canary", "1"), cwd=tmp_path, env=env)
        assert again.returncode == 0 and "0 changed" in again.stdout, again.stdout

        backups = migrate(*_args(lab, "--json", "network", "backups"), cwd=tmp_path, env=env)
        listed = json.loads(backups.stdout)
        assert {(b["id"], b["host"]) for b in listed} == {(run_id, "edge1"), (run_id, "edge2")}

        unknown = migrate(*_args(lab, "network", "rollback", "--yes", "--to", "19990101"), cwd=tmp_path, env=env)
        assert unknown.returncode == 2 and "no backup 19990101 for the selected hosts" in unknown.stderr

        back = migrate(
            *_args(lab, "network", "rollback", "--yes", "-l", "edge1", "--to", run_id), cwd=tmp_path, env=env
        )
        assert back.returncode == 0, back.stdout + back.stderr
        assert "proved=running config equals the backup" in back.stdout
        assert lab.device("edge1").running_config().replace("\r", "") == original.replace("\r", "")

        report = migrate(*_args(lab, "report", run_id), cwd=tmp_path, env=env)
        assert "### edge1: change" in report.stdout and "router bgp 65010" in report.stdout
        journal = (lab.state_dir / "journal.sqlite").read_bytes()
        _no_secrets(rendered.stdout, plan.stdout, push.stdout, push.stderr, back.stdout, report.stdout)
        for secret in SECRETS.values():
            assert secret.encode() not in journal


def test_bad_intent_is_exit_2_naming_the_line_and_nothing_connects(tmp_path: Path) -> None:
    with NetLab.start(tmp_path, count=1) as lab:
        hosts = yaml.safe_load((lab.inventory_dir / "hosts.yaml").read_text())
        hosts["edge1"]["data"]["direct_connect"]["vlan"] = 5000
        (lab.inventory_dir / "hosts.yaml").write_text(yaml.safe_dump(hosts, sort_keys=False))
        lab.device("edge1").commands_received.clear()
        out = migrate(*_args(lab, "network", "push", "--yes"), cwd=tmp_path, env=lab.env)
        assert out.returncode == 2
        assert re.search(r"hosts\.yaml:\d+: host edge1: data\.direct_connect\.vlan: VLAN must be 1-4094", out.stderr)
        assert lab.device("edge1").commands_received == []


@pytest.mark.slow
def test_unknown_host_key_is_refused_unless_trusted_explicitly(tmp_path: Path) -> None:
    with NetLab.start(tmp_path, count=3, vpn=False, uplinks=False) as lab:
        empty = tmp_path / "fresh_known_hosts"
        out = migrate(*_args(lab, "network", "plan", "--known-hosts", str(empty)), cwd=tmp_path, env=lab.env)
        assert out.returncode == 1 and "is not in" in out.stdout and "SHA256:" in out.stdout
        trusted = migrate(
            *_args(lab, "network", "plan", "--known-hosts", str(empty), "--accept-new-host-keys"),
            cwd=tmp_path,
            env=lab.env,
        )
        assert trusted.returncode == 0, trusted.stdout + trusted.stderr
        recorded = empty.read_text().splitlines()
        assert len(recorded) == 3 and all(line.startswith("[127.0.0.1]:") for line in recorded), recorded
        again = migrate(*_args(lab, "network", "plan", "--known-hosts", str(empty)), cwd=tmp_path, env=lab.env)
        assert again.returncode == 0, "trust on first use is recorded for every device, in parallel"
