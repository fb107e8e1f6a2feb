"""The lab devices' operational state: BGP, BFD, IP SLA, track and routes, as the show commands print them.

The outputs are parsed the way consumers parse them (ntc-templates; the project's TextFSM templates for
`show ip sla summary` and `show track`), so these tests also pin the formats.
"""

from __future__ import annotations

from migrate_cli.lab.devices import CliSession, DeviceSpec, DeviceState, RemotePeer, WorldConditions
from migrate_cli.network.parse import parse_show

EDGE = """\
interface Loopback0
 ip address 10.255.0.1 255.255.255.255
interface GigabitEthernet2
 ip address 10.201.1.2 255.255.255.252
interface GigabitEthernet3
 ip address 10.202.1.2 255.255.255.252
interface GigabitEthernet4
interface GigabitEthernet4.101
 encapsulation dot1Q 101
 ip address 169.254.100.2 255.255.255.252
 bfd interval 300 min_rx 300 multiplier 3
crypto ikev2 keyring KR
 peer T1
  address 203.0.113.10
  pre-shared-key psk.local_one
crypto ikev2 profile P1
 keyring local KR
crypto ipsec transform-set TS esp-aes 256 esp-sha256-hmac
 mode tunnel
crypto ipsec profile P1
 set transform-set TS
 set ikev2-profile P1
interface Tunnel1
 ip address 169.254.10.2 255.255.255.252
 tunnel source GigabitEthernet2
 tunnel destination 203.0.113.10
 tunnel mode ipsec ipv4
 tunnel protection ipsec profile P1
router bgp 65010
 neighbor 169.254.10.1 remote-as 64512
 neighbor 169.254.100.1 remote-as 64512
 neighbor 169.254.100.1 password dxK3y.abcdef
 neighbor 169.254.100.1 fall-over bfd
 neighbor 192.0.2.77 remote-as 65077
 address-family ipv4
  neighbor 169.254.10.1 activate
  neighbor 169.254.100.1 activate
  neighbor 169.254.100.1 route-map DX-IN in
 exit-address-family
ip route 0.0.0.0 0.0.0.0 10.201.1.1 name ISP-A track 1
ip route 0.0.0.0 0.0.0.0 10.202.1.1 250 name ISP-B track 2
ip sla 1
 icmp-echo 10.201.1.1 source-interface GigabitEthernet2
 frequency 5
ip sla schedule 1 life forever start-time now
ip sla 2
 icmp-echo 10.202.1.1 source-interface GigabitEthernet3
ip sla schedule 2 life forever start-time now
ip sla 3
 icmp-echo 8.8.8.8
track 1 ip sla 1 reachability
 delay up 20 down 10
track 2 ip sla 2 reachability
track 3 interface Tunnel1 line-protocol
route-map DX-IN permit 10
 set local-preference 200
"""

VPC = ("10.100.0.0/16",)


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def lab(*peers: RemotePeer) -> tuple[DeviceState, WorldConditions, Clock]:
    clock, world = Clock(), WorldConditions()
    state = DeviceState(DeviceSpec("edge1", "a", "b", initial_config=EDGE, peers=peers), clock, world)
    return state, world, clock


def show(state: DeviceState, command: str) -> list[dict]:
    return parse_show("cisco_ios", command, CliSession(state).execute(command))


def bgp(state: DeviceState) -> dict[str, str]:
    return {r["bgp_neighbor"]: r["state_or_prefixes_received"] for r in show(state, "show ip bgp summary")}


def test_sessions_are_established_once_both_sides_are_configured() -> None:
    state, _, _ = lab(RemotePeer("169.254.100.1", asn=64512, md5="dxK3y.abcdef", prefixes=VPC))
    # 192.0.2.77 has no connected interface: the device side is incomplete.
    assert bgp(state) == {"169.254.10.1": "0", "169.254.100.1": "1", "192.0.2.77": "Idle"}
    [row] = show(state, "show ip bgp summary")[:1]
    assert (row["router_id"], row["local_as"]) == ("10.255.0.1", "65010")


def test_a_declared_far_end_must_agree_on_as_and_md5() -> None:
    wrong_key, _, _ = lab(RemotePeer("169.254.100.1", md5="another.key"))
    assert bgp(wrong_key)["169.254.100.1"] == "Active"
    wrong_as, _, _ = lab(RemotePeer("169.254.100.1", asn=7224))
    assert bgp(wrong_as)["169.254.100.1"] == "Active"
    expects_other, _, _ = lab(RemotePeer("169.254.100.1", expects_as=65099))
    assert bgp(expects_other)["169.254.100.1"] == "Active"
    down, _, _ = lab(RemotePeer("169.254.100.1", up=False))
    assert bgp(down)["169.254.100.1"] == "Active"


def test_shutdown_neighbor_and_interface() -> None:
    state, _, _ = lab()
    session = CliSession(state)
    session.execute("configure terminal")
    session.execute("router bgp 65010")
    session.execute("neighbor 169.254.10.1 shutdown")
    session.execute("interface GigabitEthernet4")
    session.execute("shutdown")
    assert bgp(state)["169.254.10.1"] == "Idle (Admin)"
    assert bgp(state)["169.254.100.1"] == "Idle", "the parent port is shut: no connected route"


def test_tunnel_needs_its_ipsec_chain_and_a_matching_psk() -> None:
    state, world, _ = lab(RemotePeer("169.254.10.1", outside_address="203.0.113.10", psk="psk.local_one"))
    brief = {r["interface"]: r["proto"] for r in show(state, "show ip interface brief")}
    assert brief["Tunnel1"] == "up" and bgp(state)["169.254.10.1"] == "0"
    state.peers["169.254.10.1"] = RemotePeer("169.254.10.1", outside_address="203.0.113.10", psk="other.psk_x")
    assert {r["interface"]: r["proto"] for r in show(state, "show ip interface brief")}["Tunnel1"] == "down"
    assert bgp(state)["169.254.10.1"] == "Idle"
    state.peers.clear()
    world.peers_down.append("203.0.113.10")
    assert bgp(state)["169.254.10.1"] == "Idle"


def test_bfd_follows_the_path_not_the_md5() -> None:
    state, world, _ = lab(RemotePeer("169.254.100.1", md5="another.key"))
    [row] = show(state, "show bfd neighbors details")
    assert (row["neighbor_addr"], row["state"], row["interface"], row["our_addr"]) == (
        "169.254.100.1",
        "Up",
        "Gi4.101",
        "169.254.100.2",
    )
    assert (row["min_tx_interval"], row["min_rx_interval"], row["multiplier"]) == ("300000", "300000", "3")
    world.links_down.append("GigabitEthernet4")
    [row] = show(state, "show bfd neighbors details")
    assert row["state"] == "Down"
    assert "169.254.100.1" in CliSession(state).execute("show bfd neighbors")


def test_isp_failure_moves_the_default_route_after_the_track_delay() -> None:
    state, world, clock = lab()

    def default_via() -> str:
        routes = [r for r in show(state, "show ip route") if r["network"] == "0.0.0.0"]
        return routes[0]["nexthop_ip"] if routes else "none"

    assert default_via() == "10.201.1.1"
    world.unreachable.append("10.201.1.1")
    sla = {r["id"]: r for r in show(state, "show ip sla summary")}
    assert (sla["1"]["return_code"], sla["2"]["return_code"], sla["3"]["state"]) == ("Timeout", "OK", "~")
    clock.now += 5
    track = {r["track"]: r for r in show(state, "show track")}
    assert track["1"]["state"] == "Up", "down delay is 10 s"
    assert (track["1"]["delay_up"], track["1"]["delay_down"]) == ("20", "10")
    clock.now += 6
    track = {r["track"]: r for r in show(state, "show track")}
    assert (track["1"]["state"], track["1"]["changes"], track["1"]["return_code"]) == ("Down", "2", "Timeout")
    assert default_via() == "10.202.1.1"
    world.unreachable.clear()
    clock.now += 1
    assert default_via() == "10.202.1.1", "up delay is 20 s"
    clock.now += 20
    assert default_via() == "10.201.1.1"
    assert {r["track"]: r["object"] for r in show(state, "show track")}["3"] == "Tunnel1"


def test_routes_prefer_dx_by_local_preference() -> None:
    state, _, _ = lab(
        RemotePeer("169.254.100.1", prefixes=VPC + ("10.101.0.0/16",)),
        RemotePeer("169.254.10.1", prefixes=VPC),
    )
    bgp_routes = {r["network"]: r for r in show(state, "show ip route") if r["protocol"] == "B"}
    assert bgp_routes["10.100.0.0"]["nexthop_ip"] == "169.254.100.1"
    assert bgp_routes["10.100.0.0"]["distance"] == "20"
    text = CliSession(state).execute("show ip route")
    assert "Gateway of last resort is 10.201.1.1 to network 0.0.0.0" in text


def test_show_outputs_without_configuration() -> None:
    state = DeviceState(DeviceSpec("r1", "a", "b"))
    session = CliSession(state)
    assert session.execute("show ip bgp summary") == "% BGP not active\n"
    assert parse_show("cisco_ios", "show ip sla summary", session.execute("show ip sla summary")) == []
    assert session.execute("show track") == ""
    assert session.execute("show track 5") == "%Track 5 does not exist\n"
    assert "Gateway of last resort is not set" in session.execute("sh ip ro")
