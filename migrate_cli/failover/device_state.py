"""IP SLA / track state, BGP sessions and the default route of an IOS edge, parsed with TextFSM.

Everything goes through `migrate_cli.network.parse.parse_show`: ntc-templates' cisco_ios templates for
`show ip bgp summary` and `show ip route`, and the project's own templates (in migrate_cli/network/textfsm)
for `show ip sla summary` and `show track`, which ntc-templates (8.x, 9.x) does not have.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from migrate_cli.core.errors import MigrateError, OperationFailed
from migrate_cli.network.parse import parse_show

PLATFORM = "cisco_ios"
COMMANDS = ("show ip sla summary", "show track", "show ip bgp summary", "show ip route")


@dataclass(frozen=True)
class SlaOperation:
    id: int
    type: str
    destination: str
    rtt_ms: int | None
    return_code: str
    last_run: str
    active: bool

    @property
    def ok(self) -> bool:
        return self.return_code.lower() == "ok"


@dataclass(frozen=True)
class TrackObject:
    id: int
    state: str  # Up | Down
    sla: int | None = None
    interface: str | None = None
    changes: int | None = None
    last_change: str | None = None
    delay_up: int | None = None
    delay_down: int | None = None
    return_code: str | None = None

    @property
    def up(self) -> bool:
        return self.state == "Up"


@dataclass(frozen=True)
class BgpNeighbor:
    address: str
    remote_as: str
    up_down: str
    state: str  # a prefix count when established, else the FSM state (Idle, Active, ...)

    @property
    def established(self) -> bool:
        return self.state.isdigit()


@dataclass(frozen=True)
class DefaultRoute:
    protocol: str
    next_hop: str | None
    interface: str | None


@dataclass
class DeviceState:
    """What the device said; `errors[command]` when a command failed or was not understood."""

    host: str
    sla: list[SlaOperation] = field(default_factory=list)
    tracks: list[TrackObject] = field(default_factory=list)
    bgp: list[BgpNeighbor] = field(default_factory=list)
    default_route: DefaultRoute | None = None
    errors: dict[str, str] = field(default_factory=dict)
    reachable: bool = True

    def track(self, number: int) -> TrackObject | None:
        return next((t for t in self.tracks if t.id == number), None)

    def neighbor(self, address: str) -> BgpNeighbor | None:
        return next((n for n in self.bgp if n.address == address), None)

    def public(self) -> dict[str, Any]:
        return {
            "reachable": self.reachable,
            "ip_sla": [
                {
                    "id": s.id,
                    "type": s.type,
                    "destination": s.destination,
                    "return_code": s.return_code,
                    "rtt_ms": s.rtt_ms,
                }
                for s in self.sla
            ],
            "tracks": [{"id": t.id, "state": t.state, "sla": t.sla, "interface": t.interface} for t in self.tracks],
            "bgp": [
                {"neighbor": n.address, "as": n.remote_as, "state": n.state, "up_down": n.up_down} for n in self.bgp
            ],
            "default_route": None
            if self.default_route is None
            else {
                "protocol": self.default_route.protocol,
                "next_hop": self.default_route.next_hop,
                "interface": self.default_route.interface,
            },
            "errors": self.errors,
        }


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, str) and value.isdigit() else None


def parse_sla_summary(text: str) -> list[SlaOperation]:
    """`show ip sla summary` -> operations."""
    out = []
    for r in parse_show(PLATFORM, "show ip sla summary", text):
        stats = str(r.get("stats", ""))
        out.append(
            SlaOperation(
                id=int(r["id"]),
                type=r["type"],
                destination=r["destination"],
                rtt_ms=_int(stats.removeprefix("RTT=")),
                return_code=r["return_code"],
                last_run=r["last_run"],
                active=r["state"] == "*",
            )
        )
    return out


def parse_track(text: str) -> list[TrackObject]:
    """`show track` -> track objects (IP SLA and interface tracking)."""
    out = []
    for r in parse_show(PLATFORM, "show track", text):
        kind = r.get("type", "")
        out.append(
            TrackObject(
                id=int(r["track"]),
                state=r.get("state") or "Down",
                sla=_int(r.get("object")) if kind == "IP SLA" else None,
                interface=r.get("object") if kind == "Interface" else None,
                changes=_int(r.get("changes")),
                last_change=r.get("last_change") or None,
                delay_up=_int(r.get("delay_up")),
                delay_down=_int(r.get("delay_down")),
                return_code=r.get("return_code") or None,
            )
        )
    return out


def parse_bgp_summary(text: str) -> list[BgpNeighbor]:
    """`show ip bgp summary` -> neighbors (ntc-templates)."""
    return [
        BgpNeighbor(
            address=r["bgp_neighbor"],
            remote_as=r["neighbor_as"],
            up_down=r["up_down"],
            state=r["state_or_prefixes_received"],
        )
        for r in parse_show(PLATFORM, "show ip bgp summary", text)
        if r.get("bgp_neighbor")
    ]


def parse_default_route(text: str) -> DefaultRoute | None:
    """The 0.0.0.0/0 entry of `show ip route` (ntc-templates), or None."""
    for r in parse_show(PLATFORM, "show ip route", text):
        if r.get("network") == "0.0.0.0" and str(r.get("prefix_length")) == "0":
            return DefaultRoute(
                protocol=r.get("protocol", ""),
                next_hop=r.get("nexthop_ip") or None,
                interface=r.get("nexthop_if") or None,
            )
    return None


PARSERS: dict[str, Callable[[str], Any]] = {
    "show ip sla summary": parse_sla_summary,
    "show track": parse_track,
    "show ip bgp summary": parse_bgp_summary,
    "show ip route": parse_default_route,
}


def _rejected(output: str) -> str | None:
    for line in output.splitlines():
        if line.strip().startswith("% "):
            return line.strip()
    return None


def state_from_outputs(host: str, outputs: dict[str, str]) -> DeviceState:
    """Parse raw command outputs (command -> text) into a DeviceState."""
    state = DeviceState(host)
    for command, text in outputs.items():
        rejected = _rejected(text)
        if rejected:
            state.errors[command] = rejected
            continue
        try:
            parsed = PARSERS[command](text)
        except (OperationFailed, ValueError, KeyError) as exc:
            state.errors[command] = str(exc)
            continue
        if command == "show ip sla summary":
            state.sla = parsed
        elif command == "show track":
            state.tracks = parsed
        elif command == "show ip bgp summary":
            state.bgp = parsed
        else:
            state.default_route = parsed
    return state


def read_device_state(host: Any, connect: Callable[[Any], Any] | None = None) -> DeviceState:
    """Connect to the device and read all four commands; an unreachable device is a state, not an exception."""
    if connect is None:
        from migrate_cli.network.session import connect as connect_fn

        connect = connect_fn
    try:
        with connect(host) as conn:
            outputs = {command: str(conn.send_command(command)) for command in COMMANDS}
    except MigrateError as exc:
        return DeviceState(host.name, errors={"connect": str(exc)}, reachable=False)
    except Exception as exc:  # netmiko/paramiko failures mid-session
        return DeviceState(host.name, errors={"connect": f"{type(exc).__name__}: {exc}"}, reachable=False)
    return state_from_outputs(host.name, outputs)


def default_next_hop(conn: Any) -> str | None:
    """The default route's next hop, read over an open session (drills poll this)."""
    text = str(conn.send_command("show ip route"))
    if _rejected(text):
        raise OperationFailed(f"the device rejected 'show ip route': {_rejected(text)}")
    route = parse_default_route(text)
    return route.next_hop if route else None
