"""The `aws.identity` and `aws.check` actions: prove the configured credentials reach the AWS account."""

from __future__ import annotations

from pydantic import field_validator

from migrate_cli.aws.check import check_aws, check_services_names
from migrate_cli.aws.identity import caller_identity
from migrate_cli.core.actions import Action, ActionParams, Plan, TaskContext
from migrate_cli.core.errors import ConfigError, OperationFailed


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


class CheckParams(ActionParams):
    services: list[str] | None = None  # default: the services the migration runbook uses
    expect_account: str | None = None

    @field_validator("services")
    @classmethod
    def _known(cls, values: list[str] | None) -> list[str] | None:
        if values is None:
            return None
        try:
            return check_services_names(values)
        except ConfigError as e:
            raise ValueError(e.message.removeprefix("--service ")) from e


class AwsCheckAction(Action):
    """Read-only: credentials, identity and the services the runbook uses (see `migrate aws check`)."""

    name = "aws.check"
    summary = "Check the AWS credentials, account, region and that each service the runbook uses answers."
    Params = CheckParams
    per_host = False

    def plan(self, ctx: TaskContext) -> Plan:
        p: CheckParams = ctx.params
        report = check_aws(p.services)
        for svc in report.services:
            ctx.emit.progress(f"{svc.service}: {'ok' if svc.ok else svc.problem.message if svc.problem else '?'}")
        if not report.ok:
            raise OperationFailed("; ".join(problem.message for problem in report.all_problems()))
        if p.expect_account and report.account != p.expect_account:
            raise OperationFailed(f"credentials belong to account {report.account}, expected {p.expect_account}")
        return Plan(
            data={
                "account": report.account,
                "arn": report.arn,
                "region": report.region,
                "credentials": report.credential_source,
                "services": ", ".join(s.service for s in report.services),
            }
        )
