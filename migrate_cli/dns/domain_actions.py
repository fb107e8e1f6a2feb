"""Playbook actions `domain.publish` (Route 53 UPSERT, with rollback) and `domain.verify` (every
authoritative server has the records; diagnosis when not)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from migrate_cli.core.actions import Action, ActionParams, Plan, TaskContext
from migrate_cli.core.errors import ConfigError, OperationFailed
from migrate_cli.dns.names import Expected, check_domain, expectations_from_mapping
from migrate_cli.dns.publish import INSYNC_TIMEOUT, PublishPlan, Route53Publisher
from migrate_cli.dns.servers import Server, parse_server_spec
from migrate_cli.dns.verify import WaitProgress, verify_domain

Values = dict[str, str | list[str]]


def _domain(value: str) -> str:
    try:
        return check_domain(value)
    except ConfigError as e:
        raise ValueError(e.message) from e


def _servers(values: list[str] | None) -> list[str] | None:
    for v in values or []:
        parse_server_spec(v)  # ValueError names the bad entry
    return values


class _RecordParams(ActionParams):
    domain: str
    txt: Values = Field(default_factory=dict)
    cname: dict[str, str] = Field(default_factory=dict)

    @field_validator("domain")
    @classmethod
    def _check_domain(cls, value: str) -> str:
        return _domain(value)

    @model_validator(mode="after")
    def _records_ok(self) -> _RecordParams:
        if not self.txt and not self.cname:
            raise ValueError("give at least one record in txt or cname")
        try:
            self.records()
        except ConfigError as e:
            raise ValueError(e.message) from e
        return self

    def records(self) -> list[Expected]:
        return expectations_from_mapping(self.domain, self.txt, "TXT") + expectations_from_mapping(
            self.domain, dict(self.cname), "CNAME"
        )


class PublishParams(_RecordParams):
    provider: Literal["route53"] = "route53"
    ttl: int | None = Field(default=None, ge=0, le=2147483647)
    zone_id: str | None = None
    wait_timeout: float = Field(default=INSYNC_TIMEOUT, gt=0)


class DomainPublishAction(Action):
    """Adds the records next to whatever is at those names; rollback puts the record sets back."""

    name = "domain.publish"
    summary = "Publish TXT/CNAME records in the domain's Route 53 hosted zone (UPSERT, keeping other values)."
    Params = PublishParams
    per_host = False

    def plan(self, ctx: TaskContext) -> Plan:
        p: PublishParams = ctx.params
        plan = Route53Publisher().plan(p.domain, p.records(), ttl=p.ttl, zone_id=p.zone_id)
        changes = [c.describe() for c in plan.changes if c.changed]
        data: dict[str, Any] = {"zone": plan.zone, "zone_id": plan.zone_id, "records": len(plan.changes)}
        if not changes:
            data["note"] = "already published"
        return Plan(changes=changes, data=data, state=plan)

    def apply(self, ctx: TaskContext, plan: Plan) -> dict[str, Any]:
        p: PublishParams = ctx.params
        ctx.emit.progress(f"UPSERT {len(plan.changes)} record set(s) in {plan.state.zone}, waiting for INSYNC")
        return Route53Publisher().apply(plan.state, wait_timeout=p.wait_timeout)

    def verify(self, ctx: TaskContext, plan: Plan, applied: dict[str, Any]) -> None:
        p: PublishParams = ctx.params
        again = Route53Publisher().plan(p.domain, p.records(), ttl=p.ttl, zone_id=p.zone_id)
        if again.changed:
            raise OperationFailed("Route 53 does not hold the records after the change: " + "; ".join(again.lines()))

    def rollback(self, ctx: TaskContext, plan: Plan, applied: dict[str, Any]) -> str:
        state: PublishPlan = plan.state
        return Route53Publisher().restore(state)


class VerifyParams(_RecordParams):
    nameservers: list[str] | None = None  # default: follow the delegation from the parent
    parent_nameservers: list[str] | None = None
    resolvers: list[str] | None = None  # None: the system's; []: skip the propagation check
    wait: float = Field(default=0.0, ge=0)
    timeout: float = Field(default=2.0, gt=0, le=30)

    @field_validator("nameservers", "parent_nameservers", "resolvers")
    @classmethod
    def _check_servers(cls, values: list[str] | None) -> list[str] | None:
        return _servers(values)


def _server_list(values: list[str] | None) -> list[Server] | None:
    return None if values is None else [parse_server_spec(v) for v in values]


class DomainVerifyAction(Action):
    """Read-only: fails (with the diagnosis) unless every authoritative server serves the records.

    In a dry run it checks once without waiting and reports what it sees without failing, because the
    `domain.publish` step it usually follows does not publish in a dry run.
    """

    name = "domain.verify"
    summary = "Verify TXT/CNAME records on every authoritative name server; explain what is wrong if not."
    Params = VerifyParams
    per_host = False

    def plan(self, ctx: TaskContext) -> Plan:
        p: VerifyParams = ctx.params

        def progress(w: WaitProgress) -> None:
            ctx.emit.progress(f"{w.present}/{w.total} present; next check in {w.next_delay:.0f} s", attempt=w.attempt)

        report = verify_domain(
            p.domain,
            p.records(),
            nameservers=_server_list(p.nameservers),
            parent=_server_list(p.parent_nameservers),
            resolvers=_server_list(p.resolvers),
            timeout=p.timeout,
            wait=0.0 if ctx.check else p.wait,
            on_wait=progress,
        )
        for finding in report.findings:
            ctx.emit.message(finding.message, kind=finding.kind)
        if not report.ok and ctx.check:
            # a dry run does not publish, so an earlier domain.publish step has not run: report, don't fail
            return Plan(data={"zone": report.zone, "now": report.summary(), "note": "dry run: checked once"})
        if not report.ok:
            reasons = " ".join(f.message for f in report.findings)
            raise OperationFailed(report.summary() + (f". {reasons}" if reasons else ""))
        return Plan(
            data={
                "zone": report.zone,
                "servers": len(report.servers),
                "records": len(report.records),
                "attempts": report.attempts,
                "summary": report.summary(),
            }
        )
