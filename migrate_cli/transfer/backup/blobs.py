"""The backup store's object transfers, on the copy engine's S3 path (`transfer/s3.py` S3Store).

So a backup gets what `data copy` gets: the SHA-256 of every request body sent as S3's additional checksum,
the server's answer checked (the ETag against our MD5 where it is one, any echoed checksum against ours,
else a HEAD), multipart objects with a SHA-256 per part and S3's composite checksum, the lean signed HTTP
path, the shared bandwidth limit, and retries with backoff (`transfer/retry.py`) on 5xx, SlowDown, resets,
timeouts and bad checksums. What stays backup-specific is here: content addressing (an object's key is
the SHA-256 of its content, checked again on every download), reading a local file exactly once per
attempt (what is hashed is what is sent, so a file that changes while read is noticed), `verify: readback`
(download and hash each new object), and mapping transfer errors to exit codes.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, BinaryIO

from migrate_cli.core.errors import OperationFailed
from migrate_cli.transfer.bandwidth import RateLimiter
from migrate_cli.transfer.checksums import NO_MD5, choose_part_size, part_count
from migrate_cli.transfer.location import Location
from migrate_cli.transfer.retry import FILE_ATTEMPTS, StartOver, TransferError, with_retries
from migrate_cli.transfer.retry import IntegrityError as TransferIntegrityError
from migrate_cli.transfer.s3 import S3Store
from migrate_cli.transfer.sources import Entry as StoreEntry
from migrate_cli.transfer.sources import PartDone, WriteInfo

ByteCounter = Callable[[int], None]


class IntegrityError(OperationFailed):
    """What the store holds (or sent) is not what was meant, after every retry."""


class FileChanged(Exception):
    """The local file changed while it was being read."""


class LocalFileError(Exception):
    """Reading or writing the local file failed (`error` is the OSError); not a remote failure."""

    def __init__(self, path: Path, error: OSError) -> None:
        super().__init__(f"{path}: {error.strerror or error}")
        self.error = error


@contextmanager
def remote_errors() -> Iterator[None]:
    """Transfer errors left after the retries as exit-code errors: IntegrityError / OperationFailed (1)."""
    try:
        yield
    except TransferIntegrityError as exc:
        raise IntegrityError(str(exc)) from exc
    except TransferError as exc:
        raise OperationFailed(str(exc)) from exc


class Blobs:
    """Whole-object writes and reads by full key in one bucket, through an S3Store opened on first use
    (so a bucket that `create_bucket` has yet to make is not looked up early). Thread-safe."""

    def __init__(
        self,
        bucket: str,
        storage_class: str | None = None,
        sse: str | None = None,
        kms_key_id: str | None = None,
        bwlimit: int = 0,
    ) -> None:
        self.bucket = bucket
        self.storage_class = storage_class
        self.sse = sse
        self.kms_key_id = kms_key_id
        self.bwlimit = bwlimit
        self._store: S3Store | None = None
        self._lock = threading.Lock()

    @property
    def store(self) -> S3Store:
        """The S3Store on the bucket's root (keys are full keys); HeadBucket 403 from a prefix role passes."""
        with self._lock:
            if self._store is None:
                where = Location(kind="s3", text=f"s3://{self.bucket}/", bucket=self.bucket)
                store = S3Store(where, self.storage_class, self.sse, self.kms_key_id)
                if self.bwlimit:
                    store.set_limiter(RateLimiter(self.bwlimit))
                self._store = store
            return self._store

    def _retry(self, fn: Callable[[], Any]) -> Any:
        """`fn` retried with the store's backoff (opening the store first, outside the retries)."""
        return with_retries(fn, self.store.backoff)

    def abort_uploads_under(self, prefix: str) -> int:
        """Abort every multipart upload in progress under `prefix`; how many there were."""
        store = self.store
        with remote_errors():
            uploads = self._retry(lambda: store.multipart_uploads(prefix))
            for key, upload_id in uploads:
                self._retry(lambda k=key, u=upload_id: store.abort_upload(k, u))
        return len(uploads)

    # --- writes --------------------------------------------------------------------------------

    def put_small(self, key: str, data: bytes, sha_hex: str, mtime_ns: int, readback: bool = False) -> None:
        """One PutObject of `data` (whose SHA-256 is `sha_hex`, computed by the caller from these very bytes),
        verified; retried on failure. The MD5 (for the ETag check) is taken as the bytes are sent."""
        store = self.store
        sha = bytes.fromhex(sha_hex)
        info = WriteInfo(key, len(data), mtime_ns)
        self._put_verified(key, sha_hex, len(data), lambda: store.put(info, data, sha, NO_MD5)[1], readback)

    def put_manifest(self, key: str, data: bytes, metadata: dict[str, str], readback: bool = False) -> None:
        """Store a gzip'd JSON manifest with its summary as user metadata, in STANDARD; verified."""
        store = self.store
        sha = hashlib.sha256(data).digest()  # the MD5 is taken as the bytes are sent

        def send() -> bool | None:
            return store.put_bytes(
                key,
                data,
                sha,
                NO_MD5,
                metadata=metadata,
                content_type="application/json",
                content_encoding="gzip",
                storage_class=False,
            )

        self._put_verified(key, sha.hex(), len(data), send, readback)

    def _put_verified(self, key: str, sha_hex: str, size: int, send: Callable[[], bool | None], readback: bool) -> None:
        """`send` the object in one request (True: the reply proved the content; None: it could not), then read
        it back when asked or unproven; a failure of either, or a mismatch, sends it again."""

        def attempt() -> None:
            verified = send()
            if readback or verified is None:
                self._compare(key, sha_hex, size)

        with remote_errors():
            self._retry(attempt)

    def put_file_multipart(
        self,
        key: str,
        path: Path,
        sha_hex: str,
        size: int,
        mtime_ns: int,
        part_size: int,
        readback: bool = False,
        on_bytes: ByteCounter | None = None,
    ) -> None:
        """Multipart upload of `path`, each part read once, hashed and sent from the same bytes (each request
        retried); FileChanged (upload aborted) when what was read does not hash to `sha_hex`. An object that
        fails its final check (the commit's, or the read-back's) is sent again, FILE_ATTEMPTS times in all."""
        store = self.store
        part_size = choose_part_size(size, part_size)
        count = part_count(size, part_size)
        info = WriteInfo(key, size, mtime_ns)

        def upload() -> bool | None:
            """One multipart upload; aborted, and its bytes taken back from `on_bytes`, when it fails."""
            writer = self._retry(lambda: store.begin(info, part_size, count))
            sent = 0
            try:
                whole = hashlib.sha256()
                parts: list[PartDone] = []
                with _open_local(path) as fh:
                    for number in range(1, count + 1):
                        data = _read_local(fh, part_size, path)
                        whole.update(data)
                        sha = hashlib.sha256(data).digest()  # the MD5 is taken as the part is sent
                        offset = (number - 1) * part_size
                        parts.append(self._retry(lambda: writer.write_part(number, offset, data, sha, NO_MD5)))  # noqa: B023
                        sent += len(data)
                        if on_bytes:
                            on_bytes(len(data))
                    if whole.hexdigest() != sha_hex or sent != size or fh.read(1):
                        raise FileChanged(str(path))
                _, verified = self._retry(lambda: writer.commit(parts))
                return verified
            except BaseException:
                with suppress(Exception):  # best effort; the next run aborts leftovers under its lock
                    writer.abort()
                if on_bytes and sent:
                    on_bytes(-sent)
                raise

        def attempt() -> None:
            verified = upload()
            if readback or verified is None:
                try:  # only the download is retried: a mismatch sends the object again
                    self._check(key, sha_hex, size, self._retry(lambda: self._stream(key, size)), "read back")
                except TransferIntegrityError:
                    if on_bytes:
                        on_bytes(-size)
                    raise

        with remote_errors():
            for n in range(1, FILE_ATTEMPTS + 1):
                try:
                    attempt()
                    return
                except (TransferIntegrityError, StartOver):  # StartOver: a part the server will not take again
                    if n == FILE_ATTEMPTS:
                        raise

    # --- reads ---------------------------------------------------------------------------------

    def get(self, key: str) -> bytes:
        """A small object, checked against its stored checksum; retried on failure."""
        store = self.store
        with remote_errors():
            return self._retry(lambda: store.get(key))

    def _stream(self, key: str, size: int, sink: Any = None, on_bytes: ByteCounter | None = None) -> tuple[str, int]:
        """One download, hashing as it goes (and writing to `sink`, if any): (SHA-256 hex, bytes)."""
        digest = hashlib.sha256()
        got = 0
        with self.store.open_stream(StoreEntry(key, size, 0.0)) as (reader, _expected, _mtime):
            while chunk := reader.read():
                digest.update(chunk)
                got += len(chunk)
                if sink is not None:
                    try:
                        sink.write(chunk)
                    except OSError as exc:
                        raise LocalFileError(Path(getattr(sink, "name", "?")), exc) from exc
                if on_bytes:
                    on_bytes(len(chunk))
        return digest.hexdigest(), got

    def _compare(self, key: str, sha_hex: str, size: int) -> None:
        """Download the object once and check its size and SHA-256 (retry.IntegrityError when they differ)."""
        self._check(key, sha_hex, size, self._stream(key, size), "read back")

    def _check(self, key: str, sha_hex: str, size: int, streamed: tuple[str, int], verb: str) -> None:
        """retry.IntegrityError unless `streamed` (SHA-256 hex, bytes) is `size` bytes hashing to `sha_hex`."""
        digest, got = streamed
        if got != size or digest != sha_hex:
            raise TransferIntegrityError(
                f"s3://{self.bucket}/{key}: {verb} {got} bytes with SHA-256 {digest[:12]}..., expected "
                f"{size} bytes with {sha_hex[:12]}..."
            )

    def download_verified(
        self, key: str, dest: Path, sha_hex: str, size: int, on_bytes: ByteCounter | None = None
    ) -> None:
        """Download to a temporary file beside `dest`, check size and SHA-256 (the content address), then
        rename it into place. A failed or mismatching download starts again from the first byte."""

        def attempt() -> None:
            reported = 0

            def count(n: int) -> None:
                nonlocal reported
                reported += n
                if on_bytes:
                    on_bytes(n)

            try:
                fd, tmp = tempfile.mkstemp(prefix=".migrate-restore-", dir=dest.parent)
            except OSError as exc:
                raise LocalFileError(dest, exc) from exc
            try:
                with os.fdopen(fd, "wb") as fh:
                    streamed = self._stream(key, size, fh, count)
                self._check(key, sha_hex, size, streamed, "downloaded")
                try:
                    os.replace(tmp, dest)
                except OSError as exc:
                    raise LocalFileError(dest, exc) from exc
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                if on_bytes and reported:
                    on_bytes(-reported)
                raise

        with remote_errors():
            self._retry(attempt)


def _open_local(path: Path) -> BinaryIO:
    """The file opened for reading; an OSError as LocalFileError (so it is told apart from S3 errors)."""
    try:
        return open(path, "rb")  # noqa: SIM115 - the caller closes it
    except OSError as exc:
        raise LocalFileError(path, exc) from exc


def _read_local(fh: BinaryIO, size: int, path: Path) -> bytes:
    """Up to `size` bytes of the open file at `path`; an OSError as LocalFileError."""
    try:
        return fh.read(size)
    except OSError as exc:
        raise LocalFileError(path, exc) from exc
