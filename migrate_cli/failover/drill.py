"""The failover drill: take an uplink down, time detection and traffic on the secondary, restore, time failback.

Where the uplink is cut:

- **lab**: the ISP's upstream link inside the ISP's network namespace (``lab_links`` in the inventory);
- **linux**: the edge's own interface (``ip link set dev IF down``), optionally in the edge's namespace;
- **device**: ``shutdown`` on the device's interface over netmiko.

A traffic probe runs every 100 ms through the default route (not bound to any uplink); the local address it
left from says which uplink carried it. The drill ALWAYS restores the link: on success, on errors, on Ctrl-C or
SIGTERM, and when ``max_duration`` runs out. A marker in the state directory names a cut link until it is
restored, so a drill killed outright is restored by the next drill (and `failover check` reports it).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migrate_cli.core.errors import MigrateError, OperationFailed, SafetyRefusal
from migrate_cli.core.lock import StateLock
from migrate_cli.failover.cutters import (
    Cutter,
    DeviceCut,
    clear_marker,
    drill_mode,
    make_cutter,
    read_marker,
    write_marker,
)
from migrate_cli.failover.instruments import DeviceObserver, RouteObserver, TrafficProbe
from migrate_cli.failover.model import Edge, Uplink
from migrate_cli.failover.result import DrillOptions, DrillResult, Log
from migrate_cli.failover.routes import LinuxRoutes
from migrate_cli.failover.watch import WatchLoop, lock_name

__all__ = ["DrillOptions", "DrillResult", "run_drill", "sigterm_interrupts", "uninterruptible"]


# ------------------------------------------------------------------------------------------------------------
# Signals: Ctrl-C and SIGTERM interrupt the drill; nothing interrupts a restore
# ------------------------------------------------------------------------------------------------------------
def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """While the drill runs, SIGTERM behaves like Ctrl-C (so `kill` still restores)."""
    if not _main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def uninterruptible(log: Log) -> Iterator[None]:
    """Defer Ctrl-C/SIGTERM while restoring; they are noted and the restore completes."""
    if not _main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        log("interrupt received while restoring: finishing the restore first", {"event": "deferred_interrupt"})

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@dataclass
class _Clock:
    start: float
    deadline: float

    def left(self) -> float:
        return self.deadline - time.monotonic()


def _wait(condition: Callable[[], bool], clock: _Clock, step: float = 0.02, limit: float | None = None) -> bool:
    """Poll `condition` until true; False when the drill's deadline (or `limit` seconds) passes first."""
    until = clock.deadline if limit is None else min(clock.deadline, time.monotonic() + limit)
    while True:
        if condition():
            return True
        if time.monotonic() >= until:
            return False
        time.sleep(step)


def run_drill(
    edge: Edge,
    uplink: Uplink,
    state_dir: Path,
    options: DrillOptions | None = None,
    log: Log | None = None,
    host: Any = None,
    connect: Callable[[Any], Any] | None = None,
    cutter: Cutter | None = None,
) -> DrillResult:
    """Drill `uplink` of `edge`. Returns the measurements; KeyboardInterrupt propagates after the restore.

    Raises SafetyRefusal (nothing to fail over to, or another drill holds the edge) and OperationFailed when the
    preconditions are not met (nothing is cut then). Restore failures are in the result (`restored` False).
    """
    options = options or DrillOptions()
    log = log or (lambda message, data: None)
    others = [u for u in edge.uplinks if u.name != uplink.name]
    if not others:
        raise SafetyRefusal(f"{edge.host} has only {uplink.name}: a drill would cut the site off")
    mode = drill_mode(edge, uplink)
    result = DrillResult(host=edge.host, link=uplink.name, mode=mode, goal_s=options.goal)
    cutter = cutter or make_cutter(edge, uplink, host, connect)
    with StateLock(state_dir, f"failover-drill-{edge.host}", purpose=f"failover drill of {uplink.name}"):
        _recover_previous(edge, state_dir, cutter, uplink, log)
        with sigterm_interrupts():
            _drill(edge, uplink, others, state_dir, options, log, host, connect, cutter, result)
    return result


def _recover_previous(edge: Edge, state_dir: Path, cutter: Cutter, uplink: Uplink, log: Log) -> None:
    previous = read_marker(state_dir, edge.host)
    if previous is None:
        return
    log(
        f"a previous drill (pid {previous.get('pid')}) left {previous.get('link')} cut on {edge.host}: "
        "restoring it first",
        {"event": "recover", **previous},
    )
    if previous.get("link") == uplink.name:
        cutter.restore()
        if cutter.is_restored():
            clear_marker(state_dir, edge.host)
            return
    raise OperationFailed(
        f"a previous drill left {previous.get('link')} cut on {edge.host}; "
        f"restore it by hand: {previous.get('restore')}"
    )


def _drill(
    edge: Edge,
    uplink: Uplink,
    others: list[Uplink],
    state_dir: Path,
    options: DrillOptions,
    log: Log,
    host: Any,
    connect: Callable[[Any], Any] | None,
    cutter: Cutter,
    result: DrillResult,
) -> None:
    start = time.monotonic()
    clock = _Clock(start, start + options.max_duration)
    linux = result.mode in ("lab", "linux")
    other_sources = {u.source for u in others}
    traffic = TrafficProbe(
        edge.drill_target(), edge.netns if linux else None, options.traffic_interval, options.traffic_timeout
    )
    watch: WatchLoop | None = None
    watch_lock: StateLock | None = None
    observer: RouteObserver | None = None
    t_cut = t_restore = None
    settle = options.settle if options.settle is not None else edge.timers.hold_down + 0.5
    try:
        # --- start the instruments (nothing is cut yet) ---------------------------------------------------
        if linux:
            watch_lock = StateLock(state_dir, lock_name(edge.host), purpose=f"failover drill of {uplink.name}")
            try:
                watch_lock.acquire()
                result.watcher = "in-process (no `failover watch` was running)"
                watch = WatchLoop(edge, log=log).start()
            except SafetyRefusal:
                watch_lock = None
                result.watcher = "external (`migrate failover watch`)"
                observer = RouteObserver(LinuxRoutes(edge.netns)).start()
        else:
            result.watcher = "the device (IP SLA / track)"
            if connect is None:
                from migrate_cli.network.session import connect as connect_fn

                connect = connect_fn
            observer = DeviceObserver(host, connect).start()
        traffic.start()
        log(
            f"drill of {uplink.name} on {edge.host}: warming up "
            f"({f'traffic to {edge.drill_target()}' if edge.drill_target() else 'no traffic probe'})",
            {"event": "warmup"},
        )

        # --- preconditions ---------------------------------------------------------------------------------
        def primary_carries() -> bool:
            if watch is not None:
                w = watch.watcher
                if w is None or w.active != uplink.name or not any(w.is_up(o.name) for o in others):
                    return False
            elif observer is not None and observer.current() != uplink.gateway:
                return False
            if linux:
                return traffic.first_ok(time.monotonic() - 0.5, {uplink.source}) is not None
            return True

        if not _wait(primary_carries, clock, limit=options.warmup):
            raise OperationFailed(_not_ready(edge, uplink, others, watch, observer, traffic))
        if not linux and edge.drill_target() is None:
            result.notes.append("no traffic probe (set failover.traffic_target): only the device's view is timed")
        elif not linux and traffic.first_ok(start) is None:
            result.notes.append(
                f"traffic probe: {edge.drill_target()} does not answer from this machine; "
                "only the device's view is timed"
            )
        secondary_up = [o.name for o in others if watch is None or (watch.watcher and watch.watcher.is_up(o.name))]
        result.secondary = secondary_up[0] if secondary_up else others[0].name

        # --- cut -------------------------------------------------------------------------------------------
        write_marker(state_dir, edge.host, uplink.name, cutter.by_hand())
        log(f"CUT {uplink.name}: {cutter.describe()}", {"event": "cut", "link": uplink.name})
        t_cut = time.monotonic()
        result.cut = True
        cutter.cut()

        def failed_over() -> bool:
            if linux:
                return traffic.first_ok(t_cut, other_sources) is not None
            assert observer is not None
            return observer.first(t_cut, lambda gw: gw is not None and gw != uplink.gateway) is not None

        if not _wait(failed_over, clock):
            result.timed_out = True
            log(f"no failover within --max-duration {options.max_duration:g}s", {"event": "timeout"})
        else:
            _wait(lambda: _route_seen(watch, observer, t_cut, lambda gw: gw != uplink.gateway, edge), clock, limit=1.0)
            _measure_failover(result, uplink, others, t_cut, traffic, watch, observer, linux)
            what = "traffic" if result.traffic_s is not None else "default route"
            log(
                f"{what} on {result.secondary} after {_fmt(result.traffic_s or result.switch_s)}",
                {"event": "failed_over"},
            )
            # stay on the secondary long enough for the hold-down to expire, proving it carries traffic
            _wait(lambda: False, clock, limit=settle)

        # --- restore ---------------------------------------------------------------------------------------
        t_restore = time.monotonic()
        _restore(cutter, result, uplink, log)
        if result.restored and not result.timed_out:
            clear_marker(state_dir, edge.host)

            def failed_back() -> bool:
                if linux:
                    return traffic.first_ok(t_restore, {uplink.source}) is not None
                assert observer is not None
                return observer.first(t_restore, lambda gw: gw == uplink.gateway) is not None

            if _wait(failed_back, clock):
                _wait(
                    lambda: _route_seen(watch, observer, t_restore, lambda gw: gw == uplink.gateway, edge),
                    clock,
                    limit=1.0,
                )
                _measure_failback(result, uplink, t_restore, traffic, watch, observer, linux)
            else:
                result.timed_out = True
                log(
                    f"no failback to {uplink.name} within --max-duration {options.max_duration:g}s",
                    {"event": "timeout"},
                )
    except KeyboardInterrupt:
        result.interrupted = True
        raise
    except MigrateError as exc:
        result.error = str(exc)
        if not result.cut:
            raise
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        if result.cut and not result.restored:
            with uninterruptible(log):
                _restore(cutter, result, uplink, log)
        if result.restored:
            clear_marker(state_dir, edge.host)
        if t_cut is not None:
            end = t_restore if t_restore is not None else time.monotonic()
            result.probes_sent, result.probes_lost = traffic.count(t_cut, end)
        traffic.stop()
        if watch is not None:
            watch.join(5)
        if observer is not None:
            observer.stop()
        if watch_lock is not None:
            watch_lock.release()
        if isinstance(cutter, DeviceCut):
            cutter.close()
        for line in result.lines():
            log(line, {"event": "result", **result.facts()})


def _route_seen(
    watch: WatchLoop | None,
    observer: RouteObserver | None,
    since: float,
    wanted: Callable[[str | None], bool],
    edge: Edge,
) -> bool:
    """Whether the instrument timing the route has recorded the move (it can lag the traffic by a poll)."""
    if watch is not None:
        _, changes = watch.snapshot()
        return any(c.at >= since and wanted(edge.uplink(c.uplink).gateway) for c in changes)
    if observer is not None:
        return observer.first(since, lambda gw: gw is not None and wanted(gw)) is not None
    return True


def _restore(cutter: Cutter, result: DrillResult, uplink: Uplink, log: Log, attempts: int = 3) -> None:
    """Restore the link, verify it, retry; on failure the result says so loudly (the caller exits 1)."""
    result.restore_by_hand = cutter.by_hand()
    last = "unknown"
    for attempt in range(1, attempts + 1):
        try:
            cutter.restore()
            if cutter.is_restored():
                result.restored, result.restore_error = True, None
                log(f"RESTORED {uplink.name}: {cutter.describe()}", {"event": "restore", "attempt": attempt})
                return
            last = "still down after the restore command"
        except Exception as exc:
            last = str(exc) if isinstance(exc, MigrateError) else f"{type(exc).__name__}: {exc}"
        time.sleep(0.1 * attempt)
    result.restore_error = last
    log(f"DRILL COULD NOT RESTORE {uplink.name}: {last}; by hand: {cutter.by_hand()}", {"event": "restore_failed"})


def _measure_failover(
    result: DrillResult,
    uplink: Uplink,
    others: list[Uplink],
    t_cut: float,
    traffic: TrafficProbe,
    watch: WatchLoop | None,
    observer: RouteObserver | None,
    linux: bool,
) -> None:
    by_source = {u.source: u.name for u in others}
    first = traffic.first_ok(t_cut, set(by_source)) if linux else traffic.first_ok(t_cut)
    if first is not None:
        result.traffic_s = first.done_at - t_cut
        if linux and first.local in by_source:
            result.secondary = by_source[first.local]
    if watch is not None:
        history, changes = watch.snapshot()
        down = next((d for d in history if d.kind == "down" and d.uplink == uplink.name and d.at >= t_cut), None)
        moved = next((c for c in changes if c.previous == uplink.name and c.at >= t_cut), None)
        result.detect_s = down.at - t_cut if down else None
        result.switch_s = moved.at - t_cut if moved else None
    elif observer is not None:
        moved_at = observer.first(t_cut, lambda gw: gw is not None and gw != uplink.gateway)
        result.switch_s = moved_at - t_cut if moved_at is not None else None
        result.detect_s = result.switch_s
        who = "the device decides" if isinstance(observer, DeviceObserver) else "the watcher runs elsewhere"
        result.notes.append(f"detection is timed by the route change ({who})")
        if not linux and first is not None and result.switch_s is not None and first.done_at - t_cut < result.switch_s:
            result.traffic_s = None  # answered before the route moved: not proof of the secondary


def _measure_failback(
    result: DrillResult,
    uplink: Uplink,
    t_restore: float,
    traffic: TrafficProbe,
    watch: WatchLoop | None,
    observer: RouteObserver | None,
    linux: bool,
) -> None:
    first = traffic.first_ok(t_restore, {uplink.source}) if linux else None
    if first is not None:
        result.failback_traffic_s = first.done_at - t_restore
    if watch is not None:
        history, changes = watch.snapshot()
        up = next((d for d in history if d.kind == "up" and d.uplink == uplink.name and d.at >= t_restore), None)
        moved = next((c for c in changes if c.uplink == uplink.name and c.at >= t_restore), None)
        result.failback_detect_s = up.at - t_restore if up else None
        result.failback_switch_s = moved.at - t_restore if moved else None
    elif observer is not None:
        moved_at = observer.first(t_restore, lambda gw: gw == uplink.gateway)
        result.failback_switch_s = moved_at - t_restore if moved_at is not None else None
        result.failback_detect_s = result.failback_switch_s


def _not_ready(
    edge: Edge,
    uplink: Uplink,
    others: list[Uplink],
    watch: WatchLoop | None,
    observer: RouteObserver | None,
    traffic: TrafficProbe,
) -> str:
    base = f"not starting the drill of {uplink.name} on {edge.host} (nothing was cut): "
    if watch is not None and watch.watcher is not None:
        w = watch.watcher
        if w.active != uplink.name:
            return base + f"the default route is on {w.active or 'nothing'}, not on {uplink.name}"
        if not any(w.is_up(o.name) for o in others):
            return base + f"no other uplink is up ({', '.join(o.name for o in others)}): nothing to fail over to"
    if observer is not None and observer.current() != uplink.gateway:
        return (
            base
            + f"the default route is via {observer.current() or 'nothing'}, not via {uplink.name} ({uplink.gateway})"
        )
    answered = [r for r in traffic.snapshot() if r.ok]
    if not answered:
        errors = {r.error for r in traffic.snapshot() if r.error}
        return (
            base
            + f"the traffic probe to {edge.drill_target()} gets no answer ({', '.join(sorted(errors)) or 'none sent'})"
        )
    return base + f"traffic to {edge.drill_target()} does not leave by {uplink.name}"


def _fmt(value: float | None) -> str:
    return f"{value:.2f}s" if value is not None else "?"
