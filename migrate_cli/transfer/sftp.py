"""The SFTP store (an SSH server, e.g. an EC2 instance), over paramiko, with host keys checked.

Targets: `sftp://[USER@]HOST[:PORT]/PATH`, or `HOST:PATH` where HOST is an inventory host. For an inventory
host the connection options named `sftp` are used (falling back to the host's hostname, port, username,
password), with extras `key_file` (a private key) and `known_hosts`; without `known_hosts` in the `sftp`
extras, the `netmiko` extras' known_hosts is used (the lab writes one there), then ~/.ssh/known_hosts.
A host key that is unknown or changed is refused unless --accept-new-host-keys is given (then a NEW key
is recorded in that file: trust on first use, an explicit choice; a CHANGED key is always refused).
At most 8 SFTP sessions are opened per server (OpenSSH allows 10 per connection by default).
mtimes on SFTP have 1-second resolution.

Writes are checked on the host: before a file is renamed into place, `sha256sum` (through `dd`, part by
part) runs there over an SSH exec channel and must give the SHA-256 of what was sent, so nothing is read
back across the network. A host that runs no commands (an SFTP-only account) stops being asked after a
few refusals; its copies are reported as unverified. Large files are written in parts into
`.NAME.migrate-partial`; after a kill the next run keeps the parts the host still hashes to what was sent
(the state's partial-file journal).
"""

from __future__ import annotations

import errno
import getpass
import math
import os
import posixpath
import queue
import re
import shlex
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko

from migrate_cli.core.errors import ConfigError, OperationFailed
from migrate_cli.core.inventory import Inventory
from migrate_cli.core.secrets import Secret
from migrate_cli.transfer.checksums import CHUNK, StreamDigest
from migrate_cli.transfer.location import Location
from migrate_cli.transfer.retry import IntegrityError, PermanentError, StartOver, TransientError
from migrate_cli.transfer.sources import (
    PARTIAL_SUFFIX,
    Entry,
    Listing,
    PartDone,
    PartWriter,
    Payload,
    ReadResult,
    Store,
    WriteInfo,
    payload_length,
)

DEFAULT_KNOWN_HOSTS = Path("~/.ssh/known_hosts")
MAX_SESSIONS = 8
MAX_DEPTH = 256
TIMEOUT = 15.0
SECOND = 1_000_000_000
EXEC_REFUSALS = 3  # refused command requests before a host counts as one that runs no commands
HASH_TIMEOUT = 120.0  # seconds without output from the host's hashing command before it counts as failed
_SHA256_LINE = re.compile(r"^([0-9a-f]{64})\b")


@dataclass(frozen=True)
class SshTarget:
    """Where and how to log in. The password stays a Secret until the moment of connecting."""

    name: str
    address: str
    port: int
    username: str
    password: Secret | None
    key_file: str | None
    known_hosts: Path


def resolve_target(location: Location, inventory: Inventory | None) -> SshTarget:
    """The SSH target of an sftp location: an inventory host's settings, or the URL's own."""
    hosts = inventory.hosts if inventory is not None else {}
    host = hosts.get(location.host)
    if host is None:
        if location.from_inventory:
            where = f" ({inventory.directory})" if inventory is not None else ""
            raise ConfigError(
                f"'{location.host}' in '{location.text}' is not a host in the inventory{where}; "
                f"for a remote path use sftp://HOST/PATH, for a local path with ':' use ./{location.text}"
            )
        return SshTarget(
            name=location.host,
            address=location.host,
            port=location.port or 22,
            username=location.user or getpass.getuser(),
            password=None,
            key_file=None,
            known_hosts=DEFAULT_KNOWN_HOSTS.expanduser(),
        )
    opts = host.connection("sftp")
    extras = dict(opts.extras)
    known = extras.get("known_hosts") or host.connection("netmiko").extras.get("known_hosts")
    key_file = extras.get("key_file") or extras.get("private_key_file")
    return SshTarget(
        name=host.name,
        address=opts.hostname or host.name,
        port=location.port or int(opts.port or 22),
        username=location.user or opts.username or getpass.getuser(),
        password=opts.password,
        key_file=str(Path(str(key_file)).expanduser()) if key_file else None,
        known_hosts=Path(str(known)).expanduser() if known else DEFAULT_KNOWN_HOSTS.expanduser(),
    )


class _RejectUnknown(paramiko.MissingHostKeyPolicy):
    def __init__(self, target: SshTarget) -> None:
        self.target = target

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        from migrate_cli.network.session import fingerprint  # netmiko is slow to import: only on this path

        raise OperationFailed(
            f"{self.target.name}: host key {key.get_name()} {fingerprint(key)} for {hostname} is not in "
            f"{self.target.known_hosts}; verify it and add it, or use --accept-new-host-keys"
        )


def connect(target: SshTarget, accept_new: bool = False) -> paramiko.SSHClient:
    """An authenticated SSH connection; host key verified against the target's known_hosts file."""
    client = paramiko.SSHClient()
    if target.known_hosts.is_file():
        client.load_host_keys(str(target.known_hosts))
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy() if accept_new else _RejectUnknown(target))
    password = target.password.reveal() if target.password is not None else None
    try:
        client.connect(
            target.address,
            port=target.port,
            username=target.username,
            password=password,
            key_filename=target.key_file,
            look_for_keys=password is None and target.key_file is None,
            allow_agent=password is None and target.key_file is None,
            timeout=TIMEOUT,
            banner_timeout=TIMEOUT,
            auth_timeout=TIMEOUT,
        )
    except paramiko.BadHostKeyException as exc:
        from migrate_cli.network.session import fingerprint

        raise OperationFailed(
            f"{target.name}: HOST KEY CHANGED for {target.address}:{target.port}: offered "
            f"{fingerprint(exc.key)}, {target.known_hosts} has {fingerprint(exc.expected_key)}; refusing to connect"
        ) from exc
    except paramiko.AuthenticationException as exc:
        raise OperationFailed(f"{target.name}: SSH authentication failed for user {target.username}") from exc
    except (paramiko.SSHException, OSError, EOFError) as exc:
        raise OperationFailed(f"{target.name}: cannot connect to SSH at {target.address}:{target.port}: {exc}") from exc
    if accept_new:
        target.known_hosts.parent.mkdir(parents=True, exist_ok=True)
        client.save_host_keys(str(target.known_hosts))
        os.chmod(target.known_hosts, 0o600)
    return client


def _error(exc: BaseException, what: str) -> PermanentError | TransientError:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOENT, errno.EACCES, errno.EPERM, errno.ENOTDIR):
        return PermanentError(f"{what}: {exc.strerror or exc}")
    if isinstance(exc, OSError) and isinstance(exc.args[0] if exc.args else None, str):
        text = str(exc)
        if "No such file" in text or "Permission denied" in text:
            return PermanentError(f"{what}: {text}")
    return TransientError(f"{what}: {type(exc).__name__}: {exc}")


class _ExecRefused(Exception):
    """The server refused to run a command (an SFTP-only server)."""


class SftpStore(Store):
    kind = "sftp"
    mtime_exact = False

    def __init__(self, location: Location, target: SshTarget, accept_new: bool = False) -> None:
        self.location = location
        self.target = target
        self.accept_new = accept_new
        self._client = connect(target, accept_new)
        self._lock = threading.Lock()
        self._sessions: queue.LifoQueue[paramiko.SFTPClient] = queue.LifoQueue()
        self._created = 0
        self._slots = threading.BoundedSemaphore(MAX_SESSIONS)
        self._made: set[str] = set()
        self._hashing = threading.Lock()  # one exec channel at a time, beside the pooled SFTP sessions
        self._no_commands = False  # the host has shown it runs no commands: its files are not hashed there
        self._refusals = 0
        with self.session() as sftp:
            path = location.path
            self.root = path if path.startswith("/") else posixpath.join(sftp.normalize("."), path)
            self.root = posixpath.normpath(self.root)

    @property
    def url(self) -> str:
        port = f":{self.target.port}" if self.target.port != 22 else ""
        return f"sftp://{self.target.username}@{self.target.address}{port}{self.root}/"

    # --- sessions ----------------------------------------------------------------------------------

    @contextmanager
    def session(self) -> Iterator[paramiko.SFTPClient]:
        """One SFTP session from the pool (at most MAX_SESSIONS open); a broken one is closed, not reused."""
        self._slots.acquire()
        sftp: paramiko.SFTPClient | None = None
        try:
            try:
                sftp = self._sessions.get_nowait()
            except queue.Empty:
                sftp = self._open_session()
            yield sftp
        except (TimeoutError, paramiko.SSHException, EOFError, ConnectionError):
            if sftp is not None:
                sftp.close()
                sftp = None
            raise
        finally:
            if sftp is not None:
                self._sessions.put(sftp)
            self._slots.release()

    def _open_session(self) -> paramiko.SFTPClient:
        with self._lock:
            transport = self._client.get_transport()
            if transport is None or not transport.is_active():
                self._client.close()
                try:
                    self._client = connect(self.target, self.accept_new)
                except OperationFailed as exc:
                    raise TransientError(str(exc)) from exc
                transport = self._client.get_transport()
            try:
                return paramiko.SFTPClient.from_transport(transport)  # type: ignore[arg-type,return-value]
            except (paramiko.SSHException, EOFError, OSError) as exc:
                raise TransientError(f"{self.target.name}: cannot open an SFTP session: {exc}") from exc

    def close(self) -> None:
        while True:
            try:
                self._sessions.get_nowait().close()
            except queue.Empty:
                break
        self._client.close()

    def _path(self, key: str) -> str:
        return posixpath.join(self.root, key)

    # --- checks and listing ------------------------------------------------------------------------

    def check_source(self) -> None:
        with self.session() as sftp:
            try:
                st = sftp.stat(self.root)
            except FileNotFoundError:
                raise ConfigError(f"source '{self.location.text}' does not exist on {self.target.name}") from None
            except OSError as exc:
                raise ConfigError(f"source '{self.location.text}': {exc}") from None
        if not stat.S_ISDIR(st.st_mode or 0):
            raise ConfigError(f"source '{self.location.text}' is not a directory")

    def check_dest(self) -> None:
        with self.session() as sftp:
            try:
                st = sftp.stat(self.root)
            except FileNotFoundError:
                return
            except OSError as exc:
                raise ConfigError(f"destination '{self.location.text}': {exc}") from None
        if not stat.S_ISDIR(st.st_mode or 0):
            raise ConfigError(f"destination '{self.location.text}' exists and is not a directory")

    def list(self, follow_symlinks: bool = True) -> Listing:
        out = Listing()
        with self.session() as sftp:
            try:
                sftp.stat(self.root)
                root_real = sftp.normalize(self.root)
            except FileNotFoundError:
                return out  # a destination that does not exist yet
            except OSError as exc:
                out.errors.append((self.root, f"cannot list directory: {exc}"))
                out.blocked.append("")
                return out
            stack: list[tuple[str, str, tuple[str, ...]]] = [(self.root, "", (root_real,))]
            while stack:
                directory, rel, ancestors = stack.pop()
                try:
                    attrs = sftp.listdir_attr(directory)
                except OSError as exc:
                    out.errors.append((directory, f"cannot list directory: {exc}"))
                    out.blocked.append(rel)
                    continue
                for attr in attrs:
                    self._visit(sftp, directory, rel, ancestors, attr, follow_symlinks, out, stack)
        return out

    def _visit(
        self,
        sftp: paramiko.SFTPClient,
        directory: str,
        rel: str,
        ancestors: tuple[str, ...],
        attr: paramiko.SFTPAttributes,
        follow: bool,
        out: Listing,
        stack: list[tuple[str, str, tuple[str, ...]]],
    ) -> None:
        name = attr.filename
        if name.startswith(".") and name.endswith(PARTIAL_SUFFIX):
            return
        path, key = posixpath.join(directory, name), rel + name
        mode = attr.st_mode or 0
        if stat.S_ISLNK(mode):
            if not follow:
                out.warnings.append(f"skipped symlink {path} (symlinks are not followed)")
                return
            try:
                attr = sftp.stat(path)
            except FileNotFoundError:
                out.warnings.append(f"skipped broken symlink {path}")
                return
            except OSError as exc:
                out.errors.append((path, f"cannot stat: {exc}"))
                return
            mode = attr.st_mode or 0
        if stat.S_ISDIR(mode):
            real = sftp.normalize(path)
            if real in ancestors or len(ancestors) > MAX_DEPTH:
                out.warnings.append(f"skipped symlink loop {path}")
                return
            stack.append((path, key + "/", (*ancestors, real)))
        elif stat.S_ISREG(mode):
            mtime = float(attr.st_mtime or 0)
            out.entries[key] = Entry(key, attr.st_size or 0, mtime, int(mtime) * SECOND, path=path)
        else:
            out.warnings.append(f"skipped special file {path}")

    def sig(self, entry: Entry) -> str:
        return f"{entry.size}:{int(entry.mtime)}"

    def logical_mtime_ns(self, entry: Entry) -> int | None:
        return int(entry.mtime) * SECOND

    # --- reading -----------------------------------------------------------------------------------

    def read(self, entry: Entry) -> ReadResult:
        try:
            with self.session() as sftp, sftp.open(entry.path, "rb") as f:
                st = f.stat()
                f.prefetch(st.st_size)
                data = f.read()
        except (OSError, paramiko.SSHException, EOFError) as exc:
            raise _error(exc, f"cannot read {self.target.name}:{entry.path}") from exc
        if self.limiter is not None:
            self.limiter.consume(len(data))
        mtime = int(st.st_mtime or 0)
        return ReadResult(data, mtime * SECOND, f"{len(data)}:{mtime}")

    def read_range(self, entry: Entry, offset: int, length: int) -> Payload:
        try:
            with self.session() as sftp, sftp.open(entry.path, "rb") as f:
                data = b"".join(f.readv([(offset, length)]))
        except (OSError, paramiko.SSHException, EOFError) as exc:
            raise _error(exc, f"cannot read {self.target.name}:{entry.path}") from exc
        if len(data) != length:
            raise TransientError(f"{self.target.name}:{entry.path}: short read ({len(data)} of {length} bytes)")
        if self.limiter is not None:
            self.limiter.consume(len(data))
        return data

    def digest(self, entry: Entry, part_size: int) -> StreamDigest:
        digest = StreamDigest(part_size)
        try:
            with self.session() as sftp, sftp.open(entry.path, "rb") as f:
                f.prefetch(entry.size)
                for chunk in iter(lambda: f.read(CHUNK), b""):
                    digest.update(chunk)
        except (OSError, paramiko.SSHException, EOFError) as exc:
            raise _error(exc, f"cannot read {self.target.name}:{entry.path}") from exc
        return digest.finish()

    def current_sig(self, entry: Entry) -> str:
        with self.session() as sftp:
            st = sftp.stat(entry.path)
        return f"{st.st_size}:{int(st.st_mtime or 0)}"

    # --- writing -----------------------------------------------------------------------------------

    def _makedirs(self, sftp: paramiko.SFTPClient, directory: str) -> None:
        if directory in self._made:
            return
        missing = []
        probe = directory
        while probe not in ("", "/"):
            try:
                if not stat.S_ISDIR(sftp.stat(probe).st_mode or 0):
                    raise PermanentError(f"cannot create {directory} on {self.target.name}: {probe} is not a directory")
                break
            except FileNotFoundError:
                missing.append(probe)
                probe = posixpath.dirname(probe)
        for path in reversed(missing):
            try:
                sftp.mkdir(path)
            except OSError:
                if not stat.S_ISDIR(sftp.stat(path).st_mode or 0):
                    raise
        self._made.add(directory)

    def _write(self, f: Any, payload: Payload) -> None:
        for chunk in _chunks(payload):
            if self.limiter is not None:
                self.limiter.consume(len(chunk))
            f.write(chunk)

    def begin(self, info: WriteInfo, part_size: int, parts: int, resume: Any = None) -> PartWriter:
        """`resume`: a DownloadJournal (state.py) to keep the partial file of a killed run and record parts."""
        return _SftpPartWriter(self, info, part_size, resume)

    def remote_sha256(self, path: str, part_size: int, numbers: list[int]) -> list[str] | None:
        """The SHA-256 (hex) of the `part_size` pieces `numbers` (1-based) of `path`, computed on the host by
        `sh`, `dd` and `sha256sum` over an SSH exec channel, so no byte crosses the network again. None when
        the host cannot say (an SFTP-only account, no coreutils); after a command that failed, or after
        EXEC_REFUSALS refused ones, it is not asked again in this run."""
        if self._no_commands:
            return None
        with self._hashing:
            try:
                status, out = self._exec(_hash_command(path, part_size, numbers))
            except _ExecRefused:
                self._refusals += 1  # a server that takes no commands says so every time; a glitch, once
                if self._refusals >= EXEC_REFUSALS:
                    self._no_commands = True
                return None
            except (OSError, paramiko.SSHException, EOFError):
                return None  # the connection, not the host's abilities: the next file asks again
        digests = [m.group(1) for m in map(_SHA256_LINE.match, out.splitlines()) if m]
        if status != 0 or len(digests) != len(numbers):
            self._no_commands = True
            return None
        return digests

    def partial(self, key: str) -> str:
        """Where a file is written before it is renamed into place: `.NAME.migrate-partial` beside it."""
        head, tail = posixpath.split(self._path(key))
        return posixpath.join(head, f".{tail}{PARTIAL_SUFFIX}")

    def drop_partial(self, key: str) -> bool:
        """Remove the partial file of `key` left by an interrupted copy; True when there was one."""
        try:
            with self.session() as sftp:
                sftp.remove(self.partial(key))
        except FileNotFoundError:
            return False
        except (OSError, paramiko.SSHException, EOFError) as exc:
            raise _error(exc, f"cannot remove the partial file of {key} on {self.target.name}") from exc
        return True

    def _exec(self, command: str) -> tuple[int, str]:
        """(exit status, standard output) of `command` on the host; stdin is closed at once, so a server
        that runs its SFTP subsystem instead (ForceCommand internal-sftp) ends instead of waiting."""
        with self._lock:
            transport = self._client.get_transport()
        if transport is None or not transport.is_active():
            raise EOFError("the SSH connection is closed")
        channel = transport.open_session(timeout=TIMEOUT)
        try:
            channel.settimeout(HASH_TIMEOUT)
            try:
                channel.exec_command(command)
            except paramiko.SSHException as exc:
                raise _ExecRefused(str(exc)) from exc
            channel.shutdown_write()
            out = bytearray()
            while chunk := channel.recv(65536):
                out += chunk
                if len(out) > 1 << 20:
                    return -1, ""  # not a hashing command's answer
            return channel.recv_exit_status(), out.decode("ascii", errors="replace")
        finally:
            channel.close()

    def delete(self, keys: list[str]) -> list[tuple[str, str]]:
        failed = []
        with self.session() as sftp:
            for key in keys:
                try:
                    sftp.remove(self._path(key))
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    failed.append((key, str(exc)))
        return failed


def _hash_command(path: str, part_size: int, numbers: list[int]) -> str:
    """A POSIX shell command printing the SHA-256 of each `part_size` piece `numbers` (1-based) of `path`,
    one line each, in that order."""
    quoted = shlex.quote(path)
    if numbers == [1] and part_size >= 1:
        return f"head -c {part_size} < {quoted} | sha256sum"
    block = math.gcd(part_size, 1 << 20)  # dd's block: a divisor of the part size, at most 1 MiB
    if block < 65536:
        block = part_size  # an odd part size: whole parts in one block
    per_part = part_size // block
    return (
        f"f={quoted}; for i in {' '.join(str(n - 1) for n in numbers)}; do "
        f'dd if="$f" bs={block} skip=$((i * {per_part})) count={per_part} 2>/dev/null | sha256sum || exit 1; '
        "done"
    )


def _chunks(payload: Payload) -> Iterator[bytes | memoryview]:
    """1 MiB pieces of a payload; a file slice is read piece by piece, never whole."""
    if isinstance(payload, bytes):
        view = memoryview(payload)
        for start in range(0, len(view), CHUNK):
            yield view[start : start + CHUNK]
        return
    fd = os.open(payload.path, os.O_RDONLY)
    try:
        pos, end = payload.offset, payload.offset + payload.length
        while pos < end:
            chunk = os.pread(fd, min(CHUNK, end - pos), pos)
            if not chunk:
                raise TransientError(f"{payload.path} shrank while being copied")
            yield chunk
            pos += len(chunk)
    finally:
        os.close(fd)


class _SftpPartWriter(PartWriter):
    """Parts are written at their offsets into `.NAME.migrate-partial`, renamed into place on commit.

    With a journal (state.DownloadJournal, which records partial files at any file-system destination),
    each part is recorded once the host acknowledged its bytes, and the partial file a killed run of the
    same source left is kept: the host hashes the recorded parts again (`remote_sha256`) and only those
    still intact are kept; a host that cannot hash gets the file afresh. The record is written before the
    partial file is (re)created and removed after it is renamed or deleted, as for local files."""

    def __init__(self, store: SftpStore, info: WriteInfo, part_size: int, journal: Any = None) -> None:
        self.store = store
        self.info = info
        self.part_size = part_size
        self.journal = journal
        self.done = {}
        self._written: dict[int, bytes] = {}  # part number -> SHA-256 of what was sent
        self.path = store._path(info.key)
        self.tmp = store.partial(info.key)
        try:
            with store.session() as sftp:
                store._makedirs(sftp, posixpath.dirname(self.path))
                if journal is not None and self._resume(sftp):
                    return
                if journal is not None:
                    journal.intend(info.key, part_size, info.size)
                with sftp.open(self.tmp, "wb") as f:
                    if info.size and journal is not None:
                        f.truncate(info.size)  # so that a resumed run can tell a whole partial file
        except (OSError, paramiko.SSHException, EOFError) as exc:
            raise _error(exc, f"cannot write {store.target.name}:{self.path}") from exc

    def _resume(self, sftp: paramiko.SFTPClient) -> bool:
        """Keep the partial file of an interrupted run and the recorded parts the host says are intact."""
        assert self.journal is not None
        recorded = self.journal.recorded(self.info.key, self.part_size, self.info.size)
        if not recorded:
            return False
        try:
            if sftp.stat(self.tmp).st_size != self.info.size:
                return False
        except FileNotFoundError:
            return False
        numbers = sorted(recorded)
        stored = self.store.remote_sha256(self.tmp, self.part_size, numbers)
        if stored is None:
            return False
        found = {n: bytes.fromhex(digest) for n, digest in zip(numbers, stored, strict=True)}
        self.done = self.journal.keep_intact(self.info.key, recorded, found)
        return True

    def write_part(self, number: int, offset: int, payload: Payload, sha256: bytes, md5: bytes) -> PartDone:
        try:
            with self.store.session() as sftp, sftp.open(self.tmp, "r+b") as f:
                f.set_pipelined(True)
                f.seek(offset)
                self.store._write(f, payload)
        except (OSError, paramiko.SSHException, EOFError) as exc:
            raise _error(exc, f"cannot write {self.store.target.name}:{self.path}") from exc
        self._written[number] = sha256
        done = PartDone(number, payload_length(payload), sha256, md5)
        if self.journal is not None:
            self.journal.part_done(self.info.key, done)
        return done

    def commit(self, parts: list[PartDone]) -> tuple[str, bool | None]:
        """Check the size, then (when the host can hash) each part's SHA-256 as stored against what was
        sent, then rename into place. A mismatch: IntegrityError for a whole-file write (its caller sends it
        again), StartOver for parts (the file starts over: the parts were each sent whole)."""
        mtime = self.info.mtime_ns // SECOND
        shas = [p.sha256 for p in parts] if parts else [self._written[n] for n in sorted(self._written)]
        verified = None
        try:
            with self.store.session() as sftp:
                size = sftp.stat(self.tmp).st_size
                if size != self.info.size:
                    raise TransientError(
                        f"{self.store.target.name}:{self.path}: wrote {size} of {self.info.size} bytes"
                    )
            if shas and all(shas):
                stored = self.store.remote_sha256(self.tmp, self.part_size, list(range(1, len(shas) + 1)))
                if stored is not None and stored != [sha.hex() for sha in shas]:
                    what = f"{self.store.target.name}:{self.path}: the host's SHA-256 of what it stored differs"
                    raise StartOver(what) if parts else IntegrityError(what)
                verified = True if stored is not None else None
            with self.store.session() as sftp:
                sftp.utime(self.tmp, (mtime, mtime))
                try:
                    sftp.posix_rename(self.tmp, self.path)
                except OSError:
                    with suppress(FileNotFoundError):
                        sftp.remove(self.path)
                    sftp.rename(self.tmp, self.path)
        except (OSError, paramiko.SSHException, EOFError) as exc:
            raise _error(exc, f"cannot write {self.store.target.name}:{self.path}") from exc
        if self.journal is not None:
            self.journal.forget(self.info.key)
        return f"{self.info.size}:{mtime}", verified

    def abort(self) -> None:
        try:
            with self.store.session() as sftp:
                sftp.remove(self.tmp)
        except FileNotFoundError:
            pass
        except Exception:  # noqa: BLE001 - best effort: the record stays, so the next run removes it
            return
        if self.journal is not None:
            self.journal.forget(self.info.key)
