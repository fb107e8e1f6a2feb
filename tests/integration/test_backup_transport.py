"""The backup on the copy engine's S3 path (S3Store): what `verify: readback` adds, the bandwidth limit,
snapshots written by the earlier uploader, a least-privilege backup role, and `backup list` racing
retention. Moto server over HTTP; a fault proxy where a test corrupts requests on the way."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from faultproxy import FaultProxy, Rule

from migrate_cli.aws.session import client
from migrate_cli.iam.config import BackupWriter
from migrate_cli.iam.policies import backup_writer
from migrate_cli.iam.target import Target
from migrate_cli.lab.aws_endpoint import LocalAwsEndpoint
from migrate_cli.transfer.backup.config import BackupConfig
from migrate_cli.transfer.backup.manifest import Manifest
from migrate_cli.transfer.backup.restore import restore_snapshot
from migrate_cli.transfer.backup.scan import scan_tree
from migrate_cli.transfer.backup.snapshot import plan_backup, run_backup
from migrate_cli.transfer.backup.store import BackupStore
from migrate_cli.transfer.backup_actions import store_for

D1 = date(2026, 3, 2)
MIB = 1024 * 1024


@pytest.fixture
def s3(s3: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The shared `s3` (tests/integration/conftest.py), with three attempts per request."""
    monkeypatch.setenv("MIGRATE_TRANSFER_RETRIES", "3")
    return s3


@pytest.fixture
def proxy(endpoint: LocalAwsEndpoint, s3: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    """From here on the environment (so the backup's data path) goes through the proxy; `s3` does not."""
    fp = FaultProxy(endpoint.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", fp.start())
    yield fp
    fp.stop()


def write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def config(src: Path, bucket: str, **kw: Any) -> BackupConfig:
    return BackupConfig(source=str(src), destination=f"s3://{bucket}/site", part_size_mib=5, **kw)


def backup(cfg: BackupConfig, s3: Any, day: date) -> Any:
    store = store_for(cfg, s3)
    return run_backup(plan_backup(cfg, store, day), store)


def test_readback_catches_what_the_servers_reply_cannot_show(
    tmp_path: Path, s3: Any, bucket: str, proxy: FaultProxy
) -> None:
    """With SSE-KMS the ETag is no MD5, and moto (unlike AWS) stores a body that does not match the SHA-256
    sent with it: only reading the object back shows the damage. `verify: readback` does, and sends it again;
    without it the backup cannot tell, and the restore's own SHA-256 check refuses the bad content."""
    src = tmp_path / "src"
    write(src / "a.txt", "important")
    first = proxy.add(Rule("corrupt", when=lambda r: r.method == "PUT" and "/objects/" in r.path, times=1))
    checked = backup(config(src, bucket, sse="aws:kms", verify="readback"), s3, D1)
    assert checked.complete and checked.new_objects == 1 and first.applied == 1
    assert len([r for r in proxy.records("PUT", ok=True) if "/objects/" in r.path]) == 2  # sent again
    out = restore_snapshot(BackupStore(config(src, bucket).location, s3), D1, tmp_path / "r1")
    assert out.ok and files(tmp_path / "r1") == files(src)

    other = f"{bucket}-2"
    s3.create_bucket(Bucket=other)
    second = proxy.add(Rule("corrupt", when=lambda r: r.method == "PUT" and "/objects/" in r.path, times=1))
    blind = backup(config(src, other, sse="aws:kms"), s3, D1)
    assert blind.complete and second.applied == 1  # what the reply showed was fine
    out = restore_snapshot(BackupStore(config(src, other).location, s3), D1, tmp_path / "r2")
    assert [e.split(":")[0] for e in out.errors] == ["a.txt"] and "SHA-256" in out.errors[0]
    assert not (tmp_path / "r2" / "a.txt").exists()  # never renamed into place


def test_bwlimit_paces_uploads_and_restores(tmp_path: Path, s3: Any, bucket: str) -> None:
    src = tmp_path / "src"
    data = os.urandom(MIB)
    write(src / "one.bin", data)
    cfg = config(src, bucket, bwlimit="512K")
    started = time.monotonic()
    assert backup(cfg, s3, D1).complete
    upload = time.monotonic() - started
    started = time.monotonic()
    out = restore_snapshot(store_for(cfg, s3), D1, tmp_path / "r")
    restore = time.monotonic() - started
    assert out.ok and (tmp_path / "r" / "one.bin").read_bytes() == data
    # 1 MiB at 512 KiB/s with a 128 KiB burst: at least 1.75 s each way
    assert 1.6 < upload < 10 and 1.6 < restore < 10, (upload, restore)


def old_uploader_snapshot(s3: Any, bucket: str, src: Path, day: date) -> None:
    """Write a snapshot of `src` as the backup's own uploader did before it moved onto S3Store: boto3
    PutObject with a SHA-256 checksum, multipart objects with the whole-file SHA-256 in `sha256` metadata
    and no part-size metadata, and the gzip'd JSON manifest with its summary as metadata."""
    scan = scan_tree(src, [])
    for e in scan.files:
        data = (src / e.path).read_bytes()
        e.sha256 = hashlib.sha256(data).hexdigest()
        key = f"site/objects/sha256/{e.sha256[:2]}/{e.sha256}"
        if len(data) <= 5 * MIB:
            s3.put_object(Bucket=bucket, Key=key, Body=data, ChecksumAlgorithm="SHA256")
            continue
        upload = s3.create_multipart_upload(
            Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256", Metadata={"sha256": e.sha256}
        )["UploadId"]
        parts = []
        for number, start in enumerate(range(0, len(data), 5 * MIB), 1):
            resp = s3.upload_part(
                Bucket=bucket,
                Key=key,
                UploadId=upload,
                PartNumber=number,
                Body=data[start : start + 5 * MIB],
                ChecksumAlgorithm="SHA256",
            )
            parts.append({"PartNumber": number, "ETag": resp["ETag"], "ChecksumSHA256": resp["ChecksumSHA256"]})
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts})
    manifest = Manifest(day, "2026-03-02T02:15:00+00:00", str(src), "old-host", scan.entries)
    s3.put_object(
        Bucket=bucket,
        Key=f"site/snapshots/{day.isoformat()}.json.gz",
        Body=manifest.to_bytes(),
        Metadata=manifest.metadata(),
        ContentType="application/json",
        ContentEncoding="gzip",
        ChecksumAlgorithm="SHA256",
    )


def test_a_snapshot_written_by_the_earlier_uploader_restores_and_is_built_on(
    tmp_path: Path, s3: Any, bucket: str
) -> None:
    src = tmp_path / "src"
    write(src / "index.html", "<h1>old</h1>")
    write(src / "big.bin", os.urandom(6 * MIB + 7))
    (src / "empty").mkdir()
    old_uploader_snapshot(s3, bucket, src, D1)
    cfg = config(src, bucket)
    store = BackupStore(cfg.location, s3)
    assert [i.to_dict()["files"] for i in store.snapshot_infos()] == [2]
    out = restore_snapshot(store, D1, tmp_path / "r")
    assert out.ok and out.verified == 2 and files(tmp_path / "r") == files(src)
    assert (tmp_path / "r" / "empty").is_dir()

    write(src / "index.html", "<h1>new</h1>")
    nxt = backup(cfg, s3, D1 + timedelta(days=1))
    assert nxt.complete and nxt.new_objects == 1  # big.bin's old object is reused, not sent again
    doc = json.loads(
        gzip.decompress(s3.get_object(Bucket=bucket, Key=store.snapshot_key(D1 + timedelta(1)))["Body"].read())
    )
    assert doc["format"] == "migrate-backup/1" and {e["path"] for e in doc["entries"]} == {
        "index.html",
        "big.bin",
        "empty",
    }
    out = restore_snapshot(store, D1 + timedelta(days=1), tmp_path / "r2")
    assert out.ok and files(tmp_path / "r2") == files(src)


def test_list_leaves_out_a_snapshot_retention_deletes_while_it_lists(tmp_path: Path, s3: Any, bucket: str) -> None:
    """`backup list` takes no lock: a manifest deleted between the listing and its HEAD is not an error."""
    src = tmp_path / "src"
    write(src / "a.txt", "a")
    cfg = config(src, bucket)
    backup(cfg, s3, D1)
    backup(cfg, s3, D1 + timedelta(days=1))

    class Racing(BackupStore):
        def list_snapshots(self) -> list[date]:
            days = super().list_snapshots()
            self.s3.delete_object(Bucket=self.bucket, Key=self.snapshot_key(days[0]))  # retention, meanwhile
            return days

    infos = Racing(cfg.location, s3).snapshot_infos()
    assert [i.date for i in infos] == [D1 + timedelta(days=1)] and infos[0].files == 1


@pytest.fixture
def backup_role(endpoint: LocalAwsEndpoint, s3: Any, bucket: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The environment's credentials become an IAM user holding exactly the backup-writer policy that
    `migrate iam` generates for s3://BUCKET/site/ (no HeadBucket; ListBucket only under the prefix); moto
    enforces IAM until the test ends (process-global to this module's server)."""
    iam = boto3.session.Session().client("iam")
    user = f"backup-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    role = BackupWriter(destination=f"s3://{bucket}/site/", delete_for_retention=True)
    policy = backup_writer(role, Target(account="123456789012", region=endpoint.region))
    iam.put_user_policy(UserName=user, PolicyName="backup", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    endpoint._post("/moto-api/reset-auth", b"0")
    try:
        yield user
    finally:
        endpoint._post("/moto-api/reset-auth", b"inf")


def test_the_least_privilege_backup_role_backs_up_lists_and_restores(
    tmp_path: Path, bucket: str, backup_role: str
) -> None:
    """Retention's pruning is left out: moto refuses DeleteObjects (the batch call) per key to this role
    although it grants s3:DeleteObject on the prefix (a single DeleteObject passes); AWS allows it."""
    scoped = client("s3")
    with pytest.raises(Exception, match="403|Forbidden|AccessDenied"):
        scoped.head_bucket(Bucket=bucket)
    src = tmp_path / "src"
    write(src / "index.html", "<h1>hi</h1>")
    write(src / "big.bin", os.urandom(6 * MIB))  # multipart
    cfg = config(src, bucket)
    assert backup(cfg, scoped, D1).complete
    write(src / "index.html", "<h1>v2</h1>")
    second = backup(cfg, scoped, D1 + timedelta(days=1))
    assert second.complete and second.new_objects == 1
    store = store_for(cfg, scoped)
    assert [i.date for i in store.snapshot_infos()] == [D1, D1 + timedelta(days=1)]
    out = restore_snapshot(store, D1 + timedelta(days=1), tmp_path / "r")
    assert out.ok and files(tmp_path / "r") == files(src)
    with pytest.raises(Exception, match="AccessDenied"):
        scoped.put_object(Bucket=bucket, Key="elsewhere/x", Body=b"x")  # the role really is scoped
