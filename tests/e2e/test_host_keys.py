"""SSH host keys are verified by default: an unknown or changed key refuses the device, naming its fingerprint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from migrate_cli.lab.devices import DeviceFleet, DeviceSpec
from tests.conftest import write
from tests.e2e.cli import migrate

PASSWORD = "lab-pass-123"


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[DeviceFleet]:
    specs = [DeviceSpec(name=n, username="admin", password=PASSWORD) for n in ("r1", "r2")]
    fleet = DeviceFleet(specs, tmp_path / "keys")
    fleet.start()
    yield fleet
    fleet.stop()


def _site(tmp_path: Path, fleet: DeviceFleet, known_hosts: Path) -> tuple[Path, Path]:
    hosts = "".join(f"{name}:\n  port: {dev.port}\n" for name, dev in fleet.devices.items())
    inv = tmp_path / "inv"
    write(inv / "hosts.yaml", hosts)
    write(
        inv / "defaults.yaml",
        f"""
        hostname: 127.0.0.1
        username: admin
        password: ${{env:DEV_PW}}
        platform: cisco_ios
        connection_options:
          netmiko:
            extras:
              known_hosts: {known_hosts}
        """,
    )
    pb = write(tmp_path / "facts.yml", "name: facts\nsteps:\n  - name: read\n    action: network.facts\n")
    return inv, pb


def test_known_key_connects_unknown_and_changed_keys_are_refused(tmp_path: Path, fleet: DeviceFleet) -> None:
    known = tmp_path / "known_hosts"
    inv, pb = _site(tmp_path, fleet, known)
    args = ("-i", str(inv), "--state-dir", str(tmp_path / "s"), "run", str(pb))
    env = {"DEV_PW": PASSWORD}

    unknown = migrate(*args, cwd=tmp_path, env=env)
    assert unknown.returncode == 1
    assert "is not in" in unknown.stdout and "SHA256:" in unknown.stdout
    assert all(dev.commands_received == [] for dev in fleet.devices.values()), "nothing sent to a refused device"

    fleet.write_known_hosts(known)
    ok = migrate(*args, cwd=tmp_path, env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "version=17.9.4a" in ok.stdout

    fleet.rotate_host_key("r2")
    changed = migrate(*args, cwd=tmp_path, env=env)
    assert changed.returncode == 1
    assert "HOST KEY CHANGED" in changed.stdout and "host=r2" in changed.stdout
    assert PASSWORD not in changed.stdout + changed.stderr
