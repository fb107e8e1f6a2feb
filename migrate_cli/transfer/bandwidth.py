"""--bwlimit: parse a rate and share a token bucket between all workers."""

from __future__ import annotations

import re
import threading
import time

from migrate_cli.core.errors import ConfigError

_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_rate(text: str) -> int:
    """'10M', '512K', '1.5MiB/s', '2000000' -> bytes per second (binary units; 0 or 'off' = unlimited)."""
    value = text.strip().lower()
    if value in ("0", "off", ""):
        return 0
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?(?:/s|ps)?", value)
    if not m:
        raise ConfigError(f"--bwlimit: '{text}' is not a rate (e.g. 512K, 10M, 1G: bytes per second)")
    rate = int(float(m.group(1)) * _UNITS[m.group(2)])
    if rate < 1024:
        raise ConfigError(f"--bwlimit: '{text}' is below the minimum of 1K (1024 bytes per second)")
    return rate


class RateLimiter:
    """A token bucket: `consume(n)` blocks until n bytes may be sent. Bursts are capped at 1/4 second."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.capacity = max(64 * 1024, rate // 4)
        self._tokens = float(self.capacity)
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def consume(self, n: int) -> None:
        while n > 0:
            take = min(n, self.capacity)
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                self._tokens -= take
                wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
            if wait > 0:
                time.sleep(wait)
            n -= take
