"""Probes bound to an uplink's source address: ICMP echo over a raw socket, and TCP connect; loss and RTT.

Binding the socket to the uplink's source address is what sends the probe out of *that* uplink: the edge's
policy routing (``ip rule from SOURCE lookup TABLE``) picks the uplink's own table. With `netns`, the socket is
created inside that Linux network namespace (the lab's on-prem edge); only the calling thread enters it.

Hand-written rather than a library: icmplib and friends neither bind to a namespace nor report which local
address answered, and the drill needs both; the ICMP code is the 40 lines of RFC 792 below.
"""

from __future__ import annotations

import ctypes
import errno
import itertools
import os
import random
import select
import socket
import struct
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from migrate_cli.failover.model import Target, Uplink

CLONE_NEWNET = 0x40000000
NETNS_DIR = "/run/netns"
ICMP_ECHO_REPLY, ICMP_UNREACHABLE, ICMP_ECHO, ICMP_TIME_EXCEEDED = 0, 3, 8, 11
_IDENT = random.randrange(1, 0xFFFF)
_SEQ = itertools.count(random.randrange(0, 0xFFFF))
_SEQ_LOCK = threading.Lock()
_libc: Any = None


# ------------------------------------------------------------------------------------------------------------
# Network namespaces (per thread)
# ------------------------------------------------------------------------------------------------------------
def _setns(fd: int) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


@contextmanager
def netns(name: str | None) -> Iterator[None]:
    """Run the body with the calling thread inside network namespace `name` (None: stay where we are)."""
    if not name:
        yield
        return
    try:
        target = os.open(os.path.join(NETNS_DIR, name), os.O_RDONLY)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot open network namespace {name}: {exc.strerror}") from None
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        try:
            _setns(target)
        except OSError as exc:
            raise OSError(exc.errno, f"cannot enter network namespace {name}: {exc.strerror}") from None
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(target)
        os.close(home)


# ------------------------------------------------------------------------------------------------------------
# Results
# ------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProbeResult:
    """One probe: did it answer, how fast, from which local address (the uplink that carried it)."""

    target: str
    kind: str
    ok: bool
    rtt_ms: float | None = None
    error: str | None = None
    local: str | None = None
    sent_at: float = 0.0  # time.monotonic() when sent
    done_at: float = 0.0


@dataclass
class TargetStats:
    target: str
    kind: str
    sent: int = 0
    received: int = 0
    rtts: list[float] = field(default_factory=list)
    last_error: str | None = None
    unsupported: str | None = None  # this kind of probe cannot be sent from here (ICMP without root)

    @property
    def loss_pct(self) -> float:
        return 100.0 * (self.sent - self.received) / self.sent if self.sent else 100.0

    def public(self) -> dict[str, Any]:
        rtt = self.rtts
        return {
            "target": self.target,
            "kind": self.kind,
            "sent": self.sent,
            "received": self.received,
            "loss_pct": round(self.loss_pct, 1) if self.sent else None,
            "rtt_min_ms": round(min(rtt), 2) if rtt else None,
            "rtt_avg_ms": round(sum(rtt) / len(rtt), 2) if rtt else None,
            "rtt_max_ms": round(max(rtt), 2) if rtt else None,
            "error": self.unsupported or self.last_error,
        }


@dataclass
class UplinkStats:
    """What `count` probes per target said about one uplink."""

    uplink: str
    source: str
    local: bool  # the source address exists where we probe from
    targets: list[TargetStats] = field(default_factory=list)
    note: str | None = None

    @property
    def live(self) -> bool:
        return self.local and any(t.received for t in self.targets)

    @property
    def loss_pct(self) -> float:
        sent = sum(t.sent for t in self.targets)
        got = sum(t.received for t in self.targets)
        return 100.0 * (sent - got) / sent if sent else 100.0

    @property
    def rtt_avg_ms(self) -> float | None:
        rtts = [r for t in self.targets for r in t.rtts]
        return sum(rtts) / len(rtts) if rtts else None

    def public(self) -> dict[str, Any]:
        avg = self.rtt_avg_ms
        return {
            "uplink": self.uplink,
            "source": self.source,
            "probed": self.local,
            "live": self.live,
            "loss_pct": round(self.loss_pct, 1) if self.local else None,
            "rtt_avg_ms": round(avg, 2) if avg is not None else None,
            "targets": [t.public() for t in self.targets],
            "note": self.note,
        }


# ------------------------------------------------------------------------------------------------------------
# ICMP
# ------------------------------------------------------------------------------------------------------------
def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo_request(ident: int, seq: int, payload: bytes = b"migrate-cli failover probe") -> bytes:
    """An ICMP echo request with a correct checksum."""
    header = struct.pack("!BBHHH", ICMP_ECHO, 0, 0, ident, seq)
    return struct.pack("!BBHHH", ICMP_ECHO, 0, checksum(header + payload), ident, seq) + payload


@dataclass(frozen=True)
class IcmpReply:
    kind: str  # "reply" | "unreachable" | "time-exceeded"
    ident: int
    seq: int
    source: str  # who sent it
    local: str | None  # the address it was sent to (ours), when the IP header is present


def parse_icmp(packet: bytes, has_ip_header: bool = True) -> IcmpReply | None:
    """An echo reply, or an unreachable/time-exceeded error quoting one of our echo requests; None otherwise."""
    src = dst = None
    if has_ip_header:
        if len(packet) < 20:
            return None
        ihl = (packet[0] & 0x0F) * 4
        src, dst = socket.inet_ntoa(packet[12:16]), socket.inet_ntoa(packet[16:20])
        packet = packet[ihl:]
    if len(packet) < 8:
        return None
    icmp_type, _code, _sum, ident, seq = struct.unpack("!BBHHH", packet[:8])
    if icmp_type == ICMP_ECHO_REPLY:
        return IcmpReply("reply", ident, seq, src or "", dst)
    if icmp_type in (ICMP_UNREACHABLE, ICMP_TIME_EXCEEDED):
        inner = packet[8:]
        if len(inner) < 28:
            return None
        inner_ihl = (inner[0] & 0x0F) * 4
        quoted = inner[inner_ihl : inner_ihl + 8]
        if len(quoted) < 8 or quoted[0] != ICMP_ECHO:
            return None
        _t, _c, _s, q_ident, q_seq = struct.unpack("!BBHHH", quoted)
        kind = "unreachable" if icmp_type == ICMP_UNREACHABLE else "time-exceeded"
        return IcmpReply(kind, q_ident, q_seq, src or "", dst)
    return None


def _next_seq() -> int:
    with _SEQ_LOCK:
        return next(_SEQ) & 0xFFFF


def _icmp_socket() -> tuple[socket.socket, bool]:
    """A raw ICMP socket (root), else an unprivileged ping socket; (socket, packets include the IP header)."""
    try:
        return socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP), True
    except PermissionError:
        return socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP), False


def icmp_echo(
    address: str, source: str | None = None, timeout: float = 1.0, netns_name: str | None = None
) -> ProbeResult:
    """One ICMP echo to `address` (an IPv4 address) from `source`; never raises for network failures."""
    target = address
    sent_at = time.monotonic()
    try:
        with netns(netns_name):
            sock, raw = _icmp_socket()
    except OSError as exc:
        return ProbeResult(target, "icmp", False, error=_describe(exc, "ICMP"), sent_at=sent_at, done_at=sent_at)
    with sock:
        try:
            if source:
                sock.bind((source, 0))
            ident = _IDENT if raw else sock.getsockname()[1]
            seq = _next_seq()
            sent_at = time.monotonic()
            sock.sendto(echo_request(ident, seq), (address, 0))
            deadline = sent_at + timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return ProbeResult(
                        target, "icmp", False, error="timed out", sent_at=sent_at, done_at=time.monotonic()
                    )
                ready, _, _ = select.select([sock], [], [], left)
                if not ready:
                    continue
                packet = sock.recv(2048)
                now = time.monotonic()
                reply = parse_icmp(packet, has_ip_header=raw)
                if reply is None or reply.seq != seq or (raw and reply.ident != ident):
                    continue
                local = reply.local or sock.getsockname()[0]
                if reply.kind == "reply" and reply.source == address:
                    return ProbeResult(
                        target, "icmp", True, (now - sent_at) * 1000, local=local, sent_at=sent_at, done_at=now
                    )
                if reply.kind != "reply":
                    error = f"{reply.kind} from {reply.source}" if reply.source else reply.kind
                    return ProbeResult(target, "icmp", False, error=error, local=local, sent_at=sent_at, done_at=now)
        except OSError as exc:
            return ProbeResult(
                target, "icmp", False, error=_describe(exc, source), sent_at=sent_at, done_at=time.monotonic()
            )


# ------------------------------------------------------------------------------------------------------------
# TCP
# ------------------------------------------------------------------------------------------------------------
def tcp_connect(
    address: str, port: int, source: str | None = None, timeout: float = 1.0, netns_name: str | None = None
) -> ProbeResult:
    """A TCP connect to `address:port` from `source`; closed with a reset (no TIME_WAIT pile-up)."""
    target = f"{address}:{port}"
    sent_at = time.monotonic()
    try:
        with netns(netns_name):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    except OSError as exc:
        return ProbeResult(target, "tcp", False, error=_describe(exc, "TCP"), sent_at=sent_at, done_at=sent_at)
    with sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        try:
            if source:
                sock.bind((source, 0))
            sock.settimeout(timeout)
            sent_at = time.monotonic()
            sock.connect((address, port))
            done = time.monotonic()
            return ProbeResult(
                target, "tcp", True, (done - sent_at) * 1000, local=sock.getsockname()[0], sent_at=sent_at, done_at=done
            )
        except TimeoutError:
            return ProbeResult(target, "tcp", False, error="timed out", sent_at=sent_at, done_at=time.monotonic())
        except OSError as exc:
            return ProbeResult(
                target, "tcp", False, error=_describe(exc, source), sent_at=sent_at, done_at=time.monotonic()
            )


def _describe(exc: OSError, source: str | None) -> str:
    code = exc.errno
    if code == errno.EADDRNOTAVAIL:
        return f"source address {source} is not on this machine"
    if code == errno.ECONNREFUSED:
        return "connection refused"
    if code == errno.EHOSTUNREACH:
        return "host unreachable"
    if code == errno.ENETUNREACH:
        return "network unreachable"
    if code in (errno.EPERM, errno.EACCES) and source in ("ICMP", "TCP"):
        return f"{source} probe not permitted here ({exc.strerror}; ICMP needs root or net.ipv4.ping_group_range)"
    return exc.strerror or str(exc)


# ------------------------------------------------------------------------------------------------------------
# Targets and uplinks
# ------------------------------------------------------------------------------------------------------------
def resolve(host: str) -> str:
    """An IPv4 address for `host` (literal, or resolved); OSError when it does not resolve."""
    try:
        socket.inet_aton(host)
        if host.count(".") == 3:
            return host
    except OSError:
        pass
    infos = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)
    return str(infos[0][4][0])


def probe(
    target: Target, source: str | None = None, timeout: float = 1.0, netns_name: str | None = None
) -> ProbeResult:
    """Probe one target (ICMP or TCP by its kind) from `source`."""
    try:
        address = resolve(target.host)
    except OSError:
        now = time.monotonic()
        return ProbeResult(
            str(target), target.kind, False, error=f"cannot resolve {target.host}", sent_at=now, done_at=now
        )
    if target.port is None:
        result = icmp_echo(address, source, timeout, netns_name)
    else:
        result = tcp_connect(address, target.port, source, timeout, netns_name)
    return ProbeResult(
        str(target), result.kind, result.ok, result.rtt_ms, result.error, result.local, result.sent_at, result.done_at
    )


def source_is_local(address: str, netns_name: str | None = None) -> bool:
    """Whether `address` is configured where we probe from (binding to it succeeds)."""
    try:
        with netns(netns_name):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    except OSError:
        return False
    with sock:
        try:
            sock.bind((address, 0))
        except OSError:
            return False
    return True


def measure_uplinks(
    uplinks: Sequence[Uplink],
    count: int = 5,
    interval: float = 0.2,
    timeout: float = 1.0,
    netns_name: str | None = None,
) -> list[UplinkStats]:
    """`count` probes to every target of every uplink, `interval` apart, all uplinks and targets in parallel."""
    stats: list[UplinkStats] = []
    jobs: list[tuple[Uplink, Target, TargetStats]] = []
    for up in uplinks:
        local = source_is_local(up.source, netns_name)
        entry = UplinkStats(up.name, up.source, local)
        if not local:
            where = f"namespace {netns_name}" if netns_name else "this machine"
            entry.note = f"not probed: source {up.source} is not an address of {where}"
        for target in up.targets:
            ts = TargetStats(str(target), target.kind)
            entry.targets.append(ts)
            if local:
                jobs.append((up, target, ts))
        stats.append(entry)

    def run(job: tuple[Uplink, Target, TargetStats]) -> None:
        up, target, ts = job
        for index in range(count):
            start = time.monotonic()
            result = probe(target, up.source, timeout, netns_name)
            if result.error and "not permitted" in result.error:
                ts.unsupported = result.error  # not a loss: nothing could be sent
                return
            ts.sent += 1
            if result.ok and result.rtt_ms is not None:
                ts.received += 1
                ts.rtts.append(result.rtt_ms)
            else:
                ts.last_error = result.error
            if index < count - 1:
                time.sleep(max(0.0, interval - (time.monotonic() - start)))

    if jobs:
        with ThreadPoolExecutor(max_workers=min(32, len(jobs))) as pool:
            list(pool.map(run, jobs))
    for entry in stats:
        if entry.local and entry.targets and all(t.unsupported for t in entry.targets):
            entry.local = False
            entry.note = f"not probed: {entry.targets[0].unsupported}"
    return stats
