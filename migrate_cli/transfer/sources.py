"""The Store interface every side of a copy implements, and the local-directory store.

A store lists entries (relative '/'-separated keys), reads whole objects or byte ranges, and writes objects
either at once (`put`) or in parts (`begin` -> PartWriter). Remote stores live in s3.py and sftp.py.

Local trees: symlinks to files and directories are FOLLOWED by default (like `aws s3 sync`; loops are
detected and reported); with follow_symlinks=False they are skipped with a warning. Sockets, FIFOs and
devices are skipped with a warning. An unreadable directory or file is reported as an error and the rest
continues; nothing under an unreadable directory is ever deleted from the destination.
Files are written to `.NAME.migrate-partial` beside their final name and renamed into place when complete,
so a killed copy never leaves a truncated file under the real name; listings ignore these partial files.
"""

from __future__ import annotations

import errno
import mimetypes
import os
import stat
import threading
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, field
from typing import Any

from migrate_cli.core.errors import ConfigError
from migrate_cli.transfer.bandwidth import RateLimiter
from migrate_cli.transfer.checksums import Expected, StreamDigest, digest_fd_range, stream_digest_fd
from migrate_cli.transfer.location import Location
from migrate_cli.transfer.retry import PermanentError, TransientError
from migrate_cli.transfer.s3http import FileSlice

PARTIAL_SUFFIX = ".migrate-partial"
Payload = bytes | FileSlice


@dataclass(slots=True)
class Entry:
    """One file or object, as listed. S3 details (meta_mtime, expected) are filled in by `stat`."""

    key: str
    size: int
    mtime: float  # seconds since the epoch, as the listing gives it
    mtime_ns: int = 0  # exact, when the store has it (local files)
    etag: str = ""
    storage_class: str = ""
    path: str = ""  # local / remote path of the file
    meta_mtime_ns: int | None = None  # S3: the source mtime we stored in x-amz-meta-mtime
    expected: Expected | None = None  # S3: the stored digest (after stat)
    statted: bool = False


@dataclass
class Listing:
    entries: dict[str, Entry] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path, message): could not be listed
    warnings: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)  # key prefixes whose content is unknown: no deletes


@dataclass(frozen=True)
class WriteInfo:
    """What a writer needs to know about the object it writes."""

    key: str
    size: int
    mtime_ns: int
    content_type: str | None = None


@dataclass(frozen=True)
class PartDone:
    number: int
    size: int
    sha256: bytes
    md5: bytes
    etag: str = ""


@dataclass
class ReadResult:
    """A whole small object, with what the source says about it (for the manifest and verification)."""

    data: bytes
    mtime_ns: int
    sig: str
    verified: bool | None = None  # S3 downloads: checked against the stored checksum (None: nothing to check)


def guess_type(key: str) -> str | None:
    return mimetypes.guess_type(key, strict=False)[0]


def payload_length(payload: Payload) -> int:
    return payload.length if isinstance(payload, FileSlice) else len(payload)


class PartWriter(ABC):
    """Writes one object in parts (any order, concurrently); `commit` makes it visible, `abort` drops it."""

    done: dict[int, PartDone]  # parts already present from an interrupted run (resumed)

    @abstractmethod
    def write_part(self, number: int, offset: int, payload: Payload, sha256: bytes, md5: bytes) -> PartDone: ...

    @abstractmethod
    def commit(self, parts: list[PartDone]) -> tuple[str, bool | None]:
        """Finish the object; return (destination signature, verified)."""

    @abstractmethod
    def abort(self) -> None: ...


class Store(ABC):
    """One side of a copy."""

    kind: str
    location: Location
    mtime_exact: bool = True  # False: the listing's mtime has 1-second resolution
    limiter: RateLimiter | None = None
    wants_md5: bool = False  # writers that check the server's ETag need the MD5 of what they send
    hashes_while_sending: bool = False  # put/write_part take empty digests and hash as they send

    @property
    def url(self) -> str:
        return self.location.url

    @abstractmethod
    def check_source(self) -> None:
        """Raise ConfigError when this cannot be a source (missing directory, empty prefix...)."""

    @abstractmethod
    def check_dest(self) -> None:
        """Raise ConfigError when this cannot be a destination."""

    @abstractmethod
    def list(self, follow_symlinks: bool = True) -> Listing: ...

    def stat(self, entry: Entry) -> Entry:
        """Fill in what the listing does not give (S3: stored mtime and checksum). Default: nothing to add."""
        entry.statted = True
        return entry

    def logical_mtime_ns(self, entry: Entry) -> int | None:
        """The file's modification time as the user sees it; None when only an upload time is known."""
        return entry.mtime_ns or int(entry.mtime * 1e9)

    @abstractmethod
    def sig(self, entry: Entry) -> str:
        """A cheap signature of the entry as listed: equal signatures mean the same object, unchanged."""

    @abstractmethod
    def read(self, entry: Entry) -> ReadResult: ...

    @abstractmethod
    def read_range(self, entry: Entry, offset: int, length: int) -> Payload: ...

    def open_stream(self, entry: Entry) -> AbstractContextManager[tuple[Any, Expected | None, int]]:
        """(reader with .read(n), expected digest, mtime_ns) for a sequential read of the whole object."""
        raise NotImplementedError

    def stream_only(self, entry: Entry) -> bool:
        """True when the object must be read in one sequential stream to be verified."""
        return False

    def source_part_size(self, entry: Entry) -> int | None:
        """Part boundaries to keep when copying this object (its composite checksum depends on them)."""
        return None

    def expected(self, entry: Entry) -> Expected | None:
        """What the object's content must hash to, as stored (S3); None for stores that do not keep one."""
        return None

    def digest(self, entry: Entry, part_size: int) -> StreamDigest:
        """Read the whole object and hash it (for --checksum); `part_size` > 0 also hashes per part."""
        raise NotImplementedError

    def put(self, info: WriteInfo, payload: Payload, sha256: bytes, md5: bytes) -> tuple[str, bool | None]:
        """Write a whole object; return (destination signature, verified). By default, one part through
        `begin` (stores with a single-request write override it)."""
        writer = self.begin(info, max(1, info.size), 1)
        try:
            writer.write_part(1, 0, payload, sha256, md5)
            return writer.commit([])
        except BaseException:
            writer.abort()
            raise

    @abstractmethod
    def begin(self, info: WriteInfo, part_size: int, parts: int, resume: Any = None) -> PartWriter: ...

    @abstractmethod
    def delete(self, keys: list[str]) -> list[tuple[str, str]]:
        """Delete objects; return (key, error) for those that could not be deleted."""

    def close(self) -> None:
        return None


# --- local directories ------------------------------------------------------------------------------------


def _os_error(exc: OSError, what: str) -> PermanentError | TransientError:
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.EIO, errno.EAGAIN, errno.EBUSY):
        return TransientError(f"{what}: {reason}")
    return PermanentError(f"{what}: {reason}")


class LocalStore(Store):
    kind = "local"

    def __init__(self, location: Location) -> None:
        self.location = location
        self.root = location.path
        self._made: set[str] = set()
        self._made_lock = threading.Lock()

    def check_source(self) -> None:
        if not os.path.exists(self.root):
            raise ConfigError(f"source '{self.location.text}' does not exist")
        if not os.path.isdir(self.root):
            raise ConfigError(f"source '{self.location.text}' is not a directory")
        if not os.access(self.root, os.R_OK | os.X_OK):
            raise ConfigError(f"source '{self.location.text}' is not readable")

    def check_dest(self) -> None:
        if os.path.exists(self.root) and not os.path.isdir(self.root):
            raise ConfigError(f"destination '{self.location.text}' exists and is not a directory")
        probe = self.root
        while not os.path.exists(probe):
            probe = os.path.dirname(probe)
        if not os.path.isdir(probe) or not os.access(probe, os.W_OK | os.X_OK):
            raise ConfigError(f"destination '{self.location.text}' is not writable ({probe})")

    def list(self, follow_symlinks: bool = True) -> Listing:
        out = Listing()
        if not os.path.isdir(self.root):
            return out
        root_stat = os.stat(self.root)
        stack: list[tuple[str, str, tuple[tuple[int, int], ...]]] = [
            (self.root, "", ((root_stat.st_dev, root_stat.st_ino),))
        ]
        while stack:
            directory, rel, ancestors = stack.pop()
            try:
                it = os.scandir(directory)
            except OSError as exc:
                out.errors.append((directory, f"cannot list directory: {exc.strerror or exc}"))
                out.blocked.append(rel)
                continue
            with it:
                for de in it:
                    self._visit(de, rel, ancestors, follow_symlinks, out, stack)
        return out

    def _visit(
        self,
        de: os.DirEntry[str],
        rel: str,
        ancestors: tuple[tuple[int, int], ...],
        follow: bool,
        out: Listing,
        stack: list[tuple[str, str, tuple[tuple[int, int], ...]]],
    ) -> None:
        name = de.name
        if name.startswith(".") and name.endswith(PARTIAL_SUFFIX):
            return
        key = rel + name
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:
            out.errors.append((de.path, "file name is not valid UTF-8; it cannot be an object key"))
            return
        try:
            if de.is_symlink():
                if not follow:
                    out.warnings.append(f"skipped symlink {de.path} (symlinks are not followed)")
                    return
                st = os.stat(de.path)
            else:
                st = de.stat(follow_symlinks=False)
        except FileNotFoundError:
            out.warnings.append(f"skipped broken symlink {de.path}")
            return
        except OSError as exc:
            out.errors.append((de.path, f"cannot stat: {exc.strerror or exc}"))
            return
        if stat.S_ISDIR(st.st_mode):
            ident = (st.st_dev, st.st_ino)
            if ident in ancestors:
                out.warnings.append(f"skipped symlink loop {de.path}")
                return
            stack.append((de.path, key + "/", (*ancestors, ident)))
        elif stat.S_ISREG(st.st_mode):
            out.entries[key] = Entry(key, st.st_size, st.st_mtime, st.st_mtime_ns, path=de.path)
        else:
            out.warnings.append(f"skipped special file {de.path}")

    def sig(self, entry: Entry) -> str:
        return f"{entry.size}:{entry.mtime_ns}"

    def read(self, entry: Entry) -> ReadResult:
        try:
            fd = os.open(entry.path, os.O_RDONLY)
        except OSError as exc:
            raise _os_error(exc, f"cannot read {entry.path}") from exc
        try:
            st = os.fstat(fd)
            data = _read_all(fd, st.st_size)
        except OSError as exc:
            raise _os_error(exc, f"cannot read {entry.path}") from exc
        finally:
            os.close(fd)
        return ReadResult(data, st.st_mtime_ns, f"{len(data)}:{st.st_mtime_ns}")

    def read_range(self, entry: Entry, offset: int, length: int) -> Payload:
        return FileSlice(entry.path, offset, length)

    def digest(self, entry: Entry, part_size: int) -> StreamDigest:
        try:
            fd = os.open(entry.path, os.O_RDONLY)
            try:
                return stream_digest_fd(fd, part_size)
            finally:
                os.close(fd)
        except OSError as exc:
            raise _os_error(exc, f"cannot read {entry.path}") from exc

    def current_sig(self, entry: Entry) -> str:
        """The signature of the file as it is now (a file changed during its copy is not recorded)."""
        try:
            st = os.stat(entry.path)
        except OSError as exc:
            raise _os_error(exc, f"cannot stat {entry.path}") from exc
        return f"{st.st_size}:{st.st_mtime_ns}"

    # --- writing -----------------------------------------------------------------------------------

    def _path(self, key: str) -> str:
        """Where `key` lives under the root."""
        return os.path.join(self.root, *key.split("/"))

    def target(self, key: str) -> str:
        """`_path(key)`, its directory created."""
        path = self._path(key)
        parent = os.path.dirname(path)
        if parent not in self._made:
            try:
                os.makedirs(parent, exist_ok=True)
            except OSError as exc:
                raise _os_error(exc, f"cannot create directory {parent}") from exc
            with self._made_lock:
                self._made.add(parent)
        return path

    @staticmethod
    def partial(path: str) -> str:
        head, tail = os.path.split(path)
        return os.path.join(head, f".{tail}{PARTIAL_SUFFIX}")

    def begin(self, info: WriteInfo, part_size: int, parts: int, resume: Any = None) -> PartWriter:
        """`resume`: a DownloadJournal (state.py) to keep the partial file of a killed run and record parts."""
        return _LocalPartWriter(self.target(info.key), info, part_size, resume)

    def drop_partial(self, key: str) -> bool:
        """Remove the partial file of `key` left by an interrupted copy; True when there was one."""
        try:
            os.unlink(self.partial(self._path(key)))
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError as exc:
            raise _os_error(exc, f"cannot remove the partial file of {key}") from exc
        return True

    def delete(self, keys: list[str]) -> list[tuple[str, str]]:
        failed = []
        for key in keys:
            path = self._path(key)
            try:
                os.unlink(path)
            except FileNotFoundError:
                continue
            except OSError as exc:
                failed.append((key, exc.strerror or str(exc)))
        return failed


def _read_all(fd: int, size_hint: int) -> bytes:
    chunks = []
    while True:
        chunk = os.read(fd, max(size_hint, 65536))
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


class _LocalPartWriter(PartWriter):
    """Writes `.NAME.migrate-partial` with pwrite at each part's offset, then renames it into place.

    With a journal (DownloadJournal), each part is recorded once its bytes are in the file, and a partial file
    left by a killed run of the same source (same signature, part size and size) is kept: each recorded part
    is hashed again from disk and kept only when its SHA-256 still matches; the others are fetched again.
    Ordering for a kill at any moment: the record is written before the file is (re)created and removed only
    after the file is renamed or deleted, so a partial file is never left without a record to clean it up."""

    def __init__(self, path: str, info: WriteInfo, part_size: int = 0, journal: Any = None) -> None:
        self.path = path
        self.info = info
        self.part_size = part_size
        self.journal = journal
        self.tmp = LocalStore.partial(path)
        self.done = {}
        self.fd: int | None = None
        if os.path.isdir(path):
            raise PermanentError(f"cannot write {path}: a directory is in the way")
        try:
            if journal is not None and part_size > 0:
                self._resume()
            if self.fd is None:
                if journal is not None:
                    journal.intend(info.key, part_size, info.size)
                self.fd = os.open(self.tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
                if info.size:
                    os.ftruncate(self.fd, info.size)
        except OSError as exc:
            if self.fd is not None:
                os.close(self.fd)
                self.fd = None
            raise _os_error(exc, f"cannot write {path}") from exc

    def _resume(self) -> None:
        """Reopen the partial file of an interrupted run and keep the recorded parts whose bytes are intact."""
        assert self.journal is not None
        recorded = self.journal.recorded(self.info.key, self.part_size, self.info.size)
        if not recorded:
            return
        try:
            fd = os.open(self.tmp, os.O_RDWR)  # no O_CREAT: a partial file that is gone means a fresh start
        except FileNotFoundError:
            return
        if os.fstat(fd).st_size != self.info.size:
            os.close(fd)
            return
        self.fd = fd
        found = {}
        for number, part in recorded.items():
            offset = (number - 1) * self.part_size
            length = min(self.part_size, self.info.size - offset)
            if offset < self.info.size and part.size == length:
                found[number] = digest_fd_range(fd, offset, length, md5=False)[0]
        self.done = self.journal.keep_intact(self.info.key, recorded, found)

    def write_part(self, number: int, offset: int, payload: Payload, sha256: bytes, md5: bytes) -> PartDone:
        assert self.fd is not None
        try:
            if isinstance(payload, FileSlice):
                _copy_range(payload, self.fd, offset)
            else:
                view, pos = memoryview(payload), offset
                while view:
                    written = os.pwrite(self.fd, view, pos)
                    view, pos = view[written:], pos + written
        except OSError as exc:
            raise _os_error(exc, f"cannot write {self.path}") from exc
        done = PartDone(number, payload_length(payload), sha256, md5)
        if self.journal is not None:
            # No fsync: after a process kill (SIGKILL, OOM) the written bytes are still in the page cache and
            # the next run reads them back, so "pwrite, then record" is enough. After a power loss they may be
            # lost while the record survives; the resume re-hashes every recorded part from disk, so such a
            # part is fetched again rather than trusted.
            self.journal.part_done(self.info.key, done)
        return done

    def digest(self, part_size: int) -> StreamDigest:
        """SHA-256 and MD5 of what is in the file now (whole, and per part when `part_size`): what a whole-object
        checksum of the source is compared with before the file is renamed into place."""
        assert self.fd is not None
        try:
            return stream_digest_fd(self.fd, part_size, self.info.size)
        except OSError as exc:
            raise _os_error(exc, f"cannot read back {self.tmp}") from exc

    def commit(self, parts: list[PartDone]) -> tuple[str, bool | None]:
        assert self.fd is not None
        try:
            os.close(self.fd)
            self.fd = None
            os.utime(self.tmp, ns=(self.info.mtime_ns, self.info.mtime_ns))
            os.replace(self.tmp, self.path)
        except OSError as exc:
            raise _os_error(exc, f"cannot write {self.path}") from exc
        if self.journal is not None:
            self.journal.forget(self.info.key)
        return f"{self.info.size}:{self.info.mtime_ns}", None

    def abort(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        with suppress(OSError):
            os.unlink(self.tmp)
        if self.journal is not None:
            self.journal.forget(self.info.key)


def _copy_range(part: FileSlice, dst_fd: int, dst_offset: int) -> None:
    src_fd = os.open(part.path, os.O_RDONLY)
    try:
        done = 0
        while done < part.length:
            try:
                n = os.copy_file_range(src_fd, dst_fd, part.length - done, part.offset + done, dst_offset + done)
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                    raise
                n = os.pwrite(
                    dst_fd, os.pread(src_fd, min(1 << 20, part.length - done), part.offset + done), dst_offset + done
                )
            if n == 0:
                raise OSError(errno.EIO, "source file shrank while copying")
            done += n
    finally:
        os.close(src_fd)
