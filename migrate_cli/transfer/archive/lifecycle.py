"""S3 lifecycle rules owned by migrate-cli, merged into whatever else the bucket has.

A bucket has ONE lifecycle configuration (PutBucketLifecycleConfiguration replaces it whole), so this
module reads the current rules, replaces or adds only the rule it owns for a prefix (ID
`migrate-cli:archive:<prefix>`), keeps every other rule byte for byte, and writes the result back.
Applying the same rule twice changes nothing. Note: S3 has no conditional write for lifecycle rules, so
a change made by someone else between our read and our write would be lost; `verify_rules` reads back
and checks that every rule we kept is still there.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from migrate_cli.core.errors import ConfigError, OperationFailed
from migrate_cli.transfer.backup.s3util import S3Location, check_bucket, error_code, s3_errors

OWN_PREFIX = "migrate-cli:"
RULE_PREFIX = OWN_PREFIX + "archive:"
MAX_ID = 255
_RULE_KEYS = ("ID", "Status", "Filter", "Transitions", "Expiration")


@dataclass
class Lifecycle:
    """A bucket's lifecycle configuration as read (`exists` False: the bucket has none)."""

    rules: list[dict[str, Any]] = field(default_factory=list)
    min_size: str | None = None  # TransitionDefaultMinimumObjectSize, passed back unchanged
    exists: bool = False


def rule_id(prefix: str) -> str:
    """The ID of the rule migrate-cli owns for `prefix` (`*` for the whole bucket)."""
    rid = RULE_PREFIX + (prefix or "*")
    if len(rid) > MAX_ID:
        rid = RULE_PREFIX + "sha256:" + hashlib.sha256(prefix.encode()).hexdigest()
    return rid


def is_own(rule: dict[str, Any]) -> bool:
    return str(rule.get("ID", "")).startswith(OWN_PREFIX)


def build_rule(prefix: str, storage_class: str, after_days: int, expire_days: int | None) -> dict[str, Any]:
    """The lifecycle rule: objects under `prefix` move to `storage_class` after `after_days` days, and are
    deleted after `expire_days` days when given."""
    if after_days < 0:
        raise ConfigError(f"--after: days must be 0 or more, got {after_days}")
    if expire_days is not None and expire_days <= after_days:
        raise ConfigError(f"--expire: days ({expire_days}) must be more than --after ({after_days})")
    rule: dict[str, Any] = {
        "ID": rule_id(prefix),
        "Status": "Enabled",
        "Filter": {"Prefix": prefix},
        "Transitions": [{"Days": after_days, "StorageClass": storage_class}],
    }
    if expire_days is not None:
        rule["Expiration"] = {"Days": expire_days}
    return rule


def canonical(rule: dict[str, Any]) -> dict[str, Any]:
    """The parts of an owned rule that matter for idempotency (what S3 may add is ignored)."""
    return {k: rule[k] for k in _RULE_KEYS if rule.get(k) not in (None, [], {})}


def read_lifecycle(s3: Any, bucket: str) -> Lifecycle:
    try:
        check_bucket(s3, bucket)
        resp = s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    except ClientError as exc:
        if error_code(exc) == "NoSuchLifecycleConfiguration":
            return Lifecycle()
        with s3_errors(bucket):
            raise
    return Lifecycle(
        rules=list(resp.get("Rules", [])), min_size=resp.get("TransitionDefaultMinimumObjectSize"), exists=True
    )


def merge_rules(current: list[dict[str, Any]], rule: dict[str, Any] | None, remove_id: str | None = None) -> list:
    """`current` with `rule` put in place of the rule of the same ID (or appended); `remove_id` dropped.
    Every other rule is kept as it is, in its place."""
    out: list[dict[str, Any]] = []
    placed = False
    for existing in current:
        if remove_id is not None and existing.get("ID") == remove_id:
            continue
        if rule is not None and existing.get("ID") == rule["ID"]:
            out.append(rule)
            placed = True
        else:
            out.append(existing)
    if rule is not None and not placed:
        out.append(rule)
    return out


def same_rules(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    """Equal for our purposes: owned rules compared by `canonical`, others exactly."""

    def norm(rules: list[dict[str, Any]]) -> list[str]:
        return sorted(json.dumps(canonical(r) if is_own(r) else r, sort_keys=True, default=str) for r in rules)

    return norm(a) == norm(b)


def rules_diff(current: list[dict[str, Any]], proposed: list[dict[str, Any]], bucket: str) -> str:
    """A unified diff of the two rule lists (sorted by ID, JSON, one key per line)."""

    def lines(rules: list[dict[str, Any]]) -> list[str]:
        ordered = sorted(rules, key=lambda r: str(r.get("ID", "")))
        return json.dumps(ordered, indent=2, sort_keys=True, default=str).splitlines(keepends=True)

    return "".join(
        difflib.unified_diff(
            lines(current),
            lines(proposed),
            fromfile=f"s3://{bucket} lifecycle (current)",
            tofile=f"s3://{bucket} lifecycle (proposed)",
        )
    )


def _rule_prefix(rule: dict[str, Any]) -> str | None:
    filt = rule.get("Filter")
    if filt is None:
        return rule.get("Prefix")
    if "Prefix" in filt:
        return filt["Prefix"]
    if "And" in filt:
        return filt["And"].get("Prefix", "")
    return ""  # tag or size filters: may match anything


def overlapping(rules: list[dict[str, Any]], prefix: str) -> list[str]:
    """IDs of enabled rules we do not own whose prefix overlaps `prefix` (both may act on one object)."""
    out = []
    for rule in rules:
        if is_own(rule) or rule.get("Status") != "Enabled":
            continue
        other = _rule_prefix(rule)
        if other is None:
            continue
        if other.startswith(prefix) or prefix.startswith(other):
            out.append(str(rule.get("ID", "(no ID)")))
    return out


def risky_rules(rules: list[dict[str, Any]], prefix: str) -> list[str]:
    """Enabled rules (anyone's) that would delete objects under `prefix`, or move them to a class that
    needs a restore before reading: fatal for a backup store, whose objects many snapshots share."""
    out = []
    for rule in rules:
        if rule.get("Status") != "Enabled":
            continue
        other = _rule_prefix(rule)
        if other is None or not (other.startswith(prefix) or prefix.startswith(other)):
            continue
        archives = any(t.get("StorageClass") in ("GLACIER", "DEEP_ARCHIVE") for t in rule.get("Transitions", []))
        if archives or rule.get("Expiration"):
            out.append(str(rule.get("ID", "(no ID)")))
    return out


def write_lifecycle(s3: Any, bucket: str, rules: list[dict[str, Any]], min_size: str | None) -> None:
    """Write `rules` as the whole configuration (none: delete it)."""
    with s3_errors(bucket):
        if not rules:
            s3.delete_bucket_lifecycle(Bucket=bucket)
            return
        kwargs: dict[str, Any] = {"Bucket": bucket, "LifecycleConfiguration": {"Rules": rules}}
        if min_size:
            kwargs["TransitionDefaultMinimumObjectSize"] = min_size
        s3.put_bucket_lifecycle_configuration(**kwargs)


def verify_rules(s3: Any, bucket: str, expected: list[dict[str, Any]]) -> None:
    """Read the configuration back: it must hold exactly the `expected` rules."""
    now = read_lifecycle(s3, bucket)
    if not same_rules(now.rules, expected):
        want = {r.get("ID") for r in expected}
        have = {r.get("ID") for r in now.rules}
        raise OperationFailed(
            f"s3://{bucket} lifecycle did not take effect as written "
            f"(missing: {sorted(map(str, want - have)) or '-'}; unexpected: {sorted(map(str, have - want)) or '-'})"
        )


@dataclass
class RulePlan:
    """What `archive apply` would do to one bucket."""

    location: S3Location
    current: Lifecycle
    proposed: list[dict[str, Any]]
    rule: dict[str, Any] | None
    rule_id: str

    @property
    def changed(self) -> bool:
        return not same_rules(self.current.rules, self.proposed)

    @property
    def foreign(self) -> list[str]:
        return [str(r.get("ID", "(no ID)")) for r in self.current.rules if not is_own(r)]

    def action_word(self) -> str:
        ids = {r.get("ID") for r in self.current.rules}
        if self.rule is None:
            return "remove" if self.rule_id in ids else "nothing to remove"
        return "change" if self.rule_id in ids else "add"


def plan_rule(s3: Any, location: S3Location, rule: dict[str, Any] | None, remove: bool = False) -> RulePlan:
    """Read the bucket's rules and merge `rule` (or remove our rule for the prefix when `remove`)."""
    rid = rule["ID"] if rule is not None else rule_id(location.prefix)
    current = read_lifecycle(s3, location.bucket)
    proposed = merge_rules(current.rules, None if remove else rule, remove_id=rid if remove else None)
    return RulePlan(location=location, current=current, proposed=proposed, rule=None if remove else rule, rule_id=rid)


def describe_rule(rule: dict[str, Any]) -> str:
    """`logs/ -> GLACIER after 30 days, expire after 365 days`."""
    prefix = _rule_prefix(rule) or "(whole bucket)"
    parts = [f"{t['StorageClass']} after {t['Days']} days" for t in rule.get("Transitions", [])]
    if "Expiration" in rule and "Days" in rule["Expiration"]:
        parts.append(f"expire after {rule['Expiration']['Days']} days")
    return f"{prefix} -> " + ", ".join(parts)
