"""Publish verification records in Route 53: UPSERT into the hosted zone found by name, keeping the other
values already at that name; wait until the change is INSYNC. Publishing what is already there changes
nothing (idempotent)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from migrate_cli.aws.session import client
from migrate_cli.core.errors import ConfigError, OperationFailed
from migrate_cli.dns.names import Expected, short
from migrate_cli.dns.route53 import find_hosted_zone, logical_values, record_value, route53_call, rrsets_at
from migrate_cli.dns.verify import backoff

PROVIDERS = ("route53",)
DEFAULT_TTL = 300
INSYNC_TIMEOUT = 300.0


@dataclass
class RecordChange:
    """One record set before and after publishing; `previous` is Route 53's copy, kept for rollback."""

    name: str
    rtype: str
    ttl: int
    before: list[str]
    after: list[str]
    previous: dict[str, Any] | None = None
    old_ttl: int | None = None

    @property
    def changed(self) -> bool:
        return self.before != self.after or (self.old_ttl is not None and self.old_ttl != self.ttl)

    def describe(self) -> str:
        shown = self.name.rstrip(".")
        quote = (lambda v: f'"{short(v)}"') if self.rtype == "TXT" else (lambda v: v.rstrip("."))
        added = [quote(v) for v in self.after if v not in self.before]
        if not self.changed:
            return f"{self.rtype} {shown} already has {', '.join(quote(v) for v in self.after)}: nothing to do"
        if self.before == self.after:
            return f"UPSERT {self.rtype} {shown}: TTL {self.old_ttl} -> {self.ttl}"
        if self.rtype == "CNAME" and self.before:
            return f"UPSERT CNAME {shown}: {quote(self.before[0])} -> {quote(self.after[0])}"
        kept = len([v for v in self.before if v in self.after])
        keep = f" (keeping {kept} other value{'s' if kept != 1 else ''})" if kept else ""
        return f"UPSERT {self.rtype} {shown}: add {', '.join(added)}{keep}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.rtype,
            "ttl": self.ttl,
            "old_ttl": self.old_ttl,
            "before": self.before,
            "after": self.after,
            "changed": self.changed,
        }


@dataclass
class PublishPlan:
    provider: str
    domain: str
    zone_id: str
    zone: str
    changes: list[RecordChange] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(c.changed for c in self.changes)

    def lines(self) -> list[str]:
        return [c.describe() for c in self.changes]

    def to_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "domain": self.domain,
            "zone_id": self.zone_id,
            "zone": self.zone,
            "changed": self.changed,
            "changes": [c.to_dict() for c in self.changes],
        }


def _grouped(records: list[Expected]) -> dict[tuple[str, str], list[str]]:
    groups: dict[tuple[str, str], list[str]] = {}
    for rec in records:
        values = groups.setdefault((rec.name, rec.rtype), [])
        if rec.value not in values:
            values.append(rec.value)
    return groups


class Route53Publisher:
    """Plans and applies record changes in one Route 53 hosted zone."""

    def __init__(self, r53: Any | None = None) -> None:
        self.r53 = r53 if r53 is not None else client("route53")

    def plan(
        self, domain: str, records: list[Expected], *, ttl: int | None = None, zone_id: str | None = None
    ) -> PublishPlan:
        """Read the zone and work out the UPSERTs; raises OperationFailed for conflicts (e.g. a CNAME)."""
        if ttl is not None and not 0 <= ttl <= 2147483647:
            raise ConfigError(f"--ttl {ttl}: must be 0-2147483647")
        zid, zone = find_hosted_zone(self.r53, domain, zone_id)
        plan = PublishPlan("route53", domain, zid, zone)
        for (name, rtype), values in _grouped(records).items():
            if name != zone and not name.endswith("." + zone):
                raise OperationFailed(f"{name.rstrip('.')} is not in the hosted zone {zone.rstrip('.')} ({zid})")
            existing = rrsets_at(self.r53, zid, name)
            _check_conflicts(name, rtype, zone, existing)
            current = existing.get(rtype)
            before = logical_values(current) if current else []
            if rtype == "CNAME":
                after = list(values[-1:])
                if before and before[0].rstrip(".").lower() == after[0].rstrip(".").lower():
                    after = before
            else:
                after = before + [v for v in values if v not in before]
            old_ttl = int(current.get("TTL", DEFAULT_TTL)) if current else None
            new_ttl = ttl if ttl is not None else (old_ttl if old_ttl is not None else DEFAULT_TTL)
            plan.changes.append(RecordChange(name, rtype, new_ttl, before, after, current, old_ttl))
        return plan

    def apply(
        self, plan: PublishPlan, *, wait_timeout: float = INSYNC_TIMEOUT, sleep: Callable[[float], None] = time.sleep
    ) -> dict[str, Any]:
        """UPSERT every changed record set in one change batch, then wait for INSYNC."""
        todo = [c for c in plan.changes if c.changed]
        if not todo:
            return {"change_id": None, "status": "unchanged", "waited_s": 0.0}
        batch = [
            {
                "Action": "UPSERT",
                "ResourceRecordSet": {
                    "Name": c.name,
                    "Type": c.rtype,
                    "TTL": c.ttl,
                    "ResourceRecords": [{"Value": record_value(c.rtype, v)} for v in c.after],
                },
            }
            for c in todo
        ]
        resp = route53_call(
            self.r53.change_resource_record_sets,
            HostedZoneId=plan.zone_id,
            ChangeBatch={"Comment": "migrate domain publish", "Changes": batch},
        )
        return self.wait_insync(resp["ChangeInfo"], wait_timeout, sleep)

    def wait_insync(
        self, info: dict[str, Any], timeout: float = INSYNC_TIMEOUT, sleep: Callable[[float], None] = time.sleep
    ) -> dict[str, Any]:
        """Poll GetChange until the change is INSYNC; OperationFailed after `timeout` seconds."""
        start = time.monotonic()
        change_id, status = info["Id"], info["Status"]
        delays = backoff(first=0.5, cap=10.0)
        while status != "INSYNC":
            remaining = timeout - (time.monotonic() - start)
            if remaining <= 0:
                raise OperationFailed(f"Route 53 change {change_id} is still {status} after {timeout:g} s")
            sleep(min(next(delays), remaining))
            status = route53_call(self.r53.get_change, Id=change_id)["ChangeInfo"]["Status"]
        return {"change_id": change_id, "status": status, "waited_s": round(time.monotonic() - start, 3)}

    def restore(self, plan: PublishPlan, *, wait_timeout: float = INSYNC_TIMEOUT) -> str:
        """Undo an applied plan: put back each record set as it was (or delete the ones it created)."""
        batch = []
        for c in plan.changes:
            if not c.changed:
                continue
            if c.previous is None:
                written = {
                    "Name": c.name,
                    "Type": c.rtype,
                    "TTL": c.ttl,
                    "ResourceRecords": [{"Value": record_value(c.rtype, v)} for v in c.after],
                }
                batch.append({"Action": "DELETE", "ResourceRecordSet": written})
            else:
                batch.append({"Action": "UPSERT", "ResourceRecordSet": c.previous})
        if not batch:
            return "nothing to roll back"
        resp = route53_call(
            self.r53.change_resource_record_sets,
            HostedZoneId=plan.zone_id,
            ChangeBatch={"Comment": "migrate domain publish: rollback", "Changes": batch},
        )
        self.wait_insync(resp["ChangeInfo"], wait_timeout)
        return f"restored {len(batch)} record set(s) in {plan.zone.rstrip('.')}"


def _check_conflicts(name: str, rtype: str, zone: str, existing: dict[str, dict[str, Any]]) -> None:
    shown = name.rstrip(".")
    if rtype != "CNAME" and "CNAME" in existing:
        target = logical_values(existing["CNAME"])[0].rstrip(".")
        raise OperationFailed(
            f"cannot add {rtype} at {shown}: it is a CNAME to {target}, and a name with a CNAME has no other "
            "records; remove the CNAME first (or publish at the CNAME's target)"
        )
    if rtype == "CNAME":
        if name == zone:
            raise OperationFailed(f"cannot put a CNAME at the zone apex {shown}")
        others = sorted(t for t in existing if t != "CNAME")
        if others:
            raise OperationFailed(f"cannot add a CNAME at {shown}: it already has {', '.join(others)} records")


def check_provider(provider: str) -> str:
    if provider not in PROVIDERS:
        raise ConfigError(f"--provider '{provider}': only {', '.join(PROVIDERS)} is supported")
    return provider
