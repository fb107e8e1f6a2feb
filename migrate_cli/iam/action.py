"""The `iam.apply` playbook action: plan (check mode) or apply the IAM service accounts, then prove it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from migrate_cli.core.actions import Action, ActionParams, Plan, TaskContext
from migrate_cli.core.errors import OperationFailed, SafetyRefusal
from migrate_cli.iam.apply import apply_plan
from migrate_cli.iam.config import DEFAULT_CONFIG, load_config
from migrate_cli.iam.planner import IamPlan, plan_iam

VERIFY_ATTEMPTS = 3
VERIFY_DELAY = 1.0  # IAM reads can lag writes by a moment


class IamParams(ActionParams):
    config: str = str(DEFAULT_CONFIG)  # relative to the working directory
    with_access_key: bool = False


def key_dir(ctx: TaskContext) -> Path:
    return ctx.settings.state_dir / "iam"


class IamApplyAction(Action):
    """Roles, least-privilege policies, instance profile and (asked for) the runner user, from iam.yaml."""

    name = "iam.apply"
    summary = "Create or update the migration's IAM service accounts (least-privilege, tagged, idempotent)."
    Params = IamParams
    per_host = False

    def planned(self, ctx: TaskContext, iam_plan: IamPlan) -> None:
        """Called with every plan before it is acted on (the CLI renders it here)."""

    def make_plan(self, ctx: TaskContext) -> IamPlan:
        config = load_config(Path(ctx.params.config))
        return plan_iam(config, with_access_key=ctx.params.with_access_key, key_dir=key_dir(ctx))

    def plan(self, ctx: TaskContext) -> Plan:
        iam_plan = self.make_plan(ctx)
        self.planned(ctx, iam_plan)
        if iam_plan.conflicts:
            raise SafetyRefusal("IAM apply refused: " + "; ".join(iam_plan.conflicts))
        data: dict[str, Any] = {
            "account": iam_plan.target.account,
            "region": iam_plan.target.region,
            "changes": len(iam_plan.ops),
            "disruptive": len(iam_plan.disruptive),
            "principals": iam_plan.statuses,
            "notes": iam_plan.notes,
            "unscoped_exceptions": iam_plan.exceptions(),
            "documents": iam_plan.documents(),
        }
        return Plan(changes=[op.line() for op in iam_plan.ops], diff=iam_plan.diff, data=data, state=iam_plan)

    def apply(self, ctx: TaskContext, plan: Plan) -> dict[str, Any]:
        return apply_plan(plan.state, progress=ctx.emit.progress)

    def verify(self, ctx: TaskContext, plan: Plan, applied: dict[str, Any]) -> None:
        """Plan again: after apply, nothing may be left to change."""
        for attempt in range(VERIFY_ATTEMPTS):
            again = self.make_plan(ctx)
            if not again.ops and not again.conflicts:
                return
            if attempt + 1 < VERIFY_ATTEMPTS:
                time.sleep(VERIFY_DELAY)
        left = "; ".join(op.line() for op in again.ops) or "; ".join(again.conflicts)
        raise OperationFailed(f"IAM still differs from the configuration after apply: {left}")
