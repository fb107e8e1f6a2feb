"""Faults between the client and moto server, injected by a real HTTP proxy (faultproxy.py): 500s, 503
SlowDown, connections dropped before and after the server acted, bodies corrupted in flight, a key that
always fails. Every object is compared with its source afterwards."""

from __future__ import annotations

import os
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from faultproxy import FaultProxy, Request, Rule
from transfer_helpers import MiB, files, make_tree, objects, sync


@pytest.fixture
def bucket(direct: Any) -> str:
    name = f"ft-{uuid.uuid4().hex[:12]}"
    direct.create_bucket(Bucket=name)
    return name


def _object_puts(proxy: FaultProxy) -> Counter[str]:
    return Counter(r.path for r in proxy.records("PUT", ok=True) if not r.query)


@pytest.mark.slow
def test_5xx_and_slowdown_are_retried(proxy: FaultProxy, direct: Any, bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    content = make_tree(src, files=20, big=1)
    proxy.add(Rule("status", method="PUT", every=3, status=500, code="InternalError"))
    proxy.add(Rule("status", method="PUT", every=4, status=503, code="SlowDown"))
    proxy.add(Rule("status", method="GET", every=2, status=500))  # listings too
    _, result = sync(src, f"s3://{bucket}/s", tmp_path / "state", part_size="5M", workers=4)
    assert result is not None and not result.failed and result.retries >= 10
    assert objects(direct, bucket, "s/") == content
    assert proxy.records(fault="status")
    back = tmp_path / "back"
    proxy.clear()
    proxy.add(Rule("status", method="GET", every=2, status=503, code="SlowDown"))
    _, down = sync(f"s3://{bucket}/s", back, tmp_path / "state", part_size="5M")
    assert down is not None and not down.failed and files(back) == content


def test_dropped_connections_before_and_after_the_server_acted(
    proxy: FaultProxy, direct: Any, bucket: str, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    content = make_tree(src, files=30, big=1)
    proxy.add(Rule("drop", every=5))
    proxy.add(Rule("drop_after", method="PUT", every=4))
    _, result = sync(src, f"s3://{bucket}/d", tmp_path / "state", part_size="5M", workers=4)
    assert result is not None and not result.failed
    assert proxy.records(fault="drop") and proxy.records(fault="drop_after")
    assert objects(direct, bucket, "d/") == content
    assert direct.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_bodies_corrupted_in_flight_are_caught_by_the_server_etag(
    proxy: FaultProxy, direct: Any, bucket: str, tmp_path: Path
) -> None:
    """moto accepts a body that does not match its x-amz-checksum-sha256; its ETag (the MD5 of what it
    stored) shows the damage, and the object or part is sent again."""
    src = tmp_path / "src"
    content = make_tree(src, files=6, big=1)
    proxy.add(Rule("corrupt", method="PUT", when=lambda r: r.path.endswith("file-3.txt"), times=1))
    proxy.add(Rule("corrupt", method="PUT", when=lambda r: r.query.get("partNumber") == ["2"], times=1))
    _, result = sync(src, f"s3://{bucket}/c", tmp_path / "state", part_size="5M")
    assert result is not None and not result.failed and result.retries >= 2
    assert len(proxy.records(fault="corrupt")) == 2
    assert objects(direct, bucket, "c/") == content


def test_a_key_that_always_fails_is_reported_and_the_rest_lands(
    proxy: FaultProxy, direct: Any, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIGRATE_TRANSFER_RETRIES", "4")
    src = tmp_path / "src"
    content = make_tree(src, files=8, big=1)
    direct.put_object(Bucket=bucket, Key="f/stale.txt", Body=b"old")
    proxy.add(Rule("status", method="PUT", when=lambda r: r.path.endswith("file-5.txt"), status=500))
    proxy.add(
        Rule("status", method="PUT", when=lambda r: r.query.get("partNumber") == ["2"], status=503, code="SlowDown")
    )
    plan, result = sync(src, f"s3://{bucket}/f", tmp_path / "state", part_size="5M", delete=True)
    assert result is not None
    assert sorted(k for k, _ in result.failed) == ["big/blob-0.bin", "dir2/sub 1/file-5.txt"]
    assert "HTTP 500" in dict(result.failed)["dir2/sub 1/file-5.txt"]
    landed = objects(direct, bucket, "f/")
    assert {k: v for k, v in content.items() if k in landed} == {k: v for k, v in landed.items() if k in content}
    assert len(landed) == len(content) - 2 + 1
    assert result.deleted == 0 and result.deletes_skipped == 1 and "stale.txt" in landed  # no deletes after errors
    assert direct.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []  # the failed upload was aborted


def test_each_completed_object_is_sent_once(proxy: FaultProxy, direct: Any, bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    content = make_tree(src, files=20)
    sync(src, f"s3://{bucket}/o", tmp_path / "state")
    sync(src, f"s3://{bucket}/o", tmp_path / "state")
    puts = _object_puts(proxy)
    assert len(puts) == len(content) and set(puts.values()) == {1}
    assert not [r for r in proxy.records("HEAD") if r.path.count("/") > 1]  # no object HEADs: state + listing


def _is_part(request: Request) -> bool:
    return "partNumber" in request.query


def test_timeouts_on_parts_are_retried(proxy: FaultProxy, direct: Any, bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "big.bin").write_bytes(os.urandom(11 * MiB))
    drops = Rule("drop", when=_is_part, every=2, times=2)
    proxy.add(drops)
    _, result = sync(src, f"s3://{bucket}/t", tmp_path / "state", part_size="5M")
    # A drop on a kept-alive connection is re-sent at once on a new one (it may be a stale connection), so
    # not every drop is counted as a retry; both drops happened and the object landed whole.
    assert drops.applied == 2
    assert result is not None and not result.failed and result.retries >= 1
    assert objects(direct, bucket, "t/") == files(src)


def test_a_server_that_stops_answering_times_out_and_is_retried(
    proxy: FaultProxy, direct: Any, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIGRATE_S3_READ_TIMEOUT", "0.5")
    src = tmp_path / "src"
    content = make_tree(src, files=4)
    proxy.add(Rule("delay", method="PUT", when=lambda r: r.path.endswith("file-2.txt"), delay=2.0, times=1))
    _, result = sync(src, f"s3://{bucket}/h", tmp_path / "state")
    assert result is not None and not result.failed and result.retries >= 1
    assert objects(direct, bucket, "h/") == content


def test_an_upload_gone_at_completion_is_sent_again_as_a_new_upload(
    proxy: FaultProxy, direct: Any, bucket: str, tmp_path: Path
) -> None:
    """CompleteMultipartUpload answered NoSuchUpload (an upload expired by a lifecycle rule, aborted by
    another run): the file starts over with a new upload instead of failing."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "big.bin").write_bytes(os.urandom(11 * MiB))

    def completing(req: Request) -> bool:
        return "uploadId" in req.query and "partNumber" not in req.query

    lost = proxy.add(Rule("status", method="POST", when=completing, times=1, status=404, code="NoSuchUpload"))
    _, result = sync(src, f"s3://{bucket}/gone", tmp_path / "state", part_size="5M")
    assert lost.applied == 1
    assert result is not None and not result.failed and result.verified == 1
    creates = [r for r in proxy.log if r.method == "POST" and "uploads" in r.query]
    assert len(creates) == 2  # the second upload of the file
    assert objects(direct, bucket, "gone/") == files(src)
