"""Parse SRC / DEST arguments: a local directory, `s3://BUCKET[/PREFIX]`, `sftp://[USER@]HOST[:PORT]/PATH`
or `HOST:/PATH` (an inventory host, e.g. an EC2 instance)."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

from migrate_cli.core.errors import ConfigError

Kind = Literal["local", "s3", "sftp"]

# AWS bucket naming rules (general purpose buckets).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP_LIKE = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
_HOST_SPEC = re.compile(r"^(?:(?P<user>[A-Za-z0-9._-]+)@)?(?P<host>[A-Za-z0-9][A-Za-z0-9._-]*):(?P<path>.*)$")
USAGE = "use a local directory, s3://BUCKET/PREFIX, sftp://[USER@]HOST[:PORT]/PATH or HOST:/PATH"


@dataclass(frozen=True)
class Location:
    """Where data is. `prefix` (S3) is '' or ends with '/'; `path` is absolute (local) or the remote path."""

    kind: Kind
    text: str
    path: str = ""
    bucket: str = ""
    prefix: str = ""
    host: str = ""
    port: int | None = None
    user: str | None = None
    from_inventory: bool = False  # HOST:/PATH form: HOST must be an inventory host

    @property
    def url(self) -> str:
        """Canonical form, used for display and to key the transfer state."""
        if self.kind == "s3":
            return f"s3://{self.bucket}/{self.prefix}"
        if self.kind == "sftp":
            user = f"{self.user}@" if self.user else ""
            port = f":{self.port}" if self.port else ""
            return f"sftp://{user}{self.host}{port}{self.path}"
        return self.path

    @property
    def is_remote(self) -> bool:
        return self.kind != "local"


def pair_id(source: Location, dest: Location) -> str:
    """A short stable id for a (source, destination) pair: names its state file and lock."""
    return hashlib.sha256(f"{source.url}\n{dest.url}".encode()).hexdigest()[:16]


def check_bucket_name(bucket: str, text: str) -> None:
    if not _BUCKET.match(bucket) or ".." in bucket or _IP_LIKE.match(bucket):
        raise ConfigError(
            f"'{text}': '{bucket}' is not a valid bucket name (3-63 lowercase letters, digits, '.' and '-')"
        )


def parse_location(text: str, role: str = "location") -> Location:
    """Parse one SRC/DEST argument; raise ConfigError naming the argument when it is malformed."""
    raw = text.strip()
    if not raw:
        raise ConfigError(f"{role} is empty; {USAGE}")
    if "\x00" in raw:
        raise ConfigError(f"{role} '{text}' contains a NUL byte")
    if "://" in raw:
        scheme = raw.split("://", 1)[0].lower()
        if scheme == "s3":
            return _parse_s3(raw, role)
        if scheme == "sftp":
            return _parse_sftp(raw, role)
        if scheme == "file":
            path = unquote(urlsplit(raw).path)
            if not path:
                raise ConfigError(f"{role} '{text}': file:// URL without a path")
            return Location(kind="local", text=text, path=os.path.abspath(path))
        raise ConfigError(f"{role} '{text}': unsupported URL scheme '{scheme}'; {USAGE}")
    if raw.lower().startswith(("s3:", "sftp:")):  # s3:bucket, s3:/bucket, sftp:/x: typos, not inventory hosts
        raise ConfigError(f"{role} '{text}': malformed URL (expected '{raw.split(':')[0]}://...'); {USAGE}")
    match = _HOST_SPEC.match(raw)
    if match and not raw.startswith(("/", ".", "~")) and len(match["host"]) > 1:
        path = match["path"] or "."
        return Location(
            kind="sftp",
            text=text,
            path=path,
            host=match["host"],
            user=match["user"],
            from_inventory=True,
        )
    return Location(kind="local", text=text, path=os.path.abspath(os.path.expanduser(raw)))


def _parse_s3(raw: str, role: str) -> Location:
    rest = raw[len("s3://") :]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise ConfigError(f"{role} '{raw}': no bucket name (expected s3://BUCKET/PREFIX)")
    check_bucket_name(bucket, raw)
    prefix = prefix.lstrip("/")
    if any(part in (".", "..") for part in prefix.split("/")):
        raise ConfigError(f"{role} '{raw}': '.' and '..' are not allowed in an S3 prefix")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return Location(kind="s3", text=raw, bucket=bucket, prefix=prefix)


def _parse_sftp(raw: str, role: str) -> Location:
    parts = urlsplit(raw)
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"{role} '{raw}': the port is not a number between 1 and 65535") from None
    host = parts.hostname or ""
    if not host:
        raise ConfigError(f"{role} '{raw}': no host (expected sftp://[USER@]HOST[:PORT]/PATH)")
    if parts.password:
        raise ConfigError(f"{role} '{raw}': do not put passwords in URLs; use the inventory (password: ${{env:NAME}})")
    path = unquote(parts.path)
    if not path or path == "/":
        raise ConfigError(f"{role} '{raw}': no remote path (expected sftp://HOST/PATH)")
    return Location(
        kind="sftp",
        text=raw,
        path=path,
        host=host,
        port=port,
        user=unquote(parts.username) if parts.username else None,
    )
