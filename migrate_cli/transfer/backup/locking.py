"""The `backup` state lock, re-entrant within one process.

`migrate backup run` takes it before planning (so an overlapping run exits 3 before doing anything), and
the `data.backup` action takes it again before writing (so a playbook step and a cron run never overlap).
`migrate backup restore` (and its action) takes the same lock: a run's retention could otherwise delete
objects a restore is about to read, and two restores could write the same DEST. `backup list` takes none:
it only reads, and leaves out a snapshot deleted while it lists.
A second flock on the same file from the same process would fail, hence the re-entrancy.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from migrate_cli.core.lock import StateLock

LOCK_NAME = "backup"
_guard = threading.Lock()
_held: dict[Path, int] = {}


def _key(state_dir: Path) -> Path:
    return (state_dir / "locks" / f"{LOCK_NAME}.lock").absolute()


def backup_lock_held(state_dir: Path) -> bool:
    """True when this process holds the backup lock of `state_dir`."""
    with _guard:
        return _held.get(_key(state_dir), 0) > 0


@contextmanager
def backup_lock(state_dir: Path) -> Iterator[None]:
    """Hold the backup lock (SafetyRefusal, exit 3, when another process has it)."""
    key = _key(state_dir)
    lock: StateLock | None = None
    with _guard:
        if _held.get(key, 0) == 0:
            lock = StateLock(state_dir, LOCK_NAME)
            lock.acquire()
        _held[key] = _held.get(key, 0) + 1
    try:
        yield
    finally:
        with _guard:
            _held[key] -= 1
            if _held[key] == 0:
                del _held[key]
                if lock is not None:
                    lock.release()
