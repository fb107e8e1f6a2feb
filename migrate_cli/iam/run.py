"""`migrate iam plan|apply` as a journalled one-step run (DESIGN.md: a CLI command is a one-step playbook).

Keeps the plan so the CLI can show it, and asks for confirmation only when the plan replaces or removes
existing permissions.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from migrate_cli.core.actions import TaskContext
from migrate_cli.core.events import Sink
from migrate_cli.core.lock import StateLock
from migrate_cli.core.oneshot import OneStepRun, run_action
from migrate_cli.core.runner import RunResult
from migrate_cli.core.settings import Settings
from migrate_cli.iam.action import IamApplyAction, IamParams
from migrate_cli.iam.planner import IamPlan

LOCK_NAME = "iam"


@dataclass
class IamRun:
    run: OneStepRun
    plan: IamPlan | None = None
    confirmation_refused: bool = False
    applied: dict[str, Any] = field(default_factory=dict)

    @property
    def result(self) -> RunResult:
        return self.run.result

    @property
    def error(self) -> BaseException | None:
        return self.run.error

    @property
    def exit_code(self) -> int:
        return self.run.exit_code


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

    def confirm(question: str) -> bool:
        iam_plan = holder.get("plan")
        if iam_plan is None or not iam_plan.disruptive:
            return True
        ok = ask is not None and ask(iam_plan)
        holder["refused"] = not ok
        return ok

    mode = "plan" if check else "apply"
    run = run_action(
        settings,
        CliIamAction,
        params,
        title=f"iam {mode}",
        step_name=f"iam {mode} ({params.config})",
        check=check,
        yes=yes,
        confirm=confirm,
        disruptive=True,
        sinks=sinks,
        guard=nullcontext() if check else StateLock(settings.state_dir, LOCK_NAME),
        source=params.config,
    )
    return IamRun(
        run=run,
        plan=holder.get("plan"),
        confirmation_refused=bool(holder.get("refused")),
        applied=run.applied or {},
    )
