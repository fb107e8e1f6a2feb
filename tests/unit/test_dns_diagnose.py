"""Classifying replies and explaining reports, from constructed data (the wire is tested in integration)."""

from __future__ import annotations

import pytest

from migrate_cli.dns.delegation import Delegation
from migrate_cli.dns.diagnose import Probes, doubled_name, findings_for
from migrate_cli.dns.names import Expected
from migrate_cli.dns.query import RR, Reply
from migrate_cli.dns.servers import Server
from migrate_cli.dns.verify import RecordResult, ServerResult, Status, VerifyReport, classify

ZONE = "example.com."
NS1 = Server("192.0.2.1", 53, "ns1.example.com.")
NS2 = Server("192.0.2.2", 53, "ns2.example.com.")
RES = Server("198.51.100.53", 53)
TXT = Expected("_v.example.com.", "TXT", "token-1")
SOA = RR(ZONE, "SOA", 900, "ns1.example.com. hostmaster.example.com. 7 3600 600 86400 300")


def reply(server: Server = NS1, rcode: str | None = "NOERROR", aa: bool = True, **kw) -> Reply:
    return Reply(server, TXT.name, "TXT", rcode=rcode, aa=aa, **kw)


def kinds(findings) -> list[str]:
    return [f.kind for f in findings]


def test_classify_present_absent_wrong() -> None:
    ok = classify(reply(answer=[RR(TXT.name, "TXT", 60, "other"), RR(TXT.name, "TXT", 60, "token-1")]), TXT,
                  authoritative=True)  # fmt: skip
    assert ok.status is Status.PRESENT and ok.values == ["other", "token-1"] and ok.ttl == 60
    wrong = classify(reply(answer=[RR(TXT.name, "TXT", 60, "token-0")]), TXT, authoritative=True)
    assert wrong.status is Status.WRONG and wrong.values == ["token-0"]
    nx = classify(reply(rcode="NXDOMAIN", authority=[SOA]), TXT, authoritative=True)
    assert nx.status is Status.ABSENT and nx.nxdomain and nx.negative_ttl == 300
    nodata = classify(reply(authority=[RR(ZONE, "SOA", 60, SOA.value)]), TXT, authoritative=True)
    assert nodata.status is Status.ABSENT and not nodata.nxdomain and nodata.negative_ttl == 60


def test_classify_failures_and_lame() -> None:
    assert classify(reply(rcode=None, error="timeout"), TXT, authoritative=True).status is Status.TIMEOUT
    err = classify(reply(rcode=None, error="network error: unreachable"), TXT, authoritative=True)
    assert err.status is Status.ERROR and "unreachable" in err.detail
    assert classify(reply(rcode="SERVFAIL", aa=False), TXT, authoritative=True).status is Status.SERVFAIL
    assert classify(reply(rcode="REFUSED", aa=False), TXT, authoritative=True).status is Status.REFUSED
    referral = reply(aa=False, authority=[RR(ZONE, "NS", 3600, "ns1.example.com.")])
    lame = classify(referral, TXT, authoritative=True)
    assert lame.status is Status.LAME and lame.detail == "referral to example.com."
    # the same answer without AA is normal from a recursive resolver
    resolver = classify(reply(aa=False, answer=[RR(TXT.name, "TXT", 5, "token-1")]), TXT, authoritative=False)
    assert resolver.status is Status.PRESENT


def test_classify_follows_a_cname_chain() -> None:
    chain = [RR(TXT.name, "CNAME", 60, "a.example.net."), RR("a.example.net.", "CNAME", 60, "b.example.net.")]
    via = classify(reply(answer=[*chain, RR("b.example.net.", "TXT", 60, "token-1")]), TXT, authoritative=True)
    assert via.status is Status.PRESENT and via.cname == "a.example.net." and "CNAME" in via.detail
    blocked = classify(reply(answer=chain), TXT, authoritative=True)
    assert blocked.status is Status.WRONG and blocked.cname == "a.example.net." and not blocked.values


def result(server: Server, status: Status, **kw) -> ServerResult:
    return ServerResult(server, status, **kw)


def report(records: list[RecordResult], **kw) -> VerifyReport:
    return VerifyReport(domain=ZONE, zone=ZONE, servers=[NS1, NS2], records=records, **kw)


def test_partial_presence_and_stale_serial() -> None:
    rec = RecordResult(TXT, [result(NS1, Status.PRESENT, values=["token-1"]), result(NS2, Status.ABSENT)])
    rep = report([rec], serials={NS1.label: 8, NS2.label: 7})
    found = findings_for(rep, Probes())
    assert kinds(found) == ["stale_serial", "partial"]
    assert "newest serial is 8, but ns2.example.com (192.0.2.2:53) has serial 7" in found[0].message
    assert "is on ns1.example.com (192.0.2.1:53) but not on every" in found[1].message
    assert "ns2.example.com (192.0.2.2:53): absent" in found[1].message
    assert not rep.ok and rep.summary() == "not verified: TXT _v.example.com. on 1/2"


def test_all_present_has_nothing_to_say() -> None:
    rec = RecordResult(TXT, [result(NS1, Status.PRESENT), result(NS2, Status.PRESENT)])
    rep = report([rec], serials={NS1.label: 8, NS2.label: 8})
    assert findings_for(rep, Probes()) == [] and rep.ok


@pytest.mark.parametrize(
    ("expected", "got", "hint"),
    [
        ("token-1", ['"token-1"'], "literal quote characters"),
        ("token-1", ["token-1 "], "only by spaces"),
        ("k" * 300, ["k" * 255], "cut at 255 bytes"),
        ("a" * 255 + "b" * 45, ["a" * 255, "b" * 45], "stored as 2 separate TXT records"),
        ("token-2", ["token-1"], "an old or different value"),
    ],
)
def test_wrong_value_hints(expected: str, got: list[str], hint: str) -> None:
    exp = Expected(TXT.name, "TXT", expected)
    rec = RecordResult(exp, [result(NS1, Status.WRONG, values=got), result(NS2, Status.WRONG, values=got)])
    found = findings_for(report([rec]), Probes())
    assert kinds(found) == ["wrong_value", "wrong_value"]
    assert hint in found[0].message


def test_not_published_mentions_the_negative_ttl_and_doubled_name() -> None:
    rec = RecordResult(
        TXT,
        [
            result(NS1, Status.ABSENT, nxdomain=True, negative_ttl=300),
            result(NS2, Status.TIMEOUT),
        ],
    )
    doubled = Expected(doubled_name(TXT, ZONE) or "", "TXT", "token-1")
    assert doubled.name == "_v.example.com.example.com."
    probes = Probes(doubled={TXT: result(NS1, Status.PRESENT, values=["token-1"])})
    found = findings_for(report([rec]), probes, timeout=1.5)
    assert kinds(found) == ["server_timeout", "doubled_name", "not_published"]
    assert "did not answer within 1.5 s" in found[0].message
    assert "published as _v.example.com.example.com" in found[1].message and "Enter only '_v'" in found[1].message
    assert "cache that for up to 300 s" in found[2].message


def test_cname_in_the_way() -> None:
    rec = RecordResult(TXT, [result(NS1, Status.WRONG, cname="lb.example.net."), result(NS2, Status.PRESENT)])
    found = findings_for(report([rec]), Probes())
    assert "cname_in_the_way" in kinds(found)
    text = next(f.message for f in found if f.kind == "cname_in_the_way")
    assert "_v.example.com is a CNAME to lb.example.net" in text and "cannot also have a TXT" in text


def test_resolver_negative_cache_expiry_is_computed_from_the_check_time() -> None:
    checked = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
    rec = RecordResult(
        TXT,
        [result(NS1, Status.PRESENT), result(NS2, Status.PRESENT)],
        [result(RES, Status.ABSENT, nxdomain=True, negative_ttl=240, checked_at=checked)],
    )
    (finding,) = findings_for(report([rec]), Probes())
    assert finding.kind == "negative_cached"
    assert "resolver 198.51.100.53:53 still has NXDOMAIN" in finding.message
    assert "expires in 240 s (at 22:17:20 UTC" in finding.message
    assert report([rec]).ok  # propagation does not decide the exit code


def test_dnssec_confirmed_with_checking_disabled_or_only_likely() -> None:
    rec = RecordResult(TXT, [result(NS1, Status.PRESENT)], [result(RES, Status.SERVFAIL)])
    confirmed = Probes(checking_disabled={(TXT, RES.label): result(RES, Status.PRESENT, values=["token-1"])})
    (f1,) = findings_for(report([rec]), confirmed)
    assert f1.kind == "dnssec" and "with checking disabled (CD bit)" in f1.message
    (f2,) = findings_for(report([rec]), Probes())
    assert f2.kind == "dnssec" and "most likely a DNSSEC validation failure" in f2.message
    absent = RecordResult(TXT, [result(NS1, Status.ABSENT)], [result(RES, Status.SERVFAIL)])
    assert "dnssec" not in kinds(findings_for(report([absent]), Probes()))  # nothing to validate yet


def test_delegation_findings() -> None:
    d = Delegation(
        zone=ZONE,
        parent_zone="com.",
        parent_servers=[Server("192.0.2.53")],
        parent_ns=["ns1.example.com.", "ns2.example.com.", "ns3.example.com."],
        servers=[NS1, NS2, Server("192.0.2.3", 53, "ns3.example.com.")],
        child_ns={NS1.label: ["ns1.example.com.", "ns2.example.com."], NS2.label: ["ns1.example.com."]},
        lame={"ns3.example.com (192.0.2.3:53)": "does not answer (timeout)"},
        listed_by={"ns1.example.com.": "both", "ns2.example.com.": "both", "ns3.example.com.": "parent"},
    )
    rec = RecordResult(TXT, [result(NS1, Status.PRESENT), result(NS2, Status.PRESENT)])
    found = findings_for(report([rec], delegation=d), Probes())
    assert kinds(found) == ["inconsistent_delegation", "ns_disagree", "lame_delegation"]
    assert "parent zone (com) lists ns1.example.com, ns2.example.com, ns3.example.com" in found[0].message
    assert "but the zone itself lists ns1.example.com, ns2.example.com" in found[0].message
    assert found[2].message == (
        "Lame delegation: ns3.example.com (192.0.2.3:53) is listed by the parent but does not answer (timeout)."
    )
