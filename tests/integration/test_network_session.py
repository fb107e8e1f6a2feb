"""Device sessions against the lab's SSH devices: host-key policy, trust on first use, auth failures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from migrate_cli.core.errors import OperationFailed
from migrate_cli.core.inventory import load_inventory
from migrate_cli.lab.devices import DeviceFleet, DeviceSpec
from migrate_cli.network.facts import parse_version
from migrate_cli.network.session import HostKeyPolicy, connect
from tests.conftest import write


@pytest.fixture
def device(tmp_path: Path) -> Iterator[DeviceFleet]:
    fleet = DeviceFleet(
        [DeviceSpec(name="edge9", username="ops", password="pw-edge9-long", enable_secret="en-secret-9")],
        tmp_path / "keys",
    )
    fleet.start()
    yield fleet
    fleet.stop()


def _host(tmp_path: Path, port: int, password: str = "pw-edge9-long"):
    inv = tmp_path / "inv"
    write(
        inv / "hosts.yaml",
        f"""
        edge9:
          hostname: 127.0.0.1
          port: {port}
          username: ops
          password: ${{env:EDGE9_PW}}
          platform: cisco_ios
          connection_options:
            netmiko:
              extras:
                secret: ${{env:EDGE9_ENABLE}}
        """,
    )
    return load_inventory(inv).hosts["edge9"]


def test_trust_on_first_use_records_the_key_then_verifies(
    tmp_path: Path, device: DeviceFleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDGE9_PW", "pw-edge9-long")
    monkeypatch.setenv("EDGE9_ENABLE", "en-secret-9")
    host = _host(tmp_path, device.devices["edge9"].port)
    known = tmp_path / "kh" / "known_hosts"
    with pytest.raises(OperationFailed, match="is not in"):
        connect(host, HostKeyPolicy(known_hosts=known))
    with connect(host, HostKeyPolicy(known_hosts=known, accept_new=True)) as conn:
        conn.enable()
        assert conn.find_prompt() == "edge9#"
    assert known.is_file() and "[127.0.0.1]:" in known.read_text()
    with connect(host, HostKeyPolicy(known_hosts=known)) as conn:
        facts = parse_version(conn.send_command("show version", use_textfsm=True))
    assert facts["hostname"] == "edge9" and facts["version"] == "17.9.4a"
    device.rotate_host_key("edge9")
    with pytest.raises(OperationFailed, match="HOST KEY CHANGED"):
        connect(host, HostKeyPolicy(known_hosts=known, accept_new=True))


def test_wrong_password_is_one_clear_failure(
    tmp_path: Path, device: DeviceFleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDGE9_PW", "wrong-password")
    monkeypatch.setenv("EDGE9_ENABLE", "en-secret-9")
    host = _host(tmp_path, device.devices["edge9"].port)
    known = tmp_path / "known_hosts"
    device.write_known_hosts(known)
    with pytest.raises(OperationFailed, match="authentication failed for user ops") as info:
        connect(host, HostKeyPolicy(known_hosts=known))
    assert "wrong-password" not in str(info.value)


def test_closed_port_fails_fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGE9_PW", "x" * 8)
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    host = _host(tmp_path, port)
    with pytest.raises(OperationFailed, match="cannot reach SSH"):
        connect(host, HostKeyPolicy(known_hosts=tmp_path / "kh"))
