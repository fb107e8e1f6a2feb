"""The long-running watcher of a Linux edge: probe every uplink each interval, feed the pure state machine,
move the default route on its decisions, and log every decision (to the journal, through the event bus)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from migrate_cli.core.errors import MigrateError, OperationFailed
from migrate_cli.failover.model import Edge, Target, Uplink
from migrate_cli.failover.probes import NETNS_DIR, ProbeResult, probe
from migrate_cli.failover.routes import LinuxRoutes
from migrate_cli.failover.watcher import Decision, Policy, Watcher

Log = Callable[[str, dict[str, Any]], None]
Prober = Callable[[Target, str | None, float, str | None], ProbeResult]


def lock_name(host: str) -> str:
    """The state lock a watcher holds for its edge (`migrate failover check` looks for it)."""
    return f"failover-watch-{host}"


@dataclass(frozen=True)
class RouteChange:
    at: float  # time.monotonic() once the route was in place
    uplink: str
    previous: str | None


@dataclass
class WatchLoop:
    """One edge's watcher. `run()` blocks until `stop` is set or `max_duration` passes; `start()` runs it in a
    thread. `history` and `route_changes` are what drills read to time detection and switch-over."""

    edge: Edge
    log: Log = field(default=lambda message, data: None)
    routes: LinuxRoutes | None = None
    prober: Prober = probe
    stop: threading.Event = field(default_factory=threading.Event)
    history: list[Decision] = field(default_factory=list)
    route_changes: list[RouteChange] = field(default_factory=list)
    rounds: int = 0
    watcher: Watcher | None = None
    error: BaseException | None = None
    _thread: threading.Thread | None = None
    _pool: ThreadPoolExecutor | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.routes is None:
            self.routes = LinuxRoutes(self.edge.netns)

    # --- state ----------------------------------------------------------------------------------------
    def _init_watcher(self) -> Watcher:
        assert self.routes is not None
        gateway = self.routes.default_gateway()
        active = self.edge.uplink_by_gateway(gateway)
        timers = self.edge.timers
        watcher = Watcher(
            links=[(u.name, u.priority) for u in self.edge.uplinks],
            policy=Policy(timers.down_after, timers.up_after, timers.hold_down),
            active=active.name if active else None,
            up=[active.name] if active else [],
        )
        where = f"{active.name} via {gateway}" if active else (f"via {gateway} (not an uplink)" if gateway else "none")
        self.log(
            f"watching {self.edge.host}: {', '.join(u.name for u in self.edge.uplinks)}; default route now {where}; "
            f"probe every {timers.interval:g}s, down after {timers.down_after} misses, up after {timers.up_after}, "
            f"hold-down {timers.hold_down:g}s",
            {"decision": "start", "active": active.name if active else None, "gateway": gateway},
        )
        return watcher

    def snapshot(self) -> tuple[list[Decision], list[RouteChange]]:
        with self._lock:
            return list(self.history), list(self.route_changes)

    # --- one round ------------------------------------------------------------------------------------
    def _probe_uplink(self, uplink: Uplink) -> tuple[bool, list[ProbeResult]]:
        assert self._pool is not None
        timeout = self.edge.timers.probe_timeout
        futures = [self._pool.submit(self.prober, t, uplink.source, timeout, self.edge.netns) for t in uplink.targets]
        results = [f.result() for f in futures]
        return any(r.ok for r in results), results

    def round(self) -> list[Decision]:
        """Probe every uplink once (all in parallel), decide, act. Returns the decisions of this round."""
        assert self._pool is not None and self.routes is not None
        if self.watcher is None:
            self.watcher = self._init_watcher()
        uplink_futures = {u.name: (u, self._pool.submit(self._probe_uplink, u)) for u in self.edge.uplinks}
        answers: dict[str, bool] = {}
        for name, (uplink, future) in uplink_futures.items():
            ok, results = future.result()
            answers[name] = ok
            if not ok and any(r.error == "network unreachable" for r in results):
                self.routes.ensure_uplink_table(uplink)  # its link went down and took the table's route along
        self.rounds += 1
        decisions = self.watcher.observe(time.monotonic(), answers)
        for decision in decisions:
            self._act(decision)
        return decisions

    def _act(self, decision: Decision) -> None:
        assert self.routes is not None and self.watcher is not None
        text = _describe(decision)
        if decision.kind == "switch" and decision.uplink is not None:
            uplink = self.edge.uplink(decision.uplink)
            try:
                self.routes.set_default(uplink)
            except MigrateError as exc:
                actual = self.edge.uplink_by_gateway(self.routes.default_gateway())
                self.watcher.sync_active(actual.name if actual else None)
                self.log(
                    f"route change to {uplink.name} FAILED: {exc}", {**decision.public(), "decision": "switch_failed"}
                )
                with self._lock:
                    self.history.append(decision)
                return
            done = time.monotonic()
            text += f"; default route now via {uplink.gateway} ({uplink.provider})"
            with self._lock:
                self.route_changes.append(RouteChange(done, uplink.name, decision.previous))
        with self._lock:
            self.history.append(decision)
        self.log(text, {**decision.public(), "host": self.edge.host})

    # --- loop -----------------------------------------------------------------------------------------
    def run(self, max_duration: float | None = None) -> None:
        """Probe rounds every `interval` on a fixed schedule until stopped."""
        interval = self.edge.timers.interval
        workers = max(4, 2 * sum(len(u.targets) for u in self.edge.uplinks) + len(self.edge.uplinks))
        end = time.monotonic() + max_duration if max_duration else None
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"watch-{self.edge.host}")
        try:
            next_at = time.monotonic()
            while not self.stop.is_set():
                if self.edge.netns and not os.path.exists(os.path.join(NETNS_DIR, self.edge.netns)):
                    raise OperationFailed(f"network namespace {self.edge.netns} is gone: nothing left to watch")
                self.round()
                next_at += interval
                now = time.monotonic()
                if end is not None and now >= end:
                    break
                if next_at < now:  # a slow round: do not try to catch up with a burst
                    next_at = now
                self.stop.wait(next_at - now)
        except BaseException as exc:
            self.error = exc
            raise
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
            self.log(f"watcher for {self.edge.host} stopped after {self.rounds} rounds", {"decision": "stop"})

    def start(self, max_duration: float | None = None) -> WatchLoop:
        def body() -> None:
            with suppress(BaseException):  # recorded in self.error; the owner reports it
                self.run(max_duration)

        self._thread = threading.Thread(target=body, name=f"watch-{self.edge.host}", daemon=True)
        self._thread.start()
        return self

    def join(self, timeout: float | None = None) -> None:
        self.stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


def _describe(d: Decision) -> str:
    if d.kind == "switch":
        how = "failover" if d.forced else "failback"
        return f"{how}: {d.previous or 'no route'} -> {d.uplink} ({d.reason})"
    if d.kind == "down":
        return f"{d.uplink} DOWN ({d.reason})"
    if d.kind == "up":
        return f"{d.uplink} up ({d.reason})"
    if d.kind == "hold":
        return f"hold-down: {d.reason}"
    return f"NO UPLINK IS UP: {d.reason}"
