"""Run one failover action as a one-step playbook (journalled like any run), keeping what the CLI renders:
the action's exception (for its exit code) and its plan/apply data."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migrate_cli.core.actions import Action, ActionParams, Plan, TaskContext
from migrate_cli.core.errors import EXIT_FAILED, EXIT_OK, EXIT_REFUSED, MigrateError
from migrate_cli.core.events import EventBus, Sink
from migrate_cli.core.inventory import Inventory
from migrate_cli.core.journal import Journal
from migrate_cli.core.playbook import Playbook, Step
from migrate_cli.core.runner import PlaybookRunner, RunOptions, RunResult
from migrate_cli.core.settings import Settings


@dataclass
class StepRun:
    result: RunResult
    error: BaseException | None
    plan: Plan | None
    applied: dict[str, Any] | None

    @property
    def exit_code(self) -> int:
        if isinstance(self.error, MigrateError):
            return self.error.exit_code
        if self.result.status == "refused":
            return EXIT_REFUSED
        return EXIT_OK if self.result.ok else EXIT_FAILED


def _keeping(cls: type[Action]) -> type[Action]:
    """A subclass of `cls` that remembers its plan, its apply data and the exception it raised."""

    class Kept(cls):  # type: ignore[misc, valid-type]
        error: BaseException | None = None
        kept_plan: Plan | None = None
        kept_applied: dict[str, Any] | None = None

        def plan(self, ctx: TaskContext) -> Plan:
            try:
                plan = super().plan(ctx)
            except BaseException as exc:
                type(self).error = exc
                raise
            type(self).kept_plan = plan
            return plan

        def apply(self, ctx: TaskContext, plan: Plan) -> dict[str, Any]:
            try:
                applied = super().apply(ctx, plan)
            except BaseException as exc:
                type(self).error = exc
                raise
            type(self).kept_applied = applied
            return applied

        def verify(self, ctx: TaskContext, plan: Plan, applied: dict[str, Any]) -> None:
            try:
                super().verify(ctx, plan, applied)
            except BaseException as exc:
                type(self).error = exc
                raise

    Kept.__name__ = cls.__name__
    return Kept


def run_step(
    settings: Settings,
    inventory: Inventory,
    action_cls: type[Action],
    params: ActionParams,
    *,
    title: str,
    disruptive: bool = False,
    check: bool = False,
    yes: bool = False,
    confirm: Callable[[str], bool] | None = None,
    sinks: Iterable[Sink] = (),
    run_id: str | None = None,
) -> StepRun:
    """Run `action_cls` once through the runner (journal, events, confirmation of a disruptive step).

    A disruptive step without `yes` and without `confirm` (no terminal) raises SafetyRefusal before anything
    runs; KeyboardInterrupt propagates after the run is journalled as interrupted.
    """
    kept = _keeping(action_cls)
    body = json.dumps(params.model_dump(mode="json"), sort_keys=True).encode()
    step = Step(
        index=0,
        name=title,
        action=action_cls.name,
        action_cls=kept,
        params=params,
        hosts=None,
        tags=frozenset(),
        disruptive=disruptive,
        on_failure="stop",
        line=0,
    )
    playbook = Playbook(
        path=Path(f"<{action_cls.name}>"),
        name=title,
        vars={},
        steps=(step,),
        sha256=hashlib.sha256(body).hexdigest(),
    )
    journal = Journal.in_state_dir(settings.state_dir)
    try:
        bus = EventBus()
        runner = PlaybookRunner(settings, inventory, bus, journal)
        options = RunOptions(check=check, yes=yes, confirm=confirm)
        runner.preflight(playbook, options)
        bus.subscribe(journal)
        for sink in sinks:
            bus.subscribe(sink)
        result = runner.run(playbook, options, run_id=run_id)
    finally:
        journal.close()
    return StepRun(result=result, error=kept.error, plan=kept.kept_plan, applied=kept.kept_applied)
