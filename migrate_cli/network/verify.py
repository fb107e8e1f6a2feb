"""After a push: are the BGP sessions to AWS Established and the DX BFD session Up?

Reads `show ip bgp summary` and `show bfd neighbors details`, parsed by ntc-templates, until every expected
session is up or `timeout` passes (BGP needs a few seconds on real devices). The expected sessions come
from the intent: each VPN tunnel's Amazon inside address, and the DX Amazon address (with BFD when on).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from migrate_cli.core.errors import OperationFailed
from migrate_cli.network.intent import EdgeIntent, amazon_inside
from migrate_cli.network.parse import parse_show

BGP_COMMAND = "show ip bgp summary"
BFD_COMMAND = "show bfd neighbors details"


class Shows(Protocol):
    def show(self, command: str, timeout: float | None = None) -> str: ...


@dataclass(frozen=True)
class Expected:
    peer: str
    path: str  # dx | vpn tunnel N
    bfd: bool


@dataclass
class Status:
    established: dict[str, str]  # peer -> state or prefixes received
    bfd: dict[str, str]  # peer -> Up/Down

    def problems(self, expected: list[Expected]) -> list[str]:
        out = []
        for e in expected:
            state = self.established.get(e.peer)
            if state is None:
                out.append(f"BGP {e.path} neighbor {e.peer} is not configured")
            elif not state.isdigit():
                out.append(f"BGP {e.path} neighbor {e.peer} is {state}")
            if e.bfd and self.bfd.get(e.peer) != "Up":
                out.append(f"BFD {e.path} session to {e.peer} is {self.bfd.get(e.peer, 'missing')}")
        return out


def expected_sessions(intent: EdgeIntent) -> list[Expected]:
    """The BGP (and BFD) sessions the intent sets up."""
    out = []
    if intent.direct_connect is not None and intent.direct_connect.amazon_address is not None:
        dx = intent.direct_connect
        out.append(Expected(str(dx.amazon_address.ip), "dx", dx.bfd))
    if intent.vpn is not None:
        for index, tunnel in enumerate(intent.vpn.tunnels, start=1):
            out.append(Expected(str(amazon_inside(tunnel).ip), f"vpn tunnel {index}", False))
    return out


def read_status(session: Shows, platform: str, want_bfd: bool) -> Status:
    """One reading of BGP (and BFD) state."""
    bgp_text = session.show(BGP_COMMAND)
    rows = [] if "BGP not active" in bgp_text else parse_show(platform, BGP_COMMAND, bgp_text)
    established = {r["bgp_neighbor"]: r["state_or_prefixes_received"] for r in rows}
    bfd: dict[str, str] = {}
    if want_bfd:
        for row in parse_show(platform, BFD_COMMAND, session.show(BFD_COMMAND)):
            bfd[row["neighbor_addr"]] = row["state"]
    return Status(established, bfd)


def verify_sessions(
    session: Shows,
    intent: EdgeIntent,
    timeout: float = 60.0,
    interval: float = 2.0,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, str]:
    """Wait for every expected session; facts for the report, or OperationFailed naming what is down.

    `progress` hears what is still down each time the wait goes on (not when all is up at once)."""
    expected = expected_sessions(intent)
    if not expected:
        return {}
    want_bfd = any(e.bfd for e in expected)
    deadline = time.monotonic() + timeout
    while True:
        status = read_status(session, intent.platform, want_bfd)
        problems = status.problems(expected)
        if not problems:
            facts = {"bgp": f"{len(expected)}/{len(expected)} established"}
            if want_bfd:
                facts["bfd"] = "up"
            return facts
        if time.monotonic() + interval > deadline:
            raise OperationFailed("; ".join(problems) + f" (after {timeout:g} s)")
        progress("waiting: " + "; ".join(problems))
        time.sleep(interval)
