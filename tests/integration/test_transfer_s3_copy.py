"""S3 -> S3 copies done inside S3 (CopyObject / UploadPartCopy) against moto server over HTTP, with the
fault proxy (faultproxy.py) in between to see every request: content compared byte for byte, metadata,
storage class and SSE, re-sync and --delete, checksum mismatches (tampered source checksums), the fallback
to streaming when the server refuses copies or the endpoints differ, archived sources, and a multipart copy
killed with SIGKILL and resumed."""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from faultproxy import FaultProxy, Record, Rule
from transfer_helpers import MiB, make_tree, objects, sync

from migrate_cli.lab.aws_endpoint import LocalAwsEndpoint
from migrate_cli.transfer.checksums import Expected, composite_sha256, multipart_etag
from migrate_cli.transfer.engine import TransferEngine
from migrate_cli.transfer.filters import KeyFilter
from migrate_cli.transfer.location import parse_location
from migrate_cli.transfer.plan import build_plan
from migrate_cli.transfer.s3 import S3Store, format_mtime
from migrate_cli.transfer.s3copy import compare, same_service
from migrate_cli.transfer.state import TransferState, state_path
from tests.conftest import REPO


class Meter:
    """Counts the request body bytes the client sends through the proxy (a rule that never applies)."""

    def __init__(self) -> None:
        self.sent = 0

    def __call__(self, req: Any) -> bool:
        if req.method == "PUT":
            self.sent += len(req.body)
        return False


def _bucket(direct: Any) -> str:
    name = f"cp-{uuid.uuid4().hex[:12]}"
    direct.create_bucket(Bucket=name)
    return name


@pytest.fixture
def buckets(direct: Any) -> tuple[str, str]:
    return _bucket(direct), _bucket(direct)


def _source_gets(proxy: FaultProxy, bucket: str) -> list[Record]:
    """GETs of objects (not listings) in `bucket`."""
    return [r for r in proxy.records("GET") if r.path.startswith(f"/{bucket}/") and "list-type" not in r.query]


def _sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _multipart(direct: Any, bucket: str, key: str, data: bytes, part: int, declared: int | None = None) -> None:
    """A multipart object with SHA-256 part checksums (composite), optionally declaring a part size."""
    meta = {"migrate-part-size": str(declared)} if declared else {}
    upload = direct.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256", Metadata=meta)
    parts = []
    for n, offset in enumerate(range(0, len(data), part), start=1):
        chunk = data[offset : offset + part]
        reply = direct.upload_part(
            Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=n, Body=chunk, ChecksumSHA256=_sha(chunk)
        )
        parts.append({"PartNumber": n, "ETag": reply["ETag"], "ChecksumSHA256": _sha(chunk)})
    direct.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
    )


def _uploads(direct: Any, bucket: str) -> list[Any]:
    return direct.list_multipart_uploads(Bucket=bucket).get("Uploads", [])


def test_copies_inside_s3_keeping_metadata_applying_options_and_syncing(
    proxy: FaultProxy, direct: Any, buckets: tuple[str, str], tmp_path: Path
) -> None:
    a, b = buckets
    src = tmp_path / "src"
    content = make_tree(src, files=6, big=1)  # one 12 MiB file: uploaded in 5 MiB parts, part size declared
    sync(src, f"s3://{a}/site", tmp_path / "up", part_size="5M")
    direct.put_object(  # written by another tool: no mtime of ours, a content type, user metadata
        Bucket=a,
        Key="site/other/extra.json",
        Body=b'{"x": 1}',
        ContentType="application/json",
        CacheControl="max-age=60",
        Metadata={"owner": "ops"},
    )
    content["other/extra.json"] = b'{"x": 1}'
    meter = Meter()
    proxy.add(Rule("delay", when=meter))
    proxy.log.clear()

    dest, state = f"s3://{b}/copy", tmp_path / "state"
    plan, result = sync(f"s3://{a}/site", dest, state, storage_class="STANDARD_IA", sse="AES256", part_size="5M")
    assert result is not None and not result.failed, result.failed
    assert (result.copied, result.server_side, result.verified) == (len(content), len(content), len(content))
    assert result.as_dict()["server_side"] == len(content)
    assert objects(direct, b, "copy/") == content  # byte for byte
    assert meter.sent == 0 and not _source_gets(proxy, a)  # no content went through the client
    copies = [r for r in proxy.records("PUT") if r.path.startswith(f"/{b}/")]
    assert copies and all(r.status == 200 for r in copies)

    for key, data in content.items():
        s = direct.head_object(Bucket=a, Key=f"site/{key}", ChecksumMode="ENABLED")
        d = direct.head_object(Bucket=b, Key=f"copy/{key}", ChecksumMode="ENABLED")
        assert (d["StorageClass"], d["ServerSideEncryption"]) == ("STANDARD_IA", "AES256"), key
        assert d["ContentType"] == s["ContentType"] and d["ETag"] == s["ETag"], key
        if key == "other/extra.json":  # its LastModified became the mtime; metadata and headers kept
            assert d["Metadata"] == {"owner": "ops", "mtime": format_mtime(int(s["LastModified"].timestamp()) * 10**9)}
            assert d["CacheControl"] == "max-age=60"
            continue
        assert d["Metadata"]["mtime"] == s["Metadata"]["mtime"], key
        assert d["ChecksumSHA256"] == s["ChecksumSHA256"], key  # full object, or composite of the same parts
        if len(data) > 5 * MiB:
            assert d["Metadata"]["migrate-part-size"] == str(5 * MiB) and d["ETag"].endswith('-3"')
        else:
            assert "migrate-part-size" not in d["Metadata"]
    assert not _uploads(direct, b)

    plan, result = sync(f"s3://{a}/site", dest, state)  # a re-sync is a no-op
    assert (len(plan.copies), result) == (0, None)

    (src / "dir0/sub 0/file-0.txt").write_bytes(b"changed")
    (src / "empty.txt").unlink()
    sync(src, f"s3://{a}/site", tmp_path / "up", delete=True)
    meter.sent = 0
    plan, result = sync(f"s3://{a}/site", dest, state, delete=True)
    assert [i.key for i in plan.copies] == ["dir0/sub 0/file-0.txt"]
    assert [e.key for e in plan.deletes] == ["empty.txt", "other/extra.json"]  # gone from the source too
    assert result is not None and (result.server_side, result.deleted, result.failed) == (1, 2, [])
    assert objects(direct, b, "copy/") == objects(direct, a, "site/")
    assert meter.sent == 0


def test_parts_or_one_request_by_what_keeps_the_copy_verifiable(
    proxy: FaultProxy, direct: Any, buckets: tuple[str, str], tmp_path: Path
) -> None:
    """Above the threshold: a single-part object with a SHA-256 stays one CopyObject (verified); one whose
    checksum the destination cannot compare (MD5 ETag, destination SSE-KMS) goes in parts (unverified)."""
    a, b = buckets
    whole, plain = os.urandom(7 * MiB), os.urandom(11 * MiB)
    direct.put_object(Bucket=a, Key="p/whole.bin", Body=whole, ChecksumAlgorithm="SHA256")
    direct.put_object(Bucket=a, Key="p/plain.bin", Body=plain, ChecksumAlgorithm="CRC32")
    meter = Meter()
    proxy.add(Rule("delay", when=meter))
    _, result = sync(f"s3://{a}/p", f"s3://{b}/q", tmp_path / "s", part_size="5M", sse="aws:kms")
    assert result is not None and not result.failed
    assert (result.server_side, result.verified, result.unverified) == (2, 1, 1)
    assert objects(direct, b, "q/") == {"whole.bin": whole, "plain.bin": plain}
    assert meter.sent == 0 and not _source_gets(proxy, a)
    one = direct.head_object(Bucket=b, Key="q/whole.bin", ChecksumMode="ENABLED")
    parts = direct.head_object(Bucket=b, Key="q/plain.bin")
    assert one["ChecksumSHA256"] == _sha(whole) and "-" not in one["ETag"]
    assert parts["Metadata"]["migrate-part-size"] == str(5 * MiB) and parts["ETag"].endswith('-3"')
    assert parts["ServerSideEncryption"] == "aws:kms"


def test_a_copy_that_does_not_match_the_source_checksum_fails_and_is_removed(
    proxy: FaultProxy, direct: Any, buckets: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tampered sources (moto stores a wrong ChecksumSHA256 as given, see MOTO-NOTES): a single-part object
    whose stored SHA-256 is not its content's, and a multipart object declaring a part size other than the
    one its composite was made with. The copy's checksum is computed by the server from what it copied."""
    monkeypatch.setenv("MIGRATE_TRANSFER_RETRIES", "2")
    a, b = buckets
    lie = _sha(b"other content")  # stored as given when x-amz-sdk-checksum-algorithm comes with it
    direct.put_object(Bucket=a, Key="p/lying.txt", Body=b"actual", ChecksumAlgorithm="SHA256", ChecksumSHA256=lie)
    _multipart(direct, a, "p/parts.bin", os.urandom(12 * MiB), 5 * MiB, declared=5 * MiB + MiB // 2)
    direct.put_object(Bucket=a, Key="p/good.txt", Body=b"fine")
    state = tmp_path / "s"
    _, result = sync(f"s3://{a}/p", f"s3://{b}/q", state, part_size="5M")
    assert result is not None
    failed = dict(result.failed)
    assert sorted(failed) == ["lying.txt", "parts.bin"]
    assert all("checksum differs from the source's" in message for message in failed.values()), failed
    assert result.server_side == 1 and result.retries >= 2  # retried, then reported
    assert objects(direct, b, "q/") == {"good.txt": b"fine"}  # the bad copies were removed
    assert not _uploads(direct, b)
    assert not TransferState(
        state_path(state, parse_location(f"s3://{a}/p"), parse_location(f"s3://{b}/q")),
        parse_location(f"s3://{a}/p"),
        parse_location(f"s3://{b}/q"),
        readonly=True,
    ).uploads()


def test_copies_refused_by_the_server_are_streamed_for_the_rest_of_the_run(
    proxy: FaultProxy, direct: Any, buckets: tuple[str, str], tmp_path: Path
) -> None:
    a, b = buckets
    big = os.urandom(12 * MiB)
    _multipart(direct, a, "p/a-big.bin", big, 5 * MiB, declared=5 * MiB)  # first: refused on UploadPartCopy
    small = {f"f{i}.txt": os.urandom(1000 + i) for i in range(4)}
    for key, data in small.items():
        direct.put_object(Bucket=a, Key=f"p/{key}", Body=data)
    proxy.add(
        Rule("status", method="PUT", when=lambda r: "x-amz-copy-source" in r.headers, status=501, code="NotImplemented")
    )
    _, result = sync(f"s3://{a}/p", f"s3://{b}/q", tmp_path / "s", part_size="5M", workers=1)
    assert result is not None and not result.failed, result.failed
    assert (result.copied, result.server_side, result.verified) == (5, 0, 5)
    assert objects(direct, b, "q/") == {"a-big.bin": big, **small}
    assert len(proxy.records(fault="status")) == 1  # asked once, then remembered for the run
    assert len(_source_gets(proxy, a)) >= 5  # streamed
    assert not _uploads(direct, b)


def test_different_endpoints_stream_and_archived_sources_say_restore_first(
    proxy: FaultProxy,
    direct: Any,
    endpoint: LocalAwsEndpoint,
    buckets: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = buckets
    direct.put_object(Bucket=a, Key="p/cold.txt", Body=b"cold", StorageClass="GLACIER")
    direct.put_object(Bucket=a, Key="p/warm.txt", Body=b"warm")
    src, dst = parse_location(f"s3://{a}/p"), parse_location(f"s3://{b}/q")

    source = S3Store(src)  # through the proxy
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint.url)
    dest = S3Store(dst)  # straight to moto: another endpoint URL
    assert not same_service(source, dest) and same_service(S3Store(src), dest)
    state = TransferState(tmp_path / "state.sqlite", src, dst)
    plan = build_plan(source, dest, KeyFilter((), ()), {})
    result = TransferEngine(source, dest, state).run(plan)
    state.close()
    read = {r.path for r in _source_gets(proxy, a) if r.upstream == 200}
    assert result.server_side == 0 and read == {f"/{a}/p/warm.txt"}  # streamed; cold.txt cannot be read
    assert objects(direct, b, "q/") == {"warm.txt": b"warm"}
    assert [k for k, _ in result.failed] == ["cold.txt"]

    _, result = sync(f"s3://{a}/p", f"s3://{b}/r", tmp_path / "s2")  # one endpoint: server-side, cold refused
    assert result is not None and result.server_side == 1
    assert len(result.failed) == 1 and "restore it first" in result.failed[0][1]
    assert objects(direct, b, "r/") == {"warm.txt": b"warm"}


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (("https://s3.amazonaws.com", "us-east-1"), ("https://s3.eu-west-1.amazonaws.com", "eu-west-1"), True),
        (("https://s3.amazonaws.com", "us-east-1"), ("https://s3.cn-north-1.amazonaws.com.cn", "cn-north-1"), False),
        (("https://s3.amazonaws.com", "us-east-1"), ("http://127.0.0.1:9000", "us-east-1"), False),
        (("http://127.0.0.1:9000", "us-east-1"), ("http://127.0.0.1:9000/", "us-east-1"), True),
        (("http://127.0.0.1:9000", "us-east-1"), ("http://127.0.0.1:9000", "eu-west-1"), False),
    ],
)
def test_same_service(a: tuple[str, str], b: tuple[str, str], same: bool) -> None:
    def store(url: str, region: str) -> Any:
        return SimpleNamespace(endpoint=SimpleNamespace(url=url, region=region))

    assert same_service(store(*a), store(*b)) is same


_D = hashlib.sha256(b"data").digest()
_MD5 = hashlib.md5(b"data").hexdigest()


@pytest.mark.parametrize(
    ("src", "dst", "same_parts", "declared", "verdict"),
    [
        (Expected(_sha(b"data")), Expected(_sha(b"data")), False, True, True),
        (Expected(_sha(b"data")), Expected(_sha(b"other")), False, False, False),  # whole object: always proof
        (Expected(composite_sha256([_D]), parts=1), Expected(_sha(b"data")), False, True, True),
        (Expected("c1", parts=3, part_size=5 * MiB), Expected("c1", parts=3), True, True, True),
        (Expected("c1", parts=3, part_size=5 * MiB), Expected("c2", parts=3), True, True, False),
        (Expected("c1", parts=3), Expected("c2", parts=3), True, False, None),  # guessed boundaries never fail
        (Expected("c1", parts=3), Expected("c1", parts=3), False, True, None),  # other boundaries: no comparison
        (Expected(md5_etag=_MD5), Expected(md5_etag=_MD5), False, True, True),
        (Expected(md5_etag=multipart_etag([bytes.fromhex(_MD5)])), Expected(md5_etag=_MD5), False, True, True),
        (Expected(md5_etag=_MD5), Expected(_sha(b"data")), False, True, None),  # SSE-KMS copy: no MD5 ETag
        (None, Expected(_sha(b"data")), False, True, None),
    ],
)
def test_compare(src: Expected | None, dst: Expected, same_parts: bool, declared: bool, verdict: bool | None) -> None:
    assert compare(src, dst, same_parts, declared) is verdict


@pytest.mark.slow
def test_a_multipart_copy_killed_mid_way_is_resumed(
    proxy: FaultProxy, direct: Any, buckets: tuple[str, str], tmp_path: Path
) -> None:
    a, b = buckets
    data = os.urandom(15 * MiB)
    _multipart(direct, a, "p/big.bin", data, 5 * MiB, declared=5 * MiB)
    slow = proxy.add(Rule("delay", method="PUT", when=lambda r: r.query.get("partNumber") == ["2"], delay=2, times=1))
    state = tmp_path / "state"
    cmd = [sys.executable, "-m", "migrate_cli", "--state-dir", str(state), "data", "copy"]
    child = subprocess.Popen(
        [*cmd, f"s3://{a}/p", f"s3://{b}/q", "--part-size", "5M", "--workers", "1"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while not slow.applied:  # part 1 copied (one worker: in order), part 2 on its way
        assert child.poll() is None and time.monotonic() < deadline, "part 2 was never asked for"
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    while not proxy.records(fault="delay"):  # the delayed part 2 reaches the server after all
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert len(_uploads(direct, b)) == 1  # left for the next run, which knows it from the state
    proxy.log.clear()

    _, result = sync(f"s3://{a}/p", f"s3://{b}/q", state, part_size="5M", workers=1)
    assert result is not None and not result.failed, result.failed
    assert (result.server_side, result.resumed_parts, result.verified) == (1, 1, 1)
    copied = sorted(r.query["partNumber"][0] for r in proxy.records("PUT", ok=True) if "partNumber" in r.query)
    assert copied == ["2", "3"]  # part 1 was not copied again
    assert objects(direct, b, "q/") == {"big.bin": data}
    assert not _uploads(direct, b)
