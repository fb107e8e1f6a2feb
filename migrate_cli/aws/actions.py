"""The `aws.identity` action: prove the configured credentials reach the AWS account."""

from __future__ import annotations

from migrate_cli.aws.identity import caller_identity
from migrate_cli.core.actions import Action, ActionParams, Plan, TaskContext
from migrate_cli.core.errors import OperationFailed


class IdentityParams(ActionParams):
    expect_account: str | None = None


class AwsIdentityAction(Action):
    """Read-only: STS GetCallerIdentity through the standard credential chain."""

    name = "aws.identity"
    summary = "Check which AWS account and principal the configured credentials belong to."
    Params = IdentityParams
    per_host = False

    def plan(self, ctx: TaskContext) -> Plan:
        ident = caller_identity()
        expected = ctx.params.expect_account
        if expected and ident.account != expected:
            raise OperationFailed(f"credentials belong to account {ident.account}, expected {expected}")
        return Plan(data={"account": ident.account, "arn": ident.arn, "region": ident.region})
