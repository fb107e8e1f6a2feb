"""Transfer progress: a rich bar (files, bytes, rate, ETA) on a TTY; a plain line every few seconds without
one (cron, logs); progress events for playbook runs. All are thread-safe (workers call `advance`)."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

PLAIN_INTERVAL = 5.0
INTERVAL_ENV = "MIGRATE_PROGRESS_INTERVAL"  # seconds between plain progress lines


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def human_duration(seconds: float) -> str:
    seconds = max(0, int(seconds + 0.5))
    if seconds < 60:
        return f"{seconds}s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class _Counter:
    def __init__(self) -> None:
        self.files_total = 0
        self.bytes_total = 0
        self.files = 0
        self.bytes = 0
        self.started = time.monotonic()
        self.lock = threading.Lock()

    def start(self, files: int, nbytes: int) -> None:
        self.files_total, self.bytes_total = files, nbytes
        self.started = time.monotonic()

    def add(self, files: int, nbytes: int) -> None:
        with self.lock:
            self.files += files
            self.bytes += nbytes

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = self.bytes / elapsed
        pct = f" ({100 * self.bytes / self.bytes_total:.0f}%)" if self.bytes_total else ""
        left = self.bytes_total - self.bytes
        eta = f", ETA {human_duration(left / rate)}" if rate > 0 and left > 0 else ""
        return (
            f"{self.files}/{self.files_total} files, {human_bytes(self.bytes)}/{human_bytes(self.bytes_total)}{pct}, "
            f"{human_bytes(rate)}/s{eta}"
        )


class RichTransferProgress:
    """Live bar for a person at a terminal; `note` lines (retries, failures) print above it when verbose."""

    def __init__(self, console: Console, label: str, verbose: bool = False) -> None:
        self.verbose = verbose
        self.counter = _Counter()
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[files]}"),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.label = label
        self.task: Any = None

    def start(self, files: int, nbytes: int) -> None:
        self.counter.start(files, nbytes)
        self.task = self.progress.add_task(self.label, total=max(nbytes, 1), files=f"0/{files} files")
        self.progress.start()

    def advance(self, files: int = 0, nbytes: int = 0) -> None:
        self.counter.add(files, nbytes)
        c = self.counter
        self.progress.update(self.task, completed=c.bytes, files=f"{c.files}/{c.files_total} files")

    def note(self, message: str) -> None:
        if self.verbose:
            self.progress.console.print(f"[dim]{message}[/]", highlight=False)

    def stop(self) -> None:
        if self.task is not None:
            c = self.counter
            if c.files >= c.files_total:
                self.progress.update(self.task, completed=max(c.bytes_total, 1))
        self.progress.stop()


class _Every:
    """`due()` is True at most once every `seconds` (thread-safe; no lock while it is not due)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._last = 0.0
        self._lock = threading.Lock()

    def reset(self) -> None:
        self._last = time.monotonic()

    def due(self) -> bool:
        now = time.monotonic()
        if now - self._last < self.seconds:
            return False
        with self._lock:
            if now - self._last < self.seconds:
                return False
            self._last = now
            return True


class PlainTransferProgress:
    """`progress: ...` every PLAIN_INTERVAL seconds (cron, logs); `note` lines only when verbose."""

    def __init__(self, stream: IO[str] | None = None, verbose: bool = False, interval: float | None = None) -> None:
        self.stream = stream or sys.stdout
        self.verbose = verbose
        self.every = _Every(interval if interval is not None else float(os.environ.get(INTERVAL_ENV, PLAIN_INTERVAL)))
        self.counter = _Counter()

    def _print(self, text: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        print(f"{stamp} {text}", file=self.stream, flush=True)

    def start(self, files: int, nbytes: int) -> None:
        self.counter.start(files, nbytes)
        self.every.reset()

    def advance(self, files: int = 0, nbytes: int = 0) -> None:
        self.counter.add(files, nbytes)
        if self.every.due():
            self._print(f"progress: {self.counter.line()}")

    def note(self, message: str) -> None:
        if self.verbose:
            self._print(message)

    def stop(self) -> None:
        return None


class EventProgress:
    """For playbook steps: a progress event every `interval` seconds through the step's emitter."""

    def __init__(self, emit: Callable[..., None], interval: float = PLAIN_INTERVAL) -> None:
        self.emit = emit
        self.every = _Every(interval)
        self.counter = _Counter()

    def start(self, files: int, nbytes: int) -> None:
        self.counter.start(files, nbytes)
        self.every.reset()

    def advance(self, files: int = 0, nbytes: int = 0) -> None:
        self.counter.add(files, nbytes)
        if not self.every.due():
            return
        c = self.counter
        self.emit(
            c.line(), files_done=c.files, files_total=c.files_total, bytes_done=c.bytes, bytes_total=c.bytes_total
        )

    def note(self, message: str) -> None:
        return None

    def stop(self) -> None:
        return None
