"""Two lab authoritative servers for one zone, queried over the wire with dnspython."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import pytest

from migrate_cli.lab.dns_server import AuthoritativeServer, Fault, Record, Zone

ORIGIN = "lab.example."
LONG_TXT = "v=spf1 " + " ".join(f"ip4:10.{i}.0.0/16" for i in range(40)) + " -all"  # > 255 bytes
HOST = "127.0.0.1"


@pytest.fixture
def zone() -> Zone:
    records = [
        Record("www", "A", "10.0.0.1"),
        Record("_acme-challenge", "TXT", "old-token", ttl=60),
        Record("@", "TXT", LONG_TXT),
        Record("alias", "CNAME", "www"),
    ]
    records += [Record("big", "A", f"10.9.{i // 256}.{i % 256}") for i in range(60)]  # ~1 KB answer
    return Zone(ORIGIN, records, soa_minimum=120)


@pytest.fixture
def servers(zone: Zone) -> Iterator[tuple[AuthoritativeServer, AuthoritativeServer]]:
    ns1 = AuthoritativeServer(zone, name="ns1")
    ns2 = AuthoritativeServer(zone, name="ns2")
    ns1.start()
    ns2.start()
    yield ns1, ns2
    ns1.stop()
    ns2.stop()


def udp(server: AuthoritativeServer, qname: str, rdtype: str, timeout: float = 2.0, **kw) -> dns.message.Message:
    return dns.query.udp(dns.message.make_query(qname, rdtype, **kw), HOST, port=server.port, timeout=timeout)


def tcp(server: AuthoritativeServer, qname: str, rdtype: str, timeout: float = 2.0, **kw) -> dns.message.Message:
    return dns.query.tcp(dns.message.make_query(qname, rdtype, **kw), HOST, port=server.port, timeout=timeout)


def txt_values(msg: dns.message.Message) -> list[bytes]:
    return [b"".join(rd.strings) for rrset in msg.answer for rd in rrset if rrset.rdtype == dns.rdatatype.TXT]


def resolver_for(server: AuthoritativeServer, timeout: float = 2.0) -> dns.resolver.Resolver:
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = [HOST]
    res.port = server.port
    res.lifetime = timeout
    res.timeout = timeout
    res.cache = None
    return res


def test_both_servers_listen_on_udp_and_tcp_and_agree(servers) -> None:
    ns1, ns2 = servers
    assert ns1.port != ns2.port and ns1.port > 0
    answers = []
    for server in servers:
        for query in (udp, tcp):
            msg = query(server, "www.lab.example.", "A")
            assert msg.rcode() == dns.rcode.NOERROR
            answers.append(sorted(rd.address for rd in msg.answer[0]))
    assert answers == [["10.0.0.1"]] * 4
    res = [resolver_for(s).resolve("www.lab.example.", "A") for s in servers]
    assert [[r.address for r in a] for a in res] == [["10.0.0.1"], ["10.0.0.1"]]
    assert ns1.queries >= 3 and ns2.queries >= 3


def test_answers_are_authoritative_without_recursion(servers) -> None:
    msg = udp(servers[0], "www.lab.example.", "A")
    assert msg.flags & dns.flags.AA
    assert msg.flags & dns.flags.QR
    assert not msg.flags & dns.flags.RA


def test_apex_ns_soa_and_glue(servers, zone: Zone) -> None:
    ns = udp(servers[0], ORIGIN, "NS")
    assert sorted(str(rd.target) for rd in ns.answer[0]) == ["ns1.lab.example.", "ns2.lab.example."]
    glue = {(str(rrset.name), rd.address) for rrset in ns.additional for rd in rrset if rrset.rdtype == 1}
    assert glue == {("ns1.lab.example.", "127.0.0.1"), ("ns2.lab.example.", "127.0.0.1")}
    soa = udp(servers[1], ORIGIN, "SOA").answer[0][0]
    assert str(soa.mname) == "ns1.lab.example." and soa.serial == zone.serial == 1


def test_nxdomain_carries_soa_with_negative_ttl(servers) -> None:
    msg = udp(servers[0], "nope.lab.example.", "A")
    assert msg.rcode() == dns.rcode.NXDOMAIN and msg.flags & dns.flags.AA
    (soa,) = msg.authority
    assert soa.rdtype == dns.rdatatype.SOA and soa.ttl == 120
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver_for(servers[0]).resolve("nope.lab.example.", "A")


def test_cname_chased_by_the_server(servers) -> None:
    msg = udp(servers[0], "alias.lab.example.", "A")
    assert [dns.rdatatype.to_text(r.rdtype) for r in msg.answer] == ["CNAME", "A"]
    ans = resolver_for(servers[0]).resolve("alias.lab.example.", "A")
    assert [r.address for r in ans] == ["10.0.0.1"]


def test_long_txt_is_split_on_the_wire_and_joins_back(servers) -> None:
    assert len(LONG_TXT) > 255
    for query in (udp, tcp):
        msg = query(servers[0], ORIGIN, "TXT", use_edns=0)
        (rd,) = msg.answer[0]
        assert len(rd.strings) > 1 and all(len(s) <= 255 for s in rd.strings)
        assert b"".join(rd.strings).decode() == LONG_TXT
    ans = resolver_for(servers[1]).resolve(ORIGIN, "TXT")
    assert [b"".join(rd.strings).decode() for rd in ans] == [LONG_TXT]


def test_large_answer_truncated_over_plain_udp_then_tcp_fallback(servers) -> None:
    plain = udp(servers[0], "big.lab.example.", "A")  # no EDNS: 512-byte limit
    assert plain.flags & dns.flags.TC and plain.answer == []
    assert plain.flags & dns.flags.AA
    full = tcp(servers[0], "big.lab.example.", "A")
    assert not full.flags & dns.flags.TC and len(full.answer[0]) == 60
    q = dns.message.make_query("big.lab.example.", "A")
    resp, used_tcp = dns.query.udp_with_fallback(q, HOST, port=servers[0].port, timeout=2)
    assert used_tcp and len(resp.answer[0]) == 60
    # the resolver retries over TCP by itself
    assert len(resolver_for(servers[1]).resolve("big.lab.example.", "A")) == 60


def test_edns_raises_the_udp_limit_and_is_echoed(servers) -> None:
    msg = udp(servers[0], "big.lab.example.", "A", use_edns=0, payload=1232)  # ~1 KB fits in 1232
    assert not msg.flags & dns.flags.TC and len(msg.answer[0]) == 60
    assert msg.edns == 0 and msg.payload == 1232
    small = udp(servers[0], "big.lab.example.", "A", use_edns=0, payload=512)
    assert small.flags & dns.flags.TC
    badvers = udp(servers[0], "www.lab.example.", "A", use_edns=1)
    assert badvers.rcode() == dns.rcode.BADVERS


def test_lag_serves_stale_data_until_cleared(servers, zone: Zone) -> None:
    ns1, ns2 = servers
    ns2.set_fault(Fault.LAG)
    zone.set_records("_acme-challenge", "TXT", ["new-token"])
    name = "_acme-challenge.lab.example."
    assert txt_values(udp(ns1, name, "TXT")) == [b"new-token"]
    assert txt_values(udp(ns2, name, "TXT")) == [b"old-token"]
    assert txt_values(tcp(ns2, name, "TXT")) == [b"old-token"]
    assert udp(ns1, ORIGIN, "SOA").answer[0][0].serial == 2
    assert udp(ns2, ORIGIN, "SOA").answer[0][0].serial == 1
    zone.set_records("_acme-challenge", "TXT", ["newer-token"])
    assert txt_values(udp(ns2, name, "TXT")) == [b"old-token"]  # still the snapshot from set_fault
    ns2.set_fault(Fault.NONE)
    assert txt_values(udp(ns2, name, "TXT")) == [b"newer-token"]


def test_servfail_and_refused_faults(servers) -> None:
    ns1, ns2 = servers
    ns1.set_fault(Fault.SERVFAIL)
    msg = udp(ns1, "www.lab.example.", "A")
    assert msg.rcode() == dns.rcode.SERVFAIL and not msg.flags & dns.flags.AA and msg.answer == []
    with pytest.raises(dns.resolver.NoNameservers):
        resolver_for(ns1).resolve("www.lab.example.", "A")
    ns1.set_fault(Fault.REFUSED)
    assert udp(ns1, "www.lab.example.", "A").rcode() == dns.rcode.REFUSED
    assert tcp(ns1, "www.lab.example.", "A").rcode() == dns.rcode.REFUSED
    assert udp(ns2, "www.lab.example.", "A").rcode() == dns.rcode.NOERROR  # the other one is fine
    ns1.set_fault(Fault.NONE)
    assert udp(ns1, "www.lab.example.", "A").rcode() == dns.rcode.NOERROR


def test_out_of_zone_and_other_classes_are_refused(servers) -> None:
    msg = udp(servers[0], "www.example.com.", "A")
    assert msg.rcode() == dns.rcode.REFUSED and not msg.flags & dns.flags.AA
    chaos = udp(servers[1], "id.server.", "TXT", rdclass=dns.rdataclass.CH)
    assert txt_values(chaos) == [b"ns2"]
    hesiod = udp(servers[0], "www.lab.example.", "A", rdclass=dns.rdataclass.CH)
    assert hesiod.rcode() == dns.rcode.REFUSED and hesiod.answer == []


def test_timeout_fault_is_silent_on_udp_and_tcp(servers) -> None:
    ns1 = servers[0]
    ns1.set_fault(Fault.TIMEOUT)
    before = ns1.queries
    start = time.monotonic()
    with pytest.raises(dns.exception.Timeout):
        udp(ns1, "www.lab.example.", "A", timeout=0.3)
    with pytest.raises(dns.exception.Timeout):
        tcp(ns1, "www.lab.example.", "A", timeout=0.3)
    with pytest.raises(dns.resolver.LifetimeTimeout):
        resolver_for(ns1, timeout=0.3).resolve("www.lab.example.", "A")
    assert time.monotonic() - start < 3
    assert ns1.queries > before  # queries were received, just not answered
    ns1.set_fault(Fault.NONE)
    assert udp(ns1, "www.lab.example.", "A").rcode() == dns.rcode.NOERROR


def test_garbage_gets_formerr_and_server_keeps_serving(servers) -> None:
    ns1 = servers[0]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.sendto(b"\x12\x34\x01\x00" + b"\x00\x01" + b"\xff" * 20, (HOST, ns1.port))
        data, _ = s.recvfrom(512)
    assert data[:2] == b"\x12\x34" and data[3] & 0x0F == dns.rcode.FORMERR and data[2] & 0x80
    assert udp(ns1, "www.lab.example.", "A").rcode() == dns.rcode.NOERROR


def test_stop_closes_both_ports(zone: Zone) -> None:
    server = AuthoritativeServer(zone, name="tmp")
    port = server.start()
    assert udp(server, "www.lab.example.", "A").rcode() == dns.rcode.NOERROR
    idle = socket.create_connection((HOST, port), timeout=2)  # an open TCP client must be cut off too
    time.sleep(0.05)
    start = time.monotonic()
    server.stop()
    assert time.monotonic() - start < 1
    with idle:
        assert idle.recv(10) == b""  # EOF, not a 2 s timeout
    server.stop()  # idempotent
    with pytest.raises((dns.exception.Timeout, ConnectionRefusedError)):
        dns.query.udp(dns.message.make_query("www.lab.example.", "A"), HOST, port=port, timeout=0.3)
    with pytest.raises(ConnectionRefusedError):
        dns.query.tcp(dns.message.make_query("www.lab.example.", "A"), HOST, port=port, timeout=0.3)


def test_fixed_port_is_used_for_udp_and_tcp(zone: Zone) -> None:
    with AuthoritativeServer(zone) as probe:  # learn a port that is free for both, then release it
        port = probe.port
    with AuthoritativeServer(zone, port=port) as server:
        assert server.port == port
        assert udp(server, "www.lab.example.", "A").rcode() == dns.rcode.NOERROR
        assert tcp(server, "www.lab.example.", "A").rcode() == dns.rcode.NOERROR
