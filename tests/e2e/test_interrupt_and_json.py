"""Ctrl-C mid-run exits 130 and the journal says so; --json prints one JSON object per event."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from migrate_cli.lab.devices import DeviceFleet, DeviceSpec
from tests.conftest import REPO, write
from tests.e2e.cli import migrate


def _site(tmp_path: Path, fleet: DeviceFleet) -> tuple[Path, Path]:
    known = tmp_path / "known_hosts"
    fleet.write_known_hosts(known)
    hosts = "".join(f"{name}:\n  port: {dev.port}\n" for name, dev in fleet.devices.items())
    inv = tmp_path / "inv"
    write(inv / "hosts.yaml", hosts)
    write(
        inv / "defaults.yaml",
        "hostname: 127.0.0.1\nusername: u\npassword: ${env:PW}\nplatform: cisco_ios\n"
        f"connection_options:\n  netmiko:\n    extras:\n      known_hosts: {known}\n",
    )
    pb = write(tmp_path / "pb.yml", "name: facts\nsteps:\n  - name: read\n    action: network.facts\n")
    return inv, pb


def test_ctrl_c_exits_130_and_journal_records_interrupted(tmp_path: Path) -> None:
    fleet = DeviceFleet([DeviceSpec(name="slow1", username="u", password="pw-123456")], tmp_path / "keys")
    fleet.start()
    try:
        fleet.devices["slow1"].faults.delay_seconds = 3.0
        inv, pb = _site(tmp_path, fleet)
        state = tmp_path / "state"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({"PW": "pw-123456", "PYTHONPATH": str(REPO)})
        proc = subprocess.Popen(
            [sys.executable, "-m", "migrate_cli", "-i", str(inv), "--state-dir", str(state), "run", str(pb)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=env,
        )  # fmt: skip
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        for line in proc.stdout:
            if "step_started" in line or time.monotonic() > deadline:
                break
        time.sleep(0.5)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
        assert proc.returncode == 130
        assert time.monotonic() - started < 5, "Ctrl-C does not wait for the slow device"
        row = sqlite3.connect(state / "journal.sqlite").execute("SELECT status FROM runs").fetchone()
        assert row == ("interrupted",)
    finally:
        fleet.stop()


def test_json_output_is_one_object_per_event(tmp_path: Path) -> None:
    fleet = DeviceFleet([DeviceSpec(name="j1", username="u", password="pw-123456")], tmp_path / "keys")
    fleet.start()
    try:
        inv, pb = _site(tmp_path, fleet)
        out = migrate(
            "-i", str(inv), "--state-dir", str(tmp_path / "s"), "--json", "run", str(pb), "--check",
            cwd=tmp_path, env={"PW": "pw-123456"},
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        events = [json.loads(line) for line in out.stdout.splitlines()]
        kinds = [e["kind"] for e in events]
        assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
        finished = next(e for e in events if e["kind"] == "host_finished")
        assert finished["host"] == "j1" and finished["data"]["result"]["hostname"] == "j1"
        assert "pw-123456" not in out.stdout
    finally:
        fleet.stop()
