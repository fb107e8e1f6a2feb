"""A snapshot's manifest: every entry of the tree on that day, stored as gzip'd JSON in the backup store.

The manifest is written last, after every object it names is stored and verified, so a killed run leaves
no snapshot that claims data the store does not have. Its summary is also kept as object metadata, so
listing snapshots does not download them.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from migrate_cli.core.errors import OperationFailed
from migrate_cli.transfer.backup.scan import Entry

FORMAT = "migrate-backup/1"


@dataclass
class SnapshotInfo:
    """What `backup list` shows for one snapshot."""

    date: date
    files: int
    bytes: int
    new_bytes: int
    complete: bool
    created: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.date.isoformat(),
            "files": self.files,
            "bytes": self.bytes,
            "new_bytes": self.new_bytes,
            "complete": self.complete,
            "created": self.created,
        }


@dataclass
class Manifest:
    date: date
    created: str  # ISO 8601 with offset
    source: str
    host: str
    entries: list[Entry]
    complete: bool = True
    errors: list[str] = field(default_factory=list)
    new_bytes: int = 0
    new_objects: int = 0

    @property
    def files(self) -> list[Entry]:
        return [e for e in self.entries if e.kind == "file"]

    @property
    def total_bytes(self) -> int:
        return sum(e.size for e in self.files)

    def digests(self) -> set[str]:
        return {e.sha256 for e in self.files if e.sha256}

    def info(self) -> SnapshotInfo:
        return SnapshotInfo(
            date=self.date,
            files=len(self.files),
            bytes=self.total_bytes,
            new_bytes=self.new_bytes,
            complete=self.complete,
            created=self.created,
        )

    def metadata(self) -> dict[str, str]:
        """S3 user metadata (x-amz-meta-*) carrying the summary."""
        return {
            "format": FORMAT,
            "files": str(len(self.files)),
            "bytes": str(self.total_bytes),
            "new-bytes": str(self.new_bytes),
            "complete": "true" if self.complete else "false",
            "created": self.created,
        }

    def to_bytes(self) -> bytes:
        doc = {
            "format": FORMAT,
            "date": self.date.isoformat(),
            "created": self.created,
            "source": self.source,
            "host": self.host,
            "complete": self.complete,
            "errors": self.errors,
            "files": len(self.files),
            "bytes": self.total_bytes,
            "new_bytes": self.new_bytes,
            "new_objects": self.new_objects,
            "entries": [e.to_dict() for e in self.entries],
        }
        return gzip.compress(json.dumps(doc, separators=(",", ":")).encode("ascii"), mtime=0)

    @classmethod
    def from_bytes(cls, raw: bytes, where: str) -> Manifest:
        try:
            doc = json.loads(gzip.decompress(raw))
            if doc.get("format") != FORMAT:
                raise ValueError(f"unknown format {doc.get('format')!r}")
            return cls(
                date=date.fromisoformat(doc["date"]),
                created=doc["created"],
                source=doc["source"],
                host=doc.get("host", ""),
                entries=[Entry.from_dict(e) for e in doc["entries"]],
                complete=bool(doc.get("complete", True)),
                errors=list(doc.get("errors", [])),
                new_bytes=int(doc.get("new_bytes", 0)),
                new_objects=int(doc.get("new_objects", 0)),
            )
        except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
            raise OperationFailed(f"{where}: unreadable snapshot manifest: {exc}") from exc


def info_from_metadata(day: date, meta: dict[str, str]) -> SnapshotInfo:
    """The summary kept in a manifest's metadata (zeros when absent)."""

    def num(key: str) -> int:
        try:
            return int(meta.get(key, "0"))
        except ValueError:
            return 0

    return SnapshotInfo(
        date=day,
        files=num("files"),
        bytes=num("bytes"),
        new_bytes=num("new-bytes"),
        complete=meta.get("complete", "true") == "true",
        created=meta.get("created", ""),
    )
