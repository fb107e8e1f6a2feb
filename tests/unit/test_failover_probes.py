"""Probe code: ICMP packets (RFC 792/1071), TCP connects bound to a source, loss/RTT accounting.

Real sockets on 127.0.0.1 only; raw ICMP needs root (CI is root) and is skipped with a reason otherwise.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from migrate_cli.failover import probes
from migrate_cli.failover.model import Target, Uplink

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="raw ICMP sockets need root (CI runs as root)")


def test_checksum_matches_rfc1071_example() -> None:
    # RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to 0xddf2; the checksum is its complement.
    assert probes.checksum(bytes.fromhex("0001f203f4f5f6f7")) == (~0xDDF2 & 0xFFFF)
    assert probes.checksum(bytes.fromhex("0001f203f4f5f6f7") + b"\x00") == (~0xDDF2 & 0xFFFF)


def test_echo_request_checksums_to_zero_and_parses_back() -> None:
    packet = probes.echo_request(0x1234, 77, b"payload")
    assert probes.checksum(packet) == 0
    as_reply = bytes([0]) + packet[1:]  # type 0: echo reply, as seen without an IP header
    parsed = probes.parse_icmp(as_reply, has_ip_header=False)
    assert parsed is not None and (parsed.kind, parsed.ident, parsed.seq) == ("reply", 0x1234, 77)


def _ip_header(src: str, dst: str, length: int) -> bytes:
    return struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + length, 0, 0, 64, 1, 0, socket.inet_aton(src), socket.inet_aton(dst)
    )


def test_unreachable_quoting_our_request_is_recognised() -> None:
    request = probes.echo_request(0x4242, 9)
    quoted = _ip_header("10.201.1.2", "10.203.0.10", len(request)) + request
    error = struct.pack("!BBHI", 3, 0, 0, 0) + quoted
    packet = _ip_header("10.201.1.1", "10.201.1.2", len(error)) + error
    parsed = probes.parse_icmp(packet)
    assert parsed is not None
    assert (parsed.kind, parsed.ident, parsed.seq, parsed.source, parsed.local) == (
        "unreachable",
        0x4242,
        9,
        "10.201.1.1",
        "10.201.1.2",
    )
    assert probes.parse_icmp(b"\x45" + b"\x00" * 10) is None


@pytest.fixture
def listener() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                conn.close()
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


def _closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_tcp_probe_bound_to_the_source(listener: int) -> None:
    result = probes.tcp_connect("127.0.0.1", listener, source="127.0.0.2", timeout=1)
    assert result.ok and result.local == "127.0.0.2" and result.rtt_ms is not None and result.rtt_ms >= 0


def test_tcp_probe_failures_are_results_not_exceptions() -> None:
    refused = probes.tcp_connect("127.0.0.1", _closed_port(), timeout=1)
    assert not refused.ok and refused.error == "connection refused"
    foreign = probes.tcp_connect("127.0.0.1", _closed_port(), source="192.0.2.77", timeout=1)
    assert not foreign.ok and foreign.error == "source address 192.0.2.77 is not on this machine"


@root_only
def test_icmp_echo_over_a_raw_socket() -> None:
    result = probes.icmp_echo("127.0.0.1", source="127.0.0.1", timeout=1)
    assert result.ok and result.local == "127.0.0.1" and result.rtt_ms is not None


def test_measure_uplinks_counts_loss_and_rtt(listener: int) -> None:
    dead = _closed_port()
    uplinks = [
        Uplink(
            "lo",
            "loopback",
            "lo",
            "127.0.0.1",
            "127.0.0.254",
            1,
            (Target("127.0.0.1", listener), Target("127.0.0.1", dead)),
        ),
        Uplink("far", "nowhere", "eth9", "192.0.2.77", "192.0.2.1", 2, (Target("127.0.0.1", listener),)),
    ]
    near, far = probes.measure_uplinks(uplinks, count=3, interval=0.01, timeout=0.5)
    assert near.local and near.live
    assert [(t.sent, t.received) for t in near.targets] == [(3, 3), (3, 0)]
    assert near.loss_pct == 50.0 and near.rtt_avg_ms is not None
    assert near.targets[1].last_error == "connection refused"
    assert not far.local and not far.live and far.note and "192.0.2.77 is not an address of this machine" in far.note
    assert far.targets[0].sent == 0  # nothing is sent from an address that is not ours
    assert near.public()["targets"][0]["loss_pct"] == 0.0


def test_source_is_local() -> None:
    assert probes.source_is_local("127.0.0.1")
    assert not probes.source_is_local("192.0.2.77")


def test_entering_a_missing_namespace_fails_cleanly() -> None:
    with pytest.raises(OSError, match="network namespace mgfo-missing"), probes.netns("mgfo-missing"):
        pass
    result = probes.probe(Target("127.0.0.1", 9), None, 0.2, "mgfo-missing")
    assert not result.ok and "mgfo-missing" in (result.error or "")


def test_resolve_literal_and_hosts_file_names() -> None:
    assert probes.resolve("127.0.0.1") == "127.0.0.1"
    assert probes.resolve("localhost").startswith("127.")


def test_icmp_that_cannot_be_sent_is_not_counted_as_loss(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without root (and without net.ipv4.ping_group_range) ICMP cannot be sent: "not probed", never "down"."""

    def refuse() -> tuple[socket.socket, bool]:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(probes, "_icmp_socket", refuse)
    up = Uplink("lo", "loopback", "lo", "127.0.0.1", "127.0.0.254", 1, (Target("127.0.0.1"),))
    (stats,) = probes.measure_uplinks([up], count=3, interval=0.01, timeout=0.2)
    assert not stats.local and not stats.live
    assert stats.targets[0].sent == 0 and stats.public()["targets"][0]["loss_pct"] is None
    assert stats.note and "ICMP probe not permitted here" in stats.note
