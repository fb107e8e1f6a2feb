"""Playbook actions: `network.plan`, `network.push` (disruptive), `network.verify`, `network.rollback`.

Each host's intent is read from inventory (and AWS), validated and rendered in `plan`, which also reads the
device's running config over SSH and computes the remediation: the diff the runner prints, journals and
reports is exactly the list of lines `apply` sends (secrets masked). `network.push` keeps the session it
planned with open for its apply (a second login per device would cost more than the change itself); a
session left unused (check mode, nothing to change, not confirmed) is closed when the step ends.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field

from migrate_cli.core.actions import Action, ActionParams, Plan, TaskContext
from migrate_cli.core.errors import OperationFailed
from migrate_cli.core.inventory import Host, Inventory
from migrate_cli.network.aws_params import resolve
from migrate_cli.network.backups import BackupStore
from migrate_cli.network.device import DEFAULT_CHUNK, DeviceSession
from migrate_cli.network.intent import EdgeIntent, load_spec, validate
from migrate_cli.network.plan import DevicePlan, differing_lines, hier_platform, normalize, plan_device
from migrate_cli.network.push import PushSettings, push_device
from migrate_cli.network.render import render
from migrate_cli.network.rollback import restore
from migrate_cli.network.session import FAST_PLATFORMS, HostKeyPolicy, connect
from migrate_cli.network.verify import verify_sessions

NO_INTENT = "no connectivity intent in inventory"


class NetworkParams(ActionParams):
    known_hosts: str | None = None
    accept_new_host_keys: bool = False
    timeout: float = Field(default=30.0, gt=0, le=3600)


class PushParams(NetworkParams):
    verify_timeout: float = Field(default=60.0, ge=0, le=3600)
    verify_interval: float = Field(default=2.0, gt=0, le=60)
    rollback_timeout: float = Field(default=120.0, gt=0, le=3600)
    chunk: int = Field(default=DEFAULT_CHUNK, ge=1, le=500)


class VerifyParams(NetworkParams):
    verify_timeout: float = Field(default=60.0, ge=0, le=3600)
    verify_interval: float = Field(default=2.0, gt=0, le=60)


class RollbackParams(NetworkParams):
    to: str | None = None
    chunk: int = Field(default=DEFAULT_CHUNK, ge=1, le=500)


def resolved_intent(host: Host, inventory: Inventory | None) -> EdgeIntent | None:
    """The host's validated intent (AWS values filled in), or None when it has none."""
    spec = load_spec(host, inventory)
    if spec is None:
        return None
    intent = resolve(spec, host, inventory)
    validate(intent, host, inventory)
    return intent


def session_log_path(state_dir: Path, run_id: str, host: str) -> Path:
    return Path(state_dir) / "network" / "sessions" / (run_id or "adhoc") / f"{host}.log"


def opener_for(ctx: TaskContext, params: NetworkParams) -> Any:
    """A function opening a privileged, logged session to the context's host with a given timeout."""
    assert ctx.host is not None
    host = ctx.host
    policy = HostKeyPolicy(Path(params.known_hosts) if params.known_hosts else None, params.accept_new_host_keys)
    log = session_log_path(ctx.settings.state_dir, ctx.run_id, host.name)
    platform = host.connection("netmiko").platform or ""

    def open_session(timeout: float) -> DeviceSession:
        conn = connect(host, policy, timeout=max(timeout, 5.0), session_log=log, fast=True)
        try:
            return DeviceSession(conn, host.name, timeout, privileged=platform in FAST_PLATFORMS)
        except BaseException:
            conn.disconnect()
            raise

    return open_session


class _Sessions:
    """Sessions kept open from plan to apply, per host; whatever is left is closed with the action."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, DeviceSession] = {}

    def put(self, host: str, session: DeviceSession) -> None:
        with self._lock:
            old = self._open.pop(host, None)
            self._open[host] = session
        if old is not None:
            old.close()

    def take(self, host: str) -> DeviceSession | None:
        with self._lock:
            return self._open.pop(host, None)

    def close_all(self) -> None:
        with self._lock:
            sessions, self._open = list(self._open.values()), {}
        for session in sessions:
            session.close()


@dataclass
class _Planned:
    intent: EdgeIntent
    plan: DevicePlan


def _plan_for(ctx: TaskContext, params: NetworkParams) -> tuple[_Planned | None, DeviceSession | None]:
    assert ctx.host is not None
    intent = resolved_intent(ctx.host, ctx.inventory)
    if intent is None:
        return None, None
    hier_platform(intent.platform)
    rendered = render(intent)
    session = opener_for(ctx, params)(params.timeout)
    try:
        running = session.show("show running-config")
        plan = plan_device(ctx.host.name, intent.platform, running, rendered, intent.uses_bgp)
    except BaseException:
        session.close()
        raise
    return _Planned(intent, plan), session


def _summary(plan: DevicePlan) -> list[str]:
    sections = plan.sections()
    shown = ", ".join(sections[:4]) + (f" and {len(sections) - 4} more" if len(sections) > 4 else "")
    return [f"{len(plan.commands)} line(s): {shown}"] if plan.commands else []


class NetworkPlanAction(Action):
    """Read-only: the remediation each device needs (changed = a push would send something)."""

    name = "network.plan"
    summary = "Read each edge device's running config and show the remediation a push would send."
    Params = NetworkParams
    read_only = True

    def plan(self, ctx: TaskContext) -> Plan:
        planned, session = _plan_for(ctx, ctx.params)
        if session is not None:
            session.close()
        if planned is None:
            return Plan(data={"connectivity": NO_INTENT})
        plan = planned.plan
        return Plan(changes=_summary(plan), diff=plan.diff, data={"pending": len(plan.commands)})


class NetworkPushAction(Action):
    """Disruptive: backup, send, converge, verify, save; automatic rollback on failure."""

    name = "network.push"
    summary = "Push each edge device's remediation safely (backup, verify, automatic rollback)."
    Params = PushParams
    disruptive = True

    def __init__(self) -> None:
        self._sessions = _Sessions()
        weakref.finalize(self, self._sessions.close_all)

    def plan(self, ctx: TaskContext) -> Plan:
        assert ctx.host is not None
        planned, session = _plan_for(ctx, ctx.params)
        if planned is None:
            return Plan(data={"connectivity": NO_INTENT})
        assert session is not None
        if ctx.check or not planned.plan.changed:
            session.close()
        else:
            self._sessions.put(ctx.host.name, session)
        return Plan(
            changes=_summary(planned.plan),
            diff=planned.plan.diff,
            data={"lines": len(planned.plan.commands)},
            state=planned,
        )

    def apply(self, ctx: TaskContext, plan: Plan) -> dict[str, Any]:
        assert ctx.host is not None and isinstance(plan.state, _Planned)
        params: PushParams = ctx.params
        settings = PushSettings(
            timeout=params.timeout,
            verify_timeout=params.verify_timeout,
            verify_interval=params.verify_interval,
            rollback_timeout=params.rollback_timeout,
            chunk=params.chunk,
        )
        return push_device(
            plan.state.plan,
            plan.state.intent,
            opener_for(ctx, params),
            BackupStore(ctx.settings.state_dir),
            ctx.run_id,
            settings,
            session=self._sessions.take(ctx.host.name),
            progress=ctx.emit.progress,
        )

    def rollback(self, ctx: TaskContext, plan: Plan, applied: dict[str, Any]) -> str:
        """Step-level rollback (`on_failure: rollback`): restore this run's backup on a pushed device."""
        assert ctx.host is not None
        backup_id = applied.get("backup")
        if not backup_id:
            return "nothing to roll back (no backup was taken)"
        backup = BackupStore(ctx.settings.state_dir).find(ctx.host.name, backup_id)
        note, _ = restore(backup, opener_for(ctx, ctx.params), timeout=ctx.params.rollback_timeout)
        return note


class NetworkVerifyAction(Action):
    """Read-only: the device matches its intent (nothing pending) and its BGP/BFD sessions are up."""

    name = "network.verify"
    summary = "Check each edge device: no pending remediation, BGP sessions Established, DX BFD Up."
    Params = VerifyParams

    def plan(self, ctx: TaskContext) -> Plan:
        planned, session = _plan_for(ctx, ctx.params)
        if planned is None:
            return Plan(data={"connectivity": NO_INTENT})
        assert session is not None
        try:
            if planned.plan.changed:
                raise OperationFailed(
                    f"{len(planned.plan.commands)} line(s) pending: the device differs from its intent "
                    f"(first: '{planned.plan.commands[0].strip()}'); run network plan"
                )
            facts = verify_sessions(
                session, planned.intent, ctx.params.verify_timeout, ctx.params.verify_interval, ctx.emit.progress
            )
        finally:
            session.close()
        return Plan(data={"pending": 0, **facts})


@dataclass
class _RollbackPlan:
    backup_id: str
    running: str


class NetworkRollbackAction(Action):
    """Disruptive: put each device back to a backup (the latest, or --to ID) and prove equality."""

    name = "network.rollback"
    summary = "Restore each device's running config from a backup and prove it equals the backup."
    Params = RollbackParams
    disruptive = True

    def plan(self, ctx: TaskContext) -> Plan:
        assert ctx.host is not None
        params: RollbackParams = ctx.params
        backup = BackupStore(ctx.settings.state_dir).find(ctx.host.name, params.to)
        platform = backup.platform
        hier_platform(platform)
        session = opener_for(ctx, params)(params.timeout)
        try:
            running = session.show("show running-config")
        finally:
            session.close()
        from migrate_cli.network.plan import remediation_lines
        from migrate_cli.network.redact import redact

        commands = remediation_lines(platform, running, backup.text())
        return Plan(
            changes=[f"restore backup {backup.id} ({len(commands)} line(s))"] if commands else [],
            diff=redact("\n".join(commands)),
            data={"backup": backup.id},
            state=_RollbackPlan(backup.id, running),
        )

    def apply(self, ctx: TaskContext, plan: Plan) -> dict[str, Any]:
        assert ctx.host is not None and isinstance(plan.state, _RollbackPlan)
        params: RollbackParams = ctx.params
        backup = BackupStore(ctx.settings.state_dir).find(ctx.host.name, plan.state.backup_id)
        opener = opener_for(ctx, params)
        session = opener(params.timeout)
        current = session.show("show running-config")
        if normalize(current) != normalize(plan.state.running):
            session.close()
            raise OperationFailed(
                f"the running config changed since it was planned ({differing_lines(current, plan.state.running)} "
                "line(s) differ); nothing was sent: plan again"
            )
        note, sent = restore(backup, opener, session, timeout=max(params.timeout, 30.0), chunk=params.chunk)
        return {"backup": backup.id, "sent": sent, "proved": "running config equals the backup"}
