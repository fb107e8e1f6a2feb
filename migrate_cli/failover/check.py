"""`failover check`: is failover armed at each site, and if not, why not. Read-only.

Per edge: probes bound to each uplink's source address (loss, RTT), which uplink carries the default route,
and on devices the IP SLA / track state and the DX and VPN BGP sessions. A site is **armed** when at least two
of its uplinks are confirmed live, the default route is on the best live one, something will move the route
(IP SLA/track on a device, `migrate failover watch` on a Linux edge), each Linux uplink has its policy rule,
the DX BGP sessions are up with a VPN session behind them, and no drill left a link cut.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrate_cli.core.errors import MigrateError, SafetyRefusal
from migrate_cli.core.inventory import Host
from migrate_cli.core.lock import StateLock
from migrate_cli.failover.cutters import read_marker
from migrate_cli.failover.device_state import DeviceState, read_device_state
from migrate_cli.failover.model import Edge, Uplink, sites
from migrate_cli.failover.probes import UplinkStats, measure_uplinks
from migrate_cli.failover.routes import LinuxRoutes
from migrate_cli.failover.watch import lock_name

CHECK_TIMEOUT = 1.0


@dataclass
class EdgeReport:
    """What was observed on one edge."""

    host: str
    router: str
    stats: list[UplinkStats] = field(default_factory=list)
    default_gateway: str | None = None
    default_uplink: str | None = None
    route_known: bool = False
    device: DeviceState | None = None
    watcher_running: bool | None = None
    missing_rules: list[str] = field(default_factory=list)
    stale_drill: dict[str, Any] | None = None

    def public(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "router": self.router,
            "default_route": {"gateway": self.default_gateway, "uplink": self.default_uplink}
            if self.route_known
            else None,
            "uplinks": [s.public() for s in self.stats],
            "device": self.device.public() if self.device else None,
            "watcher_running": self.watcher_running,
            "missing_policy_rules": self.missing_rules,
            "stale_drill": self.stale_drill,
        }


@dataclass
class SiteVerdict:
    site: str
    armed: bool
    reasons: list[str] = field(default_factory=list)  # why not armed
    notes: list[str] = field(default_factory=list)  # worth knowing, not blocking
    edges: list[EdgeReport] = field(default_factory=list)
    live: list[str] = field(default_factory=list)
    active: str | None = None

    def line(self) -> str:
        if self.armed:
            return f"site {self.site}: failover ARMED (live: {', '.join(self.live)}; default route on {self.active})"
        return f"site {self.site}: failover NOT armed: {'; '.join(self.reasons)}"

    def public(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "armed": self.armed,
            "reasons": self.reasons,
            "notes": self.notes,
            "live_uplinks": self.live,
            "default_route_uplink": self.active,
            "edges": [e.public() for e in self.edges],
        }


def watcher_running(state_dir: Path, host: str) -> bool:
    """Whether a `failover watch` (or a drill's watcher) holds the edge's watch lock right now."""
    lock = StateLock(state_dir, lock_name(host), purpose="failover check")
    try:
        lock.acquire()
    except SafetyRefusal:
        return True
    lock.release()
    return False


def observe_edge(
    edge: Edge,
    host: Host | None,
    state_dir: Path,
    count: int = 5,
    read_device: Callable[[Any], DeviceState] = read_device_state,
) -> EdgeReport:
    """Probe the uplinks and read the routing/device state of one edge (changes nothing)."""
    report = EdgeReport(edge.host, edge.router)
    report.stats = measure_uplinks(
        edge.uplinks,
        count=count,
        interval=edge.timers.interval,
        timeout=max(CHECK_TIMEOUT, edge.timers.probe_timeout),
        netns_name=edge.netns,
    )
    if edge.has_device and host is not None:
        report.device = read_device(host)
    if edge.router == "linux":
        routes = LinuxRoutes(edge.netns)
        try:
            report.default_gateway = routes.default_gateway()
            report.route_known = True
            report.missing_rules = [u.name for u in edge.uplinks if not routes.has_source_rule(u)]
        except MigrateError:
            report.route_known = False
        report.watcher_running = watcher_running(state_dir, edge.host)
    elif report.device is not None and report.device.reachable and "show ip route" not in report.device.errors:
        route = report.device.default_route
        report.default_gateway = route.next_hop if route else None
        report.route_known = True
    found = edge.uplink_by_gateway(report.default_gateway)
    report.default_uplink = found.name if found else None
    report.stale_drill = read_marker(state_dir, edge.host)
    return report


def _liveness(uplink: Uplink, stats: UplinkStats | None, device: DeviceState | None) -> tuple[bool | None, str]:
    """(live?, evidence): probes when they could run here, else the device's track object."""
    if stats is not None and stats.local:
        if stats.live:
            return True, f"{stats.loss_pct:.0f}% loss"
        errors = "; ".join(f"{t.target}: {t.last_error or 'no answer'}" for t in stats.targets)
        return False, f"100% loss ({errors})"
    if uplink.track is not None and device is not None and device.reachable:
        track = device.track(uplink.track)
        if track is None:
            return None, f"track {uplink.track} is not configured"
        return track.up, f"track {uplink.track} is {track.state}"
    return None, "not probed from here and no track object named"


def verdict(site: str, edges: list[Edge], reports: list[EdgeReport]) -> SiteVerdict:
    """Turn observations into a verdict with reasons (pure: easy to test)."""
    v = SiteVerdict(site, armed=False, edges=reports)
    uplinks = [(e, u) for e in edges for u in e.uplinks]
    by_host = {r.host: r for r in reports}
    if len(uplinks) < 2:
        v.reasons.append(
            f"only one uplink ({uplinks[0][1].name}): nothing to fail over to" if uplinks else "no uplinks"
        )

    live: list[tuple[Edge, Uplink]] = []
    for edge, uplink in uplinks:
        report = by_host[edge.host]
        stats = next((s for s in report.stats if s.uplink == uplink.name), None)
        state, evidence = _liveness(uplink, stats, report.device)
        if state:
            live.append((edge, uplink))
        elif state is False:
            v.notes.append(f"{uplink.name} ({uplink.provider}) on {edge.host} is DOWN: {evidence}")
        else:
            v.notes.append(f"{uplink.name} on {edge.host}: cannot confirm it is live ({evidence})")
    v.live = [u.name for _, u in live]
    if len(uplinks) >= 2 and len(live) < 2:
        v.reasons.append(f"{len(live)} of {len(uplinks)} uplinks confirmed live ({', '.join(v.live) or 'none'})")

    best = min(live, key=lambda pair: pair[1].priority) if live else None
    for edge in edges:
        report = by_host[edge.host]
        _route_reasons(v, edge, report, best)
        _mechanism_reasons(v, edge, report)
        _bgp_reasons(v, edge, report)
        if report.stale_drill:
            d = report.stale_drill
            v.reasons.append(f"a drill left {d.get('link')} cut on {edge.host}; restore: {d.get('restore')}")
    v.armed = not v.reasons
    return v


def _route_reasons(v: SiteVerdict, edge: Edge, report: EdgeReport, best: tuple[Edge, Uplink] | None) -> None:
    if not report.route_known:
        if edge.router == "linux" or report.device is not None:
            v.reasons.append(f"cannot read the default route of {edge.host}")
        return
    if report.default_gateway is None:
        v.reasons.append(f"{edge.host} has no default route")
        return
    if report.default_uplink is None:
        v.reasons.append(f"{edge.host}'s default route via {report.default_gateway} is not one of its uplinks")
        return
    v.active = report.default_uplink
    if best is not None and best[0].host == edge.host and best[1].name != report.default_uplink:
        v.reasons.append(
            f"the default route is on {report.default_uplink} but {best[1].name} (preferred) is live: "
            "it has not failed back"
        )


def _mechanism_reasons(v: SiteVerdict, edge: Edge, report: EdgeReport) -> None:
    if edge.router == "linux":
        if report.watcher_running is False:
            v.reasons.append(
                f"no `migrate failover watch` runs for {edge.host}: nothing moves its default route when an uplink dies"
            )
        for name in report.missing_rules:
            up = edge.uplink(name)
            v.reasons.append(
                f"no `ip rule from {up.source}` on {edge.host}: {name}'s probes would follow the default route"
            )
    device = report.device
    if device is None:
        return
    if not device.reachable:
        target = v.reasons if edge.router == "device" else v.notes
        target.append(f"{edge.host} did not answer: {device.errors.get('connect', 'unreachable')}")
        return
    for command, error in device.errors.items():
        if command == "show ip bgp summary" and not (edge.bgp_dx or edge.bgp_vpn):
            continue  # no BGP neighbors in the intent: "% BGP not active" is no news
        v.notes.append(f"{edge.host}: `{command}`: {error}")
    if edge.router != "device":
        return
    named = [u for u in edge.uplinks if u.track is not None]
    for uplink in named:
        if device.track(uplink.track or 0) is None:
            v.reasons.append(f"track {uplink.track} ({uplink.name}) is not configured on {edge.host}")
    if not named and "show track" not in device.errors:
        if device.tracks:
            ids = ", ".join(str(t.id) for t in device.tracks)
            v.notes.append(f"{edge.host} has track objects ({ids}) but no uplink names its `track`")
        else:
            v.reasons.append(
                f"no IP SLA/track on {edge.host}: its default route moves only when a link loses carrier, "
                "not when the ISP fails"
            )
    for op in device.sla:
        if not op.ok:
            v.notes.append(f"{edge.host}: IP SLA {op.id} ({op.type} {op.destination}) returns {op.return_code}")


def _bgp_reasons(v: SiteVerdict, edge: Edge, report: EdgeReport) -> None:
    if not (edge.bgp_dx or edge.bgp_vpn):
        return
    device = report.device
    if device is None or not device.reachable or "show ip bgp summary" in device.errors:
        v.reasons.append(f"cannot read the BGP sessions of {edge.host}")
        return
    for kind, peers in (("DX", edge.bgp_dx), ("VPN", edge.bgp_vpn)):
        for peer in peers:
            neighbor = device.neighbor(peer)
            if neighbor is None:
                v.reasons.append(f"{kind} BGP neighbor {peer} is not configured on {edge.host}")
            elif not neighbor.established and kind == "DX":
                v.reasons.append(f"DX BGP session {peer} is {neighbor.state}: traffic is not on Direct Connect")
            elif not neighbor.established:
                v.notes.append(f"VPN BGP session {peer} is {neighbor.state}")
    if edge.bgp_dx and not edge.bgp_vpn:
        v.reasons.append(f"{edge.host}: no VPN BGP neighbors listed (failover.bgp.vpn): Direct Connect has no backup")
    elif edge.bgp_vpn and not any((n := device.neighbor(p)) is not None and n.established for p in edge.bgp_vpn):
        v.reasons.append(f"no VPN BGP session is established on {edge.host}: Direct Connect has no backup")


def check_sites(
    edges: list[Edge],
    hosts: dict[str, Host],
    state_dir: Path,
    count: int = 5,
    read_device: Callable[[Any], DeviceState] = read_device_state,
    progress: Callable[[str], None] | None = None,
) -> list[SiteVerdict]:
    """Observe every edge (in parallel per site) and return one verdict per site."""
    from concurrent.futures import ThreadPoolExecutor

    out: list[SiteVerdict] = []
    for site, site_edges in sites(edges).items():
        if progress:
            progress(
                f"site {site}: probing {sum(len(e.uplinks) for e in site_edges)} uplinks on {len(site_edges)} edge(s)"
            )
        with ThreadPoolExecutor(max_workers=len(site_edges)) as pool:
            reports = list(
                pool.map(lambda e: observe_edge(e, hosts.get(e.host), state_dir, count, read_device), site_edges)
            )
        out.append(verdict(site, site_edges, reports))
    return out
