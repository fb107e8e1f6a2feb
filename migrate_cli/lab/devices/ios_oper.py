"""Operational state of a simulated IOS device: interface status, routes, BGP, BFD, IP SLA, track.

Pure: computed from the running configuration of a `DeviceState`, the far ends the lab simulates
(`RemotePeer`) and the conditions a test sets (`WorldConditions`: links down, probe targets that do
not answer, far ends that are down), at the device clock's time. `render_exec` prints it as IOS XE
does, so ntc-templates parse `show ip bgp summary`, `show bfd neighbors details` and `show ip route`,
and the project's own TextFSM templates parse `show ip sla summary` and `show track`.

What "both sides configured" means in the lab:

- A BGP session is Established when the device has the neighbor (``remote-as``, not shut down)
  on a connected subnet of an interface whose line protocol is up, and the far end agrees. By
  default the far end mirrors the device: it stands for the AWS side, configured from the same
  intent. A declared `RemotePeer` must also be up, use the AS the device expects (``asn``), expect
  the device's AS (``expects_as``) and share the MD5 password (``md5``); otherwise the session
  stays Active, as a real one does when the OPEN or the TCP MD5 signature is refused.
- A VTI tunnel's line protocol is up when its IPsec chain is complete (``tunnel protection`` ->
  ipsec profile -> ikev2 profile -> keyring peer for the tunnel destination with a pre-shared
  key, equal to the far end's when a `RemotePeer` with that ``outside_address`` declares one), its
  source is up and its destination is reachable.
- A BFD session exists for a neighbor with ``fall-over bfd`` on an interface with ``bfd interval``;
  it is Up while the path and the far end are up (BFD does not care about ASNs or passwords).
- An IP SLA icmp-echo succeeds when its source interface is up, the target is routable without
  tracked routes and the target is not listed in ``unreachable``. Tracks honour ``delay up/down``.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .ios_model import ConfigNode, DeviceState


@dataclass(frozen=True)
class RemotePeer:
    """The far end of a BGP session (and of its tunnel, for a VPN), as the lab simulates it."""

    address: str
    asn: int | None = None  # the AS the far end uses; None: whatever the device configured
    expects_as: int | None = None  # the device AS the far end expects; None: any
    md5: str | None = None  # the far end's BGP password; None: mirrors the device, "" : no password
    prefixes: tuple[str, ...] = ()  # what it advertises
    as_path: tuple[int, ...] = ()  # AS path beyond its own AS
    outside_address: str | None = None  # the far end's tunnel endpoint (VPN)
    psk: str | None = None  # the far end's IKE pre-shared key; None: mirrors the device
    up: bool = True


@dataclass
class WorldConditions:
    """What the outside world does to a device; tests change these at run time."""

    links_down: list[str] = field(default_factory=list)  # interface names whose link is down
    unreachable: list[str] = field(default_factory=list)  # addresses/prefixes that do not answer probes
    peers_down: list[str] = field(default_factory=list)  # BGP or tunnel far-end addresses that are down


@dataclass
class IfState:
    name: str
    node: ConfigNode
    address: IPv4Interface | None
    admin_up: bool
    line_up: bool


@dataclass(frozen=True)
class Route:
    network: IPv4Network
    code: str  # C, L, S, B
    distance: int
    via: str | None = None
    interface: str | None = None
    since: float = 0.0


@dataclass
class Neighbor:
    address: str
    remote_as: str
    state: str  # Established, Active, Idle, Idle (Admin)
    interface: str | None
    since: float | None
    ever_up: bool
    accepted: list[tuple[IPv4Network, int, int]]  # (prefix, local-pref, as-path length)
    bfd: bool
    transport_up: bool


@dataclass
class Sla:
    number: int
    target: str
    scheduled: bool
    ok: bool
    frequency: int


@dataclass
class Track:
    number: int
    kind: str  # sla | interface
    ref: str
    up: bool
    changes: int
    changed_at: float
    delay: tuple[int, int]  # (up, down) seconds


@dataclass
class Snapshot:
    now: float
    interfaces: dict[str, IfState]
    slas: dict[int, Sla]
    tracks: dict[int, Track]
    routes: list[Route]
    local_as: str | None
    router_id: str
    neighbors: list[Neighbor]


# ---------------------------------------------------------------------------------------------
# Reading the configuration tree
# ---------------------------------------------------------------------------------------------


def _lines(node: ConfigNode) -> list[str]:
    return [c.text for c in node.children]


def _address(node: ConfigNode) -> IPv4Interface | None:
    for text in _lines(node):
        m = re.fullmatch(r"ip address (\S+) (\S+)", text)
        if m:
            return IPv4Interface(f"{m[1]}/{m[2]}")
    return None


def _top(state: DeviceState, pattern: str) -> list[tuple[re.Match[str], ConfigNode]]:
    found = []
    for child in state.root.children:
        m = re.fullmatch(pattern, child.text)
        if m:
            found.append((m, child))
    return found


def _find(state: DeviceState, text: str) -> ConfigNode | None:
    return next((c for c in state.root.children if c.text == text), None)


def _in(address: str, entries: list[str]) -> bool:
    try:
        ip = IPv4Address(address)
    except ValueError:
        return address in entries
    for entry in entries:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def _remember(state: DeviceState, key: str, up: bool, now: float) -> tuple[float, bool]:
    """When `key` last changed to its current state, and whether it was ever up."""
    record = state.oper.get(key)
    if record is None or record["up"] != up:
        record = {"up": up, "since": now, "ever": up or bool(record and record["ever"])}
        state.oper[key] = record
    return record["since"], record["ever"]


# ---------------------------------------------------------------------------------------------
# The snapshot
# ---------------------------------------------------------------------------------------------


def snapshot(state: DeviceState) -> Snapshot:
    """Everything the show commands print, computed now."""
    now = state.clock()
    cond = state.conditions
    nodes = {n.text.split(" ", 1)[1]: n for n in state.interfaces()}
    ifs: dict[str, IfState] = {}
    for name, node in nodes.items():
        if name.startswith("Tunnel"):
            continue
        admin = node.child("shutdown") is None
        line = admin and name not in cond.links_down
        if "." in name:
            parent_name = name.split(".")[0]
            parent = nodes.get(parent_name)
            parent_up = (parent is None or parent.child("shutdown") is None) and parent_name not in cond.links_down
            line = line and parent_up and node.child("encapsulation") is not None
        ifs[name] = IfState(name, node, _address(node), admin, line)

    connected = _connected(state, ifs, now)
    statics = _static_routes(state)
    underlay = connected + [r for r, track in statics if track is None and _resolves(r, connected, ifs)]
    slas = _slas(state, ifs, underlay)
    tracks = _tracks(state, slas, ifs, now, tunnels=False)
    routes = connected + _installed(statics, tracks, connected, ifs)

    for name, node in nodes.items():
        if name.startswith("Tunnel"):
            admin = node.child("shutdown") is None
            ifs[name] = IfState(name, node, _address(node), admin, admin and _tunnel_up(state, node, ifs, routes))
    tracks = _tracks(state, slas, ifs, now, tunnels=True)
    connected = _connected(state, ifs, now)
    routes = connected + _installed(statics, tracks, connected, ifs)

    local_as, router_id, neighbors = _bgp(state, ifs, now)
    routes += _bgp_routes(neighbors, routes, now)
    return Snapshot(now, ifs, slas, tracks, _best(routes), local_as, router_id, neighbors)


def _connected(state: DeviceState, ifs: dict[str, IfState], now: float) -> list[Route]:
    routes = []
    for name, info in ifs.items():
        if info.line_up and info.address is not None:
            since, _ = _remember(state, f"if:{name}", True, now)
            routes.append(Route(info.address.network, "C", 0, interface=name, since=since))
            if info.address.network.prefixlen < 32:
                routes.append(Route(IPv4Network(f"{info.address.ip}/32"), "L", 0, interface=name, since=since))
        else:
            _remember(state, f"if:{name}", False, now)
    return routes


def _static_routes(state: DeviceState) -> list[tuple[Route, int | None]]:
    """Global-table static routes with their track number (None when untracked)."""
    out = []
    for m, _ in _top(state, r"ip route (?!vrf )(\S+) (\S+) (.+)"):
        words = m[3].split()
        via: str | None = None
        interface: str | None = None
        if re.fullmatch(r"[\d.]+", words[0]):
            via = words.pop(0)
        else:
            interface = words.pop(0)
            if words and re.fullmatch(r"[\d.]+", words[0]):
                via = words.pop(0)
        distance, track = 1, None
        while words:
            word = words.pop(0)
            if word.isdigit():
                distance = int(word)
            elif word in ("name", "tag") and words:
                words.pop(0)
            elif word == "track" and words:
                track = int(words.pop(0))
        network = IPv4Network(f"{m[1]}/{m[2]}", strict=False)
        out.append((Route(network, "S", distance, via=via, interface=interface), track))
    return out


def _resolves(route: Route, connected: list[Route], ifs: dict[str, IfState]) -> bool:
    if route.interface is not None:
        if route.interface.startswith("Null"):
            return True
        info = ifs.get(route.interface)
        return info is not None and info.line_up
    return route.via is not None and _lookup(connected, route.via) is not None


def _installed(
    statics: list[tuple[Route, int | None]], tracks: dict[int, Track], connected: list[Route], ifs: dict[str, IfState]
) -> list[Route]:
    out = []
    for route, track in statics:
        if track is not None and not (track in tracks and tracks[track].up):
            continue
        if _resolves(route, connected, ifs):
            out.append(route)
    return out


def _lookup(routes: list[Route], address: str) -> Route | None:
    """Longest-prefix match."""
    ip = IPv4Address(address)
    best: Route | None = None
    for route in routes:
        if ip in route.network and (best is None or route.network.prefixlen > best.network.prefixlen):
            best = route
    return best


def _best(routes: list[Route]) -> list[Route]:
    """One route per prefix: the lowest administrative distance wins (connected before local)."""
    chosen: dict[IPv4Network, Route] = {}
    for route in routes:
        current = chosen.get(route.network)
        if current is None or route.distance < current.distance:
            chosen[route.network] = route
    return sorted(chosen.values(), key=lambda r: (int(r.network.network_address), r.network.prefixlen))


# -- IP SLA and track -------------------------------------------------------------------------


def _slas(state: DeviceState, ifs: dict[str, IfState], underlay: list[Route]) -> dict[int, Sla]:
    scheduled = {int(m[1]) for m, _ in _top(state, r"ip sla schedule (\d+) .*")}
    out: dict[int, Sla] = {}
    for m, node in _top(state, r"ip sla (\d+)"):
        number = int(m[1])
        echo = next((re.fullmatch(r"icmp-echo (\S+)(?: source-interface (\S+))?.*", t) for t in _lines(node)), None)
        if echo is None:
            continue
        frequency = next((int(t.split()[1]) for t in _lines(node) if t.startswith("frequency ")), 60)
        target, source = echo[1], echo[2]
        source_ok = source is None or (source in ifs and ifs[source].line_up)
        reachable = _lookup(underlay, target) is not None
        ok = source_ok and reachable and not _in(target, state.conditions.unreachable)
        out[number] = Sla(number, target, number in scheduled, ok and number in scheduled, frequency)
    return out


def _tracks(
    state: DeviceState, slas: dict[int, Sla], ifs: dict[str, IfState], now: float, tunnels: bool
) -> dict[int, Track]:
    """Track objects; the first pass (`tunnels` False) leaves out tracks of tunnel interfaces."""
    out: dict[int, Track] = {}
    for m, node in _top(state, r"track (\d+) (ip sla (\d+)(?: \S+)?|interface (\S+) line-protocol)"):
        number = int(m[1])
        if not tunnels and m[4] and m[4].startswith("Tunnel"):
            continue
        if m[3]:
            kind, ref = "sla", m[3]
            raw = int(ref) in slas and slas[int(ref)].ok
        else:
            kind, ref = "interface", m[4]
            raw = ref in ifs and ifs[ref].line_up
        delay_line = next((t for t in _lines(node) if t.startswith("delay")), "")
        up_delay = int(d[1]) if (d := re.search(r"up (\d+)", delay_line)) else 0
        down_delay = int(d[1]) if (d := re.search(r"down (\d+)", delay_line)) else 0
        record = state.oper.get(f"track:{number}")
        if record is None:
            record = {"raw": raw, "raw_since": now, "state": raw, "changes": 1, "changed_at": now}
            state.oper[f"track:{number}"] = record
        if record["raw"] != raw:
            record["raw"], record["raw_since"] = raw, now
        if record["state"] != raw and now - record["raw_since"] >= (up_delay if raw else down_delay):
            record["state"] = raw
            record["changes"] += 1
            record["changed_at"] = record["raw_since"] + (up_delay if raw else down_delay)
        out[number] = Track(
            number, kind, ref, record["state"], record["changes"], record["changed_at"], (up_delay, down_delay)
        )
    return out


# -- tunnels ----------------------------------------------------------------------------------


def _tunnel_up(state: DeviceState, node: ConfigNode, ifs: dict[str, IfState], routes: list[Route]) -> bool:
    lines = _lines(node)
    source = next((t.split()[2] for t in lines if t.startswith("tunnel source ")), None)
    destination = next((t.split()[2] for t in lines if t.startswith("tunnel destination ")), None)
    if source is None or destination is None:
        return False
    if re.fullmatch(r"[\d.]+", source):
        source_ok = any(i.line_up and i.address is not None and str(i.address.ip) == source for i in ifs.values())
    else:
        source_ok = source in ifs and ifs[source].line_up
    if not source_ok or _lookup(routes, destination) is None or destination in state.conditions.peers_down:
        return False
    if any(t.startswith("tunnel mode ipsec") for t in lines):
        return _ipsec_ok(state, lines, destination)
    return True


def _ipsec_ok(state: DeviceState, lines: list[str], destination: str) -> bool:
    protection = next((t.split()[4] for t in lines if t.startswith("tunnel protection ipsec profile ")), None)
    profile = _find(state, f"crypto ipsec profile {protection}") if protection else None
    if profile is None:
        return False
    ike_name = next((t.split()[2] for t in _lines(profile) if t.startswith("set ikev2-profile ")), None)
    ike = _find(state, f"crypto ikev2 profile {ike_name}") if ike_name else None
    if ike is None or not any(t.startswith("set transform-set ") for t in _lines(profile)):
        return False
    keyring_name = next((t.split()[2] for t in _lines(ike) if t.startswith("keyring local ")), None)
    keyring = _find(state, f"crypto ikev2 keyring {keyring_name}") if keyring_name else None
    if keyring is None:
        return False
    for peer in keyring.children:
        peer_lines = _lines(peer)
        if not any(re.fullmatch(rf"address {re.escape(destination)}(?: \S+)?", t) for t in peer_lines):
            continue
        keys = [t.split()[-1] for t in peer_lines if t.startswith("pre-shared-key")]
        if not keys:
            return False
        far = next((p for p in state.peers.values() if p.outside_address == destination), None)
        return far is None or (far.up and (far.psk is None or all(k == far.psk for k in keys)))
    return False


# -- BGP --------------------------------------------------------------------------------------


def _bgp(state: DeviceState, ifs: dict[str, IfState], now: float) -> tuple[str | None, str, list[Neighbor]]:
    found = _top(state, r"router bgp (\S+)")
    if not found:
        return None, "0.0.0.0", []
    m, router = found[0]
    local_as = m[1]
    lines = _lines(router)
    af = next((c for c in router.children if c.text == "address-family ipv4"), None)
    af_lines = _lines(af) if af is not None else []
    default_activate = "no bgp default ipv4-unicast" not in lines
    router_id = next((t.split()[2] for t in lines if t.startswith("bgp router-id ")), None) or _router_id(ifs)
    neighbors = []
    for text in lines:
        nm = re.fullmatch(r"neighbor (\S+) remote-as (\S+)", text)
        if not nm:
            continue
        address, remote_as = nm[1], nm[2]
        own = [t for t in lines + af_lines if t.startswith(f"neighbor {address} ")]
        password = next((t.split()[-1] for t in own if re.match(rf"neighbor {re.escape(address)} password ", t)), None)
        interface = _interface_for(address, ifs)
        far = state.peers.get(address)
        transport = interface is not None and address not in state.conditions.peers_down and (far is None or far.up)
        agrees = far is None or (
            (far.asn is None or str(far.asn) == remote_as)
            and (far.expects_as is None or str(far.expects_as) == local_as)
            and (far.md5 is None or (far.md5 or None) == password)
        )
        if f"neighbor {address} shutdown" in own:
            state_word = "Idle (Admin)"
        elif interface is None:
            state_word = "Idle"
        else:
            state_word = "Established" if transport and agrees else "Active"
        up = state_word == "Established"
        since, ever = _remember(state, f"bgp:{address}", up, now)
        active = default_activate or f"neighbor {address} activate" in af_lines
        accepted = _accepted(state, address, far, own) if up and active else []
        bfd = f"neighbor {address} fall-over bfd" in own
        neighbors.append(Neighbor(address, remote_as, state_word, interface, since, ever, accepted, bfd, transport))
    neighbors.sort(key=lambda n: tuple(int(x) for x in n.address.split(".")) if "." in n.address else (0,))
    return local_as, router_id, neighbors


def _router_id(ifs: dict[str, IfState]) -> str:
    loopbacks = [i.address.ip for i in ifs.values() if i.name.startswith("Loopback") and i.address and i.line_up]
    others = [i.address.ip for i in ifs.values() if i.address and i.line_up]
    pool = loopbacks or others
    return str(max(pool)) if pool else "0.0.0.0"


def _interface_for(address: str, ifs: dict[str, IfState]) -> str | None:
    try:
        ip = IPv4Address(address)
    except ValueError:
        return None
    for info in ifs.values():
        if info.line_up and info.address is not None and ip in info.address.network and ip != info.address.ip:
            return info.name
    return None


def _accepted(
    state: DeviceState, address: str, far: RemotePeer | None, own: list[str]
) -> list[tuple[IPv4Network, int, int]]:
    if far is None:
        return []
    route_map = next((t.split()[3] for t in own if re.fullmatch(r"neighbor \S+ route-map \S+ in", t)), None)
    prefix_list = next((t.split()[3] for t in own if re.fullmatch(r"neighbor \S+ prefix-list \S+ in", t)), None)
    out = []
    for text in far.prefixes:
        prefix = IPv4Network(text, strict=False)
        if prefix_list is not None and not _prefix_list_permits(state, prefix_list, prefix):
            continue
        local_pref, path = 100, 1 + len(far.as_path)
        if route_map is not None:
            result = _route_map(state, route_map, prefix)
            if result is None:
                continue
            local_pref = result.get("local-preference", local_pref)
            path += result.get("prepend", 0)
        out.append((prefix, local_pref, path))
    return out


def _prefix_list_permits(state: DeviceState, name: str, prefix: IPv4Network) -> bool:
    entries = []
    for m, _ in _top(state, rf"ip prefix-list {re.escape(name)} seq (\d+) (permit|deny) (\S+)((?: (?:ge|le) \d+)*)"):
        entries.append((int(m[1]), m[2], IPv4Network(m[3], strict=False), m[4]))
    for _, action, network, bounds in sorted(entries, key=lambda e: e[0]):
        ge = int(g[1]) if (g := re.search(r"ge (\d+)", bounds)) else None
        le = int(le_m[1]) if (le_m := re.search(r"le (\d+)", bounds)) else None
        if not prefix.subnet_of(network):
            continue
        low = ge if ge is not None else network.prefixlen
        high = le if le is not None else (32 if ge is not None else network.prefixlen)
        if low <= prefix.prefixlen <= high:
            return action == "permit"
    return False


def _route_map(state: DeviceState, name: str, prefix: IPv4Network) -> dict[str, int] | None:
    """Evaluate a route-map on one prefix: the `set` values of the first matching permit, or None."""
    entries = _top(state, rf"route-map {re.escape(name)} (permit|deny) (\d+)")
    for m, node in sorted(entries, key=lambda e: int(e[0][2])):
        lines = _lines(node)
        lists = [t.split()[4:] for t in lines if t.startswith("match ip address prefix-list ")]
        if lists and not any(_prefix_list_permits(state, pl, prefix) for group in lists for pl in group):
            continue
        if m[1] == "deny":
            return None
        result: dict[str, int] = {}
        for text in lines:
            if text.startswith("set local-preference "):
                result["local-preference"] = int(text.split()[2])
            elif text.startswith("set as-path prepend "):
                result["prepend"] = len(text.split()[3:])
        return result
    return None


def _bgp_routes(neighbors: list[Neighbor], routes: list[Route], now: float) -> list[Route]:
    best: dict[IPv4Network, tuple[tuple[int, int, tuple[int, ...]], Neighbor]] = {}
    for neighbor in neighbors:
        for prefix, local_pref, path in neighbor.accepted:
            rank = (-local_pref, path, tuple(int(x) for x in neighbor.address.split(".")))
            if prefix not in best or rank < best[prefix][0]:
                best[prefix] = (rank, neighbor)
    return [Route(prefix, "B", 20, via=n.address, since=n.since or now) for prefix, (_, n) in sorted(best.items())]


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------


def _hms(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 86400:
        return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    days, rest = divmod(seconds, 86400)
    if days < 7:
        return f"{days}d{rest // 3600:02d}h"
    return f"{days // 7}w{days % 7}d"


def short_interface(name: str) -> str:
    """IOS's short form (`GigabitEthernet2.101` -> `Gi2.101`)."""
    m = re.fullmatch(r"([A-Za-z-]+)(.*)", name)
    if not m:
        return name
    short = {"GigabitEthernet": "Gi", "TenGigabitEthernet": "Te", "Loopback": "Lo", "Tunnel": "Tu"}
    return short.get(m[1], m[1][:2]) + m[2]


def render_bgp_summary(state: DeviceState, snap: Snapshot) -> str:
    if snap.local_as is None:
        return "% BGP not active\n"
    bgp_routes = [r for r in snap.routes if r.code == "B"]
    version = 1 + len(bgp_routes) + sum(1 for n in snap.neighbors if n.state == "Established")
    entries = len(bgp_routes)
    lines = [
        f"BGP router identifier {snap.router_id}, local AS number {snap.local_as}",
        f"BGP table version is {version}, main routing table version {version}",
        f"{entries} network entries using {entries * 248} bytes of memory",
        f"{entries} path entries using {entries * 136} bytes of memory",
        f"{entries}/{entries} BGP path/bestpath attribute entries using {entries * 296} bytes of memory",
        f"{len(snap.neighbors)} BGP AS-PATH entries using {len(snap.neighbors) * 24} bytes of memory",
        "0 BGP route-map cache entries using 0 bytes of memory",
        "0 BGP filter-list cache entries using 0 bytes of memory",
        f"BGP using {entries * 680 + len(snap.neighbors) * 24} total bytes of memory",
        f"BGP activity {entries}/0 prefixes, {entries}/0 paths, scan interval 60 secs",
        "",
        "Neighbor        V           AS MsgRcvd MsgSent   TblVer  InQ OutQ Up/Down  State/PfxRcd",
    ]
    for n in snap.neighbors:
        up = n.state == "Established"
        elapsed = snap.now - n.since if n.since is not None else 0
        messages = int(elapsed // 60) + 4 if up else 0
        updown = _hms(elapsed) if (up or n.ever_up) else "never"
        state_col = str(len(n.accepted)) if up else n.state
        lines.append(
            f"{n.address:<16}4 {n.remote_as:>12} {messages:>7} {messages + 1 if up else 0:>7} "
            f"{version if up else 1:>8} {0:>4} {0:>4} {updown:<8} {state_col:>12}"
        )
    return "\n".join(lines) + "\n"


def _bfd_sessions(state: DeviceState, snap: Snapshot) -> list[tuple[Neighbor, IfState, tuple[int, int, int], bool]]:
    sessions = []
    for n in snap.neighbors:
        if not n.bfd:
            continue
        info = next(
            (
                i
                for i in snap.interfaces.values()
                if i.address is not None and IPv4Address(n.address) in i.address.network
            ),
            None,
        )
        if info is None:
            continue
        interval = next((t for t in _lines(info.node) if t.startswith("bfd interval ")), None)
        if interval is None:
            continue
        numbers = tuple(int(x) for x in re.findall(r"\d+", interval))
        up = n.transport_up and info.line_up
        _remember(state, f"bfd:{n.address}", up, snap.now)
        sessions.append((n, info, (numbers[0], numbers[1], numbers[2]), up))
    return sessions


def render_bfd(state: DeviceState, snap: Snapshot, details: bool) -> str:
    lines = ["", "IPv4 Sessions", "NeighAddr                              LD/RD         RH/RS     State     Int"]
    for index, (n, info, (tx, rx, mult), up) in enumerate(_bfd_sessions(state, snap), start=1):
        word = "Up" if up else "Down"
        remote = index if up else 0
        lines.append(f"{n.address:<39}{f'{index}/{remote}':<14}{word:<10}{word:<10}{short_interface(info.name)}")
        if not details:
            continue
        since = state.oper[f"bfd:{n.address}"]["since"]
        count = int((snap.now - since) * 1000 // tx) + 1 if up else 0
        lines += [
            f"Session state is {word.upper()} and not using echo function.",
            "Session Host: Software",
            f"OurAddr: {info.address.ip if info.address else '0.0.0.0'}",
            f"Handle: {index}",
            "Local Diag: 0, Demand mode: 0, Poll bit: 0",
            f"MinTxInt: {tx * 1000}, MinRxInt: {rx * 1000}, Multiplier: {mult}",
            f"Received MinRxInt: {rx * 1000 if up else 0}, Received Multiplier: {mult if up else 0}",
            f"Holddown (hits): 0(0), Hello (hits): {tx}({count})",
            f"Rx Count: {count}, Rx Interval (ms) min/max/avg: 1/{rx}/{rx} last: {rx // 2} ms ago",
            f"Tx Count: {count}, Tx Interval (ms) min/max/avg: 1/{tx}/{tx} last: {tx // 2} ms ago",
            "Elapsed time watermarks: 0 0 (last: 0)",
            "Registered protocols: BGP CEF",
            f"{'Uptime' if up else 'Downtime'}: {_hms(snap.now - since)}",
            f"Last packet: Version: 1                  - Diagnostic: {0 if up else 1}",
            f"             State bit: {word:<15}  - Demand bit: 0",
            "             Poll bit: 0                 - Final bit: 0",
            "             C bit: 0",
            f"             Multiplier: {mult:<16}- Length: 24",
            f"             My Discr.: {remote:<17}- Your Discr.: {index}",
            f"             Min tx interval: {tx * 1000:<11}- Min rx interval: {rx * 1000}",
            "             Min Echo interval: 0",
            "",
        ]
    return "\n".join(lines) + "\n"


def render_sla_summary(snap: Snapshot) -> str:
    lines = [
        "IPSLAs Latest Operation Summary",
        "Codes: * active, ^ inactive, ~ pending",
        "All Stats are in milliseconds. Stats with u are in microseconds",
        "",
        "ID           Type        Destination       Stats       Return      Last",
        "                                                       Code        Run ",
        "-----------------------------------------------------------------------",
    ]
    for number, sla in sorted(snap.slas.items()):
        if sla.scheduled:
            mark, stats, code = "*", "RTT=1" if sla.ok else "-", "OK" if sla.ok else "Timeout"
            last = f"{int(snap.now) % sla.frequency} seconds ago"
        else:
            mark, stats, code, last = "~", "-", "Unknown", "-"
        lines.append(f"{mark + str(number):<13}{'icmp-echo':<12}{sla.target:<18}{stats:<12}{code:<12}{last}")
    return "\n".join(lines) + "\n"


def render_track(state: DeviceState, snap: Snapshot, only: int | None = None) -> str:
    users: dict[int, int] = {}
    for m, _ in _top(state, r"ip route .* track (\d+)(?: .*)?"):
        users[int(m[1])] = users.get(int(m[1]), 0) + 1
    blocks = []
    for number, track in sorted(snap.tracks.items()):
        if only is not None and number != only:
            continue
        word = "Up" if track.up else "Down"
        changes = f"{track.changes} change{'s' if track.changes != 1 else ''}"
        lines = [f"Track {number}"]
        if track.kind == "sla":
            sla = snap.slas.get(int(track.ref))
            code = ("OK" if sla.ok else "Timeout") if sla and sla.scheduled else "Unknown"
            lines += [
                f"  IP SLA {track.ref} reachability",
                f"  Reachability is {word}",
                f"    {changes}, last change {_hms(snap.now - track.changed_at)}",
            ]
            if any(track.delay):
                lines.append(f"  Delay up {track.delay[0]} secs, down {track.delay[1]} secs")
            lines += [f"  Latest operation return code: {code}"]
            if code == "OK":
                lines.append("  Latest RTT (millisecs) 1")
        else:
            lines += [
                f"  Interface {track.ref} line-protocol",
                f"  Line protocol is {word}",
                f"    {changes}, last change {_hms(snap.now - track.changed_at)}",
            ]
            if any(track.delay):
                lines.append(f"  Delay up {track.delay[0]} secs, down {track.delay[1]} secs")
        if number in users:
            lines += ["  Tracked by:", f"    Static IP Routing {0}"]
        blocks.append("\n".join(lines))
    if only is not None and not blocks:
        return f"%Track {only} does not exist\n"
    return "\n".join(blocks) + ("\n" if blocks else "")


_ROUTE_CODES = """\
Codes: L - local, C - connected, S - static, R - RIP, M - mobile, B - BGP
       D - EIGRP, EX - EIGRP external, O - OSPF, IA - OSPF inter area
       N1 - OSPF NSSA external type 1, N2 - OSPF NSSA external type 2
       E1 - OSPF external type 1, E2 - OSPF external type 2, m - OMP
       n - NAT, Ni - NAT inside, No - NAT outside, Nd - NAT DIA
       i - IS-IS, su - IS-IS summary, L1 - IS-IS level-1, L2 - IS-IS level-2
       ia - IS-IS inter area, * - candidate default, U - per-user static route
       H - NHRP, G - NHRP registered, g - NHRP registration summary
       o - ODR, P - periodic downloaded static route, l - LISP
       a - application route
       + - replicated route, % - next hop override, p - overrides from PfR
       & - replicated local route overrides by connected
"""


def _classful(network: IPv4Network) -> IPv4Network:
    first = int(str(network.network_address).split(".")[0])
    length = 8 if first < 128 else 16 if first < 192 else 24
    return IPv4Network(f"{network.network_address}/{length}", strict=False)


def _route_tail(route: Route, now: float) -> str:
    if route.code in ("C", "L") or route.via is None:
        return f"is directly connected, {route.interface}"
    tail = f"[{route.distance}/0] via {route.via}"
    if route.code == "B":
        tail += f", {_hms(now - route.since)}"
    return tail


def render_ip_route(snap: Snapshot) -> str:
    default = next((r for r in snap.routes if r.network.prefixlen == 0), None)
    if default is not None and default.via:
        gateway = f"Gateway of last resort is {default.via} to network 0.0.0.0"
    else:
        gateway = "Gateway of last resort is not set"
    lines = [_ROUTE_CODES, gateway, ""]
    groups: dict[IPv4Network, list[Route]] = {}
    standalone: list[Route] = []
    for route in snap.routes:
        major = _classful(route.network)
        if route.network.prefixlen <= major.prefixlen:
            standalone.append(route)
        else:
            groups.setdefault(major, []).append(route)
    items: list[tuple[int, int, Any]] = [(int(r.network.network_address), 0, r) for r in standalone]
    items += [(int(major.network_address), 1, (major, routes)) for major, routes in groups.items()]
    for _, kind, item in sorted(items, key=lambda i: (i[0], i[1])):
        if kind == 0:
            route = item
            code = route.code + ("*" if route.network.prefixlen == 0 else "")
            lines.append(f"{code:<6}{route.network} {_route_tail(route, snap.now)}")
            continue
        major, routes = item
        masks = {r.network.prefixlen for r in routes}
        if len(masks) == 1:
            lines.append(f"      {major.network_address}/{masks.pop()} is subnetted, {len(routes)} subnets")
            for route in routes:
                lines.append(f"{route.code:<9}{route.network.network_address} {_route_tail(route, snap.now)}")
        else:
            lines.append(f"      {major} is variably subnetted, {len(routes)} subnets, {len(masks)} masks")
            for route in routes:
                lines.append(f"{route.code:<9}{route.network} {_route_tail(route, snap.now)}")
    return "\n".join(lines) + "\n"


def interface_status(state: DeviceState) -> dict[str, tuple[str, str]]:
    """`show ip interface brief` Status and Protocol per interface."""
    snap = snapshot(state)
    out = {}
    for name, info in snap.interfaces.items():
        if not info.admin_up:
            out[name] = ("administratively down", "down")
        elif name in state.conditions.links_down:
            out[name] = ("down", "down")
        else:
            out[name] = ("up", "up" if info.line_up else "down")
    return out


def render_exec(state: DeviceState, what: str, args: list[str]) -> str:
    """Output of one operational show command (`what` names it; see the grammar's exec commands)."""
    snap = snapshot(state)
    if what == "bgp_summary":
        return render_bgp_summary(state, snap)
    if what in ("bfd", "bfd_details"):
        return render_bfd(state, snap, details=what == "bfd_details")
    if what == "sla_summary":
        return render_sla_summary(snap)
    if what == "track":
        return render_track(state, snap, int(args[0]) if args else None)
    if what == "route":
        return render_ip_route(snap)
    raise ValueError(f"unknown operational command {what!r}")
