"""`migrate failover watch` as a background process: what a Linux edge runs as a service, and what the lab
starts next to its namespaces so that failover is armed there (and `failover check` says so)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from migrate_cli.core.errors import OperationFailed


class WatcherProcess:
    """Start/stop `migrate failover watch` for `limit` (default: every Linux edge) with its output in `log`."""

    def __init__(self, state_dir: Path, inventory_dir: Path, limit: str | None = None, log: Path | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.inventory_dir = Path(inventory_dir)
        self.limit = limit
        self.log = log or self.state_dir / "failover" / "watch.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> WatcherProcess:
        """Start it and wait until it watches (its first log line), else OperationFailed with its last line."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable, "-m", "migrate_cli",
            "--state-dir", str(self.state_dir.resolve()), "-i", str(self.inventory_dir.resolve()),
            "failover", "watch", *(["--limit", self.limit] if self.limit else []),
        ]  # fmt: skip
        env = {**os.environ, "NO_COLOR": "1"}
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log.read_text(errors="replace")
            if " watching " in text:
                return self
            if self.process.poll() is not None:
                tail = text.strip().splitlines()[-1:] or ["no output"]
                self.process = None
                raise OperationFailed(f"`migrate failover watch` did not start: {tail[0]}")
            time.sleep(0.1)
        self.stop()
        raise OperationFailed(f"`migrate failover watch` did not start within {timeout:g}s; see {self.log}")

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM (the watcher finishes its round and journals the end), SIGKILL if it does not stop."""
        if self.process is None:
            return None
        process, self.process = self.process, None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        return process.returncode

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None
