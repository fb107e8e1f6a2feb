"""Failover on an IOS edge: the lab's simulated device over real SSH (netmiko), with IP SLA, track, static
default routes and BGP sessions standing for DX and VPN. Check reads and parses its state; a drill shuts the
primary's interface, times the route move from the device's view, and always restores it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from migrate_cli.core.inventory import Host, load_inventory
from migrate_cli.failover.check import observe_edge, verdict
from migrate_cli.failover.device_state import read_device_state
from migrate_cli.failover.drill import DrillOptions, run_drill
from migrate_cli.failover.model import Edge, load_edges
from migrate_cli.lab.devices import DeviceFleet, DeviceSpec
from migrate_cli.lab.netns import edge_device_config
from migrate_cli.network.session import connect
from tests.conftest import REPO, write

EDGE_CONFIG = """\
interface GigabitEthernet2
 description ISP-A
 ip address 198.51.100.2 255.255.255.252
 no shutdown
interface GigabitEthernet3
 description ISP-B
 ip address 203.0.113.2 255.255.255.252
 no shutdown
interface GigabitEthernet4
 description Direct Connect
 ip address 169.254.10.2 255.255.255.252
 no shutdown
interface GigabitEthernet5
 description VPN stand-in
 ip address 169.254.20.2 255.255.255.252
 no shutdown
router bgp 65010
 neighbor 169.254.10.1 remote-as 64512
 neighbor 169.254.20.1 remote-as 64512
ip sla 1
 icmp-echo 198.51.100.1 source-interface GigabitEthernet2
 frequency 5
ip sla schedule 1 life forever start-time now
ip sla 2
 icmp-echo 203.0.113.1 source-interface GigabitEthernet3
 frequency 5
ip sla schedule 2 life forever start-time now
track 1 ip sla 1 reachability
track 2 ip sla 2 reachability
ip route 0.0.0.0 0.0.0.0 198.51.100.1 track 1
ip route 0.0.0.0 0.0.0.0 203.0.113.1 10 track 2
"""


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DeviceFleet]:
    monkeypatch.setenv("FO_PW", "pw-edge1-long")
    monkeypatch.setenv("FO_ENABLE", "en-secret-1")
    devices = DeviceFleet(
        [
            DeviceSpec(
                name="edge1",
                username="ops",
                password="pw-edge1-long",
                enable_secret="en-secret-1",
                initial_config=EDGE_CONFIG,
            )
        ],
        tmp_path / "keys",
    )
    devices.start()
    devices.write_known_hosts(tmp_path / "known_hosts")
    yield devices
    devices.stop()


def _edge(tmp_path: Path, fleet: DeviceFleet) -> tuple[Edge, Host]:
    port = fleet.devices["edge1"].port
    write(
        tmp_path / "inv" / "hosts.yaml",
        f"""
        edge1:
          hostname: 127.0.0.1
          port: {port}
          username: ops
          password: ${{env:FO_PW}}
          platform: cisco_ios
          connection_options:
            netmiko:
              extras:
                secret: ${{env:FO_ENABLE}}
                known_hosts: {tmp_path / "known_hosts"}
          data:
            site: hq
            uplinks:
              - {{name: isp-a, interface: GigabitEthernet2, source: 198.51.100.2, gateway: 198.51.100.1,
                 priority: 10, targets: [192.0.2.10], track: 1}}
              - {{name: isp-b, interface: GigabitEthernet3, source: 203.0.113.2, gateway: 203.0.113.1,
                 priority: 20, targets: [192.0.2.10], track: 2}}
            failover:
              bgp: {{dx: [169.254.10.1], vpn: [169.254.20.1]}}
              traffic_target: "127.0.0.1:{port}"
        """,
    )
    inventory = load_inventory(tmp_path / "inv")
    return load_edges(inventory)[0], inventory.hosts["edge1"]


def _config(host: Host, *lines: str) -> None:
    with connect(host) as conn:
        conn.enable()
        conn.send_config_set(list(lines))


def _shut(host: Host, interface: str) -> bool:
    with connect(host) as conn:
        conn.enable()
        text = conn.send_command(f"show running-config interface {interface}")
    return any(line.strip() == "shutdown" for line in text.splitlines())


def test_device_state_is_read_and_parsed_over_ssh(tmp_path: Path, fleet: DeviceFleet) -> None:
    edge, host = _edge(tmp_path, fleet)
    state = read_device_state(host)
    assert state.errors == {}
    assert [(s.id, s.destination, s.ok) for s in state.sla] == [(1, "198.51.100.1", True), (2, "203.0.113.1", True)]
    assert [(t.id, t.up, t.sla) for t in state.tracks] == [(1, True, 1), (2, True, 2)]
    assert {n.address: n.established for n in state.bgp} == {"169.254.10.1": True, "169.254.20.1": True}
    assert state.default_route is not None and state.default_route.next_hop == "198.51.100.1"

    report = observe_edge(edge, host, tmp_path / "state", count=1)
    assert [s.local for s in report.stats] == [False, False]  # the device's addresses: nothing is sent from here
    v = verdict("hq", [edge], [report])
    assert v.armed, v.reasons
    assert v.live == ["isp-a", "isp-b"] and v.active == "isp-a"

    _config(host, "router bgp 65010", "neighbor 169.254.20.1 shutdown")
    v = verdict("hq", [edge], [observe_edge(edge, host, tmp_path / "state", count=1)])
    assert v.reasons == ["no VPN BGP session is established on edge1: Direct Connect has no backup"]


@pytest.mark.slow
def test_device_drill_shuts_the_interface_and_always_restores_it(tmp_path: Path, fleet: DeviceFleet) -> None:
    edge, host = _edge(tmp_path, fleet)
    log: list[str] = []
    result = run_drill(
        edge,
        edge.uplink("isp-a"),
        tmp_path / "state",
        DrillOptions(max_duration=30, settle=0.5),
        lambda m, d: log.append(m),
        host=host,
    )
    assert result.mode == "device" and result.watcher == "the device (IP SLA / track)"
    assert result.ok, result.lines()
    assert result.switch_s is not None and result.failback_switch_s is not None
    assert any("CUT isp-a: interface GigabitEthernet2 on device edge1" in m for m in log)
    assert not _shut(host, "GigabitEthernet2")
    assert read_device_state(host).default_route.next_hop == "198.51.100.1"  # type: ignore[union-attr]


@pytest.mark.slow
def test_device_drill_time_limit_restores(tmp_path: Path, fleet: DeviceFleet) -> None:
    """No backup route on the device: the route never moves; the drill gives up at the limit and restores."""
    edge, host = _edge(tmp_path, fleet)
    _config(host, "no ip route 0.0.0.0 0.0.0.0 203.0.113.1 10 track 2")
    result: Any = run_drill(edge, edge.uplink("isp-a"), tmp_path / "state", DrillOptions(max_duration=3), host=host)
    assert result.timed_out and result.restored and not result.ok
    assert not _shut(host, "GigabitEthernet2")


@pytest.mark.slow
def test_lab_edge_config_is_armed_and_drills(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lab's own combination (what `migrate demo` runs without root): inventory/lab's edge1 uplinks on a
    simulated device configured with `edge_device_config()`; no traffic probe is sent from this machine."""
    monkeypatch.setenv("FO_PW", "pw-edge1-long")
    fleet = DeviceFleet(
        [DeviceSpec(name="edge1", username="ops", password="pw-edge1-long", initial_config=edge_device_config())],
        tmp_path / "keys",
    )
    fleet.start()
    try:
        fleet.write_known_hosts(tmp_path / "known_hosts")
        lab_hosts = yaml.safe_load((REPO / "inventory" / "lab" / "hosts.yaml").read_text())
        entry = {
            "hostname": "127.0.0.1",
            "port": fleet.devices["edge1"].port,
            "username": "ops",
            "password": "${env:FO_PW}",
            "platform": "cisco_ios",
            "connection_options": {"netmiko": {"extras": {"known_hosts": str(tmp_path / "known_hosts")}}},
            "data": lab_hosts["edge1"]["data"],
        }
        (tmp_path / "inv").mkdir()
        (tmp_path / "inv" / "hosts.yaml").write_text(yaml.safe_dump({"edge1": entry}))
        inventory = load_inventory(tmp_path / "inv")
        edge, host = load_edges(inventory)[0], inventory.hosts["edge1"]
        assert edge.router == "device" and edge.drill_target() is None
        v = verdict("hq", [edge], [observe_edge(edge, host, tmp_path / "state", count=1)])
        assert v.armed, v.reasons
        result = run_drill(edge, edge.uplink("isp-a"), tmp_path / "state", DrillOptions(settle=0.5), host=host)
        assert result.ok, result.lines()
        assert result.probes_sent == 0 and any("no traffic probe" in n for n in result.notes)
    finally:
        fleet.stop()
