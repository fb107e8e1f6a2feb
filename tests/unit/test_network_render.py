"""Rendering intent to per-platform configuration: golden files, and secrets only where the device needs them.

Regenerate the golden files after an intended template change with `UPDATE_GOLDEN=1 pytest THIS_FILE`, and
review the diff like any other change.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from migrate_cli.core.errors import ConfigError
from migrate_cli.core.inventory import load_inventory
from migrate_cli.network.aws_params import resolve
from migrate_cli.network.intent import EdgeIntent, load_spec, validate
from migrate_cli.network.render import render, render_for_people
from tests.conftest import REPO

GOLDEN = REPO / "tests" / "golden" / "network"
SECRETS = {"G_DX_KEY": "golden.md5.key", "G_PSK1": "golden.psk_one", "G_PSK2": "golden.psk_two"}

INTERFACES = {
    "cisco_ios": ("GigabitEthernet2", "GigabitEthernet3", "GigabitEthernet4"),
    "juniper_junos": ("ge-0/0/0", "ge-0/0/1", "ge-0/0/2"),
}


def intent_for(tmp_path: Path, platform: str, vpn: bool = True, dx: bool = True, uplinks: int = 2) -> EdgeIntent:
    isp_a, isp_b, dx_port = INTERFACES[platform]
    data: dict = {"asn": 65010, "router_id": "10.255.0.1", "advertise": ["10.10.0.0/16", "10.20.0.0/16"]}
    if dx:
        data["direct_connect"] = {
            "interface": dx_port,
            "vlan": 101,
            "customer_address": "169.254.100.2/30",
            "amazon_address": "169.254.100.1/30",
            "amazon_asn": 64512,
            "bgp_auth_key": "${env:G_DX_KEY}",
        }
    if vpn:
        data["vpn"] = {
            "amazon_asn": 64512,
            "tunnels": [
                {"outside_address": "203.0.113.10", "inside_address": "169.254.10.2/30", "psk": "${env:G_PSK1}"},
                {"outside_address": "203.0.113.20", "inside_address": "169.254.11.2/30", "psk": "${env:G_PSK2}"},
            ],
        }
    links = [
        {"name": "isp-a", "interface": isp_a, "source": "198.51.100.2", "gateway": "198.51.100.1", "priority": 10,
         "targets": ["192.0.2.99", "192.0.2.99:443"], "track": 1},
        {"name": "isp-b", "interface": isp_b, "source": "192.0.2.2", "gateway": "192.0.2.1", "priority": 20,
         "targets": ["192.0.2.99"], "track": 2},
    ][:uplinks]  # fmt: skip
    if links:
        data["uplinks"] = links
    inv_dir = tmp_path / "inv"
    inv_dir.mkdir(parents=True, exist_ok=True)
    (inv_dir / "hosts.yaml").write_text(yaml.safe_dump({"edge1": {"platform": platform, "data": data}}))
    inv = load_inventory(inv_dir)
    host = inv.hosts["edge1"]
    intent = resolve(load_spec(host, inv), host, inv)
    validate(intent, host, inv)
    return intent


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)


@pytest.mark.parametrize("platform", ["cisco_ios", "juniper_junos"])
def test_full_intent_matches_the_golden_file(tmp_path: Path, platform: str) -> None:
    text = render(intent_for(tmp_path, platform))
    golden = GOLDEN / f"edge1-{platform}.cfg"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


def test_cisco_config_has_what_the_issue_asks_for(tmp_path: Path) -> None:
    lines = render(intent_for(tmp_path, "cisco_ios")).splitlines()
    for expected in (
        "interface GigabitEthernet4.101",
        " encapsulation dot1Q 101",
        " bfd interval 300 min_rx 300 multiplier 3",
        " neighbor 169.254.100.1 password golden.md5.key",
        " neighbor 169.254.100.1 fall-over bfd",
        "  neighbor 169.254.100.1 route-map AWS-DX-IN in",
        " set local-preference 200",
        "crypto ikev2 proposal AWS-IKEV2-PROPOSAL",
        " tunnel mode ipsec ipv4",
        " tunnel protection ipsec profile AWS-VPN-TUNNEL2",
        " ip tcp adjust-mss 1379",
        " dpd 10 3 on-demand",
        "  neighbor 169.254.11.1 route-map AWS-VPN-OUT out",
        " set as-path prepend 65010 65010",
        " icmp-echo 192.0.2.99 source-interface GigabitEthernet2",
        " icmp-echo 192.0.2.1 source-interface GigabitEthernet3",
        "track 1 ip sla 1 reachability",
        "ip route 0.0.0.0 0.0.0.0 198.51.100.1 name ISP-A track 1",
        "ip route 0.0.0.0 0.0.0.0 192.0.2.1 250 name ISP-B track 2",
        "ip route 192.0.2.99 255.255.255.255 198.51.100.1 name ISP-A-PROBE",
    ):
        assert expected in lines, expected
    assert not [line for line in lines if "no shutdown" in line or "unicast" in line], "IOS never prints these"


def test_optional_parts_are_left_out(tmp_path: Path) -> None:
    dx_only = render(intent_for(tmp_path, "cisco_ios", vpn=False, uplinks=0))
    assert "crypto" not in dx_only and "Tunnel" not in dx_only and "ip sla" not in dx_only
    assert "AWS-VPN-OUT" not in dx_only and "router bgp 65010" in dx_only
    single = render(intent_for(tmp_path / "b", "cisco_ios", dx=False, vpn=False, uplinks=1))
    assert single == "ip route 0.0.0.0 0.0.0.0 198.51.100.1 name ISP-A\n", "one uplink: no failover to arm"


@pytest.mark.parametrize("platform", ["cisco_ios", "juniper_junos"])
def test_rendered_for_people_masks_every_secret(tmp_path: Path, platform: str) -> None:
    text = render_for_people(intent_for(tmp_path, platform))
    for secret in SECRETS.values():
        assert secret not in text
    assert "********" in text


def test_platform_without_templates_is_bad_input(tmp_path: Path) -> None:
    intent = intent_for(tmp_path, "cisco_ios").model_copy(update={"platform": "arista_eos"})
    with pytest.raises(ConfigError, match="no templates for platform 'arista_eos'"):
        render(intent)


def test_golden_files_exist() -> None:
    assert sorted(p.name for p in GOLDEN.glob("edge1-*.cfg")) == ["edge1-cisco_ios.cfg", "edge1-juniper_junos.cfg"]
