"""Zone.lookup and zone editing: pure behaviour, no sockets."""

from __future__ import annotations

import threading

import pytest
from dnslib import DNSRecord

from migrate_cli.core.errors import ConfigError
from migrate_cli.lab.dns_server import Answer, Record, Zone, build_reply, txt_chunks

ORIGIN = "lab.example."
LONG_TXT = "v=DKIM1; k=rsa; p=" + "A1b2C3d4" * 70  # 578 bytes


@pytest.fixture
def zone() -> Zone:
    return Zone(
        "lab.example",
        [
            Record("www", "A", "10.0.0.1"),
            Record("www", "A", "10.0.0.2"),
            Record("www", "AAAA", "2001:db8::0001"),
            Record("_acme", "TXT", "token-1", ttl=60),
            Record("dkim._domainkey", "TXT", LONG_TXT),
            Record("alias", "CNAME", "www"),
            Record("chain", "CNAME", "alias.lab.example."),
            Record("dangling", "CNAME", "missing"),
            Record("outside", "CNAME", "www.elsewhere.example."),
            Record("@", "MX", "10 mail"),
            Record("mail", "A", "10.0.0.25"),
            Record("@", "CAA", '0 issue "letsencrypt.org"'),
            Record("a.b.deep", "A", "10.0.0.9"),
        ],
        soa_minimum=120,
    )


def values(answer: Answer, rtype: str | None = None) -> list[str]:
    return [rr.value for rr in answer.answer if rtype is None or rr.rtype == rtype]


def test_origin_is_absolute_and_apex_has_soa_ns_and_glue(zone: Zone) -> None:
    assert zone.origin == ORIGIN
    ns = zone.lookup(ORIGIN, "NS")
    assert ns.rcode == "NOERROR" and ns.authoritative
    assert values(ns) == ["ns1.lab.example.", "ns2.lab.example."]
    assert {(rr.name, rr.value) for rr in ns.additional} == {
        ("ns1.lab.example.", "127.0.0.1"),
        ("ns2.lab.example.", "127.0.0.1"),
    }
    soa = zone.lookup(ORIGIN, "SOA")
    assert values(soa) == ["ns1.lab.example. hostmaster.lab.example. 1 3600 600 86400 120"]
    assert values(zone.lookup("ns2.lab.example.", "A")) == ["127.0.0.1"]


def test_a_records_and_case_insensitive_names(zone: Zone) -> None:
    ans = zone.lookup("WWW.Lab.Example.", "A")
    assert ans.rcode == "NOERROR" and ans.authoritative
    assert values(ans) == ["10.0.0.1", "10.0.0.2"]
    assert {rr.ttl for rr in ans.answer} == {300}
    assert values(zone.lookup("www.lab.example", "AAAA")) == ["2001:db8::1"]  # normalised


def test_txt_longer_than_255_is_one_logical_value_split_on_the_wire(zone: Zone) -> None:
    ans = zone.lookup("dkim._domainkey.lab.example.", "TXT")
    assert values(ans) == [LONG_TXT]
    chunks = txt_chunks(LONG_TXT)
    assert [len(c) for c in chunks] == [255, 255, len(LONG_TXT) - 510]
    assert b"".join(chunks).decode() == LONG_TXT
    assert txt_chunks("") == [b""]
    # through dnslib's wire format and back
    request = DNSRecord.question("dkim._domainkey.lab.example.", "TXT")
    wire = DNSRecord.parse(build_reply(request, ans).pack())
    (rr,) = wire.rr
    assert [len(s) for s in rr.rdata.data] == [255, 255, len(LONG_TXT) - 510]
    assert b"".join(rr.rdata.data).decode() == LONG_TXT


def test_cname_in_the_way_is_returned_and_chased_inside_the_zone(zone: Zone) -> None:
    ans = zone.lookup("chain.lab.example.", "A")
    assert ans.rcode == "NOERROR"
    assert [(rr.name, rr.rtype) for rr in ans.answer] == [
        ("chain.lab.example.", "CNAME"),
        ("alias.lab.example.", "CNAME"),
        ("www.lab.example.", "A"),
        ("www.lab.example.", "A"),
    ]
    # asking for the CNAME itself does not chase
    assert values(zone.lookup("alias.lab.example.", "CNAME")) == ["www.lab.example."]
    # target outside the zone: just the CNAME
    out = zone.lookup("outside.lab.example.", "A")
    assert out.rcode == "NOERROR" and values(out) == ["www.elsewhere.example."]
    # target missing: NXDOMAIN for the end of the chain, CNAME still in the answer, SOA in authority
    dang = zone.lookup("dangling.lab.example.", "TXT")
    assert dang.rcode == "NXDOMAIN"
    assert values(dang) == ["missing.lab.example."]
    assert [rr.rtype for rr in dang.authority] == ["SOA"]


def test_nxdomain_has_soa_with_negative_ttl_min_of_minimum_and_soa_ttl(zone: Zone) -> None:
    ans = zone.lookup("nope.lab.example.", "A")
    assert ans.rcode == "NXDOMAIN" and ans.authoritative and ans.answer == ()
    (soa,) = ans.authority
    assert soa.rtype == "SOA" and soa.name == ORIGIN
    assert soa.ttl == 120  # min(minimum 120, SOA TTL 3600)
    small = Zone(ORIGIN, [Record("@", "SOA", "ns1 hostmaster 7 3600 600 86400 900", ttl=60)])
    assert small.lookup("x.lab.example.", "A").authority[0].ttl == 60  # min(900, 60)
    assert small.serial == 7


def test_nodata_for_existing_name_and_empty_non_terminal(zone: Zone) -> None:
    ans = zone.lookup("www.lab.example.", "TXT")
    assert ans.rcode == "NOERROR" and ans.answer == ()
    assert [rr.rtype for rr in ans.authority] == ["SOA"]
    ent = zone.lookup("b.deep.lab.example.", "A")  # exists only because a.b.deep does
    assert ent.rcode == "NOERROR" and ent.answer == () and ent.authority[0].rtype == "SOA"
    assert zone.lookup("c.deep.lab.example.", "A").rcode == "NXDOMAIN"


def test_out_of_zone_is_refused_without_aa(zone: Zone) -> None:
    for qname in ("example.", "other.example.", "lab.example.com.", "xlab.example."):
        ans = zone.lookup(qname, "A")
        assert ans.rcode == "REFUSED" and not ans.authoritative and ans.answer == ()


def test_mx_and_caa_and_any(zone: Zone) -> None:
    mx = zone.lookup(ORIGIN, "MX")
    assert values(mx) == ["10 mail.lab.example."]
    assert [rr.value for rr in mx.additional] == ["10.0.0.25"]
    assert values(zone.lookup(ORIGIN, "CAA")) == ['0 issue "letsencrypt.org"']
    assert {rr.rtype for rr in zone.lookup(ORIGIN, "ANY").answer} == {"CAA", "MX", "NS", "SOA"}


def test_set_records_replaces_rrset_and_bumps_serial(zone: Zone) -> None:
    assert zone.serial == 1
    zone.set_records("_acme", "TXT", ["token-2", "token-3"], ttl=30)
    assert zone.serial == 2
    ans = zone.lookup("_acme.lab.example.", "TXT")
    assert values(ans) == ["token-2", "token-3"] and {rr.ttl for rr in ans.answer} == {30}
    assert zone.lookup(ORIGIN, "SOA").answer[0].value.split()[2] == "2"
    zone.set_records("new.lab.example.", "A", ["192.0.2.7"])
    assert zone.serial == 3 and values(zone.lookup("new.lab.example.", "A")) == ["192.0.2.7"]
    zone.delete_records("new", "A")
    assert zone.serial == 4 and zone.lookup("new.lab.example.", "A").rcode == "NXDOMAIN"
    zone.set_records("_acme", "TXT", [])  # empty list deletes
    assert zone.serial == 5 and zone.lookup("_acme.lab.example.", "TXT").rcode == "NXDOMAIN"
    zone.set_records("@", "SOA", ["ns1 hostmaster 100 3600 600 86400 60"])
    assert zone.serial == 100  # an explicit higher serial wins
    zone.set_records("www", "A", ["10.0.0.3"])
    assert zone.serial == 101


def test_invalid_edits_are_rejected(zone: Zone) -> None:
    with pytest.raises(ValueError, match="bad A value"):
        zone.set_records("www", "A", ["10.0.0.300"])
    with pytest.raises(ValueError, match="outside zone"):
        zone.set_records("www.other.example.", "A", ["10.0.0.1"])
    with pytest.raises(ValueError, match="CNAME cannot coexist"):
        zone.set_records("www", "CNAME", ["mail"])
    with pytest.raises(ValueError, match="CNAME cannot coexist"):
        zone.set_records("alias", "TXT", ["x"])
    with pytest.raises(ValueError, match="unsupported"):
        zone.set_records("www", "SRV", ["0 0 443 www"])
    with pytest.raises(ValueError, match="apex"):
        zone.delete_records("@", "NS")
    assert zone.serial == 1  # nothing applied


def test_snapshot_is_frozen_and_unaffected_by_later_edits(zone: Zone) -> None:
    snap = zone.snapshot()
    zone.set_records("_acme", "TXT", ["token-2"])
    assert values(snap.lookup("_acme.lab.example.", "TXT")) == ["token-1"]
    assert values(zone.lookup("_acme.lab.example.", "TXT")) == ["token-2"]
    assert snap.serial == 1 and zone.serial == 2
    with pytest.raises(RuntimeError):
        snap.set_records("_acme", "TXT", ["x"])


def test_delegation_gives_referral_without_aa() -> None:
    z = Zone(ORIGIN, [Record("sub", "NS", "ns.sub"), Record("ns.sub", "A", "192.0.2.53")])
    ans = z.lookup("host.sub.lab.example.", "A")
    assert ans.rcode == "NOERROR" and not ans.authoritative and ans.answer == ()
    assert [rr.value for rr in ans.authority] == ["ns.sub.lab.example."]
    assert [rr.value for rr in ans.additional] == ["192.0.2.53"]


def test_from_records_dicts_and_config_errors() -> None:
    z = Zone.from_records(
        "lab.example",
        [
            {"name": "www", "type": "a", "value": "10.1.1.1", "ttl": 42},
            {"name": "t", "type": "TXT", "value": "x"},
        ],
    )
    assert [(rr.value, rr.ttl) for rr in z.lookup("www.lab.example.", "A").answer] == [("10.1.1.1", 42)]
    with pytest.raises(ConfigError, match=r"records\[0\]"):
        Zone.from_records("lab.example", [{"name": "www", "type": "A"}])
    with pytest.raises(ConfigError, match="bad A value"):
        Zone.from_records("lab.example", [{"name": "www", "type": "A", "value": "nope"}])


def test_concurrent_writers_never_lose_serial_bumps(zone: Zone) -> None:
    def writer(i: int) -> None:
        for j in range(50):
            zone.set_records(f"w{i}", "TXT", [str(j)])
            assert zone.lookup(f"w{i}.lab.example.", "TXT").rcode == "NOERROR"

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert zone.serial == 1 + 4 * 50
    assert all(values(zone.lookup(f"w{i}.lab.example.", "TXT")) == ["49"] for i in range(4))
