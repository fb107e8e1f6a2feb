"""`migrate failover check|drill|watch` as a user runs them: exit codes, output, journal and report.

The namespace tests need root (CI runs as root) and are skipped with a reason otherwise; everything they send
stays inside the namespaces they create. The device test uses the lab's simulated IOS device over real SSH.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from migrate_cli.failover.routes import LinuxRoutes
from migrate_cli.lab import netns as labnet
from migrate_cli.lab.devices import DeviceFleet, DeviceSpec
from migrate_cli.lab.netns import IspLab, uplinks_data
from tests.conftest import REPO, write
from tests.e2e.cli import migrate
from tests.integration.test_failover_device import EDGE_CONFIG

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root (CI runs as root)")


def _write_inventory(inv: Path, failover: dict[str, object] | None = None, uplinks: list[dict] | None = None) -> Path:
    data: dict[str, object] = {"site": "hq", "uplinks": uplinks if uplinks is not None else uplinks_data()}
    if failover:
        data["failover"] = failover
    inv.mkdir(parents=True, exist_ok=True)
    (inv / "hosts.yaml").write_text(yaml.safe_dump({"edge1": {"data": data}, "core1": {"data": {"site": "hq"}}}))
    return inv


# --- bad input and refusals (no root needed: nothing runs) ------------------------------------------------
def test_uplink_without_source_is_one_line_exit_2(tmp_path: Path) -> None:
    ups = uplinks_data()
    del ups[1]["source"]
    inv = _write_inventory(tmp_path / "inv", uplinks=ups)
    for args in (["failover", "check"], ["failover", "drill", "--link", "isp-a", "--yes"]):
        r = migrate("-i", str(inv), "--state-dir", str(tmp_path / "state"), *args)
        assert r.returncode == 2, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1
        assert "hosts.yaml:" in lines[0] and "uplinks[1] (isp-b): uplink without a source address" in lines[0]


def test_bad_target_is_exit_2(tmp_path: Path) -> None:
    ups = uplinks_data()
    ups[0]["targets"] = ["10.203.0.10:http"]
    inv = _write_inventory(tmp_path / "inv", uplinks=ups)
    r = migrate("-i", str(inv), "failover", "check")
    assert r.returncode == 2 and "'10.203.0.10:http' is not host or host:port" in r.stderr


def test_unknown_link_is_exit_2_and_a_drill_without_yes_is_refused(tmp_path: Path) -> None:
    inv = _write_inventory(tmp_path / "inv")
    state = tmp_path / "state"
    r = migrate("-i", str(inv), "--state-dir", str(state), "failover", "drill", "--link", "isp-c", "--yes")
    assert r.returncode == 2
    assert r.stderr.strip() == "migrate: error: --link: unknown link 'isp-c' (known: isp-a, isp-b)"
    r = migrate("-i", str(inv), "--state-dir", str(state), "failover", "drill", "--link", "isp-a")
    assert r.returncode == 3
    assert "takes isp-a on edge1 down: re-run with --yes" in r.stderr
    assert not (state / "journal.sqlite").exists()  # refused before anything ran


def test_check_without_edges_is_exit_2(tmp_path: Path, small_inventory: Path) -> None:
    r = migrate("-i", str(small_inventory), "--state-dir", str(tmp_path / "state"), "failover", "check")
    assert r.returncode == 2 and "no host has `uplinks`" in r.stderr


def test_lab_inventory_check_without_namespaces_sends_nothing(tmp_path: Path) -> None:
    """The lab inventory's uplink addresses are not on this machine: not probed, the verdict says why."""
    env = {"MIGRATE_LAB_PASSWORD": "x", "MIGRATE_LAB_ENABLE": "y"}
    inv = str(REPO / "inventory" / "lab")
    r = migrate("-i", inv, "--state-dir", str(tmp_path / "s"), "failover", "check", "--json", "-l", "edge1", env=env)
    assert r.returncode == 1, r.stderr
    site = json.loads(r.stdout)["sites"][0]
    assert site["armed"] is False
    assert [u["probed"] for u in site["edges"][0]["uplinks"]] == [False, False]
    assert any("did not answer" in reason for reason in site["reasons"])


# --- against a simulated IOS edge ------------------------------------------------------------------------
@pytest.fixture
def device(tmp_path: Path) -> Iterator[Path]:
    fleet = DeviceFleet(
        [
            DeviceSpec(
                name="edge1", username="ops", password="pw-edge1-long", enable_secret="en-1", initial_config=EDGE_CONFIG
            )
        ],
        tmp_path / "keys",
    )
    fleet.start()
    fleet.write_known_hosts(tmp_path / "known_hosts")
    port = fleet.devices["edge1"].port
    write(
        tmp_path / "dev-inv" / "hosts.yaml",
        f"""
        edge1:
          hostname: 127.0.0.1
          port: {port}
          username: ops
          password: ${{env:FO_PW}}
          platform: cisco_ios
          connection_options:
            netmiko:
              extras: {{secret: "${{env:FO_EN}}", known_hosts: {tmp_path / "known_hosts"}}}
          data:
            site: hq
            uplinks:
              - {{name: isp-a, interface: GigabitEthernet2, source: 198.51.100.2, gateway: 198.51.100.1,
                 priority: 10, targets: [192.0.2.10], track: 1}}
              - {{name: isp-b, interface: GigabitEthernet3, source: 203.0.113.2, gateway: 203.0.113.1,
                 priority: 20, targets: [192.0.2.10], track: 2}}
            failover:
              bgp: {{dx: [169.254.10.1], vpn: [169.254.20.1]}}
        """,
    )
    yield tmp_path / "dev-inv"
    fleet.stop()


def test_check_an_ios_edge_as_json(tmp_path: Path, device: Path) -> None:
    env = {"FO_PW": "pw-edge1-long", "FO_EN": "en-1"}
    r = migrate("-i", str(device), "--state-dir", str(tmp_path / "state"), "failover", "check", "--json", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    site = out["sites"][0]
    assert site["armed"] and site["default_route_uplink"] == "isp-a"
    assert {t["id"]: t["state"] for t in site["edges"][0]["device"]["tracks"]} == {1: "Up", 2: "Up"}
    assert "pw-edge1-long" not in r.stdout
    report = migrate("--state-dir", str(tmp_path / "state"), "report", out["run_id"])
    assert report.returncode == 0 and "site hq: failover ARMED" in report.stdout


# --- in network namespaces ------------------------------------------------------------------------------
@pytest.fixture
def isp() -> Iterator[IspLab]:
    lab = IspLab().start()
    yield lab
    lab.stop()
    assert not [n for n in labnet.list_namespaces() if lab.run_tag in n]


@root_only
@pytest.mark.root
@pytest.mark.slow
def test_watch_check_drill_in_namespaces(tmp_path: Path, isp: IspLab) -> None:
    inv = _write_inventory(tmp_path / "inv", isp.inventory_data() | {"hold_down": 1.0})
    state = tmp_path / "state"
    base = ["-i", str(inv), "--state-dir", str(state)]

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MIGRATE_"))}
    env.update({"NO_COLOR": "1", "PYTHONPATH": str(REPO)})
    watch = subprocess.Popen(
        [sys.executable, "-m", "migrate_cli", *base, "failover", "watch", "--max-duration", "60"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert watch.stdout is not None
        started = []
        for line in watch.stdout:  # wait until the watcher has seen isp-b up
            started.append(line)
            if "isp-b up" in line:
                break
        assert any("watching edge1" in line for line in started), "".join(started)
        r = migrate(*base, "failover", "check", "--json", "--count", "2")
        assert r.returncode == 0, r.stdout + r.stderr
        assert json.loads(r.stdout)["sites"][0]["armed"] is True

        r = migrate(*base, "failover", "drill", "--link", "isp-a", "--yes", "--max-duration", "30")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "drill of isp-a on edge1 (lab; watcher: external (`migrate failover watch`)): passed" in r.stdout
        assert "traffic on the secondary" in r.stdout
        report = Path(r.stdout.strip().splitlines()[-1].removeprefix("report: "))
        text = report.read_text()
        assert "failover drill of isp-a" in text and "traffic_s=" in text and "RESTORED isp-a" in text
        assert report.with_suffix(".html").is_file()
    finally:
        started = started if "started" in locals() else []
        watch.send_signal(signal.SIGTERM)
        rest, _ = watch.communicate(timeout=20)
    out = "".join(started) + rest
    assert watch.returncode == 0, out
    assert "failover: isp-a -> isp-b (isp-a is down)" in out and "failback: isp-b -> isp-a" in out
    assert LinuxRoutes(isp.edge).default_gateway() == "10.201.1.1"


@root_only
@pytest.mark.root
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_drill_restores_the_link(tmp_path: Path, isp: IspLab, sig: signal.Signals) -> None:
    inv = _write_inventory(tmp_path / "inv", isp.inventory_data() | {"down_after": 50})  # no failover: stays cut
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MIGRATE_"))}
    env.update({"NO_COLOR": "1", "PYTHONPATH": str(REPO)})
    drill = subprocess.Popen(
        [sys.executable, "-m", "migrate_cli", "-i", str(inv), "--state-dir", str(tmp_path / "state"),
         "failover", "drill", "--link", "isp-a", "--yes"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert drill.stdout is not None
    seen = []
    for line in drill.stdout:
        seen.append(line)
        if "CUT isp-a" in line:
            break
    time.sleep(0.3)
    assert not LinuxRoutes(isp.name("ispa")).link_up("core")  # really cut
    drill.send_signal(sig)
    out, err = drill.communicate(timeout=30)
    assert drill.returncode == 130, "".join(seen) + out + err
    assert "RESTORED isp-a" in out
    assert LinuxRoutes(isp.name("ispa")).link_up("core")
    assert list((tmp_path / "state" / "reports").glob("*.md"))


def test_drill_asks_on_a_terminal_and_no_means_nothing_happens(tmp_path: Path) -> None:
    """A real pseudo-terminal: the drill asks before anything runs; answering no exits 3."""
    import pty

    inv = _write_inventory(tmp_path / "inv")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MIGRATE_")) and k != "CI"}
    env.update({"NO_COLOR": "1", "PYTHONPATH": str(REPO), "TERM": "dumb"})
    command = [sys.executable, "-m", "migrate_cli", "-i", str(inv), "--state-dir", str(tmp_path / "state")]
    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI on the terminal
        os.chdir(REPO)
        os.execve(sys.executable, [*command, "failover", "drill", "--link", "isp-a"], env)
    output = b""
    deadline = time.monotonic() + 30
    while b"DOWN" not in output and time.monotonic() < deadline:
        output += os.read(fd, 4096)
    assert b"Take isp-a on edge1 DOWN" in output, output
    os.write(fd, b"n\n")
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 3, output
    assert b"drill not confirmed: nothing was done" in output
    assert not (tmp_path / "state" / "journal.sqlite").exists()
