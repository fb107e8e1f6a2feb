"""Local state of one (source, destination) pair: what was copied, and multipart uploads in flight.

One SQLite file per pair under STATE_DIR/transfer/. It is a cache and a journal, never the truth:
- `objects`: key -> (source signature, destination signature) of each object copied or found identical.
  When both signatures still match, the next sync skips the object without asking the destination.
  Lost rows only cost a HEAD (the destination's stored mtime is compared instead).
- `uploads` / `parts`: a multipart upload is recorded BEFORE it is created (intent), then with its id, then
  part by part. After a SIGKILL the next run resumes an upload whose source is unchanged (parts the server
  still has with the same ETag are not sent again) and aborts every other one, including an upload created
  between the intent and its id being written (every upload in progress for that key, found with
  ListMultipartUploads), so none is orphaned.
- `downloads` / `download_parts`: the same for a large file written in parts into a local directory (its
  `.NAME.migrate-partial` file): the identity of the partial file (key, source signature, part size, size)
  and each part once its bytes are in the file (number, size, SHA-256, MD5 when computed). After a SIGKILL the
  next run keeps the partial file when the source and part size are unchanged, re-hashes each recorded part
  from disk and fetches only the parts missing or not matching; anything else (source changed, partial gone,
  key no longer in the plan) drops the partial file and its record. Separate tables rather than `uploads`
  rows with a marker: an `uploads` row means "a remote multipart upload may exist" and drives S3 calls
  (ListParts, AbortMultipartUpload); a download row must never be mistaken for one.
Completed objects are written in batches (every 0.5 s / 256 rows); upload and download rows are committed
at once.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migrate_cli.core.lock import StateLock
from migrate_cli.transfer.checksums import b64, unb64
from migrate_cli.transfer.location import Location, pair_id
from migrate_cli.transfer.retry import TransferError
from migrate_cli.transfer.sources import PartDone

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS objects (key TEXT PRIMARY KEY, src_sig TEXT, dst_sig TEXT, updated REAL);
CREATE TABLE IF NOT EXISTS uploads (
    key TEXT PRIMARY KEY, upload_id TEXT, src_sig TEXT, part_size INTEGER, created REAL
);
CREATE TABLE IF NOT EXISTS parts (
    key TEXT, number INTEGER, etag TEXT, sha256 TEXT, md5 TEXT, size INTEGER, PRIMARY KEY (key, number)
);
CREATE TABLE IF NOT EXISTS downloads (
    key TEXT PRIMARY KEY, src_sig TEXT, part_size INTEGER, size INTEGER, created REAL
);
CREATE TABLE IF NOT EXISTS download_parts (
    key TEXT, number INTEGER, sha256 TEXT, md5 TEXT, size INTEGER, PRIMARY KEY (key, number)
);
"""
FLUSH_ROWS = 256
FLUSH_SECONDS = 0.5


@dataclass(frozen=True)
class UploadRecord:
    key: str
    upload_id: str
    src_sig: str
    part_size: int
    created: float


@dataclass(frozen=True)
class DownloadRecord:
    """A partial local file being written in parts (see the module docstring)."""

    key: str
    src_sig: str
    part_size: int
    size: int
    created: float


def state_path(state_dir: Path, source: Location, dest: Location) -> Path:
    return state_dir / "transfer" / f"{pair_id(source, dest)}.sqlite"


class TransferState:
    """The SQLite state of one pair. Thread-safe; `readonly` opens nothing new on disk (check mode)."""

    def __init__(self, path: Path, source: Location, dest: Location, readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        self._lock = threading.Lock()
        self._pending: list[tuple[str, str, str, float]] = []
        self._last_flush = time.monotonic()
        self._db: sqlite3.Connection | None = None
        if readonly and not path.exists():
            return
        if readonly:
            self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)", [("source", source.url), ("destination", dest.url)]
            )

    def close(self) -> None:
        if self._db is not None:
            self.flush()
            self._db.close()
            self._db = None

    # --- completed objects -------------------------------------------------------------------------

    def manifest(self) -> dict[str, tuple[str, str]]:
        """key -> (source signature, destination signature)."""
        if self._db is None:
            return {}
        try:
            rows = self._db.execute("SELECT key, src_sig, dst_sig FROM objects").fetchall()
        except sqlite3.OperationalError:
            return {}
        return {k: (s, d) for k, s, d in rows}

    def record(self, key: str, src_sig: str, dst_sig: str) -> None:
        """Remember a copied (or verified identical) object; written in batches."""
        if self._db is None or self.readonly:
            return
        with self._lock:
            self._pending.append((key, src_sig, dst_sig, time.time()))
            due = len(self._pending) >= FLUSH_ROWS or time.monotonic() - self._last_flush > FLUSH_SECONDS
        if due:
            self.flush()

    def forget_objects(self, keys: list[str]) -> None:
        if self._db is None or self.readonly or not keys:
            return
        with self._lock, self._db:
            self._db.executemany("DELETE FROM objects WHERE key=?", [(k,) for k in keys])

    def flush(self) -> None:
        if self._db is None or self.readonly:
            return
        with self._lock:
            rows, self._pending = self._pending, []
            self._last_flush = time.monotonic()
            if rows:
                with self._db:
                    self._db.executemany("INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?)", rows)

    # --- multipart uploads -------------------------------------------------------------------------

    def uploads(self) -> list[UploadRecord]:
        if self._db is None:
            return []
        rows = self._db.execute("SELECT key, upload_id, src_sig, part_size, created FROM uploads").fetchall()
        return [UploadRecord(k, u or "", s, p, c) for k, u, s, p, c in rows]

    def upload(self, key: str) -> UploadRecord | None:
        if self._db is None:
            return None
        row = self._db.execute(
            "SELECT key, upload_id, src_sig, part_size, created FROM uploads WHERE key=?", (key,)
        ).fetchone()
        return UploadRecord(row[0], row[1] or "", row[2], row[3], row[4]) if row else None

    def parts(self, key: str) -> dict[int, PartDone]:
        if self._db is None:
            return {}
        rows = self._db.execute("SELECT number, etag, sha256, md5, size FROM parts WHERE key=?", (key,)).fetchall()
        return {n: PartDone(n, size, unb64(sha), bytes.fromhex(md5), etag) for n, etag, sha, md5, size in rows}

    def _write(self, *statements: tuple[str, tuple[Any, ...]]) -> None:
        """Run (sql, params) statements in one transaction."""
        assert self._db is not None and not self.readonly
        with self._lock, self._db:
            for sql, params in statements:
                self._db.execute(sql, params)

    def intend(self, key: str, src_sig: str, part_size: int) -> None:
        self._write(
            ("DELETE FROM parts WHERE key=?", (key,)),
            ("INSERT OR REPLACE INTO uploads VALUES (?, NULL, ?, ?, ?)", (key, src_sig, part_size, time.time())),
        )

    def started(self, key: str, upload_id: str) -> None:
        self._write(("UPDATE uploads SET upload_id=? WHERE key=?", (upload_id, key)))

    def part_done(self, key: str, part: PartDone) -> None:
        row = (key, part.number, part.etag, b64(part.sha256), part.md5.hex(), part.size)
        self._write(("INSERT OR REPLACE INTO parts VALUES (?, ?, ?, ?, ?, ?)", row))

    def forget_upload(self, key: str) -> None:
        self._write(("DELETE FROM uploads WHERE key=?", (key,)), ("DELETE FROM parts WHERE key=?", (key,)))

    def journal_for(self, src_sig: str) -> UploadJournal:
        return UploadJournal(self, src_sig)

    def clean_upload(self, store: Any, record: UploadRecord) -> int:
        """Abort a recorded upload (for a bare intent: every upload in progress for its key, whatever
        started it: servers differ in what `Initiated` they report, and the key is about to be rewritten)
        and forget it.
        Returns how many uploads were aborted."""
        if record.upload_id:
            store.abort_upload(record.key, record.upload_id)
            aborted = 1
        else:
            ids = store.uploads_for(record.key)
            for upload_id in ids:
                store.abort_upload(record.key, upload_id)
            aborted = len(ids)
        self.forget_upload(record.key)
        return aborted

    def stale_uploads(self, wanted: dict[str, str]) -> list[UploadRecord]:
        """Recorded uploads a run copying `wanted` (key -> source signature) will not resume: the source
        changed, the key is no longer copied, or only the intent was recorded."""
        return [r for r in self.uploads() if wanted.get(r.key) != r.src_sig or not r.upload_id]

    def stale_downloads(self, wanted: dict[str, str]) -> list[DownloadRecord]:
        """Recorded partial downloads a run copying `wanted` will not resume (as `stale_uploads`)."""
        try:
            downloads = self.downloads()
        except sqlite3.OperationalError:  # a state file from before downloads were recorded, opened read-only
            return []
        return [r for r in downloads if wanted.get(r.key) != r.src_sig]

    def leftovers(self, wanted: dict[str, str]) -> list[str]:
        """Keys of the uploads and partial downloads a run copying `wanted` will clean up."""
        return [r.key for r in self.stale_uploads(wanted)] + [r.key for r in self.stale_downloads(wanted)]

    # --- partial files (large files written in parts at a local or SFTP destination) -------------------

    def downloads(self) -> list[DownloadRecord]:
        if self._db is None:
            return []
        rows = self._db.execute("SELECT key, src_sig, part_size, size, created FROM downloads").fetchall()
        return [DownloadRecord(*row) for row in rows]

    def download(self, key: str) -> DownloadRecord | None:
        if self._db is None:
            return None
        row = self._db.execute(
            "SELECT key, src_sig, part_size, size, created FROM downloads WHERE key=?", (key,)
        ).fetchone()
        return DownloadRecord(*row) if row else None

    def download_parts(self, key: str) -> dict[int, PartDone]:
        if self._db is None:
            return {}
        rows = self._db.execute("SELECT number, sha256, md5, size FROM download_parts WHERE key=?", (key,)).fetchall()
        return {n: PartDone(n, size, unb64(sha), bytes.fromhex(md5)) for n, sha, md5, size in rows}

    def intend_download(self, key: str, src_sig: str, part_size: int, size: int) -> None:
        """Record a partial file about to be (re)created empty: any parts recorded for the key are dropped."""
        self._write(
            ("DELETE FROM download_parts WHERE key=?", (key,)),
            ("INSERT OR REPLACE INTO downloads VALUES (?, ?, ?, ?, ?)", (key, src_sig, part_size, size, time.time())),
        )

    def download_part_done(self, key: str, part: PartDone) -> None:
        row = (key, part.number, b64(part.sha256), part.md5.hex(), part.size)
        self._write(("INSERT OR REPLACE INTO download_parts VALUES (?, ?, ?, ?, ?)", row))

    def drop_download_parts(self, key: str, numbers: list[int]) -> None:
        if numbers:
            self._write(*[("DELETE FROM download_parts WHERE key=? AND number=?", (key, n)) for n in numbers])

    def forget_download(self, key: str) -> None:
        self._write(("DELETE FROM downloads WHERE key=?", (key,)), ("DELETE FROM download_parts WHERE key=?", (key,)))

    def download_journal(self, src_sig: str) -> DownloadJournal:
        return DownloadJournal(self, src_sig)

    def clean_download(self, store: Any, record: DownloadRecord) -> bool:
        """Remove a recorded partial file (the store's drop_partial: local or SFTP) and forget it. True when
        a file was removed. The record goes last: killed in between, the next run tries again."""
        removed = store.drop_partial(record.key)
        self.forget_download(record.key)
        return removed

    def clean_stale_downloads(self, store: Any, wanted: dict[str, str]) -> list[tuple[str, str | None]]:
        """Remove the partial files of earlier runs that will not be resumed now: key not in `wanted` (key ->
        source signature of what is about to be copied) or wanted with another source signature.
        Returns (key, None) per partial file removed, (key, error) per file that could not be (its record is
        kept: the next run tries again). Call it under the pair's lock (transfer_lock)."""
        out: list[tuple[str, str | None]] = []
        for record in self.stale_downloads(wanted):
            try:
                if self.clean_download(store, record):
                    out.append((record.key, None))
            except TransferError as exc:
                out.append((record.key, str(exc)))
        return out


class UploadJournal:
    """What an S3PartWriter records for one file (bound to that file's source signature)."""

    def __init__(self, state: TransferState, src_sig: str) -> None:
        self.state = state
        self.src_sig = src_sig

    def resume(self, store: Any, key: str, part_size: int) -> tuple[str, dict[int, PartDone]]:
        """(upload id, parts the server still has) of an interrupted upload of the same source; else ('', {})
        after aborting whatever was recorded."""
        record = self.state.upload(key)
        if record is None:
            return "", {}
        if record.upload_id and record.src_sig == self.src_sig and record.part_size == part_size:
            on_server = store.list_parts(key, record.upload_id)
            if on_server is not None:
                done = {
                    n: p
                    for n, p in self.state.parts(key).items()
                    if n in on_server and on_server[n] == (p.etag, p.size)
                }
                return record.upload_id, done
        self.state.clean_upload(store, record)
        return "", {}

    def intend(self, key: str, part_size: int) -> None:
        self.state.intend(key, self.src_sig, part_size)

    def started(self, key: str, upload_id: str) -> None:
        self.state.started(key, upload_id)

    def part_done(self, key: str, part: PartDone) -> None:
        self.state.part_done(key, part)

    def forget(self, key: str) -> None:
        self.state.forget_upload(key)


class DownloadJournal:
    """What a part writer of partial files (a local or SFTP destination) records for one file, bound to that
    file's source signature. Named for its first use, downloads; the tables keep that name."""

    def __init__(self, state: TransferState, src_sig: str) -> None:
        self.state = state
        self.src_sig = src_sig

    def recorded(self, key: str, part_size: int, size: int) -> dict[int, PartDone]:
        """Parts recorded by an interrupted run of the same source, part size and size; else {} after
        forgetting whatever was recorded (the caller then starts the partial file afresh)."""
        record = self.state.download(key)
        if record is None:
            return {}
        if record.src_sig == self.src_sig and record.part_size == part_size and record.size == size:
            return self.state.download_parts(key)
        self.state.forget_download(key)
        return {}

    def intend(self, key: str, part_size: int, size: int) -> None:
        self.state.intend_download(key, self.src_sig, part_size, size)

    def part_done(self, key: str, part: PartDone) -> None:
        self.state.download_part_done(key, part)

    def drop_parts(self, key: str, numbers: list[int]) -> None:
        self.state.drop_download_parts(key, numbers)

    def keep_intact(self, key: str, recorded: dict[int, PartDone], found: dict[int, bytes]) -> dict[int, PartDone]:
        """The recorded parts whose SHA-256 as found again in the partial file (`found`: number -> digest;
        a part left out could not be hashed) is still the recorded one; the others are forgotten."""
        intact = {n: part for n, part in recorded.items() if found.get(n) == part.sha256}
        self.drop_parts(key, sorted(set(recorded) - set(intact)))
        return intact

    def forget(self, key: str) -> None:
        self.state.forget_download(key)


# --- one copy of a pair at a time --------------------------------------------------------------------------

_held: dict[str, int] = {}
_held_lock = threading.Lock()


@contextmanager
def transfer_lock(state_dir: Path, source: Location, dest: Location) -> Iterator[None]:
    """Exclusive lock for the pair (SafetyRefusal, exit 3, when another process holds it).
    Re-entrant within one process (the CLI takes it before running the `data.copy` action, which takes it too)."""
    name = f"transfer-{pair_id(source, dest)}"
    with _held_lock:
        if name in _held:
            _held[name] += 1
            lock = None
        else:
            lock = StateLock(state_dir, name, purpose=f"migrate data copy {source.url} {dest.url} (pid {os.getpid()})")
            lock.acquire()
            _held[name] = 1
    try:
        yield
    finally:
        with _held_lock:
            _held[name] -= 1
            if _held[name] == 0:
                del _held[name]
                if lock is not None:
                    lock.release()
