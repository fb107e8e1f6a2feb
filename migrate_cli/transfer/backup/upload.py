"""Hash and upload the files of a backup run, on a thread pool; each distinct content goes up once.

Small files (up to one part) are read once: hashed and sent from the same bytes. Larger files are hashed,
then sent as a multipart upload that re-hashes what it reads; a file that changes in between is retried,
then reported. Local read errors are recorded per file; a remote failure left after the transfer retries
(blobs.py) raises, aborting the run.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from migrate_cli.transfer.backup.blobs import FileChanged, LocalFileError
from migrate_cli.transfer.backup.config import BackupConfig
from migrate_cli.transfer.backup.hashing import sha256_file
from migrate_cli.transfer.backup.scan import Entry
from migrate_cli.transfer.backup.store import BackupStore

MIB = 1024 * 1024
CHANGE_RETRIES = 2  # a file that keeps changing while read is reported after this many tries


@dataclass
class Progress:
    phase: str
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int


ProgressFn = Callable[[Progress], None]


class Uploader:
    """Hashes and uploads the files of a plan on a thread pool; content is uploaded once per run."""

    def __init__(
        self,
        store: BackupStore,
        config: BackupConfig,
        to_read: list[Entry],
        stored: dict[str, int],
        hashed: bool,
        progress: ProgressFn | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.to_read = to_read
        self.hashed = hashed  # to_read entries carry a fresh SHA-256 (check-mode plan)
        self.root = config.source_path
        self.part = config.part_size_mib * MIB
        self.readback = config.verify == "readback"
        self.available = set(stored)
        self.claimed: set[str] = set()
        self.uploaded: dict[str, int] = {}
        self.errors: list[str] = []
        self.vanished: list[str] = []
        self.lock = threading.Lock()
        self.progress = progress
        self.files_done = 0
        self.bytes_done = 0
        self.bytes_total = sum(e.size for e in to_read)

    def _tick(self, files: int = 0, nbytes: int = 0) -> None:
        with self.lock:
            self.files_done += files
            self.bytes_done += nbytes
            snapshot = Progress("upload", self.files_done, len(self.to_read), self.bytes_done, self.bytes_total)
        if self.progress:
            self.progress(snapshot)

    def _claim(self, sha: str) -> bool:
        with self.lock:
            if sha in self.available or sha in self.claimed:
                return False
            self.claimed.add(sha)
            return True

    @contextmanager
    def _claimed(self, sha: str, e: Entry) -> Iterator[None]:
        """The upload of `sha` (e's content, claimed by `_claim`): when it fails the claim is given back and
        e.sha256 cleared (a retry of the file must hash it again)."""
        try:
            yield
        except BaseException:
            with self.lock:
                self.claimed.discard(sha)
            e.sha256 = None
            raise

    def _done(self, sha: str, size: int) -> None:
        with self.lock:
            self.available.add(sha)
            self.uploaded[sha] = size

    def process(self, e: Entry) -> None:
        """Hash (if needed) and upload one file; local read errors are recorded, remote errors raise."""
        path = self.root / e.path
        try:
            for attempt in range(CHANGE_RETRIES + 1):
                try:
                    self._one(e, path)
                    return
                except FileChanged:
                    if attempt == CHANGE_RETRIES:
                        with self.lock:
                            self.errors.append(f"{e.path}: kept changing while being read")
                        e.sha256 = None
                        return
        except LocalFileError as exc:
            self._unreadable(e, exc.error)
        except OSError as exc:
            self._unreadable(e, exc)
        finally:
            self._tick(files=1)

    def _unreadable(self, e: Entry, error: OSError) -> None:
        e.sha256 = None
        with self.lock:
            if isinstance(error, FileNotFoundError):
                self.vanished.append(e.path)  # deleted since the scan: not part of the snapshot
            else:
                self.errors.append(f"{e.path}: cannot read: {error.strerror or error}")

    def _one(self, e: Entry, path: Path) -> None:
        st = os.stat(path, follow_symlinks=False)
        if st.st_size <= self.part:
            with open(path, "rb") as fh:
                data = fh.read()
                after = os.fstat(fh.fileno())
            if len(data) != after.st_size:
                raise FileChanged(e.path)
            sha = hashlib.sha256(data).hexdigest()
            e.sha256, e.size, e.mtime_ns = sha, len(data), after.st_mtime_ns
            if self._claim(sha):
                with self._claimed(sha, e):
                    self.store.put_object(sha, data, after.st_mtime_ns, self.readback)
                self._done(sha, len(data))
            self._tick(nbytes=len(data))
            return
        sha = e.sha256 if (e.sha256 and self.hashed) else None
        if sha is None:
            sha, size = sha256_file(path)
            e.size = size
        e.sha256, e.mtime_ns = sha, st.st_mtime_ns
        if self._claim(sha):
            with self._claimed(sha, e):
                self.store.put_object_file(
                    sha, path, e.size, e.mtime_ns, self.part, self.readback, on_bytes=lambda n: self._tick(nbytes=n)
                )
            self._done(sha, e.size)
        else:
            self._tick(nbytes=e.size)

    def run(self, workers: int) -> None:
        if not self.to_read:
            return
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="backup")
        try:
            futures = [pool.submit(self.process, e) for e in self.to_read]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            for f in done:
                exc = f.exception()
                if exc is not None:
                    raise exc
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
