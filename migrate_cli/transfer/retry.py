"""Transfer errors (retryable or not) and the backoff schedule between attempts."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


FILE_ATTEMPTS = 3  # a large file whose final check fails is sent again from scratch, this many times in all


class TransferError(Exception):
    """A failure moving one object (or part). `retryable`: another attempt at the same request may help;
    `restart_file`: it will not, but sending the whole file again as a new upload may."""

    retryable = False
    restart_file = False


class TransientError(TransferError):
    """Network resets, timeouts, HTTP 5xx, throttling (SlowDown, 429): try again after a pause."""

    retryable = True

    def __init__(self, message: str, throttled: bool = False) -> None:
        super().__init__(message)
        self.throttled = throttled


class IntegrityError(TransferError):
    """Content did not hash to what the other side says it should: re-send / re-read."""

    retryable = True


class PermanentError(TransferError):
    """No point retrying: unreadable file, access denied, no such bucket, unsafe name."""


class StartOver(TransferError):
    """The server will not take a part again (`rclone serve s3` answers 501 to a part number it has seen):
    not worth retrying in place, but a new upload of the whole file may succeed."""

    restart_file = True


class Cancelled(TransferError):
    """The run is being interrupted."""


@dataclass(frozen=True)
class Backoff:
    """Full-jitter exponential backoff: attempt n waits up to min(cap, base * 2**n) (throttling: x4)."""

    attempts: int = 8
    base: float = 0.1
    cap: float = 5.0

    @classmethod
    def from_env(cls) -> Backoff:
        """Defaults, or MIGRATE_TRANSFER_RETRIES / MIGRATE_TRANSFER_BACKOFF (base seconds) when set."""
        attempts = int(os.environ.get("MIGRATE_TRANSFER_RETRIES", cls.attempts))
        base = float(os.environ.get("MIGRATE_TRANSFER_BACKOFF", cls.base))
        return cls(attempts=max(1, attempts), base=max(0.0, base))

    def delay(self, attempt: int, throttled: bool = False) -> float:
        ceiling = min(self.cap, self.base * (2**attempt) * (4 if throttled else 1))
        return random.uniform(ceiling / 2, ceiling)


def with_retries(
    fn: Callable[[], T],
    backoff: Backoff,
    on_retry: Callable[[int, TransferError], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> T:
    """Call `fn` until it succeeds, raises a non-retryable error, or the attempts run out."""
    attempt = 0
    while True:
        if cancelled is not None and cancelled():
            raise Cancelled("interrupted")
        try:
            return fn()
        except TransferError as exc:
            attempt += 1
            if not exc.retryable or attempt >= backoff.attempts:
                raise
            if on_retry is not None:
                on_retry(attempt, exc)
            time.sleep(backoff.delay(attempt - 1, getattr(exc, "throttled", False)))
