"""Authoritative DNS for the lab: a live-updatable zone served over UDP and TCP with dnslib.

`Zone` holds the data and answers questions (pure, no sockets); `AuthoritativeServer` puts a zone on a
port and can inject faults (stale data, SERVFAIL, REFUSED, silence) so the CLI's DNS checks can be
exercised against the failure modes they must detect.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import selectors
import socket
import struct
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from dnslib import AAAA, CAA, CNAME, MX, NS, QTYPE, RCODE, RR, SOA, TXT, A, DNSHeader, DNSRecord
from dnslib import EDNS0 as _EDNS0
from dnslib.dns import RD

from migrate_cli.core.errors import ConfigError

SUPPORTED_TYPES = frozenset({"A", "AAAA", "TXT", "CNAME", "NS", "MX", "SOA", "CAA"})
DEFAULT_INFRA_TTL = 3600
MAX_CNAME_HOPS = 8
UDP_PLAIN_LIMIT = 512  # RFC 1035 limit without EDNS
UDP_EDNS_LIMIT = 1232  # what we advertise and the most we send over UDP (DNS flag day 2020)
_OPT = 41
_CLASS_IN = 1
_CLASS_CH = 3
_BADVERS = 16


# --------------------------------------------------------------------------------------------- names


def absolute_name(name: str, origin: str) -> str:
    """`name` made absolute (lower case, trailing dot): "@" is the origin, no trailing dot means relative."""
    name = name.strip()
    if name in ("", "@"):
        return origin
    if name.endswith("."):
        result = name.lower()
    elif origin == ".":
        result = f"{name}.".lower()
    else:
        result = f"{name}.{origin}".lower()
    _check_name(result)
    return result


def _check_name(name: str) -> None:
    if name == ".":
        return
    labels = name[:-1].split(".")
    if len(name) > 254 or any(not 0 < len(label.encode()) <= 63 for label in labels):
        raise ValueError(f"invalid DNS name {name!r}")


def in_zone(name: str, origin: str) -> bool:
    """True when absolute `name` is `origin` or below it."""
    return origin == "." or name == origin or name.endswith("." + origin)


def txt_chunks(value: str) -> list[bytes]:
    """The logical TXT string as the 255-byte character-strings it takes on the wire."""
    data = value.encode()
    return [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]


# ------------------------------------------------------------------------------------------ records


@dataclass(frozen=True)
class Record:
    """One record as written by a user (relative names allowed)."""

    name: str  # absolute or relative to origin ("www", "@", "_acme.lab.example.")
    rtype: str  # A, AAAA, TXT, CNAME, NS, MX, SOA, CAA
    value: str  # presentation format; TXT value is the full logical string (no quotes, any length)
    ttl: int = 300


@dataclass(frozen=True)
class ResourceRecord:
    """One record in an answer: absolute owner name, normalised value."""

    name: str
    rtype: str
    ttl: int
    value: str


@dataclass(frozen=True)
class RRset:
    name: str
    rtype: str
    ttl: int
    values: tuple[str, ...]

    def records(self, ttl: int | None = None) -> list[ResourceRecord]:
        t = self.ttl if ttl is None else ttl
        return [ResourceRecord(self.name, self.rtype, t, v) for v in self.values]


@dataclass(frozen=True)
class Answer:
    """The result of a lookup; `rcode` is a name: NOERROR, NXDOMAIN, REFUSED, SERVFAIL."""

    rcode: str
    answer: tuple[ResourceRecord, ...] = ()
    authority: tuple[ResourceRecord, ...] = ()
    additional: tuple[ResourceRecord, ...] = ()
    authoritative: bool = True


def _u32(text: str) -> int:
    n = int(text)
    if not 0 <= n <= 0xFFFFFFFF:
        raise ValueError(f"{text} is out of range")
    return n


def normalize_value(rtype: str, value: str, origin: str) -> str:
    """Validate a value and return its canonical form (names made absolute); raises ValueError."""
    value = str(value)
    if rtype == "TXT":
        return value
    v = value.strip()
    if rtype == "A":
        return str(ipaddress.IPv4Address(v))
    if rtype == "AAAA":
        return str(ipaddress.IPv6Address(v))
    if rtype in ("CNAME", "NS"):
        return absolute_name(v, origin)
    if rtype == "MX":
        pref, exchange = v.split()
        if not 0 <= int(pref) <= 65535:
            raise ValueError(f"MX preference {pref} out of range")
        return f"{int(pref)} {absolute_name(exchange, origin)}"
    if rtype == "SOA":
        mname, rname, *times = v.split()
        if len(times) != 5:
            raise ValueError("SOA needs mname rname serial refresh retry expire minimum")
        nums = " ".join(str(_u32(t)) for t in times)
        return f"{absolute_name(mname, origin)} {absolute_name(rname, origin)} {nums}"
    if rtype == "CAA":
        m = re.fullmatch(r'(\d+)\s+([A-Za-z0-9]+)\s+"?(.*?)"?', v)
        if not m or int(m.group(1)) > 255:
            raise ValueError('CAA needs: flags tag "value"')
        return f'{int(m.group(1))} {m.group(2).lower()} "{m.group(3)}"'
    raise ValueError(f"unsupported record type {rtype!r}")


def to_rdata(rtype: str, value: str) -> RD:
    """dnslib RDATA for a normalised value."""
    if rtype == "A":
        return A(value)
    if rtype == "AAAA":
        return AAAA(value)
    if rtype == "CNAME":
        return CNAME(value)
    if rtype == "NS":
        return NS(value)
    if rtype == "MX":
        pref, exchange = value.split()
        return MX(exchange, int(pref))
    if rtype == "SOA":
        mname, rname, *times = value.split()
        return SOA(mname, rname, [int(t) for t in times])
    if rtype == "TXT":
        return TXT(txt_chunks(value))
    if rtype == "CAA":
        m = re.fullmatch(r'(\d+) (\S+) "(.*)"', value)
        assert m is not None
        return CAA(int(m.group(1)), m.group(2), m.group(3))
    raise ValueError(f"unsupported record type {rtype!r}")


# --------------------------------------------------------------------------------------------- zone


@dataclass(frozen=True)
class _ZoneData:
    """An immutable view of zone content: owner name -> type -> RRset, plus every name that exists."""

    rrsets: Mapping[str, Mapping[str, RRset]]
    existing: frozenset[str] = field(default=frozenset())

    @classmethod
    def build(cls, rrsets: dict[str, dict[str, RRset]], origin: str) -> _ZoneData:
        existing: set[str] = set()
        for name in rrsets:
            n = name
            while n not in existing and in_zone(n, origin):
                existing.add(n)
                if n == origin:
                    break
                n = n.split(".", 1)[1] or "."
        return cls(rrsets, frozenset(existing))


class Zone:
    """Thread-safe, live-updatable zone content.

    Writers build a new immutable `_ZoneData` and swap it in under a lock; readers take one reference via
    `_content()` (the single place records come from, so a different source can replace it later) and see
    a consistent zone without locking.
    """

    def __init__(
        self,
        origin: str,
        records: Iterable[Record] = (),
        *,
        ns: Iterable[str] = ("ns1", "ns2"),
        soa_minimum: int = 300,
        serial: int = 1,
    ) -> None:
        self.origin = absolute_name(origin, ".")
        self._lock = threading.RLock()
        self._frozen = False
        grouped: dict[tuple[str, str], tuple[int, list[str]]] = {}
        for rec in records:
            rtype = rec.rtype.upper()
            key = (self._owner(rec.name), rtype)
            value = self._value(rtype, rec.value)
            ttl, values = grouped.get(key, (rec.ttl, []))
            if value not in values:
                values.append(value)
            grouped[key] = (min(ttl, rec.ttl), values)
        rrsets: dict[str, dict[str, RRset]] = {}
        for (name, rtype), (ttl, values) in grouped.items():
            rrsets.setdefault(name, {})[rtype] = RRset(name, rtype, _ttl(ttl), tuple(values))
        apex = rrsets.setdefault(self.origin, {})
        ns_names = [absolute_name(n, self.origin) for n in ns]
        if "NS" not in apex:
            if not ns_names:
                raise ValueError("a zone needs at least one NS name")
            apex["NS"] = RRset(self.origin, "NS", DEFAULT_INFRA_TTL, tuple(ns_names))
        if "SOA" not in apex:
            first_ns = apex["NS"].values[0]
            soa = f"{first_ns} hostmaster.{self.origin} {_u32(str(serial))} 3600 600 86400 {soa_minimum}"
            apex["SOA"] = RRset(self.origin, "SOA", DEFAULT_INFRA_TTL, (normalize_value("SOA", soa, "."),))
        elif len(apex["SOA"].values) != 1:
            raise ValueError("a zone has exactly one SOA record")
        for target in apex["NS"].values:  # glue (127.0.0.1) for in-zone name servers without addresses
            if in_zone(target, self.origin):
                node = rrsets.setdefault(target, {})
                if "A" not in node and "AAAA" not in node and "CNAME" not in node:
                    node["A"] = RRset(target, "A", DEFAULT_INFRA_TTL, ("127.0.0.1",))
        for name, node in rrsets.items():
            _check_node(name, node, self.origin)
        self._data = _ZoneData.build(rrsets, self.origin)

    # -- construction helpers

    @classmethod
    def from_records(cls, origin: str, records: list[dict], **kw) -> Zone:
        """A zone from dicts with name/type/value/ttl (as read from YAML); errors become ConfigError."""
        parsed = []
        for i, item in enumerate(records):
            try:
                parsed.append(
                    Record(
                        name=str(item["name"]),
                        rtype=str(item.get("type", item.get("rtype"))).upper(),
                        value=str(item["value"]),
                        ttl=int(item.get("ttl", 300)),
                    )
                )
            except (KeyError, TypeError, ValueError) as e:
                raise ConfigError(f"records[{i}]: needs name, type, value (and optional ttl): {e}") from e
        try:
            return cls(origin, parsed, **kw)
        except ValueError as e:
            raise ConfigError(f"zone {origin}: {e}") from e

    def _owner(self, name: str) -> str:
        owner = absolute_name(name, self.origin)
        if not in_zone(owner, self.origin):
            raise ValueError(f"{owner} is outside zone {self.origin}")
        return owner

    def _value(self, rtype: str, value: str) -> str:
        if rtype not in SUPPORTED_TYPES:
            raise ValueError(f"unsupported record type {rtype!r}")
        try:
            return normalize_value(rtype, value, self.origin)
        except ValueError as e:
            raise ValueError(f"bad {rtype} value {value!r}: {e}") from e

    # -- content

    def _content(self) -> _ZoneData:
        """The zone content right now: the one place lookups read records from."""
        return self._data

    @property
    def serial(self) -> int:
        return int(self._soa().values[0].split()[2])

    def _soa(self) -> RRset:
        return self._content().rrsets[self.origin]["SOA"]

    def rrset(self, name: str, rtype: str) -> RRset | None:
        """The RRset stored at `name`/`rtype`, or None."""
        return self._content().rrsets.get(absolute_name(name, self.origin), {}).get(rtype.upper())

    def set_records(self, name: str, rtype: str, values: list[str], ttl: int = 300) -> None:
        """Replace the RRset at name/type (empty `values` deletes it) and bump the serial."""
        rtype = rtype.upper()
        owner = self._owner(name)
        normalized = tuple(dict.fromkeys(self._value(rtype, v) for v in values))
        if not normalized:
            self.delete_records(name, rtype)
            return
        if rtype == "SOA" and (owner != self.origin or len(normalized) != 1):
            raise ValueError("exactly one SOA, at the zone apex")
        self._update(owner, rtype, RRset(owner, rtype, _ttl(ttl), normalized))

    def delete_records(self, name: str, rtype: str) -> None:
        """Remove the RRset at name/type (no error if absent) and bump the serial."""
        rtype = rtype.upper()
        owner = self._owner(name)
        if owner == self.origin and rtype in ("SOA", "NS"):
            raise ValueError(f"cannot delete the apex {rtype}")
        self._update(owner, rtype, None)

    def _update(self, owner: str, rtype: str, rrset: RRset | None) -> None:
        if self._frozen:
            raise RuntimeError("this zone is a frozen snapshot")
        with self._lock:
            data = self._data
            rrsets = dict(data.rrsets)
            node = dict(rrsets.get(owner, {}))
            old_serial = self.serial
            if rrset is None:
                node.pop(rtype, None)
            else:
                node[rtype] = rrset
            _check_node(owner, node, self.origin)
            if node:
                rrsets[owner] = node
            else:
                rrsets.pop(owner, None)
            soa = rrsets[self.origin]["SOA"]
            mname, rname, serial, *times = soa.values[0].split()
            new_serial = int(serial) if rtype == "SOA" and int(serial) > old_serial else old_serial + 1
            new_soa = " ".join([mname, rname, str(new_serial % 2**32), *times])
            apex = dict(rrsets[self.origin])
            apex["SOA"] = RRset(self.origin, "SOA", soa.ttl, (new_soa,))
            rrsets[self.origin] = apex
            self._data = _ZoneData.build(rrsets, self.origin)

    def snapshot(self) -> Zone:
        """A frozen copy of the content as it is now (writes to it raise RuntimeError)."""
        copy = Zone.__new__(Zone)
        copy.origin = self.origin
        copy._lock = threading.RLock()
        copy._data = self._content()  # immutable, safe to share
        copy._frozen = True
        return copy

    def records(self) -> list[ResourceRecord]:
        """Every record in the zone, sorted by name and type."""
        data = self._content()
        return [
            rr
            for name in sorted(data.rrsets)
            for t in sorted(data.rrsets[name])
            for rr in data.rrsets[name][t].records()
        ]

    # -- lookup

    def lookup(self, qname: str, qtype: str) -> Answer:
        """Answer a question from the zone content (pure; no I/O)."""
        return _resolve(self._content(), self.origin, absolute_name(qname, "."), qtype.upper())


def _ttl(ttl: int) -> int:
    ttl = int(ttl)
    if not 0 <= ttl <= 0x7FFFFFFF:
        raise ValueError(f"TTL {ttl} out of range")
    return ttl


def _check_node(name: str, node: Mapping[str, RRset], origin: str) -> None:
    if "CNAME" in node:
        if len(node) > 1:
            raise ValueError(f"{name}: CNAME cannot coexist with other data ({', '.join(sorted(node))})")
        if len(node["CNAME"].values) > 1:
            raise ValueError(f"{name}: only one CNAME allowed")
        if name == origin:
            raise ValueError("no CNAME at the zone apex")


def _delegation(data: _ZoneData, origin: str, name: str) -> RRset | None:
    """The NS RRset of the closest zone cut at or above `name` (below the apex), if any."""
    labels = name[: -len(origin)].rstrip(".").split(".") if name != origin else []
    for i in range(len(labels) - 1, -1, -1):
        cut = ".".join(labels[i:]) + "." + origin if origin != "." else ".".join(labels[i:]) + "."
        ns = data.rrsets.get(cut, {}).get("NS")
        if ns is not None:
            return ns
    return None


def _addresses(data: _ZoneData, origin: str, targets: Iterable[str]) -> tuple[ResourceRecord, ...]:
    out: list[ResourceRecord] = []
    for target in targets:
        if in_zone(target, origin):
            node = data.rrsets.get(target, {})
            for t in ("A", "AAAA"):
                if t in node:
                    out.extend(node[t].records())
    return tuple(out)


def _negative_soa(data: _ZoneData, origin: str) -> tuple[ResourceRecord, ...]:
    soa = data.rrsets[origin]["SOA"]
    minimum = int(soa.values[0].split()[6])
    return tuple(soa.records(ttl=min(soa.ttl, minimum)))


def _targets(rrset: RRset) -> list[str]:
    if rrset.rtype == "NS":
        return list(rrset.values)
    if rrset.rtype == "MX":
        return [v.split()[1] for v in rrset.values]
    return []


def _resolve(data: _ZoneData, origin: str, qname: str, qtype: str) -> Answer:
    if not in_zone(qname, origin):
        return Answer("REFUSED", authoritative=False)
    answer: list[ResourceRecord] = []
    name = qname
    seen: set[str] = set()
    for _ in range(MAX_CNAME_HOPS + 1):
        cut = _delegation(data, origin, name)
        if cut is not None and not (cut.name == name and qtype == "DS"):
            if answer:  # a CNAME led into delegated space: return what we have
                return Answer("NOERROR", tuple(answer))
            return Answer(
                "NOERROR",
                authority=tuple(cut.records()),
                additional=_addresses(data, origin, cut.values),
                authoritative=False,
            )
        node = data.rrsets.get(name)
        if not node:
            rcode = "NOERROR" if name in data.existing else "NXDOMAIN"
            return Answer(rcode, tuple(answer), _negative_soa(data, origin))
        if qtype == "ANY":
            sets = [node[t] for t in sorted(node)]
        elif qtype in node:
            sets = [node[qtype]]
        elif "CNAME" in node and qtype != "CNAME":
            cname = node["CNAME"]
            answer.extend(cname.records())
            seen.add(name)
            name = cname.values[0]
            if not in_zone(name, origin) or name in seen:
                return Answer("NOERROR", tuple(answer))
            continue
        else:
            return Answer("NOERROR", tuple(answer), _negative_soa(data, origin))
        additional: list[ResourceRecord] = []
        for rrset in sets:
            answer.extend(rrset.records())
            additional.extend(_addresses(data, origin, _targets(rrset)))
        return Answer("NOERROR", tuple(answer), (), tuple(dict.fromkeys(additional)))
    return Answer("NOERROR", tuple(answer))


# ------------------------------------------------------------------------------------- wire format


def _to_rr(rr: ResourceRecord) -> RR:
    return RR(rr.name, getattr(QTYPE, rr.rtype), ttl=rr.ttl, rdata=to_rdata(rr.rtype, rr.value))


def _opt(request: DNSRecord) -> list[RR]:
    return [rr for rr in request.ar if rr.rtype == _OPT]


def build_reply(request: DNSRecord, answer: Answer, *, max_size: int | None = None) -> DNSRecord:
    """The dnslib reply for `answer`; when `max_size` is given and exceeded, a TC=1 reply without records."""
    reply = _skeleton(request, answer.rcode, aa=answer.authoritative)
    for rr in answer.answer:
        reply.add_answer(_to_rr(rr))
    for rr in answer.authority:
        reply.add_auth(_to_rr(rr))
    for rr in answer.additional:
        reply.add_ar(_to_rr(rr))
    _add_opt(request, reply)
    if max_size is not None and len(reply.pack()) > max_size:
        reply = _skeleton(request, answer.rcode, aa=answer.authoritative)
        reply.header.tc = 1
        _add_opt(request, reply)
    return reply


def _skeleton(request: DNSRecord, rcode: str, *, aa: bool) -> DNSRecord:
    header = DNSHeader(
        id=request.header.id,
        qr=1,
        opcode=request.header.opcode,
        aa=int(aa),
        rd=request.header.rd,
        ra=0,
        rcode=getattr(RCODE, rcode),
    )
    return DNSRecord(header, q=request.q if request.questions else None)


def _add_opt(request: DNSRecord, reply: DNSRecord) -> None:
    if _opt(request):
        reply.add_ar(_EDNS0(udp_len=UDP_EDNS_LIMIT))


def _udp_limit(request: DNSRecord) -> int:
    opts = _opt(request)
    if not opts:
        return UDP_PLAIN_LIMIT
    return max(UDP_PLAIN_LIMIT, min(opts[0].rclass, UDP_EDNS_LIMIT))


class Fault(StrEnum):
    """Failure modes an `AuthoritativeServer` can be switched into."""

    NONE = "none"
    LAG = "lag"  # serve a snapshot frozen when the fault was set
    SERVFAIL = "servfail"
    REFUSED = "refused"
    TIMEOUT = "timeout"  # read the query, never answer


# ------------------------------------------------------------------------------------------ server


class AuthoritativeServer:
    """Serves one `Zone` over UDP and TCP on the same port, with switchable faults."""

    def __init__(self, zone: Zone, name: str = "ns1", address: str = "127.0.0.1", port: int = 0) -> None:
        self.zone = zone
        self.name = name
        self.address = address
        self.port = port
        self.queries = 0
        self._fault = Fault.NONE
        self._stale: Zone | None = None
        self._lock = threading.Lock()
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._conns: set[socket.socket] = set()
        self._running = False

    @property
    def fault(self) -> Fault:
        return self._fault

    def set_fault(self, fault: Fault | str) -> None:
        """Switch fault mode; entering LAG freezes the zone content as it is now until set back to NONE."""
        fault = Fault(fault)
        with self._lock:
            if fault is Fault.LAG and self._stale is None:
                self._stale = self.zone.snapshot()
            elif fault is not Fault.LAG:
                self._stale = None
            self._fault = fault

    def start(self) -> int:
        """Bind UDP and TCP on one port (a free one if port is 0), serve in a thread; returns the port."""
        if self._running:
            return self.port
        self._udp, self._tcp = _bind_pair(self.address, self.port)
        self.port = self._udp.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._running = True
        self._thread = threading.Thread(target=self._serve, name=f"dns-{self.name}:{self.port}", daemon=True)
        self._thread.start()
        return self.port

    def stop(self) -> None:
        """Stop serving and close every socket (idempotent)."""
        if not self._running:
            return
        self._running = False
        assert self._wake_w is not None and self._thread is not None
        self._wake_w.send(b"x")
        self._thread.join(timeout=5)
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for sock in (self._udp, self._tcp, self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()

    def __enter__(self) -> AuthoritativeServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serving

    def _serve(self) -> None:
        assert self._udp and self._tcp and self._wake_r
        with selectors.DefaultSelector() as sel:
            sel.register(self._udp, selectors.EVENT_READ, "udp")
            sel.register(self._tcp, selectors.EVENT_READ, "tcp")
            sel.register(self._wake_r, selectors.EVENT_READ, "wake")
            while self._running:
                for key, _ in sel.select():
                    if key.data == "wake" or not self._running:
                        return
                    if key.data == "udp":
                        self._serve_udp_once()
                    else:
                        self._accept_tcp()

    def _serve_udp_once(self) -> None:
        assert self._udp is not None
        try:
            data, addr = self._udp.recvfrom(65535)
        except OSError:
            return
        reply = self.handle(data, tcp=False)
        if reply is not None:
            with contextlib.suppress(OSError):
                self._udp.sendto(reply, addr)

    def _accept_tcp(self) -> None:
        assert self._tcp is not None
        try:
            conn, _ = self._tcp.accept()
        except OSError:
            return
        with self._lock:
            self._conns.add(conn)
        threading.Thread(target=self._serve_tcp_conn, args=(conn,), daemon=True).start()

    def _serve_tcp_conn(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        try:
            while self._running:
                head = _recv_exact(conn, 2)
                if head is None:
                    return
                data = _recv_exact(conn, struct.unpack("!H", head)[0])
                if data is None:
                    return
                reply = self.handle(data, tcp=True)
                if reply is not None:
                    conn.sendall(struct.pack("!H", len(reply)) + reply)
        except OSError:
            return
        finally:
            with self._lock:
                self._conns.discard(conn)
            conn.close()

    def handle(self, data: bytes, *, tcp: bool) -> bytes | None:
        """Wire reply for one query message, or None to stay silent."""
        try:
            request = DNSRecord.parse(data)
        except Exception:  # dnslib raises assorted errors (DNSError, struct, unicode) on garbage
            return _formerr(data)
        if request.header.qr:
            return None
        with self._lock:
            self.queries += 1
            fault, stale = self._fault, self._stale
        if fault is Fault.TIMEOUT:
            return None
        try:
            return self._reply(request, fault, stale, tcp=tcp)
        except Exception:  # never let one bad question kill the serving thread
            return build_reply(request, Answer("SERVFAIL", authoritative=False)).pack()

    def _reply(self, request: DNSRecord, fault: Fault, stale: Zone | None, *, tcp: bool) -> bytes:
        if request.header.opcode != 0:
            return build_reply(request, Answer("NOTIMP", authoritative=False)).pack()
        if len(request.questions) != 1 or len(_opt(request)) > 1:
            return build_reply(request, Answer("FORMERR", authoritative=False)).pack()
        opts = _opt(request)
        if opts and (opts[0].ttl >> 16) & 0xFF != 0:
            reply = _skeleton(request, "NOERROR", aa=False)
            reply.add_ar(_EDNS0(udp_len=UDP_EDNS_LIMIT, ext_rcode=_BADVERS >> 4))
            return reply.pack()
        if fault in (Fault.SERVFAIL, Fault.REFUSED):
            return build_reply(request, Answer(fault.value.upper(), authoritative=False)).pack()
        answer = self._answer(request, stale if fault is Fault.LAG and stale is not None else self.zone)
        limit = None if tcp else _udp_limit(request)
        return build_reply(request, answer, max_size=limit).pack()

    def _answer(self, request: DNSRecord, zone: Zone) -> Answer:
        q = request.q
        qname = str(q.qname).lower()
        if q.qclass == _CLASS_CH and q.qtype == QTYPE.TXT and qname in ("id.server.", "hostname.bind."):
            return Answer("NOERROR", (ResourceRecord(qname, "TXT", 0, self.name),))
        if q.qclass != _CLASS_IN:
            return Answer("REFUSED", authoritative=False)
        return zone.lookup(qname, QTYPE.get(q.qtype, f"TYPE{q.qtype}"))


def _formerr(data: bytes) -> bytes | None:
    if len(data) < 12:
        return None
    qid, flags = struct.unpack("!HH", data[:4])
    if flags & 0x8000:
        return None
    reply_flags = 0x8000 | (flags & 0x7800) | (flags & 0x0100) | RCODE.FORMERR  # QR, opcode, RD, rcode
    return struct.pack("!HHHHHH", qid, reply_flags, 0, 0, 0, 0)


def _recv_exact(conn: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def _bind_pair(address: str, port: int) -> tuple[socket.socket, socket.socket]:
    """A UDP and a listening TCP socket bound to the same port (a free one for both when port is 0)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    last: OSError | None = None
    for _ in range(50 if port == 0 else 1):
        udp = socket.socket(family, socket.SOCK_DGRAM)
        tcp = socket.socket(family, socket.SOCK_STREAM)
        try:
            udp.bind((address, port))
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind((address, udp.getsockname()[1]))
            tcp.listen(64)
            return udp, tcp
        except OSError as e:
            udp.close()
            tcp.close()
            last = e
    raise OSError(f"cannot bind DNS server on {address}:{port}: {last}")
