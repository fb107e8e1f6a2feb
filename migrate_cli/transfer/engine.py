"""Execute a SyncPlan: concurrent, retrying, resumable, verified.

Shape (after s3transfer's manager / futures / tasks split, without its per-request overhead):
- a WorkerPool of N threads pulling tasks from one FIFO queue; tasks never wait for other tasks, they
  enqueue follow-up tasks (a large file's first task enqueues its parts; the last part to finish commits);
- a _Job per large file tracks its parts, what is outstanding, and whether it failed (the future);
- the tasks: _single (read whole + put), _part (one range), _finish (verify + commit), _stream (one
  sequential read of an S3 object whose checksum can only be checked over the whole stream).
Every request is retried by `with_retries` (backoff on 5xx, SlowDown, timeouts, resets, bad checksums);
a file that still fails is recorded with its error and the others continue. Deletions run last, and not
at all when anything failed. Ctrl-C stops new work, keeps the state of uploads and partial downloads in
flight (the next run resumes them) and re-raises KeyboardInterrupt. S3 -> S3 copies on one service are
done by the server (s3copy.py).
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from migrate_cli.transfer.checksums import (
    DEFAULT_MULTIPART_THRESHOLD,
    DEFAULT_PART_SIZE,
    StreamDigest,
    choose_part_size,
    composite_sha256,
    digest_bytes,
    digest_fd_range,
    part_count,
)
from migrate_cli.transfer.plan import CopyItem, SyncPlan
from migrate_cli.transfer.retry import (
    FILE_ATTEMPTS,
    Backoff,
    Cancelled,
    IntegrityError,
    PermanentError,
    TransferError,
    TransientError,
    with_retries,
)
from migrate_cli.transfer.s3copy import ServerSideCopy
from migrate_cli.transfer.s3http import FileSlice
from migrate_cli.transfer.sources import PartDone, PartWriter, Store, WriteInfo, guess_type
from migrate_cli.transfer.state import TransferState

INLINE_MAX = 1024 * 1024  # local files up to this size are read into memory; larger ones are sent from disk
PROBE_KEY = ".migrate-checksum-probe"  # the multipart upload that asks a server about checksums, never completed


class Progress(Protocol):
    def start(self, files: int, nbytes: int) -> None: ...
    def advance(self, files: int = 0, nbytes: int = 0) -> None: ...
    def note(self, message: str) -> None: ...
    def stop(self) -> None: ...


class NullProgress:
    def start(self, files: int, nbytes: int) -> None:
        return None

    def advance(self, files: int = 0, nbytes: int = 0) -> None:
        return None

    def note(self, message: str) -> None:
        return None

    def stop(self) -> None:
        return None


@dataclass
class EngineOptions:
    workers: int = 8
    part_size: int = DEFAULT_PART_SIZE
    multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD  # local files up to this size go in one request
    backoff: Backoff = field(default_factory=Backoff.from_env)


@dataclass
class EngineResult:
    copied: int = 0
    copied_bytes: int = 0
    deleted: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    delete_failed: list[tuple[str, str]] = field(default_factory=list)
    deletes_skipped: int = 0
    verified: int = 0
    unverified: int = 0
    retries: int = 0
    resumed_parts: int = 0
    aborted_uploads: int = 0
    server_side: int = 0  # copied inside S3 (CopyObject / UploadPartCopy): no bytes through this client
    elapsed: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        rate = self.copied / self.elapsed if self.elapsed else 0.0
        return {
            "copied": {"files": self.copied, "bytes": self.copied_bytes},
            "deleted": self.deleted,
            "failed": [{"key": k, "error": e} for k, e in self.failed + self.delete_failed],
            "deletes_skipped": self.deletes_skipped,
            "verified": self.verified,
            "unverified": self.unverified,
            "retries": self.retries,
            "resumed_parts": self.resumed_parts,
            "aborted_uploads": self.aborted_uploads,
            "server_side": self.server_side,
            "elapsed": round(self.elapsed, 3),
            "files_per_s": round(rate, 1),
            "bytes_per_s": round(self.copied_bytes / self.elapsed, 1) if self.elapsed else 0.0,
        }


class WorkerPool:
    """N daemon threads running tasks from one queue; `wait` returns when no task is left.

    Follow-up work (the parts of a file already started) goes to the FRONT of the queue, in order: a large
    file's parts are sent together and in sequence (servers that assemble parts in order buffer less) and
    its memory and upload are released before the next file starts."""

    def __init__(self, workers: int) -> None:
        self._queue: deque[tuple[Callable[..., None], tuple[Any, ...]] | None] = deque()
        self._ready = threading.Condition()
        self._pending = 0
        self._idle = threading.Event()
        self._idle.set()
        self._threads = [
            threading.Thread(target=self._loop, name=f"transfer-{i}", daemon=True) for i in range(max(1, workers))
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        self.submit_many([(fn, args)])

    def submit_many(self, tasks: list[tuple[Callable[..., None], tuple[Any, ...]]], front: bool = False) -> None:
        with self._ready:
            self._pending += len(tasks)
            self._idle.clear()
            if front:
                self._queue.extendleft(reversed(tasks))
            else:
                self._queue.extend(tasks)
            self._ready.notify(len(tasks))

    def _loop(self) -> None:
        while True:
            with self._ready:
                while not self._queue:
                    self._ready.wait()
                task = self._queue.popleft()
            if task is None:
                return
            fn, args = task
            try:
                fn(*args)
            finally:
                with self._ready:
                    self._pending -= 1
                    if self._pending == 0:
                        self._idle.set()

    def wait(self) -> None:
        while not self._idle.wait(0.2):
            pass

    def shutdown(self) -> None:
        with self._ready:
            self._queue.extend([None] * len(self._threads))
            self._ready.notify_all()


@dataclass
class _Job:
    """One large file moving in parts."""

    item: CopyItem
    info: WriteInfo
    writer: PartWriter
    part_size: int
    count: int
    src_sig: str
    attempt: int
    parts: dict[int, PartDone] = field(default_factory=dict)
    outstanding: int = 0
    error: TransferError | None = None
    reported: int = 0  # bytes added to the progress bar by this attempt
    lock: threading.Lock = field(default_factory=threading.Lock)
    read_back: bool = False  # checked as a whole from the written file (the source's parts are not ours)


class TransferEngine:
    def __init__(
        self,
        source: Store,
        dest: Store,
        state: TransferState,
        options: EngineOptions | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.source = source
        self.dest = dest
        self.state = state
        self.options = options or EngineOptions()
        self.progress = progress or NullProgress()
        self.result = EngineResult()
        self._lock = threading.Lock()
        self._cancelled = False
        self._md5 = dest.wants_md5  # only a destination that checks ETags needs MD5s computed
        self._remote = {source.kind, dest.kind} != {"local"}  # not local -> local: an unchecked copy is "unverified"
        self._server_copy = ServerSideCopy.between(self)  # S3 -> S3 on one service: copied inside S3

    # --- driver ------------------------------------------------------------------------------------

    def run(self, plan: SyncPlan) -> EngineResult:
        started = time.monotonic()
        for key, src_sig, dst_sig in plan.learned:
            self.state.record(key, src_sig, dst_sig)
        self._reconcile_uploads(plan)
        probe = self._learn_dest_checksums(plan)
        self.progress.start(len(plan.copies), plan.copy_bytes)
        pool = self._pool = WorkerPool(self.options.workers)
        try:
            if probe is not None:
                pool.submit(self._abort_probe, probe)
            for item in plan.copies:
                pool.submit(self._start, item, 1)
            pool.wait()
        except KeyboardInterrupt:
            self._cancelled = True
            self.state.flush()
            raise
        finally:
            pool.shutdown()
            self.progress.stop()
        self._delete(plan)
        self.state.flush()
        self.result.elapsed = time.monotonic() - started
        return self.result

    def _reconcile_uploads(self, plan: SyncPlan) -> None:
        """Abort uploads recorded by an earlier run that will not be resumed now (see state.py); for a local
        or SFTP destination, remove the partial files of such runs (source changed, key no longer copied)."""
        wanted = plan.copy_sigs(self.source)
        if self.dest.kind in ("local", "sftp"):
            for key, error in self.state.clean_stale_downloads(self.dest, wanted):
                if error is None:
                    self.progress.note(f"removed the partial file of {key} (not resumable)")
                else:  # kept in the state: the next run tries again
                    self.progress.note(f"could not remove the partial file of {key}: {error}")
            return
        for record in self.state.stale_uploads(wanted):
            try:
                self.result.aborted_uploads += with_retries(
                    lambda r=record: self.state.clean_upload(self.dest, r), self.options.backoff
                )
            except TransferError as exc:  # kept in the state: the next run tries again
                self.progress.note(f"could not abort an earlier upload of {record.key}: {exc}")

    def _learn_dest_checksums(self, plan: SyncPlan) -> PartWriter | None:
        """Before large local files are hashed for an S3 destination whose checksum support is unknown: a
        multipart upload begun here, of a key no file uses (journalled like any other, so a kill before its
        abort leaves nothing behind: the next run aborts it), tells whether SHA-256 is worth computing
        (s3support.py). Returns the upload, for the pool to abort while the copy goes on."""
        checksums = getattr(self.dest, "checksums", None)
        if self.source.kind != "local" or checksums is None or not checksums.unknown or self.state.readonly:
            return None
        if not any(i.source.size > INLINE_MAX for i in plan.copies) or self.state.upload(PROBE_KEY) is not None:
            return None
        if any(i.key == PROBE_KEY for i in plan.copies):  # a source file of that name: ask by writing instead
            return None
        info = WriteInfo(PROBE_KEY, 0, 0)
        try:
            return self.dest.begin(info, self.options.part_size, 1, self.state.journal_for(""))
        except TransferError as exc:  # the writes themselves will tell
            self.progress.note(f"could not ask the destination about checksums: {exc}")
            return None

    def _abort_probe(self, writer: PartWriter) -> None:
        try:
            self._retry(PROBE_KEY, writer.abort)
        except TransferError as exc:  # still in the state: the next run aborts it
            self.progress.note(f"could not abort the checksum probe upload: {exc}")

    def _delete(self, plan: SyncPlan) -> None:
        if not plan.deletes:
            return
        if self.result.failed or plan.errors:
            self.result.deletes_skipped = len(plan.deletes)
            self.progress.note(f"{len(plan.deletes)} deletion(s) skipped because of errors")
            return
        keys = [e.key for e in plan.deletes]
        failed = self.dest.delete(keys)
        failed_keys = {k for k, _ in failed}
        self.result.delete_failed.extend(failed)
        self.result.deleted = len(keys) - len(failed_keys)
        self.state.forget_objects([k for k in keys if k not in failed_keys])

    # --- bookkeeping -------------------------------------------------------------------------------

    def _cancelled_now(self) -> bool:
        return self._cancelled

    def _on_retry(self, key: str) -> Callable[[int, TransferError], None]:
        def note(attempt: int, exc: TransferError) -> None:
            with self._lock:
                self.result.retries += 1
            self.progress.note(f"retry {attempt} {key}: {exc}")

        return note

    def _retry(self, key: str, fn: Callable[[], Any]) -> Any:
        return with_retries(fn, self.options.backoff, self._on_retry(key), self._cancelled_now)

    def _done(self, key: str, size: int, src_sig: str, dst_sig: str, checks: tuple[bool | None, ...]) -> None:
        self.state.record(key, src_sig, dst_sig)
        with self._lock:
            self.result.copied += 1
            self.result.copied_bytes += size
            if True in checks:
                self.result.verified += 1
            elif self._remote:
                self.result.unverified += 1
        self.progress.advance(1, 0)

    def _fail(self, key: str, exc: BaseException) -> None:
        if isinstance(exc, Cancelled):
            return
        message = str(exc) if isinstance(exc, TransferError) else f"{type(exc).__name__}: {exc}"
        with self._lock:
            self.result.failed.append((key, message))
        self.progress.note(f"failed {key}: {message}")
        self.progress.advance(1, 0)

    def _info(self, item: CopyItem, size: int, mtime_ns: int) -> WriteInfo:
        return WriteInfo(item.key, size, mtime_ns, guess_type(item.key))

    # --- tasks -------------------------------------------------------------------------------------

    def _start(self, item: CopyItem, attempt: int) -> None:
        try:
            if self._cancelled:
                return
            if self._server_copy is not None and self._server_copy.start(item, attempt):
                return
            entry = item.source
            if self.source.kind == "s3" and entry.size > self.options.part_size and not entry.statted:
                self._retry(item.key, lambda: self.source.stat(entry))
            part_size = self.source.source_part_size(entry) or choose_part_size(entry.size, self.options.part_size)
            local = self.source.kind == "local"
            if local and INLINE_MAX < entry.size <= max(self.options.multipart_threshold, self.options.part_size):
                self._single_from_disk(item)
            elif entry.size <= self.options.part_size:
                self._single(item)
            elif self.source.stream_only(entry) and self.dest.kind == "local":
                self._begin_parts(item, part_size, attempt, read_back=True)
            elif self.source.stream_only(entry):
                self._stream(item, attempt)
            else:
                self._begin_parts(item, part_size, attempt)
        except Exception as exc:  # noqa: BLE001 - a file's failure is recorded, the copy goes on
            self._fail(item.key, exc)

    def _single(self, item: CopyItem) -> None:
        def attempt() -> tuple[Any, str, bool | None]:
            read = self.source.read(item.source)
            sha, md5 = self._digests(lambda: digest_bytes(read.data, self._md5))
            info = self._info(item, len(read.data), read.mtime_ns)
            dst_sig, ok = self.dest.put(info, read.data, sha, md5)
            return read, dst_sig, ok

        read, dst_sig, ok = self._retry(item.key, attempt)
        self.progress.advance(0, len(read.data))
        self._done(item.key, len(read.data), read.sig, dst_sig, (read.verified, ok))

    def _single_from_disk(self, item: CopyItem) -> None:
        """A local file in one request, hashed then sent with sendfile(2): never held in memory."""
        entry = item.source

        def attempt() -> tuple[int, str, str, bool | None]:
            try:
                fd = os.open(entry.path, os.O_RDONLY)
            except OSError as exc:
                raise PermanentError(f"cannot read {entry.path}: {exc.strerror or exc}") from exc
            try:
                st = os.fstat(fd)
                sha, md5 = self._digests(lambda: digest_fd_range(fd, 0, st.st_size, self._md5))
            except OSError as exc:
                raise TransientError(f"cannot read {entry.path}: {exc.strerror or exc}") from exc
            finally:
                os.close(fd)
            src_sig = f"{st.st_size}:{st.st_mtime_ns}"
            info = self._info(item, st.st_size, st.st_mtime_ns)
            dst_sig, ok = self.dest.put(info, FileSlice(entry.path, 0, st.st_size), sha, md5)
            if self.source.current_sig(entry) != src_sig:  # type: ignore[attr-defined]
                raise TransientError(f"{entry.path} changed while it was being copied")
            return st.st_size, src_sig, dst_sig, ok

        size, src_sig, dst_sig, ok = self._retry(item.key, attempt)
        self.progress.advance(0, size)
        self._done(item.key, size, src_sig, dst_sig, (ok,))

    # large files in parallel parts

    def _begin_parts(self, item: CopyItem, part_size: int, attempt: int, read_back: bool = False) -> None:
        """Parts in parallel. `read_back`: an S3 object whose checksum covers other boundaries than ours (a
        whole-object SHA-256, another tool's parts) downloaded in ranges all the same, so that it is fast and
        resumes after a kill, and checked at the end by hashing the written file (`_finish`)."""
        entry = item.source
        src_sig = self.source.sig(entry)
        mtime_ns = self.source.logical_mtime_ns(entry) or int(entry.mtime * 1e9)
        info = self._info(item, entry.size, mtime_ns)
        count = part_count(entry.size, part_size)
        journal: Any = None  # records parts so that a killed run resumes (state.py): uploads and partial files
        if self.dest.kind == "s3":
            journal = self.state.journal_for(src_sig)
        elif self.dest.kind in ("local", "sftp"):  # partial files, resumed part by part
            journal = self.state.download_journal(src_sig)
        writer = self._retry(item.key, lambda: self.dest.begin(info, part_size, count, journal))
        job = _Job(item, info, writer, part_size, count, src_sig, attempt, parts=dict(writer.done), read_back=read_back)
        missing = [n for n in range(1, count + 1) if n not in job.parts]
        resumed = sum(p.size for p in job.parts.values())
        if job.parts:
            with self._lock:
                self.result.resumed_parts += len(job.parts)
            done = (
                "uploaded" if self.dest.kind != "local" else "downloaded" if self.source.kind != "local" else "copied"
            )
            self.progress.note(f"resuming {item.key}: {len(job.parts)} of {count} parts already {done}")
        job.reported += resumed
        self.progress.advance(0, resumed)
        job.outstanding = len(missing)
        if not missing:
            self._finish(job)
            return
        self._pool.submit_many([(self._part, (job, number)) for number in missing], front=True)

    def _part(self, job: _Job, number: int) -> None:
        entry = job.item.source
        offset = (number - 1) * job.part_size
        length = min(job.part_size, entry.size - offset)

        def attempt() -> PartDone:
            payload = self.source.read_range(entry, offset, length)
            if isinstance(payload, FileSlice):
                sha, md5 = self._digests(lambda: _digest_slice(payload, self._md5))
            else:
                sha, md5 = digest_bytes(payload, self._md5)  # also checks the part against its source
            return job.writer.write_part(number, offset, payload, sha, md5)

        error: BaseException | None = None
        try:
            if job.error is None and not self._cancelled:
                done = self._retry(job.item.key, attempt)
                with job.lock:
                    job.parts[number] = done
                    job.reported += length
                self.progress.advance(0, length)
        except Exception as exc:  # noqa: BLE001
            error = exc
        with job.lock:
            if error is not None and job.error is None:
                job.error = (
                    error if isinstance(error, TransferError) else PermanentError(f"{type(error).__name__}: {error}")
                )
            job.outstanding -= 1
            last = job.outstanding == 0
        if last:
            if job.error is None and not self._cancelled:
                self._finish(job)
            else:
                # the part used up its own retries; a part the server will not take again starts the file over
                self._give_up(job, restart=getattr(job.error, "restart_file", False))

    def _finish(self, job: _Job) -> None:
        key = job.item.key
        parts = [job.parts[n] for n in range(1, job.count + 1)]
        try:
            expected = self.source.expected(job.item.source)
            checks: list[bool | None] = []
            if job.read_back:
                part_size = expected.scheme_part_size() if expected else 0
                digest = job.writer.digest(part_size)  # type: ignore[attr-defined]
                checks.append(self.source.verify(job.item.source, digest, expected))  # type: ignore[attr-defined]
            elif expected is not None and expected.sha256 and expected.parts:
                if composite_sha256([p.sha256 for p in parts]) != expected.sha256 or expected.parts != job.count:
                    raise IntegrityError(f"{self.source.url}{key}: downloaded parts do not match the stored checksum")
                checks.append(True)
            if self.source.kind == "local" and self.source.current_sig(job.item.source) != job.src_sig:  # type: ignore[attr-defined]
                raise PermanentError(f"{job.item.source.path} changed while it was being copied")
            dst_sig, ok = self._retry(key, lambda: job.writer.commit(parts))
            checks.append(ok)
        except Exception as exc:  # noqa: BLE001
            job.error = exc if isinstance(exc, TransferError) else PermanentError(f"{type(exc).__name__}: {exc}")
            self._give_up(job)
            return
        self._done(key, job.info.size, job.src_sig, dst_sig, tuple(checks))

    def _give_up(self, job: _Job, restart: bool = True) -> None:
        """A part or the commit failed: abort the upload. When the whole file failed its final check (or
        its commit), start it again from scratch, at most FILE_ATTEMPTS times in all."""
        error = job.error or Cancelled("interrupted")
        if self._cancelled:
            return  # keep the upload for the next run to resume
        try:
            job.writer.abort()
        except Exception as exc:  # noqa: BLE001
            self.progress.note(f"could not abort the upload of {job.item.key}: {exc}")
        self.progress.advance(0, -job.reported)
        if restart and (error.retryable or error.restart_file) and job.attempt < FILE_ATTEMPTS:
            self._on_retry(job.item.key)(job.attempt, error)
            time.sleep(self.options.backoff.delay(job.attempt))
            self._submit(self._start, job.item, job.attempt + 1)
            return
        self._fail(job.item.key, error)

    # S3 objects verified over the whole stream

    def _stream(self, item: CopyItem, attempt_no: int) -> None:
        entry = item.source
        src_sig = self.source.sig(entry)
        part_size = choose_part_size(entry.size, self.options.part_size)
        count = part_count(entry.size, part_size)
        journal = self.state.journal_for(src_sig) if self.dest.kind == "s3" else None
        reported = 0

        def attempt() -> tuple[str, tuple[bool | None, ...]]:
            nonlocal reported
            self.progress.advance(0, -reported)
            reported = 0
            with self.source.open_stream(entry) as (reader, expected, mtime_ns):
                info = self._info(item, entry.size, mtime_ns)
                writer = self.dest.begin(info, part_size, count, journal)
                try:
                    whole = StreamDigest(expected.scheme_part_size() if expected else 0)
                    parts = []
                    for number in range(1, count + 1):
                        want = min(part_size, entry.size - (number - 1) * part_size)
                        buf = _read_exact(reader, want)
                        whole.update(buf)
                        sha, md5 = digest_bytes(buf, self._md5)
                        previous = writer.done.get(number)
                        if previous is not None and previous.sha256 == sha:
                            parts.append(previous)
                        else:
                            offset = (number - 1) * part_size
                            parts.append(
                                self._retry(item.key, lambda: writer.write_part(number, offset, buf, sha, md5))  # noqa: B023
                            )
                        reported += want
                        self.progress.advance(0, want)
                    if reader.read(1):
                        raise IntegrityError(f"{self.source.url}{item.key}: longer than listed")
                    verified = self.source.verify(entry, whole.finish(), expected)  # type: ignore[attr-defined]
                except IntegrityError:
                    writer.abort()
                    raise
                except BaseException:
                    if self.dest.kind != "s3":
                        writer.abort()
                    raise
                dst_sig, ok = writer.commit(parts)
                return dst_sig, (verified, ok)

        try:
            dst_sig, checks = self._retry(item.key, attempt)
        except TransferError:
            if journal is not None and not self._cancelled:
                record = self.state.upload(item.key)
                if record is not None:
                    self.state.clean_upload(self.dest, record)
            raise
        self._done(item.key, entry.size, src_sig, dst_sig, checks)

    def _submit(self, fn: Callable[..., None], *args: Any) -> None:
        self._pool.submit(fn, *args)

    def _digests(self, compute: Callable[[], tuple[bytes, bytes]]) -> tuple[bytes, bytes]:
        """Digests of local content for the destination, or none when the destination hashes as it sends
        (one pass over the bytes instead of two, and the first byte goes out at once)."""
        if self.dest.hashes_while_sending and self.source.kind == "local":
            return b"", b""
        return compute()


def _digest_slice(part: FileSlice, md5: bool) -> tuple[bytes, bytes]:
    fd = os.open(part.path, os.O_RDONLY)
    try:
        return digest_fd_range(fd, part.offset, part.length, md5)
    finally:
        os.close(fd)


def _read_exact(reader: Any, size: int) -> bytes:
    chunks, got = [], 0
    while got < size:
        chunk = reader.read(min(1 << 20, size - got))
        if not chunk:
            raise IntegrityError(f"stream ended after {got} of {size} bytes")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)
