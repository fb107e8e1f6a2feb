"""Take a dated snapshot: scan, hash what changed, upload content the store lacks, write the manifest,
then apply retention.

- Change detection: a file whose path, size and mtime match the previous snapshot reuses that snapshot's
  SHA-256 (`rehash: true` reads every file instead); its content is uploaded only if the store lacks it.
- Same day twice: the later run replaces that day's snapshot (atomically, when its manifest is written).
  A run that finds nothing changed since that day's snapshot writes nothing. A partial run (unreadable
  files) never replaces a complete snapshot of the same day.
- Failures: a remote failure aborts the run before the manifest is written (exit 1, no snapshot). Local
  files that cannot be read are reported and left out; the snapshot is then marked partial (exit 1), and
  retention is skipped.
- Retention runs only after a complete snapshot, then deletes the objects no remaining snapshot uses.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from migrate_cli.core.errors import ConfigError, OperationFailed
from migrate_cli.transfer.backup.config import BackupConfig
from migrate_cli.transfer.backup.hashing import sha256_file
from migrate_cli.transfer.backup.manifest import Manifest
from migrate_cli.transfer.backup.retention import expired_snapshots
from migrate_cli.transfer.backup.scan import Entry, Scan, scan_tree
from migrate_cli.transfer.backup.store import BackupStore
from migrate_cli.transfer.backup.units import human_bytes, plural
from migrate_cli.transfer.backup.upload import ProgressFn, Uploader


@dataclass
class BackupPlan:
    """What a run will do. `to_read` are files whose content must be read (new, changed, or missing from
    the store); when `exact`, they were hashed already and `uploads` is exactly what will be sent."""

    config: BackupConfig
    day: date
    scan: Scan
    snapshots: list[date]
    objects: dict[str, int]
    to_read: list[Entry]
    exact: bool
    previous: date | None
    replaces: bool
    unchanged: bool
    expire: list[date]
    create_bucket: bool = False

    @property
    def uploads(self) -> dict[str, int]:
        """SHA-256 -> size of content to upload (known exactly only when `exact`)."""
        return {e.sha256: e.size for e in self.to_read if e.sha256 and e.sha256 not in self.objects}

    def changes(self) -> list[str]:
        if self.unchanged and not self.expire:
            return []
        out: list[str] = []
        if self.create_bucket:
            out.append(f"create bucket {self.config.location.bucket}")
        files = self.scan.files
        size = sum(e.size for e in files)
        if not self.unchanged:
            what = "replace" if self.replaces else "write"
            out.append(
                f"{what} snapshot {self.day.isoformat()} of {self.config.source_path} in {self.config.location.url}: "
                f"{plural(len(files), 'file')}, {human_bytes(size)}"
            )
            read_bytes = sum(e.size for e in self.to_read)
            if self.exact:
                up = self.uploads
                out.append(f"upload {plural(len(up), 'new object')} ({human_bytes(sum(up.values()))})")
            elif self.to_read:
                out.append(
                    f"read {plural(len(self.to_read), 'new or changed file')} ({human_bytes(read_bytes)}); "
                    "upload the content the store lacks"
                )
            else:
                out.append("upload nothing (all content already stored)")
        if self.expire:
            out.append("retention: delete snapshots " + ", ".join(d.isoformat() for d in self.expire))
        return out

    def data(self) -> dict[str, Any]:
        """Facts for the result and the report, the ones people look for first."""
        files = self.scan.files
        up = self.uploads
        new_objects: int | None = len(up) if self.exact else (0 if self.unchanged else None)
        out: dict[str, Any] = {
            "date": self.day.isoformat(),
            "files": len(files),
            "bytes": sum(e.size for e in files),
            "new_objects": new_objects,  # filled in by the run when not known yet
            "new_bytes": sum(up.values()) if self.exact else (0 if self.unchanged else None),
        }
        out |= {k: v for k, v in self.config.public().items() if v is not None}
        out |= {
            "dirs": sum(1 for e in self.scan.entries if e.kind == "dir"),
            "symlinks": sum(1 for e in self.scan.entries if e.kind == "symlink"),
            "to_read": len(self.to_read),
            "previous": self.previous.isoformat() if self.previous else None,
            "replaces": self.replaces,
            "unchanged": self.unchanged,
            "create_bucket": self.create_bucket,
            "expire": [d.isoformat() for d in self.expire],
            "scan_errors": self.scan.errors[:50],
            "skipped": self.scan.skipped[:50],
        }
        return out


@dataclass
class BackupOutcome:
    day: date
    written: bool
    complete: bool
    files: int
    bytes: int
    new_objects: int
    new_bytes: int
    errors: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    expired: list[date] = field(default_factory=list)
    deleted_objects: int = 0
    deleted_bytes: int = 0
    aborted_uploads: int = 0
    note: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.day.isoformat(),
            "written": self.written,
            "complete": self.complete,
            "files": self.files,
            "bytes": self.bytes,
            "new_objects": self.new_objects,
            "new_bytes": self.new_bytes,
            "errors": self.errors[:50],
            "error_count": len(self.errors),
            "vanished": self.vanished[:50],
            "expired": [d.isoformat() for d in self.expired],
            "deleted_objects": self.deleted_objects,
            "deleted_bytes": self.deleted_bytes,
            "aborted_uploads": self.aborted_uploads,
            "note": self.note,
            "seconds": round(self.seconds, 3),
        }

    def summary(self) -> str:
        """One line for logs: what the run did."""
        if not self.written:
            text = f"backup {self.day.isoformat()}: {self.note or 'nothing written'}"
        else:
            state = "" if self.complete else f" PARTIAL ({len(self.errors)} errors)"
            text = (
                f"backup {self.day.isoformat()}{state}: {plural(self.files, 'file')} ({human_bytes(self.bytes)}), "
                f"{plural(self.new_objects, 'new object')} ({human_bytes(self.new_bytes)}) "
                f"uploaded in {self.seconds:.1f} s"
            )
        if self.aborted_uploads:
            text += f"; aborted {plural(self.aborted_uploads, 'unfinished upload')} of an interrupted run"
        if self.expired:
            text += (
                f"; retention deleted {plural(len(self.expired), 'snapshot')} "
                f"({', '.join(d.isoformat() for d in self.expired)}) and {plural(self.deleted_objects, 'object')} "
                f"({human_bytes(self.deleted_bytes)})"
            )
        return text


def plan_backup(
    config: BackupConfig,
    store: BackupStore,
    day: date,
    hash_now: bool = False,
    skip_dirs: tuple[Path, ...] = (),
) -> BackupPlan:
    """Read-only: scan the source, compare with the previous snapshot and the store. With `hash_now`
    (check mode) the new and changed files are hashed too, so the plan names exactly what would upload."""
    source = config.source_path
    if not source.exists():
        raise ConfigError(f"source: {source} does not exist", file=config.config_file)
    if not source.is_dir():
        raise ConfigError(f"source: {source} is not a directory", file=config.config_file)
    create = False
    try:
        store.check_bucket()
    except ConfigError:
        if not config.create_bucket:
            raise
        create = True
    scan = scan_tree(source, config.exclude, skip_dirs)
    snapshots = [] if create else store.list_snapshots()
    objects = {} if create else store.list_objects()
    previous = max(snapshots) if snapshots else None
    cache: dict[tuple[str, int, int], str] = {}
    if previous is not None and not config.rehash:
        for e in store.read_manifest(previous).files:
            if e.sha256:
                cache[(e.path, e.size, e.mtime_ns)] = e.sha256

    to_read: list[Entry] = []
    for e in scan.files:
        known = cache.get((e.path, e.size, e.mtime_ns))
        if known is not None and objects.get(known) == e.size:
            e.sha256 = known
        else:
            to_read.append(e)
    if hash_now:
        for e in to_read:
            try:
                e.sha256, e.size = sha256_file(source / e.path)
            except OSError:
                e.sha256 = None  # reported by the run; the plan still counts the file

    replaces = day in snapshots
    unchanged = False
    if replaces and (hash_now or not to_read):
        same_day = store.read_manifest(day)
        unchanged = (
            same_day.complete
            and not scan.errors
            and [e.key() for e in same_day.entries] == [e.key() for e in scan.entries]
            and all(objects.get(sha) is not None for sha in same_day.digests())
        )
    expire = expired_snapshots(set(snapshots) | {day}, config.retention, always=[day])
    return BackupPlan(
        config=config,
        day=day,
        scan=scan,
        snapshots=snapshots,
        objects=objects,
        to_read=to_read,
        exact=hash_now,
        previous=previous,
        replaces=replaces,
        unchanged=unchanged,
        expire=expire,
        create_bucket=create,
    )


# --- run --------------------------------------------------------------------------------------------


def run_backup(
    plan: BackupPlan,
    store: BackupStore,
    progress: ProgressFn | None = None,
    refresh: bool = False,
    now: Callable[[], datetime] = lambda: datetime.now().astimezone(),
) -> BackupOutcome:
    """Carry out a plan (call under the backup lock). `refresh` re-lists the store first (when the plan was
    made before the lock was taken)."""
    started = time.monotonic()
    if plan.create_bucket:
        store.create_bucket()
    aborted = store.abort_incomplete_uploads()
    if refresh:
        plan.objects = store.list_objects()
        plan.snapshots = store.list_snapshots()
        plan.replaces = plan.day in plan.snapshots
        reading = {id(e) for e in plan.to_read}
        plan.to_read += [
            e for e in plan.scan.files if id(e) not in reading and plan.objects.get(e.sha256 or "") != e.size
        ]
    same = store.read_manifest(plan.day) if plan.unchanged else None
    if same is not None and all(sha in plan.objects for sha in same.digests()):
        outcome = BackupOutcome(
            day=plan.day,
            written=False,
            complete=True,
            files=len(same.files),
            bytes=same.total_bytes,
            new_objects=0,
            new_bytes=0,
            aborted_uploads=aborted,
            note=f"nothing changed since the snapshot of {plan.day.isoformat()}; kept it",
        )
        apply_retention(plan.config, store, plan.day, outcome)
        outcome.seconds = time.monotonic() - started
        return outcome
    uploader = Uploader(store, plan.config, plan.to_read, plan.objects, plan.exact, progress)
    uploader.run(plan.config.workers)

    errors = list(plan.scan.errors) + uploader.errors
    dropped = {e.path for e in plan.scan.files if not e.sha256 or e.sha256 not in uploader.available}
    for e in plan.scan.files:
        if (
            e.path in dropped
            and e.path not in uploader.vanished
            and not any(x.startswith(e.path + ":") for x in errors)
        ):
            errors.append(f"{e.path}: content not stored")
    entries = [e for e in plan.scan.entries if e.path not in dropped]
    manifest = Manifest(
        date=plan.day,
        created=now().isoformat(timespec="seconds"),
        source=str(plan.config.source_path),
        host=socket.gethostname(),
        entries=entries,
        complete=not errors,
        errors=errors,
        new_bytes=sum(uploader.uploaded.values()),
        new_objects=len(uploader.uploaded),
    )
    same_day = store.read_manifest(plan.day) if plan.replaces else None
    if same_day is not None:  # the day's snapshot counts what every run of that day uploaded
        manifest.new_bytes += same_day.new_bytes
        manifest.new_objects += same_day.new_objects
    outcome = BackupOutcome(
        day=plan.day,
        written=False,
        complete=manifest.complete,
        files=len(manifest.files),
        bytes=manifest.total_bytes,
        new_objects=len(uploader.uploaded),
        new_bytes=sum(uploader.uploaded.values()),
        errors=errors,
        vanished=uploader.vanished,
        aborted_uploads=aborted,
    )
    if not manifest.complete and same_day is not None and same_day.complete:
        outcome.note = f"kept the complete snapshot taken earlier on {plan.day.isoformat()}; this run was partial"
    else:
        store.write_manifest(manifest, readback=plan.config.verify == "readback")
        outcome.written = True
    if manifest.complete:
        apply_retention(plan.config, store, plan.day, outcome)
    outcome.seconds = time.monotonic() - started
    return outcome


def apply_retention(config: BackupConfig, store: BackupStore, current: date, outcome: BackupOutcome) -> None:
    """Delete expired snapshots, then every object no remaining snapshot references."""
    days = store.list_snapshots()
    expire = expired_snapshots(days, config.retention, always=[current])
    if expire:
        store.delete_keys([store.snapshot_key(d) for d in expire])
        outcome.expired = expire
    referenced: set[str] = set()
    for day in store.list_snapshots():
        try:
            referenced |= store.read_manifest(day).digests()
        except OperationFailed as exc:
            outcome.note = f"objects not garbage-collected: {exc}"
            return
    objects = store.list_objects()
    unused = [sha for sha in objects if sha not in referenced]
    if unused:
        store.delete_keys([store.object_key(sha) for sha in unused])
        outcome.deleted_objects = len(unused)
        outcome.deleted_bytes = sum(objects[sha] for sha in unused)
