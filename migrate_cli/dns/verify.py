"""Check that every authoritative server of a domain serves the expected records; resolvers separately.

Authoritative servers are asked directly (RD=0), each one, because a record that is on some of them only
will verify for some clients and not others. Recursive resolvers are asked once, at the end, to show
propagation; polling them while waiting would seed their negative caches (RFC 2308) and delay it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import dns.resolver

from migrate_cli.core.errors import OperationFailed
from migrate_cli.dns.delegation import Delegation, find_authoritative
from migrate_cli.dns.names import Expected
from migrate_cli.dns.query import DEFAULT_TIMEOUT, Reply, ask
from migrate_cli.dns.servers import DNS_PORT, Server, to_addresses

MAX_CNAME_CHAIN = 8
MAX_PARALLEL = 16


class Status(StrEnum):
    PRESENT = "present"
    ABSENT = "absent"
    WRONG = "wrong value"
    TIMEOUT = "timeout"
    SERVFAIL = "SERVFAIL"
    REFUSED = "REFUSED"
    LAME = "not authoritative"
    ERROR = "error"


@dataclass
class ServerResult:
    """One server's answer for one expected record."""

    server: Server
    status: Status
    values: list[str] = field(default_factory=list)  # values of the expected type (after a CNAME chain)
    cname: str | None = None  # the CNAME found at the name when another type was asked for
    rcode: str | None = None
    nxdomain: bool = False
    negative_ttl: int | None = None  # NXDOMAIN/NODATA: seconds it may be cached (from the SOA)
    ttl: int | None = None  # TTL of the values (a resolver's remaining cache time)
    detail: str = ""
    elapsed_ms: int = 0
    checked_at: float = field(default_factory=time.time)

    @property
    def present(self) -> bool:
        return self.status is Status.PRESENT

    def to_dict(self) -> dict[str, Any]:
        return {
            "server": self.server.label,
            "address": self.server.address,
            "ns": self.server.name,
            "status": str(self.status),
            "values": self.values,
            "cname": self.cname,
            "rcode": self.rcode,
            "nxdomain": self.nxdomain,
            "negative_ttl": self.negative_ttl,
            "ttl": self.ttl,
            "detail": self.detail,
            "elapsed_ms": self.elapsed_ms,
        }


@dataclass
class RecordResult:
    expected: Expected
    authoritative: list[ServerResult]
    resolvers: list[ServerResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.authoritative) and all(r.present for r in self.authoritative)

    @property
    def present_count(self) -> int:
        return sum(1 for r in self.authoritative if r.present)

    def to_dict(self) -> dict[str, Any]:
        return {
            "expected": self.expected.to_dict(),
            "ok": self.ok,
            "present": self.present_count,
            "servers": len(self.authoritative),
            "authoritative": [r.to_dict() for r in self.authoritative],
            "resolvers": [r.to_dict() for r in self.resolvers],
        }


@dataclass(frozen=True)
class Finding:
    """One diagnosis, in plain words; `kind` is a stable key for machines."""

    kind: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message}


@dataclass
class VerifyReport:
    domain: str
    zone: str
    servers: list[Server]
    records: list[RecordResult]
    delegation: Delegation | None = None
    serials: dict[str, int | None] = field(default_factory=dict)
    resolvers: list[Server] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    attempts: int = 1
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.records) and all(r.ok for r in self.records)

    def summary(self) -> str:
        n = len(self.servers)
        if self.ok:
            return f"verified: all {n} authoritative servers of {self.zone} serve the expected records"
        parts = [f"{r.expected.rtype} {r.expected.name} on {r.present_count}/{n}" for r in self.records if not r.ok]
        return "not verified: " + "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "zone": self.zone,
            "ok": self.ok,
            "summary": self.summary(),
            "attempts": self.attempts,
            "elapsed_s": round(self.elapsed, 3),
            "servers": [s.to_dict() | {"label": s.label} for s in self.servers],
            "resolvers": [s.address for s in self.resolvers],
            "delegation": self.delegation.to_dict() if self.delegation else None,
            "serials": self.serials,
            "records": [r.to_dict() for r in self.records],
            "findings": [f.to_dict() for f in self.findings],
        }


# ----------------------------------------------------------------------------------------- classify


def classify(reply: Reply, expected: Expected, *, authoritative: bool) -> ServerResult:
    """Turn one reply into present / absent / wrong value / timeout / SERVFAIL / REFUSED / ..."""
    result = ServerResult(reply.server, Status.ERROR, rcode=reply.rcode, elapsed_ms=reply.elapsed_ms)
    if not reply.answered:
        result.status = Status.TIMEOUT if reply.error == "timeout" else Status.ERROR
        result.detail = reply.error or ""
        return result
    if reply.rcode in ("SERVFAIL", "REFUSED"):
        result.status = Status(reply.rcode)
        return result
    if reply.rcode not in ("NOERROR", "NXDOMAIN"):
        result.detail = f"rcode {reply.rcode}"
        return result
    if authoritative and not reply.aa:
        result.status = Status.LAME
        ns = reply.records(reply.authority, "NS")
        result.detail = f"referral to {ns[0].name}" if reply.is_referral() else "answer without the AA flag"
        return result
    name = expected.name
    if expected.rtype != "CNAME":
        for _ in range(MAX_CNAME_CHAIN):
            cnames = reply.records(reply.answer, "CNAME", name)
            if not cnames:
                break
            result.cname = result.cname or cnames[0].value
            name = cnames[0].value
    found = reply.records(reply.answer, expected.rtype, name)
    result.values = [rr.value for rr in found]
    result.ttl = min((rr.ttl for rr in found), default=None)
    if any(expected.matches(v) for v in result.values):
        result.status = Status.PRESENT
        if result.cname:
            result.detail = f"through a CNAME to {result.cname}"
    elif result.values:
        result.status = Status.WRONG
    elif result.cname:
        result.status = Status.WRONG
        result.detail = f"the name is a CNAME to {result.cname}"
    else:
        result.status = Status.ABSENT
        result.nxdomain = reply.rcode == "NXDOMAIN"
        result.negative_ttl = reply.negative_ttl()
        result.detail = "NXDOMAIN: the name does not exist" if result.nxdomain else f"no {expected.rtype} record"
    return result


def _parallel(fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(items))) as pool:
        return list(pool.map(fn, items))


def check_servers(
    expectations: list[Expected], servers: list[Server], *, recursive: bool = False, timeout: float = DEFAULT_TIMEOUT
) -> list[list[ServerResult]]:
    """Ask every server about every expected record (in parallel); results per expectation, per server."""
    pairs = [(e, s) for e in expectations for s in servers]

    def one(pair: tuple[Expected, Server]) -> ServerResult:
        exp, server = pair
        reply = ask(server, exp.name, exp.rtype, recursive=recursive, timeout=timeout)
        return classify(reply, exp, authoritative=not recursive)

    flat = _parallel(one, pairs)
    n = len(servers)
    return [flat[i * n : (i + 1) * n] for i in range(len(expectations))]


def zone_serials(zone: str, servers: list[Server], timeout: float = DEFAULT_TIMEOUT) -> dict[str, int | None]:
    """The SOA serial each server serves for `zone` (None when it gives no authoritative SOA)."""

    def one(server: Server) -> int | None:
        reply = ask(server, zone, "SOA", timeout=timeout)
        soa = reply.records(reply.answer, "SOA", zone) if reply.aa else []
        return int(soa[0].value.split()[2]) if soa else None

    return dict(zip((s.label for s in servers), _parallel(one, servers), strict=True))


def zone_apex(domain: str, servers: list[Server], timeout: float = DEFAULT_TIMEOUT) -> str:
    """The zone `domain` is in, from the SOA the first answering server returns (else `domain` itself)."""
    for server in servers:
        reply = ask(server, domain, "SOA", timeout=timeout)
        soa = reply.soa() if reply.answered and reply.aa else None
        if soa is not None:
            return soa.name
    return domain


def system_resolvers() -> list[Server]:
    """The recursive resolvers the system uses (/etc/resolv.conf); [] when none are configured."""
    try:
        res = dns.resolver.Resolver()
    except (dns.resolver.NoResolverConfiguration, OSError):
        return []
    return [Server(str(ns), DNS_PORT) for ns in res.nameservers]


# ------------------------------------------------------------------------------------------ waiting


def backoff(first: float = 1.0, factor: float = 2.0, cap: float = 30.0) -> Iterator[float]:
    """1, 2, 4, 8, ... seconds, capped."""
    delay = first
    while True:
        yield min(delay, cap)
        delay *= factor


@dataclass(frozen=True)
class WaitProgress:
    attempt: int
    present: int  # (expectation, server) pairs present
    total: int
    next_delay: float
    remaining: float
    records: list[RecordResult]


# ------------------------------------------------------------------------------------------ service


def authoritative_servers(
    domain: str,
    nameservers: list[Server] | None,
    parent: list[Server] | None,
    timeout: float,
) -> tuple[list[Server], Delegation | None]:
    """The servers to check: the given ones (names resolved) or those found by following the delegation."""
    if nameservers:
        servers = [addr for s in nameservers for addr in to_addresses(s)]
        return list(dict.fromkeys(servers)), None
    delegation = find_authoritative(domain, start_at=parent or None, timeout=timeout)
    if not delegation.servers:
        raise OperationFailed(f"found no authoritative name servers for {domain}")
    return delegation.servers, delegation


def verify_domain(
    domain: str,
    expectations: list[Expected],
    *,
    nameservers: list[Server] | None = None,
    parent: list[Server] | None = None,
    resolvers: list[Server] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    wait: float = 0.0,
    on_wait: Callable[[WaitProgress], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    diagnose: bool = True,
) -> VerifyReport:
    """Verify the records on every authoritative server, polling with backoff for up to `wait` seconds.

    `resolvers=None` means the system's resolvers; `[]` skips the propagation check.
    """
    from migrate_cli.dns.diagnose import diagnose as run_diagnosis  # diagnose imports this module

    if not expectations:
        raise OperationFailed("nothing to verify: give at least one --txt or --cname record")
    start = time.monotonic()
    servers, delegation = authoritative_servers(domain, nameservers, parent, timeout)
    deadline = start + max(wait, 0.0)
    delays = backoff()
    attempt = 0
    while True:
        attempt += 1
        per_record = check_servers(expectations, servers, timeout=timeout)
        records = [RecordResult(e, rs) for e, rs in zip(expectations, per_record, strict=True)]
        remaining = deadline - time.monotonic()
        if all(r.ok for r in records) or remaining <= 0:
            break
        delay = min(next(delays), remaining)
        if on_wait is not None:
            present = sum(r.present_count for r in records)
            total = sum(len(r.authoritative) for r in records)
            on_wait(WaitProgress(attempt, present, total, delay, remaining, records))
        sleep(delay)
    resolver_servers = system_resolvers() if resolvers is None else resolvers
    if resolver_servers:
        per_record = check_servers(expectations, resolver_servers, recursive=True, timeout=timeout)
        for record, results in zip(records, per_record, strict=True):
            record.resolvers = results
    zone = delegation.zone if delegation else zone_apex(domain, servers, timeout)
    serials = zone_serials(zone, servers, timeout)
    report = VerifyReport(
        domain=domain,
        zone=zone,
        servers=servers,
        records=records,
        delegation=delegation,
        serials=serials,
        resolvers=resolver_servers,
        attempts=attempt,
    )
    if diagnose:
        report.findings = run_diagnosis(report, timeout=timeout)
    report.elapsed = time.monotonic() - start
    return report
