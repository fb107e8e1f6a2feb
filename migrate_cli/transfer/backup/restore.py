"""Restore a snapshot into a directory, then prove it: every file is re-read and its SHA-256 compared.

Restored: file contents, relative paths, empty directories, symlinks (as links, targets unchanged),
permission bits (setuid/setgid dropped, since owners are not restored) and modification times of files,
directories and links. Not restored: owners, ACLs, extended attributes, hard links (each path gets its
own copy). A non-empty DEST is refused unless `force`; with `force` existing files at snapshot paths are
replaced and other files in DEST are left alone.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from migrate_cli.core.errors import ConfigError, OperationFailed, SafetyRefusal
from migrate_cli.transfer.backup.blobs import IntegrityError, LocalFileError
from migrate_cli.transfer.backup.hashing import sha256_file
from migrate_cli.transfer.backup.scan import Entry
from migrate_cli.transfer.backup.store import BackupStore
from migrate_cli.transfer.backup.upload import Progress, ProgressFn

MODE_MASK = 0o1777  # permission bits and sticky; never setuid/setgid


@dataclass
class RestoreOutcome:
    day: date
    dest: str
    files: int = 0
    dirs: int = 0
    symlinks: int = 0
    bytes: int = 0
    downloaded: int = 0
    verified: int = 0
    errors: list[str] = field(default_factory=list)
    snapshot_errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.day.isoformat(),
            "dest": self.dest,
            "files": self.files,
            "dirs": self.dirs,
            "symlinks": self.symlinks,
            "bytes": self.bytes,
            "downloaded_objects": self.downloaded,
            "verified": self.verified,
            "errors": self.errors[:50],
            "error_count": len(self.errors),
            "snapshot_errors": self.snapshot_errors[:50],
        }


def check_dest(dest: Path, force: bool) -> None:
    """Refuse a DEST that is a file (exit 2) or a non-empty directory without `force` (exit 3)."""
    if dest.exists() and not dest.is_dir():
        raise ConfigError(f"DEST: {dest} exists and is not a directory")
    if dest.is_dir() and not force and any(dest.iterdir()):
        raise SafetyRefusal(f"DEST: {dest} is not empty; restore into an empty directory, or pass --force")


def _inside(dest: Path, rel: str) -> Path:
    path = dest / rel
    if rel.startswith("/") or ".." in rel.split("/"):
        raise OperationFailed(f"snapshot entry '{rel}' points outside DEST; refusing")
    return path


def _clear(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()


def _set_attrs(path: Path, e: Entry) -> None:
    if e.kind != "symlink":
        os.chmod(path, e.mode & MODE_MASK)
    os.utime(path, ns=(e.mtime_ns, e.mtime_ns), follow_symlinks=False)


def restore_snapshot(
    store: BackupStore,
    day: date,
    dest: Path,
    force: bool = False,
    workers: int = 8,
    progress: ProgressFn | None = None,
) -> RestoreOutcome:
    """Restore snapshot `day` into `dest` and verify every file; errors are collected, not raised.
    Call under the backup lock (locking.py), so retention cannot delete what is being read."""
    check_dest(dest, force)
    manifest = store.read_manifest(day)
    out = RestoreOutcome(day=day, dest=str(dest), snapshot_errors=list(manifest.errors))
    dest.mkdir(parents=True, exist_ok=True)
    dirs = [e for e in manifest.entries if e.kind == "dir"]
    files = [e for e in manifest.entries if e.kind == "file"]
    links = [e for e in manifest.entries if e.kind == "symlink"]
    for e in dirs:
        path = _inside(dest, e.path)
        if path.is_symlink() or path.is_file():
            path.unlink()
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, 0o700)  # writable until the files are in; final mode below
    out.dirs = len(dirs)

    by_digest: dict[str, list[Entry]] = defaultdict(list)
    for e in files:
        by_digest[e.sha256 or ""].append(e)
    lock = threading.Lock()
    total_bytes = sum(e.size for e in files)
    done = {"files": 0, "bytes": 0}
    failed: set[str] = set()

    def tick(nfiles: int, nbytes: int) -> None:
        with lock:
            done["files"] += nfiles
            done["bytes"] += nbytes
            snap = Progress("restore", done["files"], len(files), done["bytes"], total_bytes)
        if progress:
            progress(snap)

    def fetch(sha: str, group: list[Entry]) -> None:
        first, rest = group[0], group[1:]
        try:
            target = _inside(dest, first.path)
            target.parent.mkdir(parents=True, exist_ok=True)
            _clear(target)
            store.download_object(sha, target, first.size, on_bytes=lambda n: tick(0, n))
            _set_attrs(target, first)
            with lock:
                out.downloaded += 1
            tick(1, 0)
            for e in rest:
                copy = _inside(dest, e.path)
                copy.parent.mkdir(parents=True, exist_ok=True)
                _clear(copy)
                shutil.copyfile(target, copy)
                _set_attrs(copy, e)
                tick(1, e.size)
        except (OSError, LocalFileError, OperationFailed, ConfigError) as exc:
            with lock:
                out.errors.extend(f"{e.path}: {_reason(exc)}" for e in group)
                failed.update(e.path for e in group)

    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="restore")
    try:
        list(pool.map(lambda item: fetch(*item), by_digest.items()))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)

    for e in links:
        path = _inside(dest, e.path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _clear(path)
            os.symlink(e.target or "", path)
            _set_attrs(path, e)
        except OSError as exc:
            out.errors.append(f"{e.path}: {_reason(exc)}")
    out.symlinks = len(links)

    verify_restored(dest, [e for e in files if e.path not in failed], out)
    for e in sorted(dirs, key=lambda d: d.path.count("/"), reverse=True):
        _set_attrs(_inside(dest, e.path), e)  # deepest first, after everything inside is written
    out.files = len(files)
    out.bytes = total_bytes
    return out


def verify_restored(dest: Path, files: list[Entry], out: RestoreOutcome) -> None:
    """Re-read every restored file: size and SHA-256 must match the manifest."""
    for e in files:
        try:
            digest, size = sha256_file(dest / e.path)
        except OSError as exc:
            out.errors.append(f"{e.path}: cannot verify: {_reason(exc)}")
            continue
        if digest != e.sha256 or size != e.size:
            out.errors.append(f"{e.path}: restored content does not match the snapshot (SHA-256 {digest[:12]}...)")
        else:
            out.verified += 1


def _reason(exc: BaseException) -> str:
    if isinstance(exc, IntegrityError | OperationFailed | ConfigError | LocalFileError):
        return str(exc)
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return f"{type(exc).__name__}: {exc}"
