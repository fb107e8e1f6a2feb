"""One DNS question to one server, over the wire (UDP with EDNS, TCP when truncated), as plain data."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset

from migrate_cli.dns.servers import Server

EDNS_PAYLOAD = 1232
DEFAULT_TIMEOUT = 2.0


@dataclass(frozen=True)
class RR:
    """One record of a reply: absolute lower-case owner, type name, TTL, value (TXT strings joined)."""

    name: str
    rtype: str
    ttl: int
    value: str


@dataclass
class Reply:
    """What one server said; `rcode` is None when it did not answer (`error` says why)."""

    server: Server
    qname: str
    qtype: str
    rcode: str | None = None
    error: str | None = None
    aa: bool = False
    ra: bool = False
    answer: list[RR] = field(default_factory=list)
    authority: list[RR] = field(default_factory=list)
    additional: list[RR] = field(default_factory=list)
    elapsed_ms: int = 0

    @property
    def answered(self) -> bool:
        return self.rcode is not None

    def records(self, section: list[RR], rtype: str, name: str | None = None) -> list[RR]:
        return [rr for rr in section if rr.rtype == rtype and (name is None or rr.name == name)]

    def soa(self) -> RR | None:
        found = self.records(self.authority, "SOA") or self.records(self.answer, "SOA")
        return found[0] if found else None

    def negative_ttl(self) -> int | None:
        """How long a resolver may cache this negative answer: min(SOA TTL, SOA minimum) (RFC 2308)."""
        soa = self.soa()
        if soa is None:
            return None
        return min(soa.ttl, int(soa.value.split()[6]))

    def is_referral(self) -> bool:
        return self.rcode == "NOERROR" and not self.aa and not self.answer and bool(self.records(self.authority, "NS"))


def _value(rdata: object, rdtype: int) -> str:
    if rdtype == dns.rdatatype.TXT:
        return b"".join(rdata.strings).decode("utf-8", "backslashreplace")  # type: ignore[attr-defined]
    text = rdata.to_text()  # type: ignore[attr-defined]
    return text.lower() if rdtype in (dns.rdatatype.CNAME, dns.rdatatype.NS, dns.rdatatype.SOA) else text


def _section(rrsets: list[dns.rrset.RRset]) -> list[RR]:
    out: list[RR] = []
    for rrset in rrsets:
        rtype = dns.rdatatype.to_text(rrset.rdtype)
        owner = rrset.name.to_text().lower()
        out.extend(RR(owner, rtype, int(rrset.ttl), _value(rd, rrset.rdtype)) for rd in rrset)
    return out


def ask(
    server: Server,
    qname: str,
    qtype: str,
    *,
    recursive: bool = False,
    checking_disabled: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> Reply:
    """Ask `server` one question. Authoritative checks send RD=0; resolver checks send RD=1.

    Never raises for network trouble: a timeout or socket error becomes `Reply.error`.
    """
    query = dns.message.make_query(qname, qtype, use_edns=0, payload=EDNS_PAYLOAD)
    if not recursive:
        query.flags &= ~dns.flags.RD
    if checking_disabled:
        query.flags |= dns.flags.CD
    reply = Reply(server, qname.lower(), qtype.upper())
    start = time.monotonic()
    try:
        response, _ = dns.query.udp_with_fallback(query, server.host, port=server.port, timeout=timeout)
    except dns.exception.Timeout:
        reply.error = "timeout"
    except OSError as e:
        reply.error = f"network error: {e.strerror or e}"
    except dns.exception.DNSException as e:
        reply.error = f"bad reply: {e}"
    else:
        reply.rcode = dns.rcode.to_text(response.rcode())
        reply.aa = bool(response.flags & dns.flags.AA)
        reply.ra = bool(response.flags & dns.flags.RA)
        reply.answer = _section(response.answer)
        reply.authority = _section(response.authority)
        reply.additional = _section(response.additional)
    reply.elapsed_ms = int((time.monotonic() - start) * 1000)
    return reply
