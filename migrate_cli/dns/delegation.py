"""Find a zone's authoritative name servers by following the delegation down from its parent.

Real-world use starts from the system resolver's view of the parent zone's NS set (port 53). Tests and
the lab start from given parent servers (`start_at`); servers found on the way are then queried on the
port of those parent servers, since every server in one DNS tree listens on the same port.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import dns.exception
import dns.name
import dns.resolver

from migrate_cli.core.errors import OperationFailed
from migrate_cli.dns.query import DEFAULT_TIMEOUT, Reply, ask
from migrate_cli.dns.servers import DNS_PORT, Server

MAX_HOPS = 12


@dataclass
class Delegation:
    """The parent's view of a zone (NS names + glue) and each authoritative server's own NS set."""

    zone: str
    parent_zone: str | None
    parent_servers: list[Server]
    parent_ns: list[str]
    servers: list[Server]
    child_ns: dict[str, list[str]] = field(default_factory=dict)  # server label -> NS set it serves
    lame: dict[str, str] = field(default_factory=dict)  # server label (or NS name) -> why
    listed_by: dict[str, str] = field(default_factory=dict)  # NS name -> "parent", "zone" or "both"

    @property
    def zone_ns(self) -> list[str]:
        """The NS set the zone itself serves (union over its servers)."""
        return sorted({ns for names in self.child_ns.values() for ns in names})

    def to_dict(self) -> dict[str, object]:
        return {
            "zone": self.zone,
            "parent_zone": self.parent_zone,
            "parent_servers": [s.to_dict() for s in self.parent_servers],
            "parent_ns": self.parent_ns,
            "zone_ns": self.zone_ns,
            "child_ns": self.child_ns,
            "servers": [s.to_dict() for s in self.servers],
            "lame": self.lame,
            "listed_by": self.listed_by,
        }


def _is_below(name: str, ancestor: str) -> bool:
    return dns.name.from_text(name).is_subdomain(dns.name.from_text(ancestor))


def _first_answer(servers: list[Server], qname: str, qtype: str, timeout: float) -> tuple[Reply, list[Reply]]:
    """Ask the servers in turn until one answers usefully; returns (that reply, the failures before it)."""
    failures: list[Reply] = []
    for server in servers:
        reply = ask(server, qname, qtype, timeout=timeout)
        if reply.answered and reply.rcode not in ("SERVFAIL", "REFUSED"):
            return reply, failures
        failures.append(reply)
    tried = "; ".join(f"{r.server.label}: {r.error or r.rcode}" for r in failures) or "no servers"
    raise OperationFailed(f"no name server answered for {qname} ({tried})")


def _system_resolver(timeout: float) -> dns.resolver.Resolver:
    res = dns.resolver.Resolver()
    res.lifetime = max(timeout * 2, 3.0)
    return res


def _resolve_addresses(name: str, resolver: dns.resolver.Resolver | None, timeout: float) -> list[str]:
    """IPv4 (else IPv6) addresses of a name server name through the system resolver; [] when it has none."""
    res = resolver or _system_resolver(timeout)
    for rtype in ("A", "AAAA"):
        try:
            return [rd.to_text() for rd in res.resolve(name, rtype)]
        except dns.exception.DNSException:
            continue
    return []


def _addresses_for(
    names: Iterable[str], glue: list, port: int, resolver: dns.resolver.Resolver | None, timeout: float
) -> tuple[list[Server], list[str]]:
    """Servers for NS names (glue first, else the system resolver), and the names with no address."""
    servers: list[Server] = []
    missing: list[str] = []
    for ns in names:
        addrs = [rr.value for rr in glue if rr.name == ns and rr.rtype == "A"]
        addrs = addrs or [rr.value for rr in glue if rr.name == ns and rr.rtype == "AAAA"]
        addrs = addrs or _resolve_addresses(ns, resolver, timeout)
        if not addrs:
            missing.append(ns)
        servers.extend(Server(addr, port, ns) for addr in addrs)
    return servers, missing


def _parent_servers_from_system(
    domain: str, timeout: float, resolver: dns.resolver.Resolver | None = None, port: int = DNS_PORT
) -> tuple[str, list[Server]]:
    """The parent zone of `domain` and its name servers, as the system resolver (or `resolver`) sees them."""
    res = resolver or _system_resolver(timeout)
    parent = dns.name.from_text(domain).parent()
    try:
        parent_zone = dns.resolver.zone_for_name(parent, resolver=res).to_text().lower()
        names = sorted(rd.target.to_text().lower() for rd in res.resolve(parent_zone, "NS"))
    except dns.exception.DNSException as e:
        raise OperationFailed(
            f"cannot find the parent zone of {domain} through the system resolver ({e}); "
            "give the zone's servers with --nameserver"
        ) from e
    servers, _ = _addresses_for(names, [], port, res, timeout)
    if not servers:
        raise OperationFailed(f"the name servers of {parent_zone} have no addresses; give --nameserver")
    return parent_zone, servers


def find_authoritative(
    domain: str,
    *,
    start_at: list[Server] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    resolver: dns.resolver.Resolver | None = None,
    port: int = DNS_PORT,
) -> Delegation:
    """Follow referrals from the parent down to `domain`'s zone, then ask each server for its own NS set.

    `start_at`: servers of the parent zone (or of any ancestor, e.g. a root) to start from; their port is
    used for every server found below them. Without it, the system resolver (or `resolver`) finds the
    parent's servers, which are then asked on `port` (53 in the real world).
    """
    if start_at:
        servers, parent_zone, port = list(start_at), None, start_at[0].port
    else:
        parent_zone, servers = _parent_servers_from_system(domain, timeout, resolver, port)
    parent_servers, parent_ns, glue_missing = list(servers), [], []
    zone: str | None = None
    cut_depth = -1
    for _ in range(MAX_HOPS):
        try:
            reply, _ = _first_answer(servers, domain, "NS", timeout)
        except OperationFailed:
            if zone is None:
                raise
            break  # every server the parent named failed: report them as lame below
        if reply.is_referral():
            ns_rrs = reply.records(reply.authority, "NS")
            cut = ns_rrs[0].name
            depth = len(dns.name.from_text(cut))
            if not _is_below(domain, cut) or depth <= cut_depth:
                raise OperationFailed(f"{reply.server.label} sent a referral to {cut}, which does not lead to {domain}")
            cut_depth = depth
            parent_zone = zone or parent_zone
            parent_servers, parent_ns = servers, sorted({rr.value for rr in ns_rrs})
            servers, glue_missing = _addresses_for(parent_ns, reply.additional, port, resolver, timeout)
            zone = cut
            if not servers:
                raise OperationFailed(f"the parent lists {', '.join(parent_ns)} for {cut} but none has an address")
            continue
        if reply.aa:
            soa = reply.soa()
            own_ns = reply.records(reply.answer, "NS", domain)
            zone = domain if own_ns else (soa.name if soa else zone or domain)
            break
        raise OperationFailed(f"{reply.server.label} answered {reply.rcode} without authority for {domain}")
    else:
        raise OperationFailed(f"more than {MAX_HOPS} referrals while looking for {domain}")
    assert zone is not None
    if not parent_ns:  # the start servers were the zone's own: no parent view to compare with
        parent_servers, parent_zone = [], None
    elif parent_zone is None:
        parent_zone = _zone_served_by(parent_servers, dns.name.from_text(zone).parent().to_text(), timeout)
    return _inspect_zone(zone, parent_zone, parent_servers, parent_ns, servers, glue_missing, port, resolver, timeout)


def _zone_served_by(servers: list[Server], name: str, timeout: float) -> str | None:
    """The zone the servers are authoritative for at `name` (from the SOA they return), if they say."""
    for server in servers:
        reply = ask(server, name, "SOA", timeout=timeout)
        soa = reply.soa() if reply.answered and reply.aa else None
        if soa is not None:
            return soa.name
    return None


def _inspect_zone(
    zone: str,
    parent_zone: str | None,
    parent_servers: list[Server],
    parent_ns: list[str],
    servers: list[Server],
    glue_missing: list[str],
    port: int,
    resolver: dns.resolver.Resolver | None,
    timeout: float,
) -> Delegation:
    """Ask every server for the zone's NS set; note the lame ones; add servers only the zone lists."""
    delegation = Delegation(zone, parent_zone, parent_servers, parent_ns, list(servers))
    for ns in glue_missing:
        delegation.lame[ns] = "has no address (no glue, and the name does not resolve)"
    replies = _ask_all(servers, zone, "NS", timeout)
    extra_glue = []
    for reply in replies:
        label = reply.server.label
        if not reply.answered:
            delegation.lame[label] = f"does not answer ({reply.error or 'no reply'})"
        elif reply.rcode != "NOERROR" or not reply.aa:
            why = reply.rcode if reply.rcode != "NOERROR" else "answer without the AA flag"
            delegation.lame[label] = f"is not authoritative for {zone.rstrip('.')} ({why})"
        else:
            delegation.child_ns[label] = sorted({rr.value for rr in reply.records(reply.answer, "NS", zone)})
            extra_glue.extend(reply.additional)
    zone_ns = delegation.zone_ns
    for ns in sorted(set(parent_ns) | set(zone_ns)):
        in_parent, in_zone = ns in parent_ns, ns in zone_ns
        delegation.listed_by[ns] = "both" if in_parent and in_zone else "parent" if in_parent else "zone"
    only_zone = [ns for ns in zone_ns if ns not in parent_ns]
    if only_zone and parent_ns:
        more, missing = _addresses_for(only_zone, extra_glue, port, resolver, timeout)
        delegation.servers.extend(more)
        for ns in missing:
            delegation.lame[ns] = "has no address (the name does not resolve)"
    elif not parent_ns:
        delegation.listed_by = {ns: "zone" for ns in zone_ns}
    return delegation


def _ask_all(servers: list[Server], qname: str, qtype: str, timeout: float) -> list[Reply]:
    if not servers:
        return []
    with ThreadPoolExecutor(max_workers=min(16, len(servers))) as pool:
        return list(pool.map(lambda s: ask(s, qname, qtype, timeout=timeout), servers))
