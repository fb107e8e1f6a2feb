"""`migrate iam plan|apply` as a journalled one-step run (DESIGN.md: a CLI command is a one-step playbook).

The runner turns an action's exception into a failed host (exit 1); this keeps the exception so the
command exits 2 for bad configuration and 3 for a conflict, and keeps the plan so the CLI can show it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrate_cli.core.actions import Plan, TaskContext
from migrate_cli.core.errors import EXIT_FAILED, EXIT_OK, EXIT_REFUSED, MigrateError
from migrate_cli.core.events import EventBus, Sink
from migrate_cli.core.inventory import Inventory
from migrate_cli.core.journal import Journal
from migrate_cli.core.lock import StateLock
from migrate_cli.core.playbook import Playbook, Step
from migrate_cli.core.runner import PlaybookRunner, RunOptions, RunResult
from migrate_cli.core.settings import Settings
from migrate_cli.iam.action import IamApplyAction, IamParams
from migrate_cli.iam.planner import IamPlan

LOCK_NAME = "iam"


@dataclass
class IamRun:
    result: RunResult
    plan: IamPlan | None = None
    error: BaseException | None = None
    applied: dict[str, Any] = field(default_factory=dict)
    confirmation_refused: bool = False

    @property
    def exit_code(self) -> int:
        if isinstance(self.error, MigrateError):
            return self.error.exit_code
        if self.result.status == "refused":
            return EXIT_REFUSED
        return EXIT_OK if self.result.ok else EXIT_FAILED


def run_iam(
    settings: Settings,
    params: IamParams,
    *,
    check: bool,
    yes: bool = False,
    ask: Callable[[IamPlan], bool] | None = None,
    on_plan: Callable[[IamPlan], None] | None = None,
    sinks: tuple[Sink, ...] = (),
) -> IamRun:
    """Plan (check) or apply, journalled. Disruptive changes (replacing or removing existing permissions)
    need `yes` or `ask(plan)` to return True; without either the run is refused (exit 3)."""
    holder: dict[str, Any] = {}

    class CliIamAction(IamApplyAction):
        def planned(self, ctx: TaskContext, iam_plan: IamPlan) -> None:
            holder["plan"] = iam_plan
            if on_plan is not None:
                on_plan(iam_plan)

        def plan(self, ctx: TaskContext) -> Plan:
            return _kept(holder, lambda: super(CliIamAction, self).plan(ctx))

        def apply(self, ctx: TaskContext, plan: Plan) -> dict[str, Any]:
            holder["applied"] = _kept(holder, lambda: super(CliIamAction, self).apply(ctx, plan))
            return holder["applied"]

        def verify(self, ctx: TaskContext, plan: Plan, applied: dict[str, Any]) -> None:
            _kept(holder, lambda: super(CliIamAction, self).verify(ctx, plan, applied))

    def confirm(question: str) -> bool:
        iam_plan = holder.get("plan")
        if iam_plan is None or not iam_plan.disruptive:
            return True
        ok = ask is not None and ask(iam_plan)
        holder["refused"] = not ok
        return ok

    mode = "plan" if check else "apply"
    body = json.dumps(params.model_dump(mode="json"), sort_keys=True).encode()
    step = Step(
        index=0,
        name=f"iam {mode} ({params.config})",
        action=IamApplyAction.name,
        action_cls=CliIamAction,
        params=params,
        hosts=None,
        tags=frozenset({"iam"}),
        disruptive=True,
        on_failure="stop",
        line=0,
    )
    playbook = Playbook(
        path=Path(params.config),
        name=f"iam {mode}",
        vars={},
        steps=(step,),
        sha256=hashlib.sha256(body).hexdigest(),
    )
    inventory = Inventory(directory=settings.inventory_dir, hosts={}, groups={}, warnings=())
    guard = nullcontext() if check else StateLock(settings.state_dir, LOCK_NAME)
    with guard:
        journal = Journal.in_state_dir(settings.state_dir)
        try:
            bus = EventBus()
            runner = PlaybookRunner(settings, inventory, bus, journal)
            bus.subscribe(journal)
            for sink in sinks:
                bus.subscribe(sink)
            options = RunOptions(check=check, yes=yes, confirm=confirm)
            result = runner.run(playbook, options)
        finally:
            journal.close()
    return IamRun(
        result=result,
        plan=holder.get("plan"),
        error=holder.get("error"),
        applied=holder.get("applied") or {},
        confirmation_refused=bool(holder.get("refused")),
    )


def _kept(holder: dict[str, Any], fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except BaseException as exc:
        holder["error"] = exc
        raise
