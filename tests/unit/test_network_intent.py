"""Connectivity intent from inventory: types, then the rules, each error naming host, field, file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrate_cli.core.errors import ConfigErrors
from migrate_cli.core.inventory import load_inventory
from migrate_cli.network.aws_params import resolve
from migrate_cli.network.intent import asn_kind, load_spec, md5_problem, pair_problem, psk_problem, validate
from tests.conftest import write

GOOD_KEY = "dxK3y.abcdef"
GOOD_PSK1 = "psk.tunnel_one1"
GOOD_PSK2 = "psk.tunnel_two2"

HOSTS = """
edge1:
  hostname: 10.0.0.1
  groups: [edge]
  data:
    router_id: 10.255.0.1
    direct_connect:
      interface: GigabitEthernet4
      vlan: {vlan}
      customer_address: {customer}
      amazon_address: 169.254.100.1/30
      amazon_asn: {amazon_asn}
      bgp_auth_key: ${{env:T_DX_KEY}}
    vpn:
      amazon_asn: 64512
      tunnels:
        - outside_address: 203.0.113.10
          inside_address: 169.254.10.2/30
          psk: ${{env:T_PSK1}}
        - outside_address: {second_outside}
          inside_address: 169.254.11.2/30
          psk: ${{env:T_PSK2}}
    uplinks:
      - {{name: isp-a, interface: GigabitEthernet2, source: 10.201.1.2, gateway: 10.201.1.1, priority: 10,
         targets: [10.203.0.10], track: 1}}
      - {{name: isp-b, interface: GigabitEthernet3, source: 10.202.1.2, gateway: 10.202.1.1, priority: 20,
         targets: [10.203.0.10], track: 2}}
core1:
  hostname: 10.0.0.9
"""


def inventory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **overrides: object):
    values = {
        "vlan": 101,
        "customer": "169.254.100.2/30",
        "amazon_asn": 64512,
        "second_outside": "203.0.113.20",
        "asn": 65010,
        "key": GOOD_KEY,
        "psk1": GOOD_PSK1,
        "psk2": GOOD_PSK2,
    } | overrides
    monkeypatch.setenv("T_DX_KEY", str(values["key"]))
    monkeypatch.setenv("T_PSK1", str(values["psk1"]))
    monkeypatch.setenv("T_PSK2", str(values["psk2"]))
    inv = tmp_path / "inv"
    write(inv / "hosts.yaml", HOSTS.format(**values))
    write(
        inv / "groups.yaml",
        f"edge:\n  platform: cisco_ios\n  data:\n    asn: {values['asn']}\n    advertise: [10.10.0.0/16]\n",
    )
    return load_inventory(inv)


def check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **overrides: object) -> list[str]:
    """The validation messages (FILE:LINE: message) for an inventory with these values."""
    inv = inventory(tmp_path, monkeypatch, **overrides)
    host = inv.hosts["edge1"]
    spec = load_spec(host, inv)
    assert spec is not None
    try:
        validate(resolve(spec, host, inv), host, inv)
    except ConfigErrors as exc:
        return [e.location_message() for e in exc.errors]
    return []


def test_a_good_intent_validates_and_hosts_without_intent_have_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert check(tmp_path, monkeypatch) == []
    inv = inventory(tmp_path, monkeypatch)
    assert load_spec(inv.hosts["core1"], inv) is None
    intent = resolve(load_spec(inv.hosts["edge1"], inv), inv.hosts["edge1"], inv)
    assert intent.asn == 65010 and intent.platform == "cisco_ios"
    assert intent.vpn.source_interface == "GigabitEthernet2"  # the lowest-priority uplink
    assert str(intent.vpn.local_address) == "10.201.1.2"


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"vlan": 4095}, "data.direct_connect.vlan", "1-4094"),
        ({"vlan": 0}, "data.direct_connect.vlan", "1-4094"),
        ({"customer": "169.254.100.6/30"}, "data.direct_connect.customer_address", "not in the same /30"),
        ({"customer": "169.254.100.3/30"}, "data.direct_connect.customer_address", "broadcast"),
        ({"customer": "169.254.100.2/29"}, "data.direct_connect.customer_address", "not a /30 or /31"),
        ({"customer": "169.254.100.1/30"}, "data.direct_connect.customer_address", "both sides use"),
        ({"amazon_asn": 23456}, "data.direct_connect.amazon_asn", "AS_TRANS"),
        ({"amazon_asn": 64500}, "data.direct_connect.amazon_asn", "documentation"),
        ({"amazon_asn": 65010}, "data.direct_connect.amazon_asn", "eBGP"),
        ({"amazon_asn": 4294967295}, "data.direct_connect.amazon_asn", "reserved"),
        ({"amazon_asn": 4294967296}, "data.direct_connect.amazon_asn", "4-byte"),
        ({"asn": 0}, "data.asn", "reserved"),
        ({"key": "abc12"}, "data.direct_connect.bgp_auth_key", "6-25 characters"),
        ({"key": "a" * 26}, "data.direct_connect.bgp_auth_key", "6-25 characters"),
        ({"psk1": "short"}, "data.vpn.tunnels[0].psk", "8-64 characters"),
        ({"psk1": "has-a-dash-in-it"}, "data.vpn.tunnels[0].psk", "letters, digits"),
        ({"psk2": "0starts.with.zero"}, "data.vpn.tunnels[1].psk", "must not start with 0"),
        ({"psk2": "x" * 65}, "data.vpn.tunnels[1].psk", "8-64 characters"),
        ({"second_outside": "203.0.113.10"}, "data.vpn.tunnels", "must be distinct"),
    ],
)
def test_each_rule_names_host_field_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, overrides: dict[str, object], field: str, words: str
) -> None:
    messages = check(tmp_path, monkeypatch, **overrides)
    assert len(messages) == 1, messages
    message = messages[0]
    assert f"host edge1: {field}: " in message and words in message, message
    assert message.startswith(str(tmp_path / "inv" / "hosts.yaml") + ":") or message.startswith(
        str(tmp_path / "inv" / "groups.yaml") + ":"
    )
    for secret in (overrides.get("key"), overrides.get("psk1"), overrides.get("psk2")):
        if secret:
            assert str(secret) not in message, "a secret value must never be quoted"


def test_errors_point_at_the_line_that_sets_the_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    [vlan] = check(tmp_path, monkeypatch, vlan=5000)
    lines = (tmp_path / "inv" / "hosts.yaml").read_text().splitlines()
    line_number = int(vlan.split(":")[1])
    assert lines[line_number - 1].strip() == "vlan: 5000"
    [asn] = check(tmp_path, monkeypatch, asn=23456)
    assert asn.startswith(f"{tmp_path / 'inv' / 'groups.yaml'}:4: host edge1: data.asn:")


def test_several_problems_are_reported_together(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    messages = check(tmp_path, monkeypatch, vlan=9999, psk1="bad", amazon_asn=23456)
    assert len(messages) == 3
    assert [m.split(": ", 2)[1] for m in messages] == [
        "host edge1",
        "host edge1",
        "host edge1",
    ]


def test_type_errors_and_unknown_keys_name_the_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inv = tmp_path / "inv"
    write(
        inv / "hosts.yaml",
        """
        edge1:
          platform: cisco_ios
          data:
            asn: 65010
            direct_connect:
              interface: GigabitEthernet4
              vlan: ten
              colour: blue
        """,
    )
    loaded = load_inventory(inv)
    with pytest.raises(ConfigErrors) as info:
        load_spec(loaded.hosts["edge1"], loaded)
    messages = [e.location_message() for e in info.value.errors]
    assert any("hosts.yaml:7: host edge1: data.direct_connect.vlan:" in m for m in messages), messages
    assert any("hosts.yaml:8: host edge1: data.direct_connect.colour: unknown key" in m for m in messages), messages


def test_unset_secret_reference_is_named_not_revealed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inv = inventory(tmp_path, monkeypatch)
    monkeypatch.delenv("T_PSK1")
    host = inv.hosts["edge1"]
    with pytest.raises(ConfigErrors) as info:
        validate(resolve(load_spec(host, inv), host, inv), host, inv)
    [message] = [e.location_message() for e in info.value.errors]
    assert "data.vpn.tunnels[0].psk: secret ${env:T_PSK1}: environment variable T_PSK1 is not set" in message


def test_rule_helpers() -> None:
    from ipaddress import IPv4Interface

    assert asn_kind(65010) == "private" and asn_kind(4200000001) == "private"
    assert asn_kind(7224) == "public" and asn_kind(396982) == "public"
    with pytest.raises(ValueError, match="reserved by IANA"):
        asn_kind(70000)
    assert psk_problem("Abc.def_123") is None
    assert "start with 0" in (psk_problem("0bcdefgh") or "")
    assert md5_problem("a" * 80, "juniper_junos") is None
    assert "spaces" in (md5_problem("abc def", "cisco_ios") or "")
    assert pair_problem(IPv4Interface("10.0.0.0/31"), IPv4Interface("10.0.0.1/31")) is None
