"""DNS peers for the lab and the tests, beside the authoritative servers of `migrate_cli.lab.dns_server`.

- `LabResolver`: stands in for a recursive resolver. It forwards to given authoritative servers (RD=0),
  caches answers for their TTL and negative answers for the SOA negative TTL (RFC 2308), and counts TTLs
  down, so "NXDOMAIN cached until ..." can be seen on one machine. With `validation_failure=True` it
  answers SERVFAIL unless the query has the CD bit, which is what a validating resolver does for a zone
  whose DNSSEC chain is broken (it does no DNSSEC itself).
- `start_on_shared_port`: several authoritative servers on different loopback addresses and ONE port, as
  a real delegation looks (glue carries addresses, never ports).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset

from migrate_cli.dns.servers import Server
from migrate_cli.lab.dns_server import AuthoritativeServer, Zone

UDP_LIMIT = 1232


@dataclass
class _Cached:
    expires: float
    rcode: int
    answer: list[dns.rrset.RRset]
    authority: list[dns.rrset.RRset]


class LabResolver(AuthoritativeServer):
    """A caching forwarder on UDP+TCP (reuses AuthoritativeServer's sockets; answers from its cache)."""

    def __init__(
        self,
        upstreams: list[Server],
        *,
        name: str = "resolver",
        address: str = "127.0.0.1",
        port: int = 0,
        validation_failure: bool = False,
        timeout: float = 1.0,
    ) -> None:
        super().__init__(Zone("resolver.invalid."), name=name, address=address, port=port)
        self.upstreams = list(upstreams)
        self.validation_failure = validation_failure
        self.timeout = timeout
        self.forwarded = 0
        self._cache: dict[tuple[str, int], _Cached] = {}
        self._cache_lock = threading.Lock()

    def flush(self) -> None:
        with self._cache_lock:
            self._cache.clear()

    def handle(self, data: bytes, *, tcp: bool) -> bytes | None:
        """Answer one query from the cache or the upstreams (SERVFAIL when none answers)."""
        try:
            request = dns.message.from_wire(data)
        except dns.exception.DNSException:
            return None
        if request.flags & dns.flags.QR or len(request.question) != 1:
            return None
        with self._lock:
            self.queries += 1
        response = dns.message.make_response(request)
        response.flags |= dns.flags.RA
        response.flags &= ~dns.flags.AA
        if self.validation_failure and not request.flags & dns.flags.CD:
            response.set_rcode(dns.rcode.SERVFAIL)
            return response.to_wire()
        question = request.question[0]
        entry = self._lookup(question.name.to_text().lower(), question.rdtype)
        if entry is None:
            response.set_rcode(dns.rcode.SERVFAIL)
            return response.to_wire()
        remaining = max(0, int(entry.expires - time.monotonic()))
        response.set_rcode(entry.rcode)
        for section, rrsets in ((response.answer, entry.answer), (response.authority, entry.authority)):
            for rrset in rrsets:
                copy = rrset.copy()
                copy.ttl = min(copy.ttl, remaining)
                section.append(copy)
        wire = response.to_wire()
        if not tcp and len(wire) > UDP_LIMIT:
            response.answer, response.authority = [], []
            response.flags |= dns.flags.TC
            wire = response.to_wire()
        return wire

    def _lookup(self, qname: str, rdtype: int) -> _Cached | None:
        now = time.monotonic()
        with self._cache_lock:
            entry = self._cache.get((qname, rdtype))
        if entry is not None and entry.expires > now:
            return entry
        for upstream in self.upstreams:
            query = dns.message.make_query(qname, rdtype, use_edns=0, payload=UDP_LIMIT)
            query.flags &= ~dns.flags.RD
            try:
                reply, _ = dns.query.udp_with_fallback(query, upstream.host, port=upstream.port, timeout=self.timeout)
            except (dns.exception.DNSException, OSError):
                continue
            if reply.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                continue
            self.forwarded += 1
            entry = _Cached(now + _cache_ttl(reply), reply.rcode(), list(reply.answer), list(reply.authority))
            with self._cache_lock:
                self._cache[(qname, rdtype)] = entry
            return entry
        return None


def _cache_ttl(reply: dns.message.Message) -> int:
    """Positive answers: the smallest answer TTL. Negative ones: min(SOA TTL, SOA minimum) (RFC 2308)."""
    if reply.answer:
        return min(rrset.ttl for rrset in reply.answer)
    for rrset in reply.authority:
        if rrset.rdtype == dns.rdatatype.SOA:
            return min(rrset.ttl, rrset[0].minimum)
    return 0


def start_on_shared_port(
    specs: list[tuple[Zone, str, str]], *, port: int = 0, attempts: int = 30
) -> tuple[int, list[AuthoritativeServer]]:
    """Start one server per (zone, name, address), all on one port that is free on every address.

    With `port=0` a free port is found (retrying when another process takes it on one of the addresses).
    Addresses like 127.0.0.2 work on Linux without setup (all of 127/8 is loopback).
    """
    last: OSError | None = None
    for _ in range(attempts if port == 0 else 1):
        started: list[AuthoritativeServer] = []
        try:
            first_zone, first_name, first_addr = specs[0]
            first = AuthoritativeServer(first_zone, name=first_name, address=first_addr, port=port)
            chosen = first.start()
            started.append(first)
            for zone, name, address in specs[1:]:
                server = AuthoritativeServer(zone, name=name, address=address, port=chosen)
                server.start()
                started.append(server)
            return chosen, started
        except OSError as e:
            last = e
            for server in started:
                server.stop()
    raise OSError(f"no port free on all of {', '.join(a for _, _, a in specs)}: {last}")
