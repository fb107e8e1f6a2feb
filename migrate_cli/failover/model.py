"""Failover intent from inventory host data: each edge's uplinks, timers, DX links; validated with FILE:LINE.

An edge is a host whose data has ``uplinks``::

    edge1:
      data:
        site: hq
        uplinks:
          - name: isp-a                 # unique on the host
            provider: ISP-A             # shown in reports (default: the name)
            interface: GigabitEthernet2 # the device's (or Linux box's) interface for this uplink
            source: 198.51.100.2        # the uplink's own address: probes are bound to it (required)
            gateway: 198.51.100.1       # the ISP's next hop: the default route points here
            priority: 10                # lower is preferred, like a route's administrative distance
            targets: [192.0.2.10, "192.0.2.10:443"]   # ICMP "host" and/or TCP "host:port"
            table: 101                  # Linux edge: the per-uplink routing table (optional)
            track: 1                    # IOS edge: the track object watching this uplink (optional)
        failover:                       # optional
          interval: 0.2                 # seconds between probe rounds
          probe_timeout: 0.2            # seconds (default: the interval)
          down_after: 3                 # consecutive misses before an uplink is down
          up_after: 3                   # consecutive successes before it is up again
          hold_down: 2.0                # seconds between two route changes (a dead uplink is left at once)
          router: linux | device        # who moves the default route (default: device when a platform is set)
          netns: NAME                   # Linux edge inside a network namespace (the lab)
          traffic_target: "192.0.2.10:443"  # what a drill's traffic probe reaches through the default route
          bgp: {dx: [169.254.10.1], vpn: [169.254.20.1, 169.254.21.1]}  # BGP neighbors on the device
          dx:                           # Direct Connect links a drill can test (StartBgpFailoverTest)
            - {name: dx-primary, virtual_interface_id: dxvif-ffabc123, bgp_peers: [...], region: us-east-1}
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from migrate_cli.core.errors import ConfigError
from migrate_cli.core.inventory import Host, Inventory
from migrate_cli.core.yamlio import LineDict, line_of, load_yaml

Router = Literal["linux", "device"]
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)
_ROUTE_WORD = re.compile(r"^[A-Za-z0-9./:_-]+$")


# ------------------------------------------------------------------------------------------------------------
# Public model
# ------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """A probe target: ICMP echo to `host`, or a TCP connect to `host:port`."""

    host: str
    port: int | None = None

    @property
    def kind(self) -> str:
        return "icmp" if self.port is None else "tcp"

    def __str__(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"


def parse_target(text: Any) -> Target:
    """`host` or `host:port` (IPv4 address or DNS name); ValueError naming what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{text!r} is not host or host:port")
    raw = text.strip()
    host, sep, port_text = raw.rpartition(":") if ":" in raw else (raw, "", "")
    if sep and (not port_text.isdigit() or not 1 <= int(port_text) <= 65535 or ":" in host):
        raise ValueError(f"{raw!r} is not host or host:port (port 1-65535)")
    if not _valid_host(host):
        raise ValueError(f"{raw!r} is not host or host:port")
    return Target(host=host, port=int(port_text) if sep else None)


def _valid_host(host: str) -> bool:
    if re.fullmatch(r"[0-9.]+", host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return False
        return True
    return bool(_HOSTNAME.match(host))


@dataclass(frozen=True)
class Uplink:
    """One internet uplink of an edge."""

    name: str
    provider: str
    interface: str
    source: str
    gateway: str
    priority: int
    targets: tuple[Target, ...]
    table: int | None = None
    track: int | None = None

    def public(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "provider": self.provider,
            "interface": self.interface,
            "source": self.source,
            "gateway": self.gateway,
            "priority": self.priority,
            "targets": [str(t) for t in self.targets],
        }


@dataclass(frozen=True)
class Timers:
    """Probe cadence and hysteresis. Defaults: detection plus switch-over within about 1 s."""

    interval: float = 0.2
    probe_timeout: float = 0.2
    down_after: int = 3
    up_after: int = 3
    hold_down: float = 2.0


@dataclass(frozen=True)
class DxLink:
    """A Direct Connect virtual interface whose BGP failover a drill can test."""

    name: str
    virtual_interface_id: str
    bgp_peers: tuple[str, ...] = ()
    region: str | None = None


@dataclass(frozen=True)
class LabLink:
    """Where the lab cuts an uplink: an interface in an ISP namespace, and the routes to put back after."""

    netns: str
    interface: str
    routes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Edge:
    """An edge host's failover intent."""

    host: str
    site: str
    uplinks: tuple[Uplink, ...]  # best (lowest priority) first
    timers: Timers
    router: Router
    netns: str | None = None
    traffic_target: Target | None = None
    bgp_dx: tuple[str, ...] = ()
    bgp_vpn: tuple[str, ...] = ()
    dx: tuple[DxLink, ...] = ()
    lab_links: Mapping[str, LabLink] = field(default_factory=dict)
    has_device: bool = False  # an SSH-managed device (netmiko platform) answers for this host
    source: tuple[str, int] = ("", 0)

    def uplink(self, name: str) -> Uplink:
        for up in self.uplinks:
            if up.name == name:
                return up
        known = ", ".join(u.name for u in self.uplinks)
        raise ConfigError(f"{self.host} has no uplink '{name}' (uplinks: {known})", *self.source)

    def uplink_by_gateway(self, gateway: str | None) -> Uplink | None:
        return next((u for u in self.uplinks if gateway and u.gateway == gateway), None)

    def drill_target(self) -> Target | None:
        """What a drill's traffic probe reaches through the default route: `traffic_target`; on a Linux edge
        (which probes its uplinks' targets anyway) else the primary's first TCP (else ICMP) target. None on a
        device edge without `traffic_target`: nothing is sent from this machine then."""
        if self.traffic_target is not None:
            return self.traffic_target
        if self.router != "linux":
            return None
        targets = self.uplinks[0].targets
        return next((t for t in targets if t.kind == "tcp"), targets[0])


# ------------------------------------------------------------------------------------------------------------
# Schema
# ------------------------------------------------------------------------------------------------------------
class _UplinkModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: StrictStr = Field(min_length=1)
    provider: StrictStr | None = None
    interface: StrictStr = Field(min_length=1)
    source: StrictStr | None = None
    gateway: StrictStr
    priority: StrictInt = Field(ge=0)
    targets: list[Any] = Field(min_length=1)
    table: StrictInt | None = Field(default=None, ge=1, le=2**31 - 1)
    track: StrictInt | None = Field(default=None, ge=1)


class _DxModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: StrictStr = Field(min_length=1)
    virtual_interface_id: StrictStr = Field(pattern=r"^dxvif-[0-9a-z]+$")
    bgp_peers: list[StrictStr] = Field(default_factory=list)
    region: StrictStr | None = None


class _LabLinkModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    netns: StrictStr = Field(min_length=1)
    interface: StrictStr = Field(min_length=1)
    routes: list[StrictStr] = Field(default_factory=list)


class _BgpModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dx: list[StrictStr] = Field(default_factory=list)
    vpn: list[StrictStr] = Field(default_factory=list)


class _FailoverModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    interval: float = Field(default=0.2, ge=0.05, le=60)
    probe_timeout: float | None = Field(default=None, gt=0, le=60)
    down_after: StrictInt = Field(default=3, ge=1, le=100)
    up_after: StrictInt = Field(default=3, ge=1, le=100)
    hold_down: float = Field(default=2.0, ge=0, le=3600)
    router: Router | None = None
    netns: StrictStr | None = None
    traffic_target: StrictStr | None = None
    bgp: _BgpModel | None = None
    dx: list[_DxModel] = Field(default_factory=list)
    lab_links: dict[StrictStr, _LabLinkModel] = Field(default_factory=dict)


# ------------------------------------------------------------------------------------------------------------
# Loading
# ------------------------------------------------------------------------------------------------------------
def _ip(value: str, what: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value.strip()))
    except ValueError:
        raise ValueError(f"{what} {value!r} is not an IPv4 address") from None


class _Locator:
    """FILE:LINE of a field under a host's data, looked up in the host's YAML file."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self._doc: Any = None

    def error(self, message: str, loc: tuple[Any, ...]) -> ConfigError:
        file, line = self.host.source
        if self._doc is None and file and Path(file).is_file():
            try:
                self._doc = load_yaml(Path(file))
            except ConfigError:
                self._doc = {}
        doc = self._doc
        if isinstance(doc, LineDict) and self.host.name in doc:
            found = line_of(doc, (self.host.name, "data", *loc))
            line = found or line
        return ConfigError(f"host {self.host.name}: {message}", file or None, line or None)


def _loc_text(loc: Iterable[Any]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else ("." if text else "") + str(part)
    return text


def _first_error(exc: ValidationError, prefix: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
    err = exc.errors()[0]
    loc = (*prefix, *err["loc"])
    if err["type"] == "extra_forbidden":
        return f"{_loc_text(loc)}: unknown key", loc
    if err["type"] == "missing":
        return f"{_loc_text(loc)}: missing", loc
    return f"{_loc_text(loc)}: {err['msg'][:1].lower() + err['msg'][1:]}", loc


def load_edge(host: Host) -> Edge | None:
    """The failover intent of one host, or None when it has no `uplinks`; ConfigError (exit 2) when invalid."""
    data = host.data
    raw_uplinks = data.get("uplinks")
    if raw_uplinks is None:
        return None
    where = _Locator(host)
    if not isinstance(raw_uplinks, list) or not raw_uplinks:
        raise where.error("uplinks: must be a non-empty list of uplinks", ("uplinks",))

    uplinks: list[Uplink] = []
    seen: dict[str, int] = {}
    priorities: dict[int, str] = {}
    for index, raw in enumerate(raw_uplinks):
        loc = ("uplinks", index)
        if not isinstance(raw, dict):
            raise where.error(f"{_loc_text(loc)}: an uplink is a mapping (name, source, gateway, ...)", loc)
        label = f"{_loc_text(loc)} ({raw.get('name')})" if isinstance(raw.get("name"), str) else _loc_text(loc)
        try:
            model = _UplinkModel.model_validate(raw)
        except ValidationError as exc:
            message, at = _first_error(exc, loc)
            raise where.error(message, at) from None
        if not model.source or not model.source.strip():
            raise where.error(
                f"{label}: uplink without a source address (add `source:`, the uplink's own IPv4 address)",
                (*loc, "source"),
            )
        try:
            source = _ip(model.source, "source")
            gateway = _ip(model.gateway, "gateway")
        except ValueError as exc:
            field_name = "source" if str(exc).startswith("source") else "gateway"
            raise where.error(f"{label}: {exc}", (*loc, field_name)) from None
        targets: list[Target] = []
        for t_index, raw_target in enumerate(model.targets):
            try:
                targets.append(parse_target(raw_target))
            except ValueError as exc:
                raise where.error(f"{label}: targets[{t_index}]: {exc}", (*loc, "targets", t_index)) from None
        if model.name in seen:
            raise where.error(f"{label}: duplicate uplink name '{model.name}'", (*loc, "name"))
        if model.priority in priorities:
            raise where.error(
                f"{label}: priority {model.priority} is also the priority of '{priorities[model.priority]}' "
                "(priorities must differ: lower is preferred)",
                (*loc, "priority"),
            )
        seen[model.name] = index
        priorities[model.priority] = model.name
        uplinks.append(
            Uplink(
                name=model.name,
                provider=model.provider or model.name,
                interface=model.interface,
                source=source,
                gateway=gateway,
                priority=model.priority,
                targets=tuple(targets),
                table=model.table,
                track=model.track,
            )
        )

    raw_failover = data.get("failover") or {}
    if not isinstance(raw_failover, dict):
        raise where.error("failover: must be a mapping", ("failover",))
    try:
        fo = _FailoverModel.model_validate(raw_failover)
    except ValidationError as exc:
        message, at = _first_error(exc, ("failover",))
        raise where.error(message, at) from None
    traffic: Target | None = None
    if fo.traffic_target is not None:
        try:
            traffic = parse_target(fo.traffic_target)
        except ValueError as exc:
            raise where.error(f"failover.traffic_target: {exc}", ("failover", "traffic_target")) from None
    bgp = fo.bgp or _BgpModel()
    for kind, peers in (("dx", bgp.dx), ("vpn", bgp.vpn)):
        for p_index, peer in enumerate(peers):
            try:
                _ip(peer, "BGP neighbor")
            except ValueError as exc:
                raise where.error(
                    f"failover.bgp.{kind}[{p_index}]: {exc}", ("failover", "bgp", kind, p_index)
                ) from None
    for name, link in fo.lab_links.items():
        if name not in seen:
            raise where.error(f"failover.lab_links: no uplink named '{name}'", ("failover", "lab_links", name))
        if any(not _ROUTE_WORD.match(word) for route in link.routes for word in route.split()):
            raise where.error(f"failover.lab_links.{name}.routes: unexpected characters", ("failover", "lab_links"))
    dx_names = [d.name for d in fo.dx]
    clash = set(dx_names) & set(seen)
    if clash or len(set(dx_names)) != len(dx_names):
        raise where.error(f"failover.dx: link name clash {sorted(clash) or dx_names}", ("failover", "dx"))

    timers = Timers(
        interval=fo.interval,
        probe_timeout=fo.probe_timeout if fo.probe_timeout is not None else fo.interval,
        down_after=fo.down_after,
        up_after=fo.up_after,
        hold_down=fo.hold_down,
    )
    has_device = bool(host.connection("netmiko").platform)
    router: Router = fo.router or ("linux" if fo.netns or not has_device else "device")
    site = data.get("site")
    return Edge(
        host=host.name,
        site=str(site) if isinstance(site, str | int) and str(site) else host.name,
        uplinks=tuple(sorted(uplinks, key=lambda u: u.priority)),
        timers=timers,
        router=router,
        netns=fo.netns,
        traffic_target=traffic,
        bgp_dx=tuple(bgp.dx),
        bgp_vpn=tuple(bgp.vpn),
        dx=tuple(
            DxLink(
                name=d.name, virtual_interface_id=d.virtual_interface_id, bgp_peers=tuple(d.bgp_peers), region=d.region
            )
            for d in fo.dx
        ),
        lab_links={
            name: LabLink(netns=link.netns, interface=link.interface, routes=tuple(link.routes))
            for name, link in fo.lab_links.items()
        },
        has_device=has_device,
        source=host.source,
    )


def load_edges(inventory: Inventory, limit: str | None = None) -> list[Edge]:
    """Every selected host that has uplinks, in inventory order (hosts without `uplinks` are not edges)."""
    edges = []
    for host in inventory.select(limit):
        edge = load_edge(host)
        if edge is not None:
            edges.append(edge)
    return edges


@dataclass(frozen=True)
class LinkChoice:
    """What `--link NAME` names: an uplink of an edge, or a Direct Connect link."""

    edge: Edge
    uplink: Uplink | None = None
    dx: DxLink | None = None


def find_link(edges: list[Edge], name: str) -> LinkChoice:
    """Resolve `--link NAME` across the selected edges; ConfigError (exit 2) when unknown or ambiguous."""
    found: list[LinkChoice] = []
    for edge in edges:
        found += [LinkChoice(edge, uplink=u) for u in edge.uplinks if u.name == name]
        found += [LinkChoice(edge, dx=d) for d in edge.dx if d.name == name]
    if not found:
        known = sorted({u.name for e in edges for u in e.uplinks} | {d.name for e in edges for d in e.dx})
        if not edges:
            raise ConfigError(f"--link: unknown link '{name}': no host in the inventory has `uplinks`")
        raise ConfigError(f"--link: unknown link '{name}' (known: {', '.join(known)})")
    if len(found) > 1:
        hosts = ", ".join(c.edge.host for c in found)
        raise ConfigError(f"--link: '{name}' exists on {hosts}: choose one with --limit")
    return found[0]


def sites(edges: list[Edge]) -> dict[str, list[Edge]]:
    """Edges grouped by site, in order."""
    out: dict[str, list[Edge]] = {}
    for edge in edges:
        out.setdefault(edge.site, []).append(edge)
    return out
