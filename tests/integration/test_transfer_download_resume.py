"""A download (S3 -> local directory) of a large object in ranged parts, killed with SIGKILL mid-file, then run
again: the partial file is kept and only the parts not yet written are fetched again; a changed source, a
damaged part, a vanished partial file or a key dropped from the plan are handled. Real peers: moto server
over HTTP behind the fault proxy (faultproxy.py), which slows object GETs so the kill lands mid-file and
counts the ranged GETs of each run; the killed copy is `migrate data copy` in a child process.

The same journal of partial files serves SFTP: a download from an SFTP host, and an upload to one (the
host hashes the recorded parts of its partial file again; a host that cannot run commands starts afresh)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from faultproxy import FaultProxy, Rule
from sftp_server import PASSWORD, USER, SftpTestServer
from transfer_helpers import MiB, files, sha256_b64, sync

from migrate_cli.aws.session import client
from migrate_cli.core.settings import Settings
from migrate_cli.lab.aws_endpoint import LocalAwsEndpoint
from migrate_cli.transfer.engine import EngineResult
from migrate_cli.transfer.service import CopyRequest, apply_copy, open_endpoints, plan_copy, plan_lines, validate
from migrate_cli.transfer.sources import PARTIAL_SUFFIX

PART = 5 * MiB
SIZE = 24 * MiB + 123  # 5 parts of 5 MiB
PARTS = 5
GET_DELAY = 0.4  # per ranged GET, so that a 2-worker download takes ~1.2 s and can be killed mid-file

pytestmark = pytest.mark.slow


@pytest.fixture
def bucket(endpoint: LocalAwsEndpoint) -> str:
    name = f"dr-{uuid.uuid4().hex[:12]}"
    client("s3", endpoint_url=endpoint.url, region_name=endpoint.region).create_bucket(Bucket=name)
    return name


def _upload(tmp_path: Path, bucket: str, data: bytes, name: str = "big.bin") -> None:
    """Put `data` at s3://bucket/p/NAME as migrate writes it: multipart, composite SHA-256, part size declared."""
    src = tmp_path / f"up-{uuid.uuid4().hex[:6]}"
    src.mkdir()
    (src / name).write_bytes(data)
    _, result = sync(src, f"s3://{bucket}/p", tmp_path / f"state-{src.name}", part_size="5M")
    assert result is not None and result.copied == 1 and not result.failed


def _object_gets(proxy: FaultProxy, bucket: str, since: int, name: str = "big.bin") -> int:
    return sum(1 for r in proxy.log[since:] if r.method == "GET" and r.path == f"/{bucket}/p/{name}")


def _state_db(state: Path) -> Path | None:
    found = sorted((state / "transfer").glob("*.sqlite")) if (state / "transfer").is_dir() else []
    return found[0] if found else None


def _rows(state: Path, sql: str) -> list[tuple[Any, ...]]:
    db = _state_db(state)
    if db is None:
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:  # tables not created yet
        return []
    finally:
        conn.close()


def _recorded(state: Path) -> set[int]:
    return {n for (n,) in _rows(state, "SELECT number FROM download_parts WHERE key='big.bin'")}


def _cli(tmp_path: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "migrate_cli", "--state-dir", str(tmp_path / "state"), *args]


def _kill_mid_file(args: list[str], tmp_path: Path, dest: Path) -> set[int]:
    """Run the copy ARGS in a child process, SIGKILL it once 2 parts of big.bin are recorded in the state and
    before it finishes; returns the part numbers recorded."""
    victim = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while len(_recorded(tmp_path / "state")) < 2:
            assert victim.poll() is None, f"the copy ended before it could be killed: {victim.stderr.read()!r}"  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "no part recorded in time"
            time.sleep(0.02)
        victim.send_signal(signal.SIGKILL)
        assert victim.wait() == -signal.SIGKILL
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
    recorded = _recorded(tmp_path / "state")
    assert 2 <= len(recorded) < PARTS
    assert not (dest / "big.bin").exists()
    assert (dest / f".big.bin{PARTIAL_SUFFIX}").stat().st_size == SIZE  # killed mid-file, partial kept
    return recorded


def _killed_download(proxy: FaultProxy, bucket: str, tmp_path: Path, dest: Path) -> set[int]:
    """`migrate data copy s3://bucket/p DEST --workers 2` killed mid-file (object GETs slowed by the proxy)."""
    rule = proxy.add(Rule("delay", method="GET", when=lambda r: not r.query, delay=GET_DELAY))
    args = _cli(tmp_path, "data", "copy", f"s3://{bucket}/p", str(dest), "--workers", "2")
    recorded = _kill_mid_file(args, tmp_path, dest)
    time.sleep(GET_DELAY + 0.2)  # let the proxy finish (and log) what the dead client had asked for
    proxy.clear()
    assert rule.applied >= 2
    return recorded


class _Notes:
    """A Progress that keeps the notes and the bytes reported."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.bytes = 0

    def start(self, files: int, nbytes: int) -> None:
        return None

    def advance(self, files: int = 0, nbytes: int = 0) -> None:
        self.bytes += nbytes

    def note(self, message: str) -> None:
        self.notes.append(message)

    def stop(self) -> None:
        return None


def _rerun(tmp_path: Path, bucket: str, dest: Path, **options: Any) -> tuple[EngineResult, _Notes]:
    """The second run, in this process (as `migrate data copy` runs it), with its notes recorded."""
    settings = Settings(state_dir=tmp_path / "state")
    endpoints = open_endpoints(validate(CopyRequest(f"s3://{bucket}/p", str(dest), **options)), None)
    notes = _Notes()
    try:
        plan = plan_copy(endpoints, settings)
        result = apply_copy(endpoints, plan, settings, notes)
    finally:
        endpoints.close()
    return result, notes


def _no_leftovers(tmp_path: Path, dest: Path) -> None:
    assert not [p for p in dest.rglob("*") if p.name.endswith(PARTIAL_SUFFIX)]
    assert _rows(tmp_path / "state", "SELECT key FROM downloads") == []
    assert _rows(tmp_path / "state", "SELECT key FROM download_parts") == []


def test_sigkill_mid_download_then_rerun_fetches_only_the_missing_parts(
    proxy: FaultProxy, bucket: str, tmp_path: Path
) -> None:
    data = os.urandom(SIZE)
    _upload(tmp_path, bucket, data)
    dest = tmp_path / "restore"
    recorded = _killed_download(proxy, bucket, tmp_path, dest)
    first = len(proxy.log)
    again = subprocess.run(
        _cli(tmp_path, "--json", "data", "copy", f"s3://{bucket}/p", str(dest), "--workers", "2"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)["result"]
    assert result["resumed_parts"] == len(recorded) and result["verified"] == 1 and not result["failed"]
    assert (dest / "big.bin").read_bytes() == data
    assert _object_gets(proxy, bucket, first) == PARTS - len(recorded)  # the recorded parts were not fetched again
    _no_leftovers(tmp_path, dest)
    again = subprocess.run(
        _cli(tmp_path, "data", "copy", f"s3://{bucket}/p", str(dest)), cwd=tmp_path, capture_output=True, text=True
    )
    assert again.returncode == 0 and "download 0" in again.stdout


def test_a_source_changed_between_runs_is_downloaded_afresh(proxy: FaultProxy, bucket: str, tmp_path: Path) -> None:
    _upload(tmp_path, bucket, os.urandom(SIZE))
    dest = tmp_path / "restore"
    _killed_download(proxy, bucket, tmp_path, dest)
    changed = os.urandom(SIZE)  # same size, new ETag
    _upload(tmp_path, bucket, changed)
    first = len(proxy.log)
    result, notes = _rerun(tmp_path, bucket, dest, workers=2)
    assert result.resumed_parts == 0 and result.verified == 1 and not result.failed
    assert (dest / "big.bin").read_bytes() == changed
    assert _object_gets(proxy, bucket, first) == PARTS
    assert any("removed the partial file of big.bin" in n for n in notes.notes)
    _no_leftovers(tmp_path, dest)


def test_a_damaged_part_of_the_partial_file_is_fetched_again(proxy: FaultProxy, bucket: str, tmp_path: Path) -> None:
    data = os.urandom(SIZE)
    _upload(tmp_path, bucket, data)
    dest = tmp_path / "restore"
    recorded = _killed_download(proxy, bucket, tmp_path, dest)
    damaged = min(recorded)
    partial = dest / f".big.bin{PARTIAL_SUFFIX}"
    with open(partial, "r+b") as f:
        f.seek((damaged - 1) * PART + 1000)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    first = len(proxy.log)
    result, notes = _rerun(tmp_path, bucket, dest, workers=2)
    assert result.resumed_parts == len(recorded) - 1 and result.verified == 1 and not result.failed
    assert f"resuming big.bin: {len(recorded) - 1} of {PARTS} parts already downloaded" in notes.notes
    assert notes.bytes == SIZE  # resumed bytes count towards the progress once
    assert (dest / "big.bin").read_bytes() == data
    assert _object_gets(proxy, bucket, first) == PARTS - len(recorded) + 1
    _no_leftovers(tmp_path, dest)


def test_a_vanished_partial_file_means_a_fresh_download(proxy: FaultProxy, bucket: str, tmp_path: Path) -> None:
    data = os.urandom(SIZE)
    _upload(tmp_path, bucket, data)
    dest = tmp_path / "restore"
    _killed_download(proxy, bucket, tmp_path, dest)
    (dest / f".big.bin{PARTIAL_SUFFIX}").unlink()
    first = len(proxy.log)
    result, _ = _rerun(tmp_path, bucket, dest, workers=2)
    assert result.resumed_parts == 0 and not result.failed
    assert (dest / "big.bin").read_bytes() == data
    assert _object_gets(proxy, bucket, first) == PARTS
    _no_leftovers(tmp_path, dest)


def test_a_key_dropped_from_the_plan_loses_its_partial_file(proxy: FaultProxy, bucket: str, tmp_path: Path) -> None:
    """Even when nothing else is left to copy: the plan says it will clean up, and the run does."""
    _upload(tmp_path, bucket, os.urandom(SIZE))
    dest = tmp_path / "restore"
    _killed_download(proxy, bucket, tmp_path, dest)
    first = len(proxy.log)
    settings = Settings(state_dir=tmp_path / "state")
    request = validate(CopyRequest(f"s3://{bucket}/p", str(dest), exclude=("big.bin",)))
    endpoints = open_endpoints(request, None)
    try:
        plan = plan_copy(endpoints, settings)
        assert plan.leftovers == ["big.bin"] and not plan.copies and plan.changed
        assert "clean up 1 partial file(s) of an earlier run" in " ".join(
            plan_lines(plan, request.source, request.dest)
        )
        result = apply_copy(endpoints, plan, settings, None)
    finally:
        endpoints.close()
    assert result.copied == 0 and not result.failed
    assert files(dest) == {}  # no .big.bin.migrate-partial
    assert _object_gets(proxy, bucket, first) == 0
    _no_leftovers(tmp_path, dest)


def _host_inventory(tmp_path: Path, server: SftpTestServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An inventory with host web1 at `server`, its host key known, the password from the environment."""
    (tmp_path / "known_hosts").write_text(server.known_hosts_line())
    inv = tmp_path / "inventory"
    inv.mkdir()
    (inv / "hosts.yaml").write_text(
        f"web1:\n  hostname: 127.0.0.1\n  port: {server.port}\n  username: {USER}\n"
        '  password: "${env:SFTP_TEST_PW}"\n  connection_options:\n    sftp:\n      extras:\n'
        f"        known_hosts: {tmp_path / 'known_hosts'}\n"
    )
    monkeypatch.setenv("SFTP_TEST_PW", PASSWORD)
    return inv


def test_sftp_download_killed_mid_file_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same path for an SFTP source (a real paramiko SFTP server on 127.0.0.1); --bwlimit slows the copy."""
    root = tmp_path / "server-root"
    (root / "site").mkdir(parents=True)
    data = os.urandom(SIZE)
    (root / "site" / "big.bin").write_bytes(data)
    server = SftpTestServer(root)
    server.start()
    try:
        inv = _host_inventory(tmp_path, server, monkeypatch)
        dest = tmp_path / "restore"
        copy = ["data", "copy", "web1:/site", str(dest), "--part-size", "5M", "--workers", "2"]
        recorded = _kill_mid_file(_cli(tmp_path, "-i", str(inv), *copy, "--bwlimit", "8M"), tmp_path, dest)
        again = subprocess.run(
            _cli(tmp_path, "-i", str(inv), "--json", *copy), cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert again.returncode == 0, again.stderr
        result = json.loads(again.stdout)["result"]
        assert result["resumed_parts"] == len(recorded) and not result["failed"]
        assert (dest / "big.bin").read_bytes() == data
        _no_leftovers(tmp_path, dest)
    finally:
        server.stop()


def _put_foreign(direct: Any, bucket: str, data: bytes, checksum: str | None = None) -> None:
    """As another tool writes it: one PutObject with a whole-object SHA-256 and no declared part size."""
    direct.put_object(
        Bucket=bucket,
        Key="p/big.bin",
        Body=data,
        ChecksumAlgorithm="SHA256",
        ChecksumSHA256=checksum or sha256_b64(data),
    )


def test_an_object_another_tool_wrote_is_fetched_in_parts_and_resumes(
    proxy: FaultProxy, direct: Any, bucket: str, tmp_path: Path
) -> None:
    """Its checksum covers the whole object, not our parts: it is still fetched in ranged parts (so a kill
    costs only the parts in flight) and checked by hashing the written file before it is renamed."""
    data = os.urandom(SIZE)
    _put_foreign(direct, bucket, data)
    dest = tmp_path / "restore"
    rule = proxy.add(Rule("delay", method="GET", when=lambda r: not r.query, delay=GET_DELAY))
    args = ("data", "copy", f"s3://{bucket}/p", str(dest), "--workers", "2", "--part-size", "5M")
    recorded = _kill_mid_file(_cli(tmp_path, *args), tmp_path, dest)
    time.sleep(GET_DELAY + 0.2)
    proxy.clear()
    assert rule.applied >= 2
    first = len(proxy.log)
    again = subprocess.run(_cli(tmp_path, "--json", *args), cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)["result"]
    assert result["resumed_parts"] == len(recorded) and result["verified"] == 1 and not result["failed"]
    assert (dest / "big.bin").read_bytes() == data
    assert _object_gets(proxy, bucket, first) == PARTS - len(recorded)
    _no_leftovers(tmp_path, dest)


def test_an_object_whose_whole_checksum_does_not_match_is_not_kept(
    proxy: FaultProxy, direct: Any, bucket: str, tmp_path: Path
) -> None:
    """moto keeps a SHA-256 it was given without checking it: the parts arrive intact, the file they make does
    not hash to the stored checksum, so it is fetched again, then reported, and never renamed into place."""
    _put_foreign(direct, bucket, os.urandom(SIZE), checksum=sha256_b64(b"something else"))
    dest = tmp_path / "restore"
    _, result = sync(f"s3://{bucket}/p", dest, tmp_path / "state", part_size="5M")
    assert result is not None and [k for k, _ in result.failed] == ["big.bin"] and result.retries >= 1
    assert "does not match its stored checksum" in result.failed[0][1]
    assert files(dest) == {}
    _no_leftovers(tmp_path, dest)


@pytest.mark.parametrize("between", ["nothing", "damage", "new source"])
def test_sftp_upload_killed_mid_file_resumes_on_the_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, between: str
) -> None:
    """Local -> SFTP host (real /bin/sh, dd and sha256sum behind a paramiko SSH server), killed mid-file:
    the host hashes the recorded parts of the partial file, only the others are sent again. Between the
    runs, `damage` changes one recorded part on the host (it is sent again too); `new source` rewrites the
    source file (its partial file is removed and the file sent whole)."""
    server = SftpTestServer(Path("/"), shell=True)  # the real filesystem: the shell sees the client's paths
    server.start()
    try:
        inv = _host_inventory(tmp_path, server, monkeypatch)
        src, dest = tmp_path / "src", tmp_path / "upload"
        src.mkdir()
        data = os.urandom(SIZE)
        (src / "big.bin").write_bytes(data)
        copy = ["data", "copy", str(src), f"web1:{dest}", "--part-size", "5M", "--workers", "2"]
        recorded = _kill_mid_file(_cli(tmp_path, "-i", str(inv), *copy, "--bwlimit", "8M"), tmp_path, dest)
        if between == "damage":
            with open(dest / f".big.bin{PARTIAL_SUFFIX}", "r+b") as f:
                f.seek((min(recorded) - 1) * PART + 7)
                f.write(b"\x00damaged\x00")
        elif between == "new source":
            data = os.urandom(SIZE)
            (src / "big.bin").write_bytes(data)
        sent_before = server.bytes_written
        again = subprocess.run(
            _cli(tmp_path, "-i", str(inv), "--json", *copy), cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert again.returncode == 0, again.stderr
        result = json.loads(again.stdout)["result"]
        kept = {"nothing": len(recorded), "damage": len(recorded) - 1, "new source": 0}[between]
        assert result["resumed_parts"] == kept and not result["failed"] and result["verified"] == 1
        assert (dest / "big.bin").read_bytes() == data
        resent = server.bytes_written - sent_before
        assert resent <= SIZE - kept * PART  # the parts the host vouched for were not sent again
        if kept:
            assert any(c.startswith("f=") and "for i in" in c for c in server.commands)  # hashed on the host
        _no_leftovers(tmp_path, dest)
    finally:
        server.stop()


def test_sftp_upload_to_a_host_without_commands_starts_afresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An SFTP-only host cannot vouch for a partial file: after a kill the file is sent again whole."""
    root = tmp_path / "server-root"
    root.mkdir()
    server = SftpTestServer(root)
    server.start()
    try:
        inv = _host_inventory(tmp_path, server, monkeypatch)
        src = tmp_path / "src"
        src.mkdir()
        data = os.urandom(SIZE)
        (src / "big.bin").write_bytes(data)
        copy = ["data", "copy", str(src), "web1:/upload", "--part-size", "5M", "--workers", "2"]
        _kill_mid_file(_cli(tmp_path, "-i", str(inv), *copy, "--bwlimit", "8M"), tmp_path, root / "upload")
        again = subprocess.run(
            _cli(tmp_path, "-i", str(inv), "--json", *copy), cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert again.returncode == 0, again.stderr
        result = json.loads(again.stdout)["result"]
        assert result["resumed_parts"] == 0 and result["unverified"] == 1 and not result["failed"]
        assert (root / "upload" / "big.bin").read_bytes() == data
        _no_leftovers(tmp_path, root / "upload")
    finally:
        server.stop()
