"""Copy/sync against moto server over HTTP: round trips, sync semantics, storage classes, SSE, checksums
(stored, composite, verified on download), corrupted objects, unsafe keys, orphaned multipart uploads."""

from __future__ import annotations

import base64
import hashlib
import os
import time
from pathlib import Path
from typing import Any

import pytest
from transfer_helpers import MiB, files, make_tree, objects, sha256_b64, sync

from migrate_cli.core.errors import ConfigError, OperationFailed
from migrate_cli.core.settings import Settings
from migrate_cli.transfer.checksums import composite_sha256
from migrate_cli.transfer.location import parse_location
from migrate_cli.transfer.s3 import S3Store, format_mtime
from migrate_cli.transfer.service import CopyRequest, open_endpoints, plan_copy, validate
from migrate_cli.transfer.state import TransferState, state_path
from tests.conftest import closed_port


def test_round_trip_with_stored_checksums_and_mtimes(s3: Any, bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    content = make_tree(src, big=1)
    plan, result = sync(src, f"s3://{bucket}/site", tmp_path / "state", part_size="5M", workers=4)
    assert result is not None and not result.failed and result.verified == len(content)
    assert objects(s3, bucket, "site/") == content
    for key, data in content.items():
        head = s3.head_object(Bucket=bucket, Key=f"site/{key}", ChecksumMode="ENABLED")
        mtime_ns = (src / key).stat().st_mtime_ns
        assert head["Metadata"]["mtime"] == f"{mtime_ns // 10**9}.{mtime_ns % 10**9:09d}"
        if len(data) > 5 * MiB:  # multipart: composite of the 5 MiB parts, part size recorded
            parts = [hashlib.sha256(data[i : i + 5 * MiB]).digest() for i in range(0, len(data), 5 * MiB)]
            assert head["ChecksumSHA256"].split("-")[0] == composite_sha256(parts)
            assert head["Metadata"]["migrate-part-size"] == str(5 * MiB)
            assert head["ETag"].strip('"').endswith(f"-{len(parts)}")
        else:
            assert head["ChecksumSHA256"] == sha256_b64(data)
    back = tmp_path / "back"
    _, down = sync(f"s3://{bucket}/site", back, tmp_path / "state", workers=4)
    assert down is not None and down.verified == len(content) and not down.failed
    assert files(back) == content
    for key in content:  # the source mtime travels through S3 and back, to the nanosecond
        assert (back / key).stat().st_mtime_ns == (src / key).stat().st_mtime_ns


def test_resync_skips_unchanged_and_applies_changes_and_deletes(s3: Any, bucket: str, tmp_path: Path) -> None:
    src, state = tmp_path / "src", tmp_path / "state"
    content = make_tree(src)
    dest = f"s3://{bucket}/p"
    sync(src, dest, state)
    plan, result = sync(src, dest, state)
    assert (len(plan.copies), len(plan.skips), result) == (0, len(content), None)
    (src / "dir0/sub 0/file-0.txt").write_bytes(b"now longer")
    (src / "new.txt").write_bytes(b"new")
    (src / "empty.txt").unlink()
    plan, result = sync(src, dest, state, delete=True)
    assert sorted((i.key, i.reason) for i in plan.copies) == [
        ("dir0/sub 0/file-0.txt", "changed: size"),
        ("new.txt", "new"),
    ]
    assert [e.key for e in plan.deletes] == ["empty.txt"]
    assert result is not None and result.deleted == 1
    assert objects(s3, bucket, "p/") == files(src)
    # a fresh state (another machine, a lost state dir): the stored mtimes decide, nothing is re-sent
    plan, _ = sync(src, dest, tmp_path / "other-state")
    assert not plan.copies and len(plan.skips) == len(files(src))


def test_objects_written_by_other_tools_follow_aws_s3_sync_semantics(s3: Any, bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "old.txt").write_bytes(b"same")
    (src / "edited.txt").write_bytes(b"same")
    past, future = time.time() - 3600, time.time() + 3600
    os.utime(src / "old.txt", (past, past))
    os.utime(src / "edited.txt", (future, future))
    for key in ("old.txt", "edited.txt"):
        s3.put_object(Bucket=bucket, Key=f"x/{key}", Body=b"same")  # no x-amz-meta-mtime
    plan, _ = sync(src, f"s3://{bucket}/x", tmp_path / "state")
    assert [i.key for i in plan.copies] == ["edited.txt"] and [e.key for e in plan.skips] == ["old.txt"]


def test_storage_class_and_server_side_encryption(s3: Any, bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_tree(src, files=2, big=1)
    sync(src, f"s3://{bucket}/ia", tmp_path / "s1", storage_class="standard_ia", sse="AES256", part_size="5M")
    sync(src, f"s3://{bucket}/kms", tmp_path / "s2", sse="aws:kms", kms_key_id="alias/site-data")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page["Contents"]:
            head = s3.head_object(Bucket=bucket, Key=obj["Key"])
            if obj["Key"].startswith("ia/"):
                assert head["StorageClass"] == "STANDARD_IA" and head["ServerSideEncryption"] == "AES256"
            else:
                assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == "alias/site-data"
    sync(src, f"s3://{bucket}/gir", tmp_path / "s3", storage_class="GLACIER_IR")
    assert s3.head_object(Bucket=bucket, Key="gir/empty.txt")["StorageClass"] == "GLACIER_IR"


def test_checksum_mode_compares_content_with_the_stored_sha256(s3: Any, bucket: str, tmp_path: Path) -> None:
    src, state = tmp_path / "src", tmp_path / "state"
    make_tree(src, files=3, big=1)
    sync(src, f"s3://{bucket}/c", state, part_size="5M")
    target = src / "dir1/sub 1/file-1.txt"
    st = target.stat()
    target.write_bytes(bytes(b ^ 1 for b in target.read_bytes()))  # same size
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime
    assert not sync(src, f"s3://{bucket}/c", tmp_path / "fresh")[0].copies
    plan, result = sync(src, f"s3://{bucket}/c", state, checksum=True)
    assert [(i.key, i.reason) for i in plan.copies] == [("dir1/sub 1/file-1.txt", "changed: content")]
    assert len(plan.skips) == len(files(src)) - 1  # including the multipart file, via its composite
    assert objects(s3, bucket, "c/")["dir1/sub 1/file-1.txt"] == target.read_bytes()


def _put_raw(bucket: str, key: str, data: bytes, checksum: str) -> None:
    """PUT with a chosen x-amz-checksum-sha256: moto stores it without checking (see MOTO-NOTES)."""
    store = S3Store(parse_location(f"s3://{bucket}/"))
    headers = {"x-amz-checksum-sha256": checksum, "x-amz-sdk-checksum-algorithm": "SHA256"}
    store.http.request("PUT", bucket, key, headers=headers, body=data)


def test_a_corrupted_object_is_detected_on_download_retried_and_reported(s3: Any, bucket: str, tmp_path: Path) -> None:
    _put_raw(bucket, "d/good.txt", b"fine", sha256_b64(b"fine"))
    _put_raw(bucket, "d/rotten.txt", b"bit rot!", sha256_b64(b"original"))
    plan, result = sync(f"s3://{bucket}/d", tmp_path / "out", tmp_path / "state")
    assert result is not None and result.copied == 1 and result.retries >= 1
    assert [k for k, _ in result.failed] == ["rotten.txt"]
    assert "does not match its stored checksum" in result.failed[0][1]
    assert sorted(os.listdir(tmp_path / "out")) == ["good.txt"]  # no partial, no corrupt file


def test_a_multipart_object_not_matching_its_composite_fails(s3: Any, bucket: str, tmp_path: Path) -> None:
    """moto recomputes a composite from the bytes it stores, so stored bytes and composite cannot disagree
    there; the object here records a wrong part size instead: the download cannot reproduce the composite
    and must fail rather than accept what it cannot verify."""
    parts = [os.urandom(5 * MiB), os.urandom(2 * MiB)]
    upload = s3.create_multipart_upload(
        Bucket=bucket, Key="m/big.bin", ChecksumAlgorithm="SHA256", Metadata={"migrate-part-size": str(6 * MiB)}
    )
    done = []
    for number, data in enumerate(parts, 1):
        reply = s3.upload_part(
            Bucket=bucket,
            Key="m/big.bin",
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=data,
            ChecksumSHA256=sha256_b64(data),
        )
        done.append({"PartNumber": number, "ETag": reply["ETag"], "ChecksumSHA256": sha256_b64(data)})
    s3.complete_multipart_upload(
        Bucket=bucket, Key="m/big.bin", UploadId=upload["UploadId"], MultipartUpload={"Parts": done}
    )
    _, result = sync(f"s3://{bucket}/m", tmp_path / "out", tmp_path / "state", part_size="5M")
    assert result is not None and [k for k, _ in result.failed] == ["big.bin"] and result.retries >= 1
    assert "do not match the stored checksum" in result.failed[0][1]
    assert not (tmp_path / "out" / "big.bin").exists()
    assert not list((tmp_path / "out").glob(".*partial"))


def test_s3_to_s3_keeps_the_composite_checksum(s3: Any, bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    content = make_tree(src, files=2, big=1)
    sync(src, f"s3://{bucket}/a", tmp_path / "s1", part_size="5M")
    _, result = sync(f"s3://{bucket}/a", f"s3://{bucket}/b", tmp_path / "s2", part_size="8M")
    assert result is not None and not result.failed and result.verified == len(content)
    assert objects(s3, bucket, "b/") == content
    a = s3.head_object(Bucket=bucket, Key="a/big/blob-0.bin", ChecksumMode="ENABLED")
    b = s3.head_object(Bucket=bucket, Key="b/big/blob-0.bin", ChecksumMode="ENABLED")
    assert a["ChecksumSHA256"] == b["ChecksumSHA256"] and a["Metadata"] == b["Metadata"]


def test_keys_that_would_escape_the_destination_are_refused(s3: Any, bucket: str, tmp_path: Path) -> None:
    for key in ("u/ok.txt", "u/../../escape.txt", "u/a//b.txt", "u/./dot.txt"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    plan, result = sync(f"s3://{bucket}/u", tmp_path / "out", tmp_path / "state")
    assert sorted(k for k, _ in plan.errors) == ["../../escape.txt", "./dot.txt", "a//b.txt"]
    assert result is not None and result.copied == 1
    assert files(tmp_path / "out") == {"ok.txt": b"x"} and not (tmp_path / "escape.txt").exists()


def test_an_archived_object_is_reported_not_downloaded(s3: Any, bucket: str, tmp_path: Path) -> None:
    s3.put_object(Bucket=bucket, Key="g/cold.bin", Body=b"x", StorageClass="GLACIER")
    s3.put_object(Bucket=bucket, Key="g/warm.bin", Body=b"y")
    _, result = sync(f"s3://{bucket}/g", tmp_path / "out", tmp_path / "state")
    assert result is not None and result.copied == 1
    assert result.failed[0][0] == "cold.bin" and "archived in GLACIER" in result.failed[0][1]


def test_bad_buckets_and_empty_prefixes_are_config_errors(s3: Any, bucket: str, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    with pytest.raises(ConfigError, match="bucket 'no-such-bucket-x' does not exist"):
        sync(tmp_path / "src", "s3://no-such-bucket-x/p", tmp_path / "state")
    with pytest.raises(ConfigError, match="has no objects"):
        sync(f"s3://{bucket}/nothing-here", tmp_path / "out", tmp_path / "state")
    assert not (tmp_path / "state").exists() and not (tmp_path / "out").exists()


def test_an_endpoint_that_does_not_answer_is_a_remote_failure(
    bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", dead)
    monkeypatch.setenv("MIGRATE_TRANSFER_RETRIES", "2")
    (tmp_path / "src").mkdir()
    with pytest.raises(OperationFailed, match=f"cannot reach s3 endpoint {dead} "):
        sync(tmp_path / "src", f"s3://{bucket}/p", tmp_path / "state")
    assert not (tmp_path / "state").exists()


def test_uploads_left_by_a_killed_run_are_aborted_or_resumed(s3: Any, bucket: str, tmp_path: Path) -> None:
    """State written as a run killed at three moments would leave it; the next run must clean up."""
    src, state_dir = tmp_path / "src", tmp_path / "state"
    src.mkdir()
    (src / "stays.bin").write_bytes(os.urandom(11 * MiB))
    (src / "changed.bin").write_bytes(os.urandom(11 * MiB))
    src_loc, dst_loc = parse_location(str(src)), parse_location(f"s3://{bucket}/k")
    state = TransferState(state_path(state_dir, src_loc, dst_loc), src_loc, dst_loc)
    # 1. killed between CreateMultipartUpload and recording its id: only the intent is in the state
    state.intend("ghost.bin", "1:1", 5 * MiB)
    s3.create_multipart_upload(Bucket=bucket, Key="k/ghost.bin")
    # 2. an upload whose source changed since: its id is recorded, but it cannot be resumed
    state.intend("changed.bin", "stale-signature", 5 * MiB)
    stale = s3.create_multipart_upload(Bucket=bucket, Key="k/changed.bin")["UploadId"]
    state.started("changed.bin", stale)
    # 3. an upload of an unchanged file with two parts sent: resumed, those parts are not sent again
    data = (src / "stays.bin").read_bytes()
    entry_sig = f"{len(data)}:{(src / 'stays.bin').stat().st_mtime_ns}"
    state.intend("stays.bin", entry_sig, 5 * MiB)
    upload = s3.create_multipart_upload(
        Bucket=bucket,
        Key="k/stays.bin",
        ChecksumAlgorithm="SHA256",
        Metadata={"mtime": format_mtime((src / "stays.bin").stat().st_mtime_ns), "migrate-part-size": str(5 * MiB)},
    )["UploadId"]
    state.started("stays.bin", upload)
    from migrate_cli.transfer.sources import PartDone

    for number in (1, 2):
        chunk = data[(number - 1) * 5 * MiB : number * 5 * MiB]
        reply = s3.upload_part(
            Bucket=bucket,
            Key="k/stays.bin",
            UploadId=upload,
            PartNumber=number,
            Body=chunk,
            ChecksumSHA256=sha256_b64(chunk),
        )
        state.part_done(
            "stays.bin",
            PartDone(
                number,
                len(chunk),
                hashlib.sha256(chunk).digest(),
                hashlib.md5(chunk).digest(),
                reply["ETag"].strip('"'),
            ),
        )
    state.close()
    _, result = sync(src, f"s3://{bucket}/k", state_dir, part_size="5M")
    assert result is not None and not result.failed
    assert result.resumed_parts == 2 and result.aborted_uploads == 2
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert objects(s3, bucket, "k/") == files(src)
    head = s3.head_object(Bucket=bucket, Key="k/stays.bin", ChecksumMode="ENABLED")
    parts = [hashlib.sha256(data[i : i + 5 * MiB]).digest() for i in range(0, len(data), 5 * MiB)]
    assert head["ChecksumSHA256"].split("-")[0] == composite_sha256(parts)
    assert base64.b64decode(head["ChecksumSHA256"].split("-")[0])


def test_an_upload_left_behind_is_aborted_when_nothing_else_is_copied(s3: Any, bucket: str, tmp_path: Path) -> None:
    """A killed run's upload of a file since deleted from the source: the next run has nothing to copy, yet
    its plan says it will clean up (check mode shows it) and the upload is aborted."""
    src, state_dir = tmp_path / "src", tmp_path / "state"
    src.mkdir()
    (src / "kept.txt").write_bytes(b"kept")
    sync(src, f"s3://{bucket}/g", state_dir)
    src_loc, dst_loc = parse_location(str(src)), parse_location(f"s3://{bucket}/g")
    state = TransferState(state_path(state_dir, src_loc, dst_loc), src_loc, dst_loc)
    state.intend("deleted.bin", "12:34", 5 * MiB)
    state.started("deleted.bin", s3.create_multipart_upload(Bucket=bucket, Key="g/deleted.bin")["UploadId"])
    state.close()

    endpoints = open_endpoints(validate(CopyRequest(str(src), f"s3://{bucket}/g")), None)
    try:
        checked = plan_copy(endpoints, Settings(state_dir=state_dir))  # what --check runs
    finally:
        endpoints.close()
    assert checked.leftovers == ["deleted.bin"] and not checked.copies
    assert s3.list_multipart_uploads(Bucket=bucket, Prefix="g/").get("Uploads")  # check mode changed nothing

    plan, result = sync(src, f"s3://{bucket}/g", state_dir)
    assert plan.leftovers == ["deleted.bin"] and result is not None and result.aborted_uploads == 1
    assert not s3.list_multipart_uploads(Bucket=bucket, Prefix="g/").get("Uploads")
    again, _ = sync(src, f"s3://{bucket}/g", state_dir)
    assert not again.changed


def test_mid_sized_files_go_in_one_request_from_disk(s3: Any, bucket: str, tmp_path: Path) -> None:
    """Above 1 MiB and up to the multipart threshold (64 MiB by default) a local file is sent with
    sendfile in a single PUT: one full-object SHA-256, no parts."""
    src = tmp_path / "src"
    src.mkdir()
    data = os.urandom(3 * MiB + 17)
    (src / "mid.bin").write_bytes(data)
    _, result = sync(src, f"s3://{bucket}/mid", tmp_path / "state")
    assert result is not None and result.verified == 1 and not result.failed
    head = s3.head_object(Bucket=bucket, Key="mid/mid.bin", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == sha256_b64(data) and "migrate-part-size" not in head["Metadata"]
    assert "-" not in head["ETag"]
    _, back = sync(f"s3://{bucket}/mid", tmp_path / "back", tmp_path / "state")
    assert back is not None and (tmp_path / "back" / "mid.bin").read_bytes() == data


def test_the_botocore_transport_moves_the_same_bytes(
    s3: Any, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MIGRATE_S3_TRANSPORT=botocore (used automatically behind an HTTP proxy): same requests, same checks."""
    monkeypatch.setenv("MIGRATE_S3_TRANSPORT", "botocore")
    src = tmp_path / "src"
    content = make_tree(src, files=4, big=1)
    _, up = sync(src, f"s3://{bucket}/bc", tmp_path / "state", part_size="5M")
    assert up is not None and not up.failed and up.verified == len(content)
    assert objects(s3, bucket, "bc/") == content
    _, down = sync(f"s3://{bucket}/bc", tmp_path / "back", tmp_path / "state", part_size="5M")
    assert down is not None and not down.failed and files(tmp_path / "back") == content
    assert not sync(src, f"s3://{bucket}/bc", tmp_path / "state")[0].copies
