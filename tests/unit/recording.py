"""A recording test action for the runner and report tests (an action, not a mock of a peer: the runner's
orchestration is what is under test). One module, so every test file registers the same class."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, ClassVar

from migrate_cli.core.actions import Action, ActionParams, Plan, TaskContext, register_action
from migrate_cli.core.errors import OperationFailed


class RecordParams(ActionParams):
    change: bool = True
    fail_plan_on: list[str] = []
    fail_apply_on: list[str] = []
    sleep: float = 0.0
    say: str = ""
    fail_if_exists: str = ""


class RecordAction(Action):
    name = "test.record"
    summary = "records every call"
    Params = RecordParams
    calls: ClassVar[list[tuple[str, str, str]]] = []
    active: ClassVar[int] = 0
    peak: ClassVar[int] = 0
    lock = threading.Lock()

    def _log(self, ctx: TaskContext, phase: str) -> None:
        with self.lock:
            self.calls.append((ctx.emit._where["step"], ctx.host.name, phase))  # type: ignore[union-attr]

    def plan(self, ctx: TaskContext) -> Plan:
        p = ctx.params
        with self.lock:
            RecordAction.active += 1
            RecordAction.peak = max(RecordAction.peak, RecordAction.active)
        try:
            time.sleep(p.sleep)
            self._log(ctx, "plan")
            if p.say:
                ctx.emit.message(p.say)
            if ctx.host.name in p.fail_plan_on:  # type: ignore[union-attr]
                raise OperationFailed("cannot plan")
            if p.fail_if_exists and Path(p.fail_if_exists).exists():
                raise OperationFailed("broken")
            return Plan(changes=["set x"], diff="+x") if p.change else Plan(data={"seen": ctx.host.name})  # type: ignore[union-attr]
        finally:
            with self.lock:
                RecordAction.active -= 1

    def apply(self, ctx: TaskContext, plan: Plan) -> dict[str, Any]:
        self._log(ctx, "apply")
        if ctx.host.name in ctx.params.fail_apply_on:  # type: ignore[union-attr]
            raise OperationFailed("apply broke")
        return {"applied": True}

    def rollback(self, ctx: TaskContext, plan: Plan, applied: dict[str, Any]) -> str:
        self._log(ctx, "rollback")
        return "restored"


register_action(RecordAction)
