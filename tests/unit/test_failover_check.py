"""The per-site verdict: armed, or not and why (pure: observations in, verdict out)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from migrate_cli.core.inventory import load_inventory
from migrate_cli.failover.check import EdgeReport, observe_edge, verdict
from migrate_cli.failover.device_state import BgpNeighbor, DefaultRoute, DeviceState, TrackObject
from migrate_cli.failover.model import Edge, load_edges
from migrate_cli.failover.probes import TargetStats, UplinkStats
from tests.conftest import write

HOSTS = """
edge1:
  platform: cisco_ios
  data:
    site: hq
    uplinks:
      - {name: isp-a, interface: Gi2, source: 198.51.100.2, gateway: 198.51.100.1, priority: 10,
         targets: [192.0.2.10], track: 1}
      - {name: isp-b, interface: Gi3, source: 203.0.113.2, gateway: 203.0.113.1, priority: 20,
         targets: [192.0.2.10], track: 2}
    failover:
      bgp: {dx: [169.254.10.1], vpn: [169.254.20.1]}
"""


def _edge(tmp_path: Path, text: str = HOSTS) -> Edge:
    write(tmp_path / "inv" / "hosts.yaml", text)
    return load_edges(load_inventory(tmp_path / "inv"))[0]


def _stats(name: str, source: str, received: int, local: bool = True) -> UplinkStats:
    target = TargetStats("192.0.2.10", "icmp", sent=5, received=received, rtts=[1.0] * received)
    if not received:
        target.last_error = "timed out"
    return UplinkStats(name, source, local, [target] if local else [])


def _device(**changes: object) -> DeviceState:
    state = DeviceState(
        "edge1",
        tracks=[TrackObject(1, "Up", sla=1), TrackObject(2, "Up", sla=2)],
        bgp=[
            BgpNeighbor("169.254.10.1", "64512", "01:00:00", "3"),
            BgpNeighbor("169.254.20.1", "64512", "01:00:00", "3"),
        ],
        default_route=DefaultRoute("S", "198.51.100.1", None),
    )
    return replace(state, **changes)  # type: ignore[arg-type]


def _report(
    edge: Edge, device: DeviceState | None = None, gateway: str | None = "198.51.100.1", **kw: object
) -> EdgeReport:
    report = EdgeReport(edge.host, edge.router, device=device if device is not None else _device())
    report.stats = kw.pop(
        "stats", [_stats("isp-a", "198.51.100.2", 0, local=False), _stats("isp-b", "203.0.113.2", 0, local=False)]
    )  # type: ignore[assignment]
    report.default_gateway, report.route_known = gateway, True
    found = edge.uplink_by_gateway(gateway)
    report.default_uplink = found.name if found else None
    for key, value in kw.items():
        setattr(report, key, value)
    return report


def test_device_edge_with_tracks_up_and_bgp_established_is_armed(tmp_path: Path) -> None:
    edge = _edge(tmp_path)
    v = verdict("hq", [edge], [_report(edge)])
    assert v.armed, v.reasons
    assert v.live == ["isp-a", "isp-b"] and v.active == "isp-a"
    assert v.line() == "site hq: failover ARMED (live: isp-a, isp-b; default route on isp-a)"


def test_secondary_down_means_not_armed(tmp_path: Path) -> None:
    edge = _edge(tmp_path)
    device = _device(tracks=[TrackObject(1, "Up", sla=1), TrackObject(2, "Down", sla=2)])
    v = verdict("hq", [edge], [_report(edge, device)])
    assert not v.armed
    assert v.reasons == ["1 of 2 uplinks confirmed live (isp-a)"]
    assert any("isp-b (isp-b) on edge1 is DOWN: track 2 is Down" in n for n in v.notes)


def test_probes_take_precedence_and_explain_loss(tmp_path: Path) -> None:
    edge = _edge(tmp_path)
    stats = [_stats("isp-a", "198.51.100.2", 5), _stats("isp-b", "203.0.113.2", 0)]
    v = verdict("hq", [edge], [_report(edge, stats=stats)])
    assert not v.armed
    assert any("is DOWN: 100% loss (192.0.2.10: timed out)" in n for n in v.notes)


def test_not_failed_back_and_no_route(tmp_path: Path) -> None:
    edge = _edge(tmp_path)
    v = verdict("hq", [edge], [_report(edge, gateway="203.0.113.1")])
    assert v.reasons == ["the default route is on isp-b but isp-a (preferred) is live: it has not failed back"]
    v = verdict("hq", [edge], [_report(edge, gateway=None)])
    assert v.reasons == ["edge1 has no default route"]
    v = verdict("hq", [edge], [_report(edge, gateway="192.0.2.99")])
    assert v.reasons == ["edge1's default route via 192.0.2.99 is not one of its uplinks"]


def test_no_ip_sla_on_the_device(tmp_path: Path) -> None:
    edge = _edge(tmp_path, HOSTS.replace(", track: 1}", "}").replace(", track: 2}", "}"))
    v = verdict("hq", [edge], [_report(edge, _device(tracks=[]))])
    assert not v.armed
    assert any(r.startswith("no IP SLA/track on edge1") for r in v.reasons)
    assert any("cannot confirm it is live" in n for n in v.notes)


def test_dx_and_vpn_sessions(tmp_path: Path) -> None:
    edge = _edge(tmp_path)
    dx_down = _device(
        bgp=[BgpNeighbor("169.254.10.1", "64512", "never", "Active"), BgpNeighbor("169.254.20.1", "64512", "1d", "2")]
    )
    v = verdict("hq", [edge], [_report(edge, dx_down)])
    assert v.reasons == ["DX BGP session 169.254.10.1 is Active: traffic is not on Direct Connect"]
    vpn_down = _device(
        bgp=[BgpNeighbor("169.254.10.1", "64512", "1d", "2"), BgpNeighbor("169.254.20.1", "64512", "never", "Idle")]
    )
    v = verdict("hq", [edge], [_report(edge, vpn_down)])
    assert v.reasons == ["no VPN BGP session is established on edge1: Direct Connect has no backup"]
    missing = _device(bgp=[BgpNeighbor("169.254.20.1", "64512", "1d", "2")])
    assert (
        "DX BGP neighbor 169.254.10.1 is not configured on edge1"
        in verdict("hq", [edge], [_report(edge, missing)]).reasons
    )


def test_linux_edge_needs_a_watcher_and_policy_rules(tmp_path: Path) -> None:
    text = HOSTS.replace("  platform: cisco_ios\n", "").replace(
        "      bgp: {dx: [169.254.10.1], vpn: [169.254.20.1]}\n", "      router: linux\n"
    )
    edge = _edge(tmp_path, text)
    assert edge.router == "linux" and not edge.has_device
    stats = [_stats("isp-a", "198.51.100.2", 5), _stats("isp-b", "203.0.113.2", 4)]
    report = EdgeReport(
        edge.host, "linux", stats=stats, default_gateway="198.51.100.1", default_uplink="isp-a", route_known=True
    )
    report.watcher_running, report.missing_rules = True, []
    assert verdict("hq", [edge], [report]).armed
    report.watcher_running, report.missing_rules = False, ["isp-b"]
    v = verdict("hq", [edge], [report])
    assert v.reasons == [
        "no `migrate failover watch` runs for edge1: nothing moves its default route when an uplink dies",
        "no `ip rule from 203.0.113.2` on edge1: isp-b's probes would follow the default route",
    ]


def test_single_uplink_and_stale_drill(tmp_path: Path) -> None:
    one = (
        HOSTS.split("      - {name: isp-b")[0] + "    failover:\n      bgp: {dx: [169.254.10.1], vpn: [169.254.20.1]}\n"
    )
    edge = _edge(tmp_path, one)
    report = _report(edge, stats=[_stats("isp-a", "198.51.100.2", 0, local=False)])
    report.stale_drill = {"link": "isp-a", "restore": "no shutdown"}
    v = verdict("hq", [edge], [report])
    assert "only one uplink (isp-a): nothing to fail over to" in v.reasons
    assert "a drill left isp-a cut on edge1; restore: no shutdown" in v.reasons


def test_observe_edge_reads_the_device_and_reports_unprobed_uplinks(tmp_path: Path) -> None:
    """Sources that are not on this machine are not probed (no packet leaves); the device state is read."""
    edge = _edge(tmp_path)
    host = load_inventory(tmp_path / "inv").hosts["edge1"]
    report = observe_edge(edge, host, tmp_path / "state", count=1, read_device=lambda h: _device())
    assert [s.local for s in report.stats] == [False, False]
    assert report.default_uplink == "isp-a" and report.route_known
    assert verdict("hq", [edge], [report]).armed
