"""The plan: hier-config remediation against the lab's IOS model, owning only what the templates render.

These run the remediation through the pure CLI model of the lab devices (no SSH): what converges here
converges on a lab device, which the integration tests check over SSH.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from migrate_cli.core.errors import OperationFailed
from migrate_cli.core.inventory import load_inventory
from migrate_cli.core.secrets import register_secret
from migrate_cli.lab.devices import CliSession, DeviceSpec, DeviceState
from migrate_cli.lab.devices.base_config import lab_initial_config
from migrate_cli.network.aws_params import resolve
from migrate_cli.network.intent import EdgeIntent, load_spec, validate
from migrate_cli.network.plan import normalize, plan_device, remediation_lines
from migrate_cli.network.redact import redact
from migrate_cli.network.render import render
from migrate_cli.network.session import MaskedSessionLog
from tests.integration.network_lab import SECRETS, edge_data

UNRELATED = """\
username ops privilege 15 secret 9 $9$abcdefghijklmn
interface Loopback5
 description keep me
 ip address 10.99.0.1 255.255.255.255
ip route 10.99.0.0 255.255.0.0 10.201.0.1
ntp server 192.0.2.123
"""


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)


def intent(tmp_path: Path, data: dict[str, Any] | None = None) -> EdgeIntent:
    inv = tmp_path / "inv"
    inv.mkdir(parents=True, exist_ok=True)
    host_data = {"asn": 65010, "advertise": ["10.10.0.0/16"], **(data or edge_data(0))}
    (inv / "hosts.yaml").write_text(yaml.safe_dump({"edge1": {"platform": "cisco_ios", "data": host_data}}))
    loaded = load_inventory(inv)
    host = loaded.hosts["edge1"]
    result = resolve(load_spec(host, loaded), host, loaded)
    validate(result, host, loaded)
    return result


def device(extra: str = UNRELATED, data: dict[str, Any] | None = None) -> DeviceState:
    config = lab_initial_config(data or edge_data(0)) + extra
    return DeviceState(DeviceSpec("edge1", "admin", "pw", initial_config=config))


def send(state: DeviceState, lines: list[str]) -> None:
    session = CliSession(state)
    session.execute("configure terminal")
    for line in lines:
        output = session.execute(line)
        assert not output.startswith("%") and "Invalid" not in output, (line, output)
    session.execute("end")


def push(state: DeviceState, edge: EdgeIntent) -> list[str]:
    plan = plan_device("edge1", "cisco_ios", state.show_running(), render(edge), edge.uses_bgp)
    send(state, plan.commands)
    return plan.commands


def test_first_push_converges_and_a_second_sends_nothing(tmp_path: Path) -> None:
    state = device()
    edge = intent(tmp_path)
    before = normalize(state.show_running())
    commands = push(state, edge)
    assert len(commands) > 100
    again = plan_device("edge1", "cisco_ios", state.show_running(), render(edge), True)
    assert again.commands == [], again.commands
    after = state.config_text()
    for line in UNRELATED.splitlines():
        assert line in after, f"unrelated line touched: {line}"
    assert before != normalize(state.show_running())


def test_stale_objects_of_an_earlier_intent_are_removed(tmp_path: Path) -> None:
    state = device()
    push(state, intent(tmp_path / "a"))
    without_vpn = {k: v for k, v in edge_data(0).items() if k != "vpn"}
    commands = push(state, intent(tmp_path / "b", without_vpn))
    assert "no interface Tunnel1" in commands and "no crypto ikev2 keyring AWS-IKEV2-KEYRING" in commands
    assert "no route-map AWS-VPN-OUT permit 10" in commands
    text = state.config_text()
    assert "Tunnel" not in text and "crypto" not in text and "169.254.10.1" not in text
    assert "interface GigabitEthernet4.100" in text and "neighbor 169.254.100.1 fall-over bfd" in text
    assert (
        plan_device(
            "edge1", "cisco_ios", state.show_running(), render(intent(tmp_path / "c", without_vpn)), True
        ).commands
        == []
    )


def test_physical_ports_are_owned_only_in_part(tmp_path: Path) -> None:
    extra = "interface GigabitEthernet4\n description old patch label\n speed 1000\n"
    state = device(extra)
    commands = push(state, intent(tmp_path))
    port = [c.strip() for c in commands[commands.index("interface GigabitEthernet4") :][:5]]
    assert "no shutdown" in port and "description AWS-DX port" in port
    section = state.config_text().split("interface GigabitEthernet4\n", 1)[1].split("!", 1)[0]
    assert section == " description AWS-DX port\n no ip address\n negotiation auto\n speed 1000\n"


def test_rollback_remediation_restores_the_exact_text(tmp_path: Path) -> None:
    state = device("interface GigabitEthernet4\n description old patch label\n")
    backup = state.show_running()
    push(state, intent(tmp_path))
    assert normalize(state.show_running()) != normalize(backup)
    send(state, remediation_lines("cisco_ios", state.show_running(), backup))
    assert normalize(state.show_running()) == normalize(backup)


def test_rollback_of_a_partial_push_restores_the_exact_text(tmp_path: Path) -> None:
    """A push cut anywhere (a rejected line, a dropped session) rolls back to the same text."""
    edge = intent(tmp_path)
    for cut in (1, 7, 40, 90, 130):
        state = device()
        backup = state.show_running()
        plan = plan_device("edge1", "cisco_ios", backup, render(edge), True)
        send(state, plan.commands[:cut])
        send(state, remediation_lines("cisco_ios", state.show_running(), backup))
        assert normalize(state.show_running()) == normalize(backup), f"cut after {cut} lines"


def test_diff_is_the_commands_with_secrets_masked(tmp_path: Path) -> None:
    state = device()
    plan = plan_device("edge1", "cisco_ios", state.show_running(), render(intent(tmp_path)), True)
    assert len(plan.diff.splitlines()) == len(plan.commands)
    for secret in (SECRETS["NET_DX_KEY"], SECRETS["NET_PSK1"], SECRETS["NET_PSK2"]):
        assert any(secret in c for c in plan.commands)
        assert secret not in plan.diff


def test_redact_hides_secrets_nobody_registered() -> None:
    text = "username x secret 9 $9$hash\n neighbor 1.1.1.1 password 7 0822455D0A16\n  pre-shared-key local k3y\n"
    assert redact(text) == (
        "username x secret 9 ********\n neighbor 1.1.1.1 password 7 ********\n  pre-shared-key local ********\n"
    )
    assert redact("snmp-server community s3cr3t RO") == "snmp-server community ******** RO"


def test_normalize_ignores_show_headers_and_timestamps() -> None:
    a = "Building configuration...\n\nCurrent configuration : 20 bytes\n!\nhostname r1\nend\n"
    b = "! Last configuration change at 10:01:02 UTC Mon Nov 2 2026\n!\nhostname r1\nend"
    assert normalize(a) == normalize(b) == "!\nhostname r1\nend\n"


def test_session_log_masks_secrets_split_across_reads(tmp_path: Path) -> None:
    register_secret("Sup3rSecretValue")
    log = MaskedSessionLog(tmp_path / "s" / "edge1.log")
    log.open()
    for chunk in (
        "edge1(config)# neighbor 1.1.1.1 password Sup3r",
        "SecretValue\r\nedge1(config)# pre-shared",
        "-key k",
    ):
        log.write(chunk)
    log.write("eyring9\nedge1#")
    log.close()
    text = (tmp_path / "s" / "edge1.log").read_text()
    assert "Sup3r" not in text and "SecretValue" not in text and "keyring9" not in text
    assert "password ********" in text and "pre-shared-key ********" in text and text.endswith("edge1#")
    assert (tmp_path / "s" / "edge1.log").stat().st_mode & 0o777 == 0o600


def test_a_tunnel_or_sla_used_for_something_else_is_not_taken_over(tmp_path: Path) -> None:
    state = device(UNRELATED + "interface Tunnel1\n description to the old DC\n ip address 10.66.0.1 255.255.255.252\n")
    with pytest.raises(OperationFailed, match="refusing to take over interface Tunnel1"):
        plan_device("edge1", "cisco_ios", state.show_running(), render(intent(tmp_path)), True)
    state = device(UNRELATED + "ip sla 2\n icmp-echo 192.0.2.1\n")
    with pytest.raises(OperationFailed, match="ip sla 2"):
        plan_device("edge1", "cisco_ios", state.show_running(), render(intent(tmp_path / "b")), True)
