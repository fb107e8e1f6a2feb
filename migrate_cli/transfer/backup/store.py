"""The backup store in S3: content-addressed objects plus one manifest per snapshot.

```
PREFIX/objects/sha256/ab/abcdef...   the content of a file, keyed by its SHA-256 (stored once, shared)
PREFIX/snapshots/2026-11-03.json.gz  the manifest of that day's tree (written last)
```
One writer per store: runs on one machine are serialised by the `backup` state lock; two machines must
not back up into the same prefix.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import date
from typing import Any

from migrate_cli.aws.session import client
from migrate_cli.core.errors import ConfigError, OperationFailed
from migrate_cli.transfer.backup.blobs import Target, put_bytes
from migrate_cli.transfer.backup.manifest import Manifest, SnapshotInfo, info_from_metadata
from migrate_cli.transfer.backup.s3util import S3Location, check_bucket, s3_errors

_HEX = re.compile(r"^[0-9a-f]{64}$")
_SNAPSHOT = re.compile(r"^(\d{4}-\d{2}-\d{2})\.json\.gz$")
DELETE_BATCH = 1000


class BackupStore:
    """Reads and writes one backup store. `s3` is a boto3 S3 client (default: the standard chain)."""

    def __init__(self, location: S3Location, s3: Any = None, extra_args: dict[str, Any] | None = None) -> None:
        self.location = location
        self.bucket = location.bucket
        self.s3 = s3 if s3 is not None else client("s3")
        self.extra_args = dict(extra_args or {})  # StorageClass, ServerSideEncryption, SSEKMSKeyId
        self.objects_prefix = location.key("objects/sha256/")
        self.snapshots_prefix = location.key("snapshots/")

    # --- keys ----------------------------------------------------------------------------------

    def object_key(self, sha_hex: str) -> str:
        return f"{self.objects_prefix}{sha_hex[:2]}/{sha_hex}"

    def object_target(self, sha_hex: str) -> Target:
        return Target(self.s3, self.bucket, self.object_key(sha_hex))

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
        """Summaries of every snapshot (from each manifest's metadata; one HEAD each)."""
        infos = []
        for day in self.list_snapshots():
            with s3_errors(self.bucket):
                head = self.s3.head_object(Bucket=self.bucket, Key=self.snapshot_key(day))
            infos.append(info_from_metadata(day, head.get("Metadata", {})))
        return infos

    def read_manifest(self, day: date) -> Manifest:
        key = self.snapshot_key(day)
        with s3_errors(self.bucket):
            resp = self.s3.get_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
            raw = resp["Body"].read()  # botocore checks the stored SHA-256 of single-part objects
        return Manifest.from_bytes(raw, f"s3://{self.bucket}/{key}")

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

    def write_manifest(self, manifest: Manifest, readback: bool = False) -> None:
        """Store the manifest (atomically replaces one of the same date), checksummed and verified."""
        data = manifest.to_bytes()
        extra = {k: v for k, v in self.extra_args.items() if k != "StorageClass"}
        extra |= {"Metadata": manifest.metadata(), "ContentType": "application/json", "ContentEncoding": "gzip"}
        with s3_errors(self.bucket):
            put_bytes(
                Target(self.s3, self.bucket, self.snapshot_key(manifest.date)),
                data,
                hashlib.sha256(data).hexdigest(),
                extra,
                readback=readback,
            )

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
        aborted = 0
        with s3_errors(self.bucket):
            pages = self.s3.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=self.objects_prefix
            )
            for page in pages:
                for upload in page.get("Uploads", []) or []:
                    self.s3.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                    aborted += 1
        return aborted
