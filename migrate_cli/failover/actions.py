"""Playbook actions: `failover.check` (read-only verdict per site) and `failover.drill` (disruptive: mark the
step `disruptive: true`). `FailoverWatchAction` backs `migrate failover watch` (not a playbook action: it runs
until stopped)."""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

from pydantic import Field

from migrate_cli.core.actions import Action, ActionParams, Plan, TaskContext
from migrate_cli.core.errors import ConfigError, OperationFailed, SafetyRefusal
from migrate_cli.core.lock import StateLock
from migrate_cli.failover.check import check_sites
from migrate_cli.failover.cutters import drill_mode, make_cutter
from migrate_cli.failover.drill import run_drill
from migrate_cli.failover.model import Edge, LinkChoice, find_link, load_edges
from migrate_cli.failover.result import GOAL_S, DrillOptions, DrillResult
from migrate_cli.failover.watch import WatchLoop, lock_name


class NotArmed(OperationFailed):
    """Failover is not armed at some site (exit 1); carries every site's verdict."""

    def __init__(self, message: str, verdicts: list[Any]) -> None:
        super().__init__(message)
        self.verdicts = verdicts


def _edges(ctx: TaskContext, limit: str | None) -> list[Edge]:
    edges = load_edges(ctx.inventory, limit)
    if not edges:
        where = f" among hosts matching '{limit}'" if limit else ""
        raise ConfigError(f"no host has `uplinks` in its data{where} (inventory {ctx.inventory.directory})")
    return edges


def _log(ctx: TaskContext) -> Any:
    def log(message: str, data: dict[str, Any]) -> None:
        ctx.emit.message(message, **data)

    return log


# ------------------------------------------------------------------------------------------------------------
# failover.check
# ------------------------------------------------------------------------------------------------------------
class CheckParams(ActionParams):
    limit: str | None = None
    count: int = Field(default=5, ge=1, le=100)
    require_armed: bool = True


class FailoverCheckAction(Action):
    """Read-only: probes, routes and device state are read in check mode too."""

    name = "failover.check"
    summary = "Is failover armed at each site (probes per uplink, default route, IP SLA/track, DX/VPN BGP)?"
    Params = CheckParams
    per_host = False

    def plan(self, ctx: TaskContext) -> Plan:
        params: CheckParams = ctx.params
        edges = _edges(ctx, params.limit)
        verdicts = check_sites(
            edges,
            dict(ctx.inventory.hosts),
            ctx.settings.state_dir,
            count=params.count,
            progress=lambda text: ctx.emit.progress(text),
        )
        data: dict[str, Any] = {"sites": len(verdicts), "armed": sum(1 for v in verdicts if v.armed)}
        for v in verdicts:
            ctx.emit.message(v.line(), **v.public())
            for note in v.notes:
                ctx.emit.message(f"site {v.site}: {note}", site=v.site)
            data[f"site {v.site}"] = "armed" if v.armed else "NOT armed: " + "; ".join(v.reasons)
        data["verdicts"] = [v.public() for v in verdicts]
        not_armed = [v for v in verdicts if not v.armed]
        if not_armed and params.require_armed:
            raise NotArmed("; ".join(v.line() for v in not_armed), verdicts)
        return Plan(data=data, state=verdicts)


# ------------------------------------------------------------------------------------------------------------
# failover.drill
# ------------------------------------------------------------------------------------------------------------
class DrillParams(ActionParams):
    link: str = Field(min_length=1)
    limit: str | None = None
    max_duration: float = Field(default=60.0, gt=0, le=3 * 3600)
    settle: float | None = Field(default=None, ge=0, le=3600)
    goal: float = Field(default=GOAL_S, gt=0)


class FailoverDrillAction(Action):
    """Disruptive: takes a link down. Plan describes it; apply runs it and always restores."""

    name = "failover.drill"
    summary = "Take a link down, time failover and failback, always restore (disruptive)."
    Params = DrillParams
    per_host = False
    disruptive = True

    def plan(self, ctx: TaskContext) -> Plan:
        params: DrillParams = ctx.params
        choice = find_link(_edges(ctx, params.limit), params.link)
        edge = choice.edge
        if choice.dx is not None:
            dx = choice.dx
            change = (
                f"run StartBgpFailoverTest on {dx.virtual_interface_id} ({dx.name}, {edge.host}) for at most "
                f"{params.max_duration:g}s, time the move to the VPN, StopBgpFailoverTest, time the DX sessions' return"
            )
            return Plan(changes=[change], data={"link": dx.name, "host": edge.host, "mode": "dx"}, state=choice)
        assert choice.uplink is not None
        uplink = choice.uplink
        others = [u.name for u in edge.uplinks if u.name != uplink.name]
        if not others:
            raise OperationFailed(f"{edge.host} has only {uplink.name}: a drill would cut the site off")
        cutter = make_cutter(edge, uplink, ctx.inventory.hosts.get(edge.host))
        how = "`shutdown` on " if drill_mode(edge, uplink) == "device" else ""
        change = (
            f"take {uplink.name} ({uplink.provider}) on {edge.host} down: {how}{cutter.describe()}; for at most "
            f"{params.max_duration:g}s time the failover to {', '.join(others)}, then restore it and time the failback"
        )
        data = {
            "link": uplink.name,
            "host": edge.host,
            "mode": drill_mode(edge, uplink),
            "fails_over_to": ", ".join(others),
        }
        return Plan(changes=[change], data=data, state=choice)

    def apply(self, ctx: TaskContext, plan: Plan) -> dict[str, Any]:
        params: DrillParams = ctx.params
        choice: LinkChoice = plan.state
        options = DrillOptions(max_duration=params.max_duration, settle=params.settle, goal=params.goal)
        log = _log(ctx)
        host = ctx.inventory.hosts.get(choice.edge.host)
        if choice.dx is not None:
            result = _dx_drill(choice, options, log, host)
        else:
            assert choice.uplink is not None
            result = run_drill(choice.edge, choice.uplink, ctx.settings.state_dir, options, log, host=host)
        return result.facts() | {"summary": result.lines()}

    def verify(self, ctx: TaskContext, plan: Plan, applied: dict[str, Any]) -> None:
        verdict = applied.get("drill")
        if verdict == "passed":
            return
        if verdict == "NOT RESTORED":
            raise OperationFailed(
                f"DRILL COULD NOT RESTORE {applied.get('link')}: {applied.get('restore_error')}; "
                "see the log for how to restore it by hand"
            )
        detail = applied.get("error") or (
            "no failover seen" if "traffic_s" not in applied and "switch_s" not in applied else "no failback seen"
        )
        raise OperationFailed(f"drill of {applied.get('link')} {verdict}: {detail}")


def _dx_drill(choice: LinkChoice, options: DrillOptions, log: Any, host: Any) -> DrillResult:
    from migrate_cli.aws.session import client
    from migrate_cli.failover.dx import run_dx_drill

    assert choice.dx is not None
    edge = choice.edge
    vpn_view = None
    if edge.has_device and edge.bgp_vpn and host is not None:
        vpn_view = _vpn_view(edge, host)
    dc = client("directconnect", region_name=choice.dx.region) if choice.dx.region else client("directconnect")
    return run_dx_drill(edge, choice.dx, dc, options, log, vpn_established=vpn_view)


def _vpn_view(edge: Edge, host: Any) -> Any:
    from migrate_cli.failover.device_state import read_device_state

    def established() -> bool | None:
        state = read_device_state(host)
        if not state.reachable or "show ip bgp summary" in state.errors:
            return None
        vpn_up = any((n := state.neighbor(p)) is not None and n.established for p in edge.bgp_vpn)
        dx_down = all((n := state.neighbor(p)) is None or not n.established for p in edge.bgp_dx)
        return vpn_up and dx_down

    return established


# ------------------------------------------------------------------------------------------------------------
# failover watch (CLI only)
# ------------------------------------------------------------------------------------------------------------
class WatchParams(ActionParams):
    limit: str | None = None
    max_duration: float | None = Field(default=None, gt=0)


class FailoverWatchAction(Action):
    """Runs the watcher of every selected Linux edge until stopped (Ctrl-C, SIGTERM or --max-duration)."""

    name = "failover.watch"
    summary = "Probe each uplink and move the default route with hysteresis, until stopped."
    Params = WatchParams
    per_host = False

    def plan(self, ctx: TaskContext) -> Plan:
        params: WatchParams = ctx.params
        edges = [e for e in _edges(ctx, params.limit) if e.router == "linux"]
        if not edges:
            raise ConfigError(
                "no Linux edge to watch: every selected edge routes on its device (IP SLA/track does this job there); "
                "set `failover.router: linux` for an edge that migrate should steer"
            )
        changes = [
            f"watch {e.host} ({', '.join(u.name for u in e.uplinks)}) and move its default route when an uplink dies"
            for e in edges
        ]
        return Plan(changes=changes, data={"edges": ", ".join(e.host for e in edges)}, state=edges)

    def apply(self, ctx: TaskContext, plan: Plan) -> dict[str, Any]:
        params: WatchParams = ctx.params
        edges: list[Edge] = plan.state
        stop = threading.Event()
        locks = [StateLock(ctx.settings.state_dir, lock_name(e.host), purpose="migrate failover watch") for e in edges]
        loops: list[WatchLoop] = []
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
        taken: list[StateLock] = []
        try:
            for lock in locks:
                _acquire_patiently(lock)
                taken.append(lock)
            log = _log(ctx)
            loops = [WatchLoop(e, log=log, stop=stop).start() for e in edges]
            deadline = time.monotonic() + params.max_duration if params.max_duration else None
            while not stop.is_set():
                if deadline is not None and time.monotonic() >= deadline:
                    break
                failed = [lp for lp in loops if lp.error is not None]
                if failed:
                    raise OperationFailed(f"the watcher of {failed[0].edge.host} stopped: {failed[0].error}")
                stop.wait(0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic())))
        finally:
            stop.set()
            for loop in loops:
                loop.join(5)
            for lock in taken:
                lock.release()
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        switches = sum(1 for lp in loops for d in lp.history if d.kind == "switch")
        return {"rounds": sum(lp.rounds for lp in loops), "route_changes": switches}


def _acquire_patiently(lock: StateLock, patience: float = 2.0) -> None:
    """`failover check` and drills test the watch lock for an instant; a starting watcher waits that out."""
    deadline = time.monotonic() + patience
    while True:
        try:
            lock.acquire()
            return
        except SafetyRefusal:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)
