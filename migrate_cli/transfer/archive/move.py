"""`archive now`: move existing objects to another storage class by copying each onto itself.

Each object is copied in place with the new StorageClass, keeping its metadata, tags, content type,
server-side encryption (the same KMS key) and SHA-256 checksum; the copy is conditional on the ETag seen
when planning, so an object changed in between is skipped, not clobbered. Objects up to 5 GiB use one
CopyObject; larger ones a multipart copy (UploadPartCopy via s3transfer), after which tags are re-applied.
In a versioned bucket the previous version stays behind (noncurrent, in its old class) until a lifecycle
rule expires it. Objects in GLACIER or DEEP_ARCHIVE must be restored before they can be copied.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from boto3.s3.transfer import TransferConfig

from migrate_cli.core.errors import MigrateError, OperationFailed
from migrate_cli.transfer.archive.status import parse_restore
from migrate_cli.transfer.backup.s3util import RESTORE_NEEDED, S3Location, check_bucket, s3_errors

COPY_LIMIT = 5 * 1024**3  # largest single CopyObject
PART_SIZE = 1024**3  # multipart copy parts: 5 TiB objects stay under 10,000 parts
MIN_PART = 5 * 1024**2
_KEEP_HEADERS = {
    "ContentType": "ContentType",
    "ContentEncoding": "ContentEncoding",
    "ContentDisposition": "ContentDisposition",
    "ContentLanguage": "ContentLanguage",
    "CacheControl": "CacheControl",
    "Metadata": "Metadata",
}


@dataclass
class Candidate:
    key: str
    size: int
    last_modified: datetime
    storage_class: str
    etag: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "size": self.size,
            "last_modified": self.last_modified.isoformat(),
            "storage_class": self.storage_class,
        }


@dataclass
class MoveSelection:
    location: S3Location
    target: str
    older_than_days: int
    to_move: list[Candidate] = field(default_factory=list)
    need_restore: list[Candidate] = field(default_factory=list)
    already: int = 0
    too_new: int = 0
    versioned: bool = False

    @property
    def bytes(self) -> int:
        return sum(c.size for c in self.to_move)


def select_objects(
    s3: Any, location: S3Location, target: str, older_than_days: int, now: datetime | None = None
) -> MoveSelection:
    """Objects under the prefix last modified more than `older_than_days` ago and not yet in `target`."""
    now = now or datetime.now().astimezone()
    cutoff = now - timedelta(days=older_than_days)
    sel = MoveSelection(location=location, target=target, older_than_days=older_than_days)
    check_bucket(s3, location.bucket)
    with s3_errors(location.bucket):
        sel.versioned = s3.get_bucket_versioning(Bucket=location.bucket).get("Status") == "Enabled"
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=location.bucket, Prefix=location.prefix)
        for page in pages:
            for item in page.get("Contents", []):
                cand = Candidate(
                    key=item["Key"],
                    size=int(item["Size"]),
                    last_modified=item["LastModified"],
                    storage_class=item.get("StorageClass") or "STANDARD",
                    etag=item.get("ETag", ""),
                )
                if cand.storage_class == target:
                    sel.already += 1
                elif cand.last_modified > cutoff:
                    sel.too_new += 1
                elif cand.storage_class in RESTORE_NEEDED and not _restored(s3, location.bucket, cand.key):
                    sel.need_restore.append(cand)
                else:
                    sel.to_move.append(cand)
    return sel


def _restored(s3: Any, bucket: str, key: str) -> bool:
    head = s3.head_object(Bucket=bucket, Key=key)
    return parse_restore(head.get("Restore")).state == "restored"


@dataclass
class MoveResult:
    key: str
    size: int
    source_class: str
    status: str  # moved | skipped | failed
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "size": self.size,
            "from": self.source_class,
            "status": self.status,
            "detail": self.detail,
        }


def move_object(s3: Any, bucket: str, cand: Candidate, target: str, copy_limit: int = COPY_LIMIT) -> MoveResult:
    """Copy one object onto itself in `target`, then check the class, size and checksum."""
    result = MoveResult(cand.key, cand.size, cand.storage_class, "moved")
    try:
        with s3_errors(bucket):
            head = s3.head_object(Bucket=bucket, Key=cand.key, ChecksumMode="ENABLED")
            if cand.etag and head.get("ETag") != cand.etag:
                return MoveResult(cand.key, cand.size, cand.storage_class, "skipped", "changed since it was listed")
            extra: dict[str, Any] = {"StorageClass": target}
            sse = head.get("ServerSideEncryption")
            if sse:
                extra["ServerSideEncryption"] = sse
                if sse == "aws:kms" and head.get("SSEKMSKeyId"):
                    extra["SSEKMSKeyId"] = head["SSEKMSKeyId"]
            checksum = head.get("ChecksumSHA256")
            if checksum and "-" not in checksum and head.get("ChecksumType", "FULL_OBJECT") == "FULL_OBJECT":
                extra["ChecksumAlgorithm"] = "SHA256"
            source = {"Bucket": bucket, "Key": cand.key}
            size = int(head["ContentLength"])
            if size <= copy_limit:
                s3.copy_object(
                    Bucket=bucket,
                    Key=cand.key,
                    CopySource=source,
                    CopySourceIfMatch=head["ETag"],
                    MetadataDirective="COPY",
                    TaggingDirective="COPY",
                    **extra,
                )
            else:
                _multipart_copy(s3, bucket, cand.key, head, extra, copy_limit)
            after = s3.head_object(Bucket=bucket, Key=cand.key, ChecksumMode="ENABLED")
        now_class = after.get("StorageClass") or "STANDARD"
        if now_class != target or int(after["ContentLength"]) != size:
            raise OperationFailed(f"after the copy the object is {now_class}, {after['ContentLength']} bytes")
        if "ChecksumAlgorithm" in extra and after.get("ChecksumSHA256") not in (None, checksum):
            raise OperationFailed("the copy's SHA-256 differs from the original's")
        result.detail = f"{cand.storage_class} -> {target}"
    except MigrateError as exc:
        result.status, result.detail = "failed", str(exc)
    return result


def _multipart_copy(s3: Any, bucket: str, key: str, head: dict[str, Any], extra: dict[str, Any], limit: int) -> None:
    """Multipart copy (objects over `limit`): s3transfer's UploadPartCopy, metadata and tags carried over."""
    args = dict(extra)
    for src, dst in _KEEP_HEADERS.items():
        if head.get(src):
            args[dst] = head[src]
    args["CopySourceIfMatch"] = head["ETag"]
    tags = s3.get_object_tagging(Bucket=bucket, Key=key).get("TagSet", [])
    config = TransferConfig(multipart_threshold=limit, multipart_chunksize=max(MIN_PART, min(PART_SIZE, limit // 2)))
    s3.copy({"Bucket": bucket, "Key": key}, bucket, key, ExtraArgs=args, Config=config)
    if tags:
        s3.put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": tags})


def move_objects(
    s3: Any, sel: MoveSelection, workers: int = 8, copy_limit: int = COPY_LIMIT, on_done: Any = None
) -> list[MoveResult]:
    """Move every selected object (in parallel); per-object results, failures included."""
    lock = threading.Lock()
    results: list[MoveResult] = []

    def one(cand: Candidate) -> None:
        res = move_object(s3, sel.location.bucket, cand, sel.target, copy_limit)
        with lock:
            results.append(res)
        if on_done:
            on_done(res)

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="archive") as pool:
        list(pool.map(one, sel.to_move))
    return sorted(results, key=lambda r: r.key)
