"""Named locks in the state directory, so two runs never act on the same thing at once."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from types import TracebackType

from migrate_cli.core.errors import SafetyRefusal


class StateLock:
    """An exclusive, non-blocking flock on `state_dir/locks/NAME.lock`; the holder is written inside.

    The kernel drops the lock when the process dies, so a killed run never leaves a stale lock.
    """

    def __init__(self, state_dir: Path, name: str = "run", purpose: str | None = None) -> None:
        self.path = state_dir / "locks" / f"{name}.lock"
        self.name = name
        self.purpose = purpose or " ".join(["migrate", *sys.argv[1:]])
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise SafetyRefusal saying who holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise SafetyRefusal(f"lock '{self.name}' is held by {holder} ({self.path})") from None
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": self.purpose,
            "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(info).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> StateLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        raw = os.pread(fd, 4096, 0)
        info = json.loads(raw or b"{}")
    except (OSError, ValueError):
        return "another process"
    if not info:
        return "another process"
    return f"pid {info.get('pid')} on {info.get('host')} ('{info.get('command')}', since {info.get('since')})"
