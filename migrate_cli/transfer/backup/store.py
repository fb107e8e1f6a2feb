"""The backup store in S3: content-addressed objects plus one manifest per snapshot.

```
PREFIX/objects/sha256/ab/abcdef...   the content of a file, keyed by its SHA-256 (stored once, shared)
PREFIX/snapshots/2026-11-03.json.gz  the manifest of that day's tree (written last)
```
One writer per store: runs and restores on one machine are serialised by the `backup` state lock; two
machines must not back up into the same prefix. Objects and manifests move through the copy engine's S3
path (blobs.py -> transfer/s3.py S3Store), and so does the multipart clean-up; listing, HEADs of manifests
and deletes are control calls on a boto3 client.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from migrate_cli.aws.session import client
from migrate_cli.core.errors import ConfigError, OperationFailed
from migrate_cli.transfer.backup.blobs import Blobs, ByteCounter
from migrate_cli.transfer.backup.manifest import Manifest, SnapshotInfo, info_from_metadata
from migrate_cli.transfer.backup.s3util import S3Location, check_bucket, error_code, s3_errors

_HEX = re.compile(r"^[0-9a-f]{64}$")
_SNAPSHOT = re.compile(r"^(\d{4}-\d{2}-\d{2})\.json\.gz$")
DELETE_BATCH = 1000


class BackupStore:
    """Reads and writes one backup store. `s3` is the boto3 S3 client for control calls (default: the
    standard chain); object data goes through `blobs` (the standard chain too), written in `storage_class`
    and encrypted with `sse` (and `kms_key_id`) when given. `bwlimit` is bytes/s (0: none)."""

    def __init__(
        self,
        location: S3Location,
        s3: Any = None,
        *,
        storage_class: str | None = None,
        sse: str | None = None,
        kms_key_id: str | None = None,
        bwlimit: int = 0,
    ) -> None:
        self.location = location
        self.bucket = location.bucket
        self.s3 = s3 if s3 is not None else client("s3")
        self.blobs = Blobs(self.bucket, storage_class, sse, kms_key_id, bwlimit)
        self.objects_prefix = location.key("objects/sha256/")
        self.snapshots_prefix = location.key("snapshots/")

    # --- keys ----------------------------------------------------------------------------------

    def object_key(self, sha_hex: str) -> str:
        return f"{self.objects_prefix}{sha_hex[:2]}/{sha_hex}"

    def snapshot_key(self, day: date) -> str:
        return f"{self.snapshots_prefix}{day.isoformat()}.json.gz"

    # --- reads ---------------------------------------------------------------------------------

    def check_bucket(self) -> None:
        """ConfigError when the bucket does not exist; OperationFailed when it cannot be reached."""
        check_bucket(self.s3, self.bucket)

    def create_bucket(self) -> None:
        """Create the bucket in the client's region (no error if this account already owns it)."""
        region = self.s3.meta.region_name
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        if region and region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            with s3_errors(self.bucket):
                self.s3.create_bucket(**kwargs)
        except OperationFailed as exc:
            if "BucketAlreadyOwnedByYou" not in str(exc):
                raise

    def _list(self, prefix: str) -> Iterable[dict[str, Any]]:
        with s3_errors(self.bucket):
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                yield from page.get("Contents", [])

    def list_objects(self) -> dict[str, int]:
        """SHA-256 hex -> size of every stored content object."""
        out: dict[str, int] = {}
        for item in self._list(self.objects_prefix):
            name = item["Key"].rsplit("/", 1)[-1]
            if _HEX.match(name):
                out[name] = int(item["Size"])
        return out

    def list_snapshots(self) -> list[date]:
        """Dates of the stored snapshots, oldest first."""
        out = []
        for item in self._list(self.snapshots_prefix):
            match = _SNAPSHOT.match(item["Key"][len(self.snapshots_prefix) :])
            if match:
                try:
                    out.append(date.fromisoformat(match.group(1)))
                except ValueError:
                    continue
        return sorted(out)

    def snapshot_infos(self) -> list[SnapshotInfo]:
        """Summaries of every snapshot (from each manifest's metadata; one HEAD each). Takes no lock: a
        snapshot that retention deletes between the listing and its HEAD is left out, not an error."""
        infos = []
        for day in self.list_snapshots():
            try:
                with s3_errors(self.bucket):
                    head = self.s3.head_object(Bucket=self.bucket, Key=self.snapshot_key(day))
            except OperationFailed as exc:
                cause = exc.__cause__
                if isinstance(cause, ClientError) and error_code(cause) in ("404", "NoSuchKey", "NotFound"):
                    continue
                raise
            infos.append(info_from_metadata(day, head.get("Metadata", {})))
        return infos

    def read_manifest(self, day: date) -> Manifest:
        """The snapshot's manifest, checked against its stored checksum."""
        key = self.snapshot_key(day)
        return Manifest.from_bytes(self.blobs.get(key), f"s3://{self.bucket}/{key}")

    def resolve_date(self, text: str) -> date:
        """A snapshot date from `YYYY-MM-DD` or `latest`; ConfigError naming what exists when absent."""
        days = self.list_snapshots()
        if text == "latest":
            if not days:
                raise ConfigError(f"no snapshots in {self.location.url}")
            return days[-1]
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise ConfigError(f"DATE: '{text}' is not YYYY-MM-DD or 'latest'") from None
        if day not in days:
            have = ", ".join(d.isoformat() for d in days[-5:]) or "none"
            raise ConfigError(f"no snapshot dated {day.isoformat()} in {self.location.url} (latest: {have})")
        return day

    # --- writes --------------------------------------------------------------------------------

    def put_object(self, sha_hex: str, data: bytes, mtime_ns: int, readback: bool = False) -> None:
        """Store content whose SHA-256 is `sha_hex` (one request), verified."""
        self.blobs.put_small(self.object_key(sha_hex), data, sha_hex, mtime_ns, readback)

    def put_object_file(
        self,
        sha_hex: str,
        path: Path,
        size: int,
        mtime_ns: int,
        part_size: int,
        readback: bool = False,
        on_bytes: ByteCounter | None = None,
    ) -> None:
        """Store a large file's content as a multipart upload, verified (FileChanged if it changed)."""
        key = self.object_key(sha_hex)
        self.blobs.put_file_multipart(key, path, sha_hex, size, mtime_ns, part_size, readback, on_bytes)

    def download_object(self, sha_hex: str, dest: Path, size: int, on_bytes: ByteCounter | None = None) -> None:
        """Download content to `dest` (atomically), checked against its SHA-256."""
        self.blobs.download_verified(self.object_key(sha_hex), dest, sha_hex, size, on_bytes)

    def write_manifest(self, manifest: Manifest, readback: bool = False) -> None:
        """Store the manifest (atomically replaces one of the same date), checksummed and verified. It is
        always STANDARD (small, read by every run); encrypted like the objects."""
        key = self.snapshot_key(manifest.date)
        self.blobs.put_manifest(key, manifest.to_bytes(), manifest.metadata(), readback=readback)

    def delete_keys(self, keys: list[str]) -> None:
        """Delete keys in batches; OperationFailed if the store reports any key it could not delete."""
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start : start + DELETE_BATCH]
            with s3_errors(self.bucket):
                resp = self.s3.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
                )
            errors = resp.get("Errors", [])
            if errors:
                first = errors[0]
                raise OperationFailed(
                    f"could not delete {len(errors)} object(s), e.g. {first.get('Key')}: {first.get('Code')}"
                )

    def abort_incomplete_uploads(self) -> int:
        """Abort multipart uploads left under objects/ by a killed run (call only under the backup lock)."""
        return self.blobs.abort_uploads_under(self.objects_prefix)
