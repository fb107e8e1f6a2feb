"""Backups against moto server over HTTP: round trips, change detection, multipart, integrity, killed runs,
retention and garbage collection. The backup's object traffic goes through a fault proxy (a real HTTP hop,
tests/integration/faultproxy.py) that counts the requests and, where a test says so, corrupts or drops them;
the control calls (listing, deletes) and the tests' own checks go straight to the endpoint."""

from __future__ import annotations

import hashlib
import os
import subprocess
import uuid
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from faultproxy import FaultProxy, Request, Rule

from migrate_cli.aws.session import client
from migrate_cli.core.errors import ConfigError, OperationFailed, SafetyRefusal
from migrate_cli.lab.aws_endpoint import LocalAwsEndpoint
from migrate_cli.transfer.backup.blobs import IntegrityError
from migrate_cli.transfer.backup.config import BackupConfig
from migrate_cli.transfer.backup.restore import restore_snapshot
from migrate_cli.transfer.backup.snapshot import BackupOutcome, plan_backup, run_backup
from migrate_cli.transfer.backup.store import BackupStore
from migrate_cli.transfer.checksums import composite_sha256

D1 = date(2026, 3, 2)
MIB = 1024 * 1024


@pytest.fixture
def proxy(proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch) -> FaultProxy:
    """The shared fault proxy (tests/integration/conftest.py), with three attempts per request."""
    monkeypatch.setenv("MIGRATE_TRANSFER_RETRIES", "3")
    return proxy


@pytest.fixture
def s3(endpoint: LocalAwsEndpoint, proxy: FaultProxy) -> Any:
    """A client straight to the endpoint: the store's control calls, and the tests' own set-up and checks."""
    return client("s3", endpoint_url=endpoint.url, region_name=endpoint.region)


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"bk-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def operation(r: Request | Any) -> str:
    """The S3 operation of a proxied request, as far as these tests need to tell them apart."""
    if r.method == "PUT":
        return "UploadPart" if "partNumber" in r.query else "PutObject"
    if r.method == "POST":
        return "CreateMultipartUpload" if "uploads" in r.query else "CompleteMultipartUpload"
    return {"GET": "GetObject", "HEAD": "HeadObject", "DELETE": "AbortMultipartUpload"}.get(r.method, r.method)


class Calls:
    """Counts the S3 operations the backup's data path sent through the proxy since the last reset."""

    def __init__(self, proxy: FaultProxy) -> None:
        self.proxy = proxy
        self.seen = len(proxy.records())

    def reset(self) -> Counter[str]:
        records = self.proxy.records()
        fresh, self.seen = records[self.seen :], len(records)
        return Counter(operation(r) for r in fresh if r.upstream is not None)


def is_object_put(r: Request) -> bool:
    return r.method == "PUT" and "/objects/" in r.path and not r.query


def config(src: Path, bucket: str, **kw: Any) -> BackupConfig:
    return BackupConfig(source=str(src), destination=f"s3://{bucket}/site", part_size_mib=5, **kw)


def backup(cfg: BackupConfig, s3: Any, day: date, **kw: Any) -> BackupOutcome:
    store = BackupStore(cfg.location, s3)
    return run_backup(plan_backup(cfg, store, day), store, **kw)


def tree_state(root: Path) -> dict[str, tuple[Any, ...]]:
    """Everything a restore must reproduce: type, content or target, permission bits, mtime."""
    out: dict[str, tuple[Any, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            st = path.lstat()
            if path.is_symlink():
                out[rel] = ("link", os.readlink(path), st.st_mtime_ns)
            elif path.is_dir():
                out[rel] = ("dir", st.st_mode & 0o7777, st.st_mtime_ns)
            else:
                out[rel] = ("file", path.read_bytes(), st.st_mode & 0o7777, st.st_mtime_ns)
    return out


def put(path: Path, data: bytes | str, mode: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    if mode is not None:
        os.chmod(path, mode)


def site(root: Path) -> Path:
    put(root / "index.html", "<h1>hello</h1>")
    put(root / "css" / "site.css", "body{}")
    put(root / "data" / "db.sqlite", os.urandom(50_000))
    put(root / "data" / "copy.sqlite", (root / "data" / "db.sqlite").read_bytes())  # same content twice
    put(root / "secret" / "key.pem", "KEY", mode=0o600)
    put(root / "empty.txt", b"")
    put(root / "sp ace & ünï.txt", "odd name")
    (root / "uploads" / "empty-dir").mkdir(parents=True)
    os.symlink("index.html", root / "home.html")
    os.chmod(root / "secret", 0o700)
    return root


def restore_and_compare(
    cfg: BackupConfig, s3: Any, day: date, expected: dict[str, tuple[Any, ...]], dest: Path
) -> None:
    out = restore_snapshot(BackupStore(cfg.location, s3), day, dest)
    assert out.errors == []
    assert out.verified == out.files
    assert tree_state(dest) == expected


def test_round_trip_three_days_each_restores_exactly(tmp_path: Path, s3: Any, bucket: str) -> None:
    src = site(tmp_path / "src")
    cfg = config(src, bucket)
    states = {}
    first = backup(cfg, s3, D1)
    assert first.written and first.complete and first.files == 7
    states[D1] = tree_state(src)

    d2 = D1 + timedelta(days=1)
    put(src / "index.html", "<h1>changed</h1>")
    (src / "css" / "site.css").unlink()
    put(src / "new" / "deep" / "er" / "file.txt", "new")
    os.chmod(src / "empty.txt", 0o444)
    (src / "home.html").unlink()
    os.symlink("new/deep", src / "home.html")
    os.utime(src / "data", ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    backup(cfg, s3, d2)
    states[d2] = tree_state(src)

    d3 = D1 + timedelta(days=2)
    (src / "uploads" / "empty-dir").rmdir()
    put(src / "data" / "db.sqlite", os.urandom(60_000))
    backup(cfg, s3, d3)
    states[d3] = tree_state(src)

    assert BackupStore(cfg.location, s3).list_snapshots() == [D1, d2, d3]
    for day, expected in states.items():
        restore_and_compare(cfg, s3, day, expected, tmp_path / f"restore-{day}")


def test_only_changed_content_is_uploaded(tmp_path: Path, s3: Any, bucket: str, proxy: FaultProxy) -> None:
    src = site(tmp_path / "src")
    cfg = config(src, bucket)
    calls = Calls(proxy)
    first = backup(cfg, s3, D1)
    sent = calls.reset()
    # 6 distinct contents (copy.sqlite duplicates db.sqlite) + the manifest
    assert first.new_objects == 6 and sent["PutObject"] == 7
    assert first.new_bytes == sum(
        len(p.read_bytes()) for p in src.rglob("*") if p.is_file() and not p.is_symlink() and p.name != "copy.sqlite"
    )

    unchanged = backup(cfg, s3, D1 + timedelta(days=1))
    assert calls.reset()["PutObject"] == 1  # the new day's manifest only
    assert unchanged.new_objects == 0 and unchanged.written

    put(src / "index.html", "<h1>v2</h1>")
    os.rename(src / "css" / "site.css", src / "css" / "renamed.css")  # same content: nothing to send
    put(src / "dup-of-index.html", "<h1>v2</h1>")
    changed = backup(cfg, s3, D1 + timedelta(days=2))
    assert calls.reset()["PutObject"] == 2 and changed.new_objects == 1 and changed.new_bytes == len("<h1>v2</h1>")
    objects = BackupStore(cfg.location, s3).list_objects()
    assert len(objects) == 7


def test_check_mode_plan_names_exactly_what_the_run_uploads(
    tmp_path: Path, s3: Any, bucket: str, proxy: FaultProxy
) -> None:
    src = site(tmp_path / "src")
    cfg = config(src, bucket)
    store = BackupStore(cfg.location, s3)
    calls = Calls(proxy)
    checked = plan_backup(cfg, store, D1, hash_now=True)
    assert calls.reset()["PutObject"] == 0
    assert store.list_snapshots() == []
    assert len(checked.uploads) == 6
    assert checked.changes()[1] == f"upload 6 new objects ({sum(checked.uploads.values()) / 1024:.1f} KiB)"
    outcome = run_backup(plan_backup(cfg, store, D1), store)
    assert outcome.new_objects == len(checked.uploads) and outcome.new_bytes == sum(checked.uploads.values())


def test_same_day_twice_replaces_then_is_a_no_op(tmp_path: Path, s3: Any, bucket: str, proxy: FaultProxy) -> None:
    src = site(tmp_path / "src")
    cfg = config(src, bucket)
    first = backup(cfg, s3, D1)
    put(src / "later.txt", "written in the afternoon")
    second = backup(cfg, s3, D1)
    assert second.written and second.new_objects == 1
    store = BackupStore(cfg.location, s3)
    assert store.list_snapshots() == [D1]
    info = store.snapshot_infos()[0]
    assert info.files == first.files + 1
    assert info.new_bytes == first.new_bytes + len("written in the afternoon")  # the day's total
    restore_and_compare(cfg, s3, D1, tree_state(src), tmp_path / "r")

    calls = Calls(proxy)
    store2 = BackupStore(cfg.location, s3)
    plan = plan_backup(cfg, store2, D1)
    assert plan.unchanged and plan.changes() == []
    third = run_backup(plan, store2)
    assert not third.written and "nothing changed" in third.note
    assert calls.reset()["PutObject"] == 0


def test_large_files_go_multipart_with_per_part_checksums(
    tmp_path: Path, s3: Any, bucket: str, proxy: FaultProxy
) -> None:
    src = tmp_path / "src"
    big = os.urandom(11 * MIB + 123)
    put(src / "big.bin", big)
    put(src / "small.txt", "s")
    cfg = config(src, bucket)
    calls = Calls(proxy)
    outcome = backup(cfg, s3, D1)
    sent = calls.reset()
    assert outcome.complete and sent["CreateMultipartUpload"] == 1 and sent["UploadPart"] == 3
    store = BackupStore(cfg.location, s3)
    sha = hashlib.sha256(big).hexdigest()
    head = s3.head_object(Bucket=bucket, Key=store.object_key(sha), ChecksumMode="ENABLED")
    parts = [hashlib.sha256(big[i : i + 5 * MIB]).digest() for i in range(0, len(big), 5 * MIB)]
    assert head["ChecksumSHA256"].split("-")[0] == composite_sha256(parts)
    assert head["Metadata"]["migrate-part-size"] == str(5 * MIB)  # makes the composite verifiable on download
    restore_and_compare(cfg, s3, D1, tree_state(src), tmp_path / "r")


def corrupt_object_puts(proxy: FaultProxy, times: int) -> Rule:
    """Flip one byte of the body of the next `times` object PUTs on the way (the store gets a body that does
    not match the checksum header, which moto accepts and AWS would reject)."""
    return proxy.add(Rule("corrupt", when=is_object_put, times=times))


def test_a_corrupted_upload_is_caught_and_sent_again(tmp_path: Path, s3: Any, bucket: str, proxy: FaultProxy) -> None:
    """moto stores a body that does not match its x-amz-checksum-sha256; the ETag (the server's MD5 of what
    it stored) shows the damage at once, and the object is sent again."""
    src = tmp_path / "src"
    put(src / "a.txt", "important")
    cfg = config(src, bucket)
    corrupted = corrupt_object_puts(proxy, times=1)
    outcome = backup(cfg, s3, D1)
    assert corrupted.applied == 1 and outcome.complete
    assert sum(1 for r in proxy.records("PUT") if is_object_put(r)) == 2
    restore_and_compare(cfg, s3, D1, tree_state(src), tmp_path / "r")


def test_a_corruption_that_persists_fails_the_run_and_writes_no_snapshot(
    tmp_path: Path, s3: Any, bucket: str, proxy: FaultProxy
) -> None:
    src = tmp_path / "src"
    put(src / "a.txt", "important")
    cfg = config(src, bucket, verify="readback")
    corrupted = corrupt_object_puts(proxy, times=10)
    with pytest.raises(IntegrityError, match="checksum of what it stored differs from ours") as err:
        backup(cfg, s3, D1)
    assert err.value.exit_code == 1
    assert corrupted.applied == 3  # MIGRATE_TRANSFER_RETRIES attempts, then the run fails
    assert BackupStore(cfg.location, s3).list_snapshots() == []


def drop_after(proxy: FaultProxy, which: Any, good: int) -> None:
    """Let the first `good` requests `which` matches through, then drop every later one (a run dying
    mid-way: the connection resets, the retries run out)."""
    seen = {"n": 0}

    def when(r: Request) -> bool:
        if not which(r):
            return False
        seen["n"] += 1
        return seen["n"] > good

    proxy.add(Rule("drop", when=when))


def test_a_run_dying_midway_leaves_no_snapshot_and_the_next_run_finishes(
    tmp_path: Path, s3: Any, bucket: str, proxy: FaultProxy
) -> None:
    src = site(tmp_path / "src")
    cfg = config(src, bucket, workers=1)
    drop_after(proxy, is_object_put, good=3)
    with pytest.raises(OperationFailed, match="PUT s3://"):
        backup(cfg, s3, D1)
    proxy.clear()
    store = BackupStore(cfg.location, s3)
    assert store.list_snapshots() == []  # no manifest: nothing claims data the store lacks
    assert len(store.list_objects()) == 3
    # a multipart upload left behind by the dead run is aborted by the next one
    s3.create_multipart_upload(Bucket=bucket, Key=store.object_key("ab" * 32))
    calls = Calls(proxy)
    outcome = backup(cfg, s3, D1)
    assert outcome.complete and outcome.aborted_uploads == 1
    assert calls.reset()["PutObject"] == 6 - 3 + 1  # only what was missing, plus the manifest
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads") is None
    restore_and_compare(cfg, s3, D1, tree_state(src), tmp_path / "r")


def test_retention_keeps_what_it_should_and_never_an_object_a_kept_snapshot_uses(
    tmp_path: Path, s3: Any, bucket: str
) -> None:
    src = tmp_path / "src"
    put(src / "stable.txt", "never changes")
    cfg = config(src, bucket, retention={"daily": 3, "weekly": 0, "monthly": 0})
    states = {}
    outcomes = []
    for i in range(6):
        day = D1 + timedelta(days=i)
        put(src / "daily.txt", f"day {i}")
        put(src / f"only-day-{i}.txt", f"unique {i}")
        outcomes.append(backup(cfg, s3, day))
        states[day] = tree_state(src)
        (src / f"only-day-{i}.txt").unlink()
    store = BackupStore(cfg.location, s3)
    kept = [D1 + timedelta(days=i) for i in (3, 4, 5)]
    assert store.list_snapshots() == kept
    assert outcomes[3].expired == [D1] and outcomes[3].deleted_objects == 2  # day 0's daily + unique
    referenced = set().union(*(store.read_manifest(d).digests() for d in kept))
    assert set(store.list_objects()) == referenced
    for day in kept:
        restore_and_compare(cfg, s3, day, states[day], tmp_path / f"r-{day}")


def test_retention_is_not_applied_after_a_failed_run(tmp_path: Path, s3: Any, bucket: str, proxy: FaultProxy) -> None:
    src = tmp_path / "src"
    put(src / "a.txt", "a")
    cfg = config(src, bucket, retention={"daily": 1, "weekly": 0, "monthly": 0})
    backup(cfg, s3, D1)
    state1 = tree_state(src)
    put(src / "a.txt", "b")
    drop_after(proxy, lambda r: r.method == "PUT" and "/snapshots/" in r.path, good=0)  # the object goes up only
    with pytest.raises(OperationFailed, match="PUT s3://"):
        backup(cfg, s3, D1 + timedelta(days=1))
    proxy.clear()
    store = BackupStore(cfg.location, s3)
    assert store.list_snapshots() == [D1]  # daily: 1 would have deleted it after a successful run
    restore_and_compare(cfg, s3, D1, state1, tmp_path / "r")


def test_missing_source_and_bucket_are_config_errors(tmp_path: Path, s3: Any, bucket: str) -> None:
    store = BackupStore(config(tmp_path, bucket).location, s3)
    with pytest.raises(ConfigError, match="does not exist"):
        plan_backup(config(tmp_path / "nope", bucket), store, D1)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is not a directory"):
        plan_backup(config(tmp_path / "file", bucket), store, D1)
    gone = config(tmp_path, "no-such-bucket-here")
    with pytest.raises(ConfigError, match="bucket 'no-such-bucket-here' does not exist"):
        plan_backup(gone, BackupStore(gone.location, s3), D1)


def test_restore_refuses_and_reports(tmp_path: Path, s3: Any, bucket: str) -> None:
    src = tmp_path / "src"
    put(src / "a.txt", "a")
    cfg = config(src, bucket)
    backup(cfg, s3, D1)
    store = BackupStore(cfg.location, s3)
    busy = tmp_path / "busy"
    put(busy / "other.txt", "mine")
    with pytest.raises(SafetyRefusal, match="is not empty"):
        restore_snapshot(store, D1, busy)
    out = restore_snapshot(store, D1, busy, force=True)
    assert out.ok and (busy / "other.txt").read_text() == "mine" and (busy / "a.txt").read_text() == "a"
    with pytest.raises(ConfigError, match="no snapshot dated 2026-01-01"):
        store.resolve_date("2026-01-01")
    assert store.resolve_date("latest") == D1
    # an object that went missing from the store is reported per file, the rest is restored
    put(src / "b.txt", "b")
    backup(cfg, s3, D1 + timedelta(days=1))
    s3.delete_object(Bucket=bucket, Key=store.object_key(hashlib.sha256(b"b").hexdigest()))
    out = restore_snapshot(store, D1 + timedelta(days=1), tmp_path / "r2")
    assert [e.split(":")[0] for e in out.errors] == ["b.txt"] and out.verified == 1


@pytest.mark.root
def test_an_unreadable_file_makes_a_partial_snapshot(tmp_path: Path, s3: Any, bucket: str) -> None:
    """An unreadable regular file, for real: /proc/self/mem of a finished process bind-mounted onto a file
    (opening it fails with ESRCH, even for root). Needs root for `mount`."""
    if os.geteuid() != 0:
        pytest.skip("needs root (bind mount)")
    src = tmp_path / "src"
    put(src / "good.txt", "good")
    put(src / "bad.bin", b"")
    subprocess.run(["mount", "--bind", "/proc/self/mem", str(src / "bad.bin")], check=True)
    try:
        cfg = config(src, bucket, retention={"daily": 1, "weekly": 0, "monthly": 0})
        outcome = backup(cfg, s3, D1)
    finally:
        subprocess.run(["umount", str(src / "bad.bin")], check=True)
    assert outcome.written and not outcome.complete
    assert len(outcome.errors) == 1 and outcome.errors[0].startswith("bad.bin: cannot read")
    store = BackupStore(cfg.location, s3)
    manifest = store.read_manifest(D1)
    assert [e.path for e in manifest.files] == ["good.txt"] and not manifest.complete
    assert store.snapshot_infos()[0].complete is False
    # a complete run the same day replaces the partial one
    assert backup(cfg, s3, D1).complete and store.read_manifest(D1).complete


def test_create_bucket_on_first_run(tmp_path: Path, s3: Any) -> None:
    src = tmp_path / "src"
    put(src / "a.txt", "a")
    name = f"bk-new-{uuid.uuid4().hex[:8]}"
    cfg = config(src, name, create_bucket=True)
    store = BackupStore(cfg.location, s3)
    plan = plan_backup(cfg, store, D1, hash_now=True)
    assert plan.changes()[0] == f"create bucket {name}"
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]  # planning created nothing
    outcome = run_backup(plan_backup(cfg, store, D1), store)
    assert outcome.complete and store.list_snapshots() == [D1]
    assert not plan_backup(cfg, store, D1).create_bucket
