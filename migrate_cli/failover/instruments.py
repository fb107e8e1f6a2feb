"""A drill's instruments: the traffic probe through the default route, and observers of the default route
(a Linux edge's, or a device's over SSH) for when another process or the device moves it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from typing import Any

from migrate_cli.core.errors import MigrateError
from migrate_cli.failover.model import Target
from migrate_cli.failover.probes import ProbeResult, probe
from migrate_cli.failover.routes import LinuxRoutes


class TrafficProbe:
    """A probe every `interval` through the default route (no source binding), each in its own worker."""

    def __init__(
        self, target: Target | None, netns: str | None, interval: float, timeout: float, prober: Any = probe
    ) -> None:
        self.target, self.netns, self.interval, self.timeout, self.prober = target, netns, interval, timeout, prober
        self.results: list[ProbeResult] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(max_workers=max(4, int(timeout / interval) + 3), thread_name_prefix="traffic")

    def _record(self, result: ProbeResult) -> None:
        with self._lock:
            self.results.append(result)

    def _loop(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            future = self._pool.submit(self.prober, self.target, None, self.timeout, self.netns)
            future.add_done_callback(
                lambda f: self._record(f.result()) if not f.cancelled() and not f.exception() else None
            )
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def start(self) -> TrafficProbe:
        if self.target is None:  # nothing to probe: every query answers "nothing seen"
            return self
        self._thread = threading.Thread(target=self._loop, name="traffic-probe", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def snapshot(self) -> list[ProbeResult]:
        with self._lock:
            return sorted(self.results, key=lambda r: r.sent_at)

    def first_ok(self, since: float, locals_: set[str] | None = None) -> ProbeResult | None:
        """The earliest answered probe sent at or after `since` (from one of `locals_`, when given)."""
        ok = [r for r in self.snapshot() if r.ok and r.sent_at >= since and (locals_ is None or r.local in locals_)]
        return min(ok, key=lambda r: r.done_at) if ok else None

    def count(self, since: float, until: float) -> tuple[int, int]:
        """(sent, lost) for probes sent in [since, until)."""
        window = [r for r in self.snapshot() if since <= r.sent_at < until]
        return len(window), sum(1 for r in window if not r.ok)


class RouteObserver:
    """Polls the default route of a Linux edge (when another process's watcher moves it)."""

    def __init__(self, routes: LinuxRoutes, interval: float = 0.05) -> None:
        self.routes, self.interval = routes, interval
        self.changes: list[tuple[float, str | None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="route-observer", daemon=True)
        self._lock = threading.Lock()

    def _loop(self) -> None:
        last: str | None = "?"
        while not self._stop.is_set():
            try:
                gateway = self.routes.default_gateway()
            except MigrateError:
                gateway = None
            if gateway != last:
                with self._lock:
                    self.changes.append((time.monotonic(), gateway))
                last = gateway
            self._stop.wait(self.interval)

    def start(self) -> RouteObserver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)

    def first(self, since: float, predicate: Callable[[str | None], bool]) -> float | None:
        with self._lock:
            return next((t for t, gw in self.changes if t >= since and predicate(gw)), None)

    def current(self) -> str | None:
        with self._lock:
            return self.changes[-1][1] if self.changes else None


class DeviceObserver(RouteObserver):
    """Polls `show ip route` on the device over its own session (device drills)."""

    def __init__(self, host: Any, connect: Callable[[Any], Any], interval: float = 0.5) -> None:
        super().__init__(LinuxRoutes(), interval)
        self.host, self.connect = host, connect

    def _loop(self) -> None:
        from migrate_cli.failover.device_state import default_next_hop

        last: str | None = "?"
        conn = None
        while not self._stop.is_set():
            try:
                if conn is None:
                    conn = self.connect(self.host)
                gateway = default_next_hop(conn)
            except Exception:
                gateway, conn = None, None
            if gateway != last:
                with self._lock:
                    self.changes.append((time.monotonic(), gateway))
                last = gateway
            self._stop.wait(self.interval)
        if conn is not None:
            with suppress(Exception):
                conn.disconnect()
