"""--bwlimit parsing and the shared token bucket."""

from __future__ import annotations

import threading
import time

import pytest

from migrate_cli.core.errors import ConfigError
from migrate_cli.transfer.bandwidth import RateLimiter, parse_rate


def test_parse_rate_units() -> None:
    assert parse_rate("10M") == 10 * 1024**2
    assert parse_rate("512K") == 512 * 1024
    assert parse_rate("1.5MiB/s") == int(1.5 * 1024**2)
    assert parse_rate("2000000") == 2_000_000
    assert parse_rate("off") == 0


@pytest.mark.parametrize("text", ["fast", "10X", "-1M", "10"])
def test_bad_rates_are_config_errors(text: str) -> None:
    with pytest.raises(ConfigError, match="--bwlimit"):
        parse_rate(text)


def test_limiter_holds_the_rate_across_threads() -> None:
    rate = 400 * 1024
    limiter = RateLimiter(rate)
    total = 4 * 100 * 1024 + limiter.capacity
    started = time.monotonic()

    def send(n: int) -> None:
        for _ in range(n):
            limiter.consume(25 * 1024)

    threads = [threading.Thread(target=send, args=(4,)) for _ in range(4)]
    limiter.consume(limiter.capacity)  # drain the initial burst
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    expected = (total - limiter.capacity) / rate
    assert expected * 0.8 <= elapsed <= expected * 2 + 0.2
