"""S3 locations (`s3://bucket/prefix`), storage classes, and S3 errors mapped to exit codes.

Shared by backup and archive; small enough to move next to the copy engine's own URL handling later.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from migrate_cli.aws.session import aws_errors
from migrate_cli.core.errors import ConfigError, OperationFailed

STORAGE_CLASSES = (
    "STANDARD",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER_IR",
    "GLACIER",
    "DEEP_ARCHIVE",
)
# Classes whose objects must be restored (RestoreObject) before they can be read or copied.
RESTORE_NEEDED = frozenset({"GLACIER", "DEEP_ARCHIVE"})
ARCHIVE_CLASSES = ("GLACIER_IR", "GLACIER", "DEEP_ARCHIVE")

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class S3Location:
    """A bucket and a key prefix (may be empty); `url` is the canonical `s3://bucket/prefix` text."""

    bucket: str
    prefix: str = ""

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def key(self, *parts: str) -> str:
        """The key of `parts` under the prefix, treating the prefix as a folder."""
        base = self.prefix if not self.prefix or self.prefix.endswith("/") else self.prefix + "/"
        return base + "/".join(parts)


def parse_s3_url(text: str, what: str = "URL") -> S3Location:
    """Parse `s3://bucket[/prefix]`; ConfigError (exit 2) naming `what` when it is not one."""
    if not isinstance(text, str) or not text.startswith("s3://"):
        raise ConfigError(f"{what}: '{text}' is not an s3://bucket/prefix URL")
    bucket, _, prefix = text[len("s3://") :].partition("/")
    if not bucket:
        raise ConfigError(f"{what}: '{text}' has no bucket name")
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise ConfigError(f"{what}: '{bucket}' is not a valid bucket name (3-63 lowercase letters, digits, '.', '-')")
    if "//" in prefix or prefix.startswith("/"):
        raise ConfigError(f"{what}: '{text}' has an empty path segment ('//')")
    return S3Location(bucket=bucket, prefix=prefix)


def check_storage_class(value: str, allowed: tuple[str, ...] = STORAGE_CLASSES, what: str = "storage class") -> str:
    """`value` upper-cased if it is one of `allowed`; ConfigError otherwise."""
    upper = str(value).upper()
    if upper not in allowed:
        raise ConfigError(f"{what}: '{value}' is not one of {', '.join(allowed)}")
    return upper


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextmanager
def s3_errors(bucket: str | None = None) -> Iterator[None]:
    """Credential/connectivity errors as `aws_errors`; a missing bucket is bad input (exit 2); any other
    S3 error is a remote failure (exit 1) with the code and message on one line. Code inside must not
    let local file OSErrors escape (they would be reported as network errors)."""
    try:
        with aws_errors("s3"):
            yield
    except ClientError as exc:
        code = error_code(exc)
        message = " ".join(str(exc.response.get("Error", {}).get("Message", "")).split())
        if code in ("NoSuchBucket", "404") and bucket and exc.operation_name in ("HeadBucket", "ListObjectsV2"):
            raise ConfigError(f"bucket '{bucket}' does not exist (or is not visible to these credentials)") from exc
        if code == "NoSuchBucket":
            raise ConfigError(f"bucket '{bucket or '?'}' does not exist") from exc
        op = exc.operation_name or "request"
        raise OperationFailed(f"s3 {op}: {code}" + (f": {message}" if message else "")) from exc
    except OSError as exc:  # a network error botocore did not wrap (local file errors are raised otherwise)
        raise OperationFailed(f"s3: {type(exc).__name__}: {exc}") from exc


def check_bucket(s3: Any, bucket: str) -> None:
    """ConfigError when the bucket does not exist. A 403 passes: least-privilege roles scoped to a prefix
    (see migrate_cli/iam) may not HeadBucket, and the prefix-scoped calls that follow say if access is
    really denied."""
    try:
        with s3_errors(bucket):
            s3.head_bucket(Bucket=bucket)
    except OperationFailed as exc:
        if not isinstance(exc.__cause__, ClientError) or error_code(exc.__cause__) not in ("403", "AccessDenied"):
            raise
