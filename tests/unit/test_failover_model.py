"""Uplink intent from inventory host data: parsing, and bad input as one clear line naming file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrate_cli.core.errors import ConfigError
from migrate_cli.core.inventory import load_inventory
from migrate_cli.failover.model import Target, find_link, load_edges, parse_target
from migrate_cli.lab.netns import uplinks_data
from tests.conftest import REPO, write

UPLINKS = """
edge1:
  platform: cisco_ios
  data:
    site: hq
    uplinks:
      - name: isp-a
        provider: ISP-A
        interface: GigabitEthernet2
        source: 198.51.100.2
        gateway: 198.51.100.1
        priority: 10
        targets: [192.0.2.10, "192.0.2.10:443"]
      - name: isp-b
        interface: GigabitEthernet3
        source: 203.0.113.2
        gateway: 203.0.113.1
        priority: 5
        targets: ["edge.example.net:8443"]
    failover:
      hold_down: 5
      dx:
        - {name: dx-primary, virtual_interface_id: dxvif-ffabc123}
core1:
  platform: cisco_ios
"""


def _inv(tmp_path: Path, text: str) -> Path:
    write(tmp_path / "inv" / "hosts.yaml", text)
    return tmp_path / "inv"


def test_edges_are_hosts_with_uplinks_sorted_by_priority(tmp_path: Path) -> None:
    edges = load_edges(load_inventory(_inv(tmp_path, UPLINKS)))
    assert [e.host for e in edges] == ["edge1"]
    edge = edges[0]
    assert [u.name for u in edge.uplinks] == ["isp-b", "isp-a"]  # lower priority number first
    assert edge.uplink("isp-a").targets == (Target("192.0.2.10"), Target("192.0.2.10", 443))
    assert edge.uplink("isp-b").provider == "isp-b"
    assert edge.router == "device" and edge.has_device
    assert edge.timers.hold_down == 5 and edge.timers.interval == 0.2 and edge.timers.probe_timeout == 0.2
    assert edge.site == "hq"
    assert find_link(edges, "dx-primary").dx is not None
    assert find_link(edges, "isp-a").uplink is edge.uplink("isp-a")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.1", Target("10.0.0.1")),
        ("10.0.0.1:443", Target("10.0.0.1", 443)),
        ("probe.example.net", Target("probe.example.net")),
        ("probe.example.net:80", Target("probe.example.net", 80)),
    ],
)
def test_targets_are_host_or_host_port(text: str, expected: Target) -> None:
    assert parse_target(text) == expected
    assert str(expected) == text


@pytest.mark.parametrize(
    "text", ["10.0.0.1:http", "10.0.0.1:0", "10.0.0.1:70000", "10.0.0.300", "a b", "", "x:1:2", 42]
)
def test_bad_targets_are_refused(text: object) -> None:
    with pytest.raises(ValueError, match="is not host or host:port"):
        parse_target(text)


def _error(tmp_path: Path, text: str) -> ConfigError:
    inv = _inv(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_edges(load_inventory(inv))
    assert "\n" not in str(info.value)
    return info.value


def test_uplink_without_a_source_names_the_line(tmp_path: Path) -> None:
    err = _error(tmp_path, UPLINKS.replace("        source: 203.0.113.2\n", ""))
    assert err.file and err.file.endswith("hosts.yaml")
    assert err.line == 13  # the `- name: isp-b` item
    assert "uplinks[1] (isp-b): uplink without a source address" in err.message


def test_bad_target_names_its_line(tmp_path: Path) -> None:
    err = _error(tmp_path, UPLINKS.replace('["edge.example.net:8443"]', '["edge.example.net:https"]'))
    assert err.line == 18
    assert "targets[0]: 'edge.example.net:https' is not host or host:port" in err.message


def test_bad_source_address(tmp_path: Path) -> None:
    err = _error(tmp_path, UPLINKS.replace("source: 198.51.100.2", "source: 198.51.100.300"))
    assert err.line == 9 and "source '198.51.100.300' is not an IPv4 address" in err.message


def test_unknown_key_and_duplicate_priority(tmp_path: Path) -> None:
    err = _error(tmp_path, UPLINKS.replace("priority: 5", "priority: 10"))
    assert "priority 10 is also the priority of 'isp-a'" in err.message
    err = _error(tmp_path, UPLINKS.replace("hold_down: 5", "holddown: 5"))
    assert "failover.holddown: unknown key" in err.message


def test_unknown_link_lists_the_known_ones(tmp_path: Path) -> None:
    edges = load_edges(load_inventory(_inv(tmp_path, UPLINKS)))
    with pytest.raises(ConfigError, match=r"unknown link 'isp-c' \(known: dx-primary, isp-a, isp-b\)"):
        find_link(edges, "isp-c")
    with pytest.raises(ConfigError, match="has no uplink 'isp-c'"):
        edges[0].uplink("isp-c")


def test_a_link_on_two_edges_needs_a_limit(tmp_path: Path) -> None:
    twice = UPLINKS.replace("core1:\n  platform: cisco_ios\n", "") + UPLINKS.split("core1:")[0].replace(
        "edge1:", "edge2:"
    )
    edges = load_edges(load_inventory(_inv(tmp_path, twice)))
    with pytest.raises(ConfigError, match="exists on edge1, edge2: choose one with --limit"):
        find_link(edges, "isp-a")
    assert find_link(load_edges(load_inventory(tmp_path / "inv"), "edge2"), "isp-a").edge.host == "edge2"


def test_the_lab_inventory_matches_the_lab_namespaces() -> None:
    """inventory/lab/hosts.yaml describes the uplinks the netns lab builds (same addresses and tables)."""
    edge = load_edges(load_inventory(REPO / "inventory" / "lab"))[0]
    for want in uplinks_data():
        got = edge.uplink(want["name"])
        assert (got.source, got.gateway, got.priority, got.table, got.interface) == (
            want["source"],
            want["gateway"],
            want["priority"],
            want["table"],
            want["interface"],
        )
        assert [str(t) for t in got.targets] == want["targets"]
