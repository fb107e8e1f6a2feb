"""IP SLA / track / BGP / default route of an IOS edge, parsed from real IOS XE output samples."""

from __future__ import annotations

from migrate_cli.failover.device_state import (
    parse_bgp_summary,
    parse_default_route,
    parse_sla_summary,
    parse_track,
    state_from_outputs,
)

SLA_SUMMARY = """IPSLAs Latest Operation Summary
Codes: * active, ^ inactive, ~ pending
All Stats are in milliseconds. Stats with u are in microseconds

ID           Type        Destination       Stats       Return      Last
                                                       Code        Run
-----------------------------------------------------------------------
*1           icmp-echo   198.51.100.1      RTT=2       OK          21 seconds ago
*2           icmp-echo   203.0.113.1       -           Timeout     3 seconds ago
^3           tcp-connect 192.0.2.10        -           Over threshold  never
"""

TRACK = """Track 1
  IP SLA 1 reachability
  Reachability is Up
    1 change, last change 00:05:23
  Delay up 10 secs, down 5 secs
  Latest operation return code: OK
  Latest RTT (millisecs) 2
  Tracked by:
    Static IP Routing 0
Track 2
  IP SLA 2 reachability
  Reachability is Down
    3 changes, last change 00:00:12
  Latest operation return code: Timeout
  Tracked by:
    Static IP Routing 0
Track 3
  Interface GigabitEthernet2 line-protocol
  Line protocol is Up
    1 change, last change 1d02h
"""

BGP_SUMMARY = """BGP router identifier 10.0.0.1, local AS number 65010
BGP table version is 12, main routing table version 12
6 network entries using 1488 bytes of memory
8 path entries using 1088 bytes of memory
3/3 BGP path/bestpath attribute entries using 840 bytes of memory
2 BGP AS-PATH entries using 48 bytes of memory
0 BGP route-map cache entries using 0 bytes of memory
0 BGP filter-list cache entries using 0 bytes of memory
BGP using 3464 total bytes of memory
BGP activity 6/0 prefixes, 8/0 paths, scan interval 60 secs

Neighbor        V           AS MsgRcvd MsgSent   TblVer  InQ OutQ Up/Down  State/PfxRcd
169.254.10.1    4        64512     120     118       12    0    0 01:52:33        2
169.254.20.1    4        64512      88      90       12    0    0 01:10:05        2
169.254.21.1    4        64512       0       0        1    0    0 never    Active
"""

IP_ROUTE = """Codes: L - local, C - connected, S - static, R - RIP, M - mobile, B - BGP
       D - EIGRP, EX - EIGRP external, O - OSPF, IA - OSPF inter area
       N1 - OSPF NSSA external type 1, N2 - OSPF NSSA external type 2
       E1 - OSPF external type 1, E2 - OSPF external type 2
       i - IS-IS, su - IS-IS summary, L1 - IS-IS level-1, L2 - IS-IS level-2
       ia - IS-IS inter area, * - candidate default, U - per-user static route
       o - ODR, P - periodic downloaded static route, H - NHRP, l - LISP
       a - application route
       + - replicated route, % - next hop override, p - overrides from PfR

Gateway of last resort is 198.51.100.1 to network 0.0.0.0

S*    0.0.0.0/0 [1/0] via 198.51.100.1
      10.0.0.0/8 is variably subnetted, 2 subnets, 2 masks
C        10.0.0.0/24 is directly connected, GigabitEthernet1
L        10.0.0.1/32 is directly connected, GigabitEthernet1
      198.51.100.0/24 is variably subnetted, 2 subnets, 2 masks
C        198.51.100.0/30 is directly connected, GigabitEthernet2
L        198.51.100.2/32 is directly connected, GigabitEthernet2
"""

NO_DEFAULT = IP_ROUTE.replace(
    "Gateway of last resort is 198.51.100.1 to network 0.0.0.0", "Gateway of last resort is not set"
).replace("S*    0.0.0.0/0 [1/0] via 198.51.100.1\n", "")


def test_ip_sla_summary() -> None:
    ops = parse_sla_summary(SLA_SUMMARY)
    assert [(o.id, o.type, o.destination, o.rtt_ms, o.return_code, o.active, o.ok) for o in ops] == [
        (1, "icmp-echo", "198.51.100.1", 2, "OK", True, True),
        (2, "icmp-echo", "203.0.113.1", None, "Timeout", True, False),
        (3, "tcp-connect", "192.0.2.10", None, "Over threshold", False, False),
    ]
    assert ops[0].last_run == "21 seconds ago"


def test_track() -> None:
    tracks = parse_track(TRACK)
    assert [(t.id, t.state, t.sla, t.interface, t.up) for t in tracks] == [
        (1, "Up", 1, None, True),
        (2, "Down", 2, None, False),
        (3, "Up", None, "GigabitEthernet2", True),
    ]
    assert (tracks[0].delay_up, tracks[0].delay_down, tracks[0].changes) == (10, 5, 1)
    assert tracks[1].return_code == "Timeout"


def test_bgp_summary() -> None:
    peers = {n.address: n for n in parse_bgp_summary(BGP_SUMMARY)}
    assert peers["169.254.10.1"].established and peers["169.254.10.1"].state == "2"
    assert not peers["169.254.21.1"].established and peers["169.254.21.1"].state == "Active"
    assert peers["169.254.20.1"].remote_as == "64512"


def test_default_route() -> None:
    route = parse_default_route(IP_ROUTE)
    assert route is not None and (route.protocol, route.next_hop) == ("S", "198.51.100.1")
    assert parse_default_route(NO_DEFAULT) is None


def test_state_from_outputs_keeps_per_command_errors() -> None:
    state = state_from_outputs(
        "edge1",
        {
            "show ip sla summary": SLA_SUMMARY,
            "show track": TRACK,
            "show ip bgp summary": "% BGP not active\n",
            "show ip route": IP_ROUTE,
        },
    )
    assert state.track(2) is not None and not state.track(2).up  # type: ignore[union-attr]
    assert state.default_route is not None and state.default_route.next_hop == "198.51.100.1"
    assert state.errors == {"show ip bgp summary": "% BGP not active"}
    assert state.public()["tracks"][0] == {"id": 1, "state": "Up", "sla": 1, "interface": None}
