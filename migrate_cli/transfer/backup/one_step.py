"""Run one action as a one-step playbook through the runner, so a single CLI command is journalled like
any run (DESIGN.md: "a single CLI command is a one-step playbook").

Generic: a candidate for core/execute.py. The runner turns an action's exception into a failed host
result (exit 1); this keeps the exception so the command can exit 2 for bad input and 3 for a refusal.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from migrate_cli.core.actions import Action, ActionParams, Plan, TaskContext
from migrate_cli.core.errors import EXIT_FAILED, EXIT_OK, EXIT_REFUSED, ConfigError, MigrateError
from migrate_cli.core.events import EventBus, Sink
from migrate_cli.core.inventory import Inventory
from migrate_cli.core.journal import Journal
from migrate_cli.core.playbook import Playbook, Step
from migrate_cli.core.runner import HostOutcome, PlaybookRunner, RunOptions, RunResult
from migrate_cli.core.settings import Settings


@dataclass
class OneStepResult:
    result: RunResult
    error: BaseException | None

    @property
    def host(self) -> HostOutcome | None:
        steps = self.result.steps
        return steps[0].hosts[0] if steps and steps[0].hosts else None

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.host.data) if self.host else {}

    @property
    def exit_code(self) -> int:
        if isinstance(self.error, MigrateError):
            return self.error.exit_code
        if self.result.status == "refused":
            return EXIT_REFUSED
        return EXIT_OK if self.result.ok else EXIT_FAILED


def _keeping_errors(cls: type[Action]) -> type[Action]:
    """A subclass of `cls` that remembers the exception its plan/apply/verify raised."""

    class Kept(cls):  # type: ignore[misc, valid-type]
        error: BaseException | None = None

        def plan(self, ctx: TaskContext) -> Plan:
            try:
                return super().plan(ctx)
            except BaseException as exc:
                type(self).error = exc
                raise

        def apply(self, ctx: TaskContext, plan: Plan) -> dict[str, Any]:
            try:
                return super().apply(ctx, plan)
            except BaseException as exc:
                type(self).error = exc
                raise

        def verify(self, ctx: TaskContext, plan: Plan, applied: dict[str, Any]) -> None:
            try:
                super().verify(ctx, plan, applied)
            except BaseException as exc:
                type(self).error = exc
                raise

    Kept.__name__ = cls.__name__
    return Kept


def run_one_step(
    settings: Settings,
    action_cls: type[Action],
    params: ActionParams,
    *,
    title: str,
    step_name: str,
    check: bool,
    sinks: Iterable[Sink] = (),
    source: Path | None = None,
    guard: AbstractContextManager[Any] | None = None,
) -> OneStepResult:
    """Run `action_cls` once with `params`, journalled as playbook `title`. `guard` (e.g. a state lock) is
    entered before anything is planned; its SafetyRefusal propagates (exit 3) and nothing is journalled."""
    kept = _keeping_errors(action_cls)
    body = json.dumps(params.model_dump(mode="json"), sort_keys=True).encode()
    step = Step(
        index=0,
        name=step_name,
        action=action_cls.name,
        action_cls=kept,
        params=params,
        hosts=None,
        tags=frozenset(),
        disruptive=False,
        on_failure="stop",
        line=0,
    )
    playbook = Playbook(
        path=source or Path(f"<{action_cls.name}>"),
        name=title,
        vars={},
        steps=(step,),
        sha256=hashlib.sha256(body).hexdigest(),
    )
    inventory = Inventory(directory=settings.inventory_dir, hosts={}, groups={}, warnings=())
    with guard or nullcontext():
        journal = Journal.in_state_dir(settings.state_dir)
        try:
            bus = EventBus()
            runner = PlaybookRunner(settings, inventory, bus, journal)
            bus.subscribe(journal)
            for sink in sinks:
                bus.subscribe(sink)
            result = runner.run(playbook, RunOptions(check=check, yes=True))
        finally:
            journal.close()
    return OneStepResult(result=result, error=kept.error)


def params_from(cls: type[ActionParams], values: dict[str, Any], names: dict[str, str] | None = None) -> Any:
    """Validate CLI values into an action's params; the first problem as a one-line ConfigError naming the
    option (`names` maps field -> `--option`)."""
    try:
        return cls.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else ""
        message = str(err.get("ctx", {}).get("error", err["msg"])) if err["type"] == "value_error" else err["msg"]
        label = (names or {}).get(field, field)
        prefix = f"{label}: " if label and not message.startswith(f"{field}:") else ""
        if label and message.startswith(f"{field}:"):
            message = f"{label}:{message[len(field) + 1 :]}"
        raise ConfigError(prefix + message) from None
