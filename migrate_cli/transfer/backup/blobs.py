"""Verified single-object transfers: small functions the copy engine can later take over.

Uploads send S3's additional checksum (`ChecksumAlgorithm=SHA256` + `ChecksumSHA256`) computed over the
exact bytes sent, and check that the store reports that checksum back. AWS rejects a body that does not
match it; some S3-compatible endpoints (and moto) do not, so when the store does not echo a checksum, or
when `readback` is asked for, the object is downloaded again and hashed. Large files go up as multipart
uploads with a SHA-256 per part (the object's checksum is then the composite of the parts) and the
whole-file SHA-256 in the object's metadata.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import FlexibleChecksumError

from migrate_cli.core.errors import OperationFailed
from migrate_cli.transfer.backup.hashing import CHUNK, b64_of_hex, composite_b64, strip_parts_suffix

ByteCounter = Callable[[int], None]
MAX_PARTS = 10_000


class IntegrityError(OperationFailed):
    """What the store holds (or sent) is not what was meant."""


class FileChanged(Exception):
    """The local file changed while it was being read."""


class LocalFileError(Exception):
    """Reading or writing the local file failed (`error` is the OSError); not a remote failure."""

    def __init__(self, path: Path, error: OSError) -> None:
        super().__init__(f"{path}: {error.strerror or error}")
        self.error = error


def _read(fh: Any, size: int, path: Path) -> bytes:
    try:
        return fh.read(size)
    except OSError as exc:
        raise LocalFileError(path, exc) from exc


@dataclass(frozen=True)
class Target:
    s3: Any
    bucket: str
    key: str


def put_bytes(
    t: Target, data: bytes, sha_hex: str, extra: dict[str, Any] | None = None, readback: bool = False
) -> None:
    """PutObject `data` (whose SHA-256 is `sha_hex`) with its checksum; verify what the store reports."""
    expected = b64_of_hex(sha_hex)
    resp = t.s3.put_object(
        Bucket=t.bucket,
        Key=t.key,
        Body=data,
        ChecksumAlgorithm="SHA256",
        ChecksumSHA256=expected,
        **(extra or {}),
    )
    echoed = resp.get("ChecksumSHA256")
    if echoed is not None and echoed != expected:
        raise IntegrityError(f"s3://{t.bucket}/{t.key}: store reports SHA-256 {echoed}, sent {expected}")
    if readback or echoed is None:
        verify_readback(t, sha_hex, len(data))


def put_file_multipart(
    t: Target,
    path: Path,
    sha_hex: str,
    size: int,
    part_size: int,
    extra: dict[str, Any] | None = None,
    readback: bool = False,
    on_bytes: ByteCounter | None = None,
) -> None:
    """Multipart upload of `path`, SHA-256 per part; FileChanged when the bytes read do not hash to
    `sha_hex` (the upload is aborted). The finished object is checked with HeadObject."""
    part_size = max(part_size, -(-size // MAX_PARTS))  # S3 allows at most 10,000 parts
    extra = dict(extra or {})
    metadata = {**extra.pop("Metadata", {}), "sha256": sha_hex}
    upload_id = t.s3.create_multipart_upload(
        Bucket=t.bucket, Key=t.key, ChecksumAlgorithm="SHA256", Metadata=metadata, **extra
    )["UploadId"]
    try:
        whole = hashlib.sha256()
        digests: list[bytes] = []
        parts: list[dict[str, Any]] = []
        read = 0
        try:
            fh = open(path, "rb")  # noqa: SIM115 - closed below; read errors are told apart from S3 errors
        except OSError as exc:
            raise LocalFileError(path, exc) from exc
        with fh:
            while True:
                data = _read(fh, part_size, path)
                if not data and parts:
                    break
                whole.update(data)
                read += len(data)
                digest = hashlib.sha256(data).digest()
                checksum = base64.b64encode(digest).decode("ascii")
                number = len(parts) + 1
                resp = t.s3.upload_part(
                    Bucket=t.bucket,
                    Key=t.key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=data,
                    ChecksumAlgorithm="SHA256",
                    ChecksumSHA256=checksum,
                )
                echoed = resp.get("ChecksumSHA256")
                if echoed is not None and echoed != checksum:
                    raise IntegrityError(f"s3://{t.bucket}/{t.key} part {number}: store reports {echoed}")
                digests.append(digest)
                parts.append({"PartNumber": number, "ETag": resp["ETag"], "ChecksumSHA256": checksum})
                if on_bytes:
                    on_bytes(len(data))
                if len(data) < part_size:
                    break
        if whole.hexdigest() != sha_hex or read != size:
            raise FileChanged(str(path))
        t.s3.complete_multipart_upload(Bucket=t.bucket, Key=t.key, UploadId=upload_id, MultipartUpload={"Parts": parts})
    except BaseException:
        _abort(t, upload_id)
        raise
    head = t.s3.head_object(Bucket=t.bucket, Key=t.key, ChecksumMode="ENABLED")
    if int(head["ContentLength"]) != size:
        raise IntegrityError(f"s3://{t.bucket}/{t.key}: store holds {head['ContentLength']} bytes, sent {size}")
    stored = strip_parts_suffix(head.get("ChecksumSHA256"))
    if stored is not None and stored != composite_b64(digests):
        raise IntegrityError(f"s3://{t.bucket}/{t.key}: composite SHA-256 {stored} is not the parts' checksum")
    if readback or stored is None:
        verify_readback(t, sha_hex, size)


def _abort(t: Target, upload_id: str) -> None:
    with contextlib.suppress(Exception):  # best effort; the next run aborts leftovers under its lock
        t.s3.abort_multipart_upload(Bucket=t.bucket, Key=t.key, UploadId=upload_id)


def verify_readback(t: Target, sha_hex: str, size: int) -> None:
    """Download the object and check its size and SHA-256."""
    digest, got = _stream(t, None)
    if got != size or digest != sha_hex:
        raise IntegrityError(
            f"s3://{t.bucket}/{t.key}: read back {got} bytes with SHA-256 {digest[:12]}..., expected {size} bytes "
            f"with {sha_hex[:12]}..."
        )


def _stream(t: Target, sink: Any, on_bytes: ByteCounter | None = None) -> tuple[str, int]:
    """Download, hashing as it goes; botocore also checks the stored checksum (single-part objects)."""
    body = t.s3.get_object(Bucket=t.bucket, Key=t.key, ChecksumMode="ENABLED")["Body"]
    digest = hashlib.sha256()
    size = 0
    try:
        for chunk in body.iter_chunks(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if sink is not None:
                try:
                    sink.write(chunk)
                except OSError as exc:
                    raise LocalFileError(Path(getattr(sink, "name", "?")), exc) from exc
            if on_bytes:
                on_bytes(len(chunk))
    except FlexibleChecksumError as exc:
        raise IntegrityError(f"s3://{t.bucket}/{t.key}: content does not match its stored checksum") from exc
    finally:
        body.close()
    return digest.hexdigest(), size


def download_verified(t: Target, dest: Path, sha_hex: str, size: int, on_bytes: ByteCounter | None = None) -> None:
    """Download to a temporary file beside `dest`, check size and SHA-256, then rename it into place."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".migrate-restore-", dir=dest.parent)
    except OSError as exc:
        raise LocalFileError(dest, exc) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            digest, got = _stream(t, fh, on_bytes)
        if got != size or digest != sha_hex:
            raise IntegrityError(
                f"s3://{t.bucket}/{t.key}: downloaded {got} bytes with SHA-256 {digest[:12]}..., "
                f"expected {size} bytes with {sha_hex[:12]}..."
            )
        try:
            os.replace(tmp, dest)
        except OSError as exc:
            raise LocalFileError(dest, exc) from exc
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
