"""`verify_domain` against real authoritative DNS servers on 127.0.0.1 (dnslib), asked with dnspython.

Recursive resolvers are `LabResolver`s: caching forwarders that stand in for a real resolver (negative
caching per RFC 2308; with `validation_failure=True` they answer SERVFAIL unless the CD bit is set, which
is how a validating resolver treats a zone whose DNSSEC is broken; they do no DNSSEC themselves).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from migrate_cli.core.errors import OperationFailed
from migrate_cli.dns.lab_peers import LabResolver
from migrate_cli.dns.names import Expected
from migrate_cli.dns.servers import Server
from migrate_cli.dns.verify import Status, WaitProgress, verify_domain
from migrate_cli.lab.dns_server import AuthoritativeServer, Fault, Record, Zone

ZONE = "example.test."
TOKEN = Expected("_verify.example.test.", "TXT", "token-123")
FAST = 0.4  # per-query timeout: keeps the timeout cases quick


@pytest.fixture
def zone() -> Zone:
    return Zone(
        ZONE,
        [
            Record("_verify", "TXT", "token-123", ttl=60),
            Record("www", "A", "192.0.2.10"),
            Record("alias", "CNAME", "www"),
        ],
        soa_minimum=120,
    )


@pytest.fixture
def servers(zone: Zone) -> Iterator[list[AuthoritativeServer]]:
    started = [AuthoritativeServer(zone, name=f"ns{i}") for i in (1, 2, 3)]
    for s in started:
        s.start()
    yield started
    for s in started:
        s.stop()


def addrs(servers: list[AuthoritativeServer]) -> list[Server]:
    return [Server("127.0.0.1", s.port, f"{s.name}.example.test.") for s in servers]


def run(servers, records=(TOKEN,), **kw):
    kw.setdefault("resolvers", [])
    kw.setdefault("timeout", FAST)
    return verify_domain(ZONE, list(records), nameservers=addrs(servers), **kw)


def statuses(report, index: int = 0) -> list[Status]:
    return [r.status for r in report.records[index].authoritative]


def kinds(report) -> list[str]:
    return [f.kind for f in report.findings]


def test_all_servers_agree(servers) -> None:
    report = run(servers)
    assert report.ok and report.zone == ZONE
    assert statuses(report) == [Status.PRESENT] * 3
    assert set(report.serials.values()) == {1}
    assert report.findings == [] and report.attempts == 1
    assert report.summary() == "verified: all 3 authoritative servers of example.test. serve the expected records"
    doc = report.to_dict()
    assert doc["ok"] and doc["records"][0]["authoritative"][0]["values"] == ["token-123"]


def test_one_stale_server(servers, zone: Zone) -> None:
    servers[2].set_fault(Fault.LAG)  # ns3 keeps serving the zone as it is now
    zone.set_records("_verify", "TXT", ["token-456"])
    report = run(servers, [Expected(TOKEN.name, "TXT", "token-456")])
    assert not report.ok
    assert statuses(report) == [Status.PRESENT, Status.PRESENT, Status.WRONG]
    assert report.records[0].authoritative[2].values == ["token-123"]
    assert kinds(report) == ["stale_serial", "partial", "wrong_value"]
    assert f"ns3.example.test (127.0.0.1:{servers[2].port}) has serial 1" in report.findings[0].message
    assert "newest serial is 2" in report.findings[0].message
    assert report.summary() == "not verified: TXT _verify.example.test. on 2/3"


def test_long_txt_split_on_the_wire_is_joined(servers, zone: Zone) -> None:
    dkim = "v=DKIM1; k=rsa; p=" + "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" * 34  # ~1.5 KB: TCP after TC
    zone.set_records("sel._domainkey", "TXT", [dkim])
    report = run(servers, [Expected("sel._domainkey.example.test.", "TXT", dkim)])
    assert len(dkim.encode()) > 1232
    assert report.ok, report.findings
    assert report.records[0].authoritative[0].values == [dkim]


def test_nxdomain_with_negative_ttl_cached_by_a_resolver(servers, zone: Zone) -> None:
    resolver = LabResolver([Server("127.0.0.1", servers[0].port)])
    resolver.start()
    try:
        new = Expected("_new.example.test.", "TXT", "fresh")
        before = run(servers, [new], resolvers=[Server("127.0.0.1", resolver.port)])
        assert statuses(before) == [Status.ABSENT] * 3
        first = before.records[0].authoritative[0]
        assert first.nxdomain and first.negative_ttl == 120
        assert kinds(before) == ["not_published"]
        assert "cache that for up to 120 s" in before.findings[0].message

        zone.set_records("_new", "TXT", ["fresh"])  # published after the resolver cached NXDOMAIN
        time.sleep(1.1)
        after = run(servers, [new], resolvers=[Server("127.0.0.1", resolver.port)])
        assert after.ok  # every authoritative server has it: exit 0 even though the resolver lags
        res = after.records[0].resolvers[0]
        assert res.status is Status.ABSENT and res.nxdomain
        assert res.negative_ttl is not None and 110 <= res.negative_ttl <= 119
        assert kinds(after) == ["negative_cached"]
        assert f"expires in {res.negative_ttl} s" in after.findings[0].message
        assert resolver.forwarded == 1  # the second answer came from its cache
    finally:
        resolver.stop()


@pytest.mark.parametrize(("fault", "status"), [(Fault.SERVFAIL, Status.SERVFAIL), (Fault.REFUSED, Status.REFUSED)])
def test_servfail_and_refused(servers, fault: Fault, status: Status) -> None:
    servers[1].set_fault(fault)
    report = run(servers)
    assert statuses(report) == [Status.PRESENT, status, Status.PRESENT]
    assert kinds(report) == [f"server_{status.name.lower()}", "partial"]
    assert report.findings[0].message.startswith(f"ns2.example.test (127.0.0.1:{servers[1].port}) ")
    assert not report.ok


def test_timeout_is_reported_per_server_and_quickly(servers) -> None:
    servers[0].set_fault(Fault.TIMEOUT)
    start = time.monotonic()
    report = run(servers)
    assert time.monotonic() - start < 4 * FAST + 1
    assert statuses(report) == [Status.TIMEOUT, Status.PRESENT, Status.PRESENT]
    assert report.serials[addrs(servers)[0].label] is None
    assert kinds(report)[0] == "server_timeout"
    assert f"did not answer within {FAST:g} s" in report.findings[0].message


def test_cname_in_the_way(servers) -> None:
    report = run(servers, [Expected("alias.example.test.", "TXT", "token-123")])
    assert statuses(report) == [Status.WRONG] * 3
    assert report.records[0].authoritative[0].cname == "www.example.test."
    assert kinds(report) == ["cname_in_the_way"]
    assert "alias.example.test is a CNAME to www.example.test" in report.findings[0].message


def test_name_doubled_by_the_provider(servers, zone: Zone) -> None:
    zone.set_records("_acme.example.test.example.test.", "TXT", ["tok"])
    report = run(servers, [Expected("_acme.example.test.", "TXT", "tok")])
    assert statuses(report) == [Status.ABSENT] * 3
    assert kinds(report) == ["doubled_name", "not_published"]
    assert "published as _acme.example.test.example.test" in report.findings[0].message
    assert "Enter only '_acme'" in report.findings[0].message


def test_wrong_value_with_quotes(servers, zone: Zone) -> None:
    zone.set_records("_verify", "TXT", ['"token-123"'])
    report = run(servers)
    assert statuses(report) == [Status.WRONG] * 3
    assert "literal quote characters" in report.findings[0].message


def test_dnssec_failure_seen_through_a_validating_resolver(servers) -> None:
    validating = LabResolver([Server("127.0.0.1", servers[0].port)], validation_failure=True)
    plain_servfail = AuthoritativeServer(Zone("unused.test."), name="broken-resolver")
    plain_servfail.set_fault(Fault.SERVFAIL)  # a resolver that fails even with CD: only "likely DNSSEC"
    validating.start()
    plain_servfail.start()
    try:
        report = run(
            servers,
            resolvers=[Server("127.0.0.1", validating.port), Server("127.0.0.1", plain_servfail.port)],
        )
    finally:
        validating.stop()
        plain_servfail.stop()
    assert report.ok  # the authoritative servers answer
    assert [r.status for r in report.records[0].resolvers] == [Status.SERVFAIL, Status.SERVFAIL]
    assert kinds(report) == ["dnssec", "dnssec"]
    assert "with checking disabled (CD bit) it answers present" in report.findings[0].message
    assert "most likely a DNSSEC validation failure" in report.findings[1].message


def test_wait_polls_with_backoff_until_every_server_has_it(servers, zone: Zone) -> None:
    new = Expected("_later.example.test.", "TXT", "v1")
    progress: list[WaitProgress] = []
    threading.Timer(1.2, lambda: zone.set_records("_later", "TXT", ["v1"])).start()
    start = time.monotonic()
    report = run(servers, [new], wait=20, on_wait=progress.append)
    assert report.ok and report.attempts >= 2
    assert 1.2 <= time.monotonic() - start < 6
    assert [p.next_delay for p in progress[:2]] == [1.0, 2.0][: len(progress[:2])]
    assert progress[0].present == 0 and progress[0].total == 3


def test_wait_gives_up_at_the_deadline(servers) -> None:
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    start = time.monotonic()
    report = run(servers, [Expected("_never.example.test.", "TXT", "x")], wait=1.5, sleep=sleep)
    assert not report.ok and report.attempts == 3
    assert slept == [1.0, pytest.approx(0.5, abs=0.1)]
    assert 1.5 <= time.monotonic() - start < 3
    assert kinds(report) == ["not_published"]


def test_needs_records() -> None:
    with pytest.raises(OperationFailed, match="nothing to verify"):
        verify_domain(ZONE, [], nameservers=[Server("127.0.0.1", 9)], resolvers=[])
