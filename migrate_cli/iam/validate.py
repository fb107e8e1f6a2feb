"""Lint every generated policy before it is shown or sent: real actions, no wildcards, resources that fit.

Checks, each an error naming the document and statement:
- every action is `service:Name` where the service is a botocore service (its IAM prefix is the model's
  endpoint prefix, e.g. `states` for `stepfunctions`) and the name is one of its operations, or one of the
  few IAM actions that are not operation names (`IAM_ONLY_ACTIONS`, e.g. `s3:ListBucket`);
- every action has an entry in the authorization reference (`reference.py`);
- no wildcard in an action; no `"*"` resource unless every action of the statement has no resource-level
  permissions (then `"*"` is required, and those actions may not share a statement with scoped ones);
- no wildcard in an ARN's partition, service, region or account; each resource fits a resource type of at
  least one action of its statement, and each action has a resource it fits;
- condition keys are global (`aws:...`) or supported by every action of the statement;
- trust policies allow only `sts:AssumeRole` to named principals (no `"*"` principal);
- the size quotas (managed policy 6,144 characters, trust and inline user policy 2,048).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import boto3

from migrate_cli.iam import documents
from migrate_cli.iam.reference import lookup, matching_types

# IAM prefix -> botocore service name, where they differ
SERVICE_ALIASES = {"states": "stepfunctions"}

# IAM actions that authorize operations under another name (the operations they cover, for the reader)
IAM_ONLY_ACTIONS: dict[str, dict[str, str]] = {
    "s3": {
        "ListBucket": "ListObjects, ListObjectsV2, HeadBucket",
        "ListBucketMultipartUploads": "ListMultipartUploads",
        "ListMultipartUploadParts": "ListParts",
    },
}

MANAGED_POLICY_MAX = 6144
TRUST_POLICY_MAX = 2048
INLINE_USER_POLICY_MAX = 2048


@dataclass(frozen=True)
class Problem:
    document: str
    message: str

    def __str__(self) -> str:
        return f"{self.document}: {self.message}"


@cache
def _available_services() -> frozenset[str]:
    return frozenset(boto3.session.Session().get_available_services())


@cache
def service_operations(prefix: str) -> frozenset[str] | None:
    """Operation names of the botocore service whose IAM prefix is `prefix`; None when there is none."""
    name = SERVICE_ALIASES.get(prefix, prefix)
    if name not in _available_services():
        return None
    loader = boto3.session.Session()._session.get_component("data_loader")
    model = loader.load_service_model(name, "service-2")
    metadata = model.get("metadata", {})
    if prefix not in (metadata.get("signingName"), metadata.get("endpointPrefix"), name):
        return None
    return frozenset(model.get("operations", {}))


def action_exists(action: str) -> bool:
    """True when `service:Name` is a real IAM action by botocore's models (plus IAM_ONLY_ACTIONS)."""
    prefix, sep, name = action.partition(":")
    if not sep or not name:
        return False
    operations = service_operations(prefix.lower())
    if operations is None:
        return False
    return name in operations or name in IAM_ONLY_ACTIONS.get(prefix.lower(), {})


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in (value if isinstance(value, list | tuple) else [value])]


def _arn_fields_problem(resource: str) -> str | None:
    parts = resource.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return f"resource {resource!r} is not an ARN"
    for name, value in zip(("partition", "service", "region", "account"), parts[1:5], strict=True):
        if "*" in value or "?" in value:
            return f"resource {resource!r}: no wildcard allowed in the {name}"
    return None


def check_permissions(label: str, document: Mapping[str, Any], max_size: int = MANAGED_POLICY_MAX) -> list[Problem]:
    """Problems with an identity policy (managed or inline); [] when it passes."""
    problems: list[Problem] = []

    def bad(where: str, message: str) -> None:
        problems.append(Problem(label, f"{where}: {message}"))

    doc = documents.canonical(document) or {}
    if doc.get("Version") != documents.VERSION:
        bad("Version", f"must be {documents.VERSION}")
    statements = doc.get("Statement") or []
    if not statements:
        bad("Statement", "no statements")
    for index, st in enumerate(statements):
        where = f"statement {st.get('Sid') or index}"
        if st.get("Effect") not in ("Allow", "Deny"):
            bad(where, "Effect must be Allow or Deny")
        for key in ("NotAction", "NotResource", "Principal", "NotPrincipal"):
            if key in st:
                bad(where, f"{key} is not used in migrate-cli identity policies")
        actions = _listed(st.get("Action"))
        resources = _listed(st.get("Resource"))
        if not actions:
            bad(where, "no Action")
        if not resources:
            bad(where, "no Resource")
        refs = {}
        for action in actions:
            if "*" in action or "?" in action:
                bad(where, f"wildcard action {action!r}")
                continue
            if not action_exists(action):
                bad(where, f"{action!r} is not an action of any botocore service model")
                continue
            ref = lookup(action)
            if ref is None:
                bad(where, f"{action!r} has no entry in migrate_cli/iam/reference.py (look up its resource types)")
                continue
            refs[action] = ref
        unscoped = [a for a, r in refs.items() if not r.scopable]
        scoped = [a for a, r in refs.items() if r.scopable]
        if unscoped and scoped:
            bad(where, f"mixes actions without resource-level permissions ({', '.join(unscoped)}) with scoped ones")
        if "*" in resources:
            if scoped or len(resources) > 1:
                bad(where, f"'*' resource for actions that can be scoped: {', '.join(scoped) or 'mixed resources'}")
        elif unscoped:
            bad(where, f"{', '.join(unscoped)} only match Resource '*' (no resource-level permissions)")
        else:
            for resource in resources:
                problem = _arn_fields_problem(resource)
                if problem:
                    bad(where, problem)
                elif not any(matching_types(refs[a], resource) for a in scoped):
                    bad(where, f"resource {resource!r} fits none of the statement's actions")
            for action in scoped:
                if not any(matching_types(refs[action], r) for r in resources):
                    bad(where, f"{action} has no resource of a type it supports ({', '.join(refs[action].resources)})")
        for keys in (st.get("Condition") or {}).values():
            for key in keys:
                if key.lower().startswith("aws:"):
                    continue
                missing = [a for a, r in refs.items() if key not in r.conditions]
                if missing:
                    bad(where, f"condition key {key!r} is not supported by {', '.join(missing)}")
    if documents.size(document) > max_size:
        bad("size", f"{documents.size(document)} characters, over IAM's {max_size}")
    return problems


def check_trust(label: str, document: Mapping[str, Any]) -> list[Problem]:
    """Problems with a role trust policy: sts:AssumeRole for named principals only."""
    problems: list[Problem] = []
    doc = documents.canonical(document) or {}
    statements = doc.get("Statement") or []
    if not statements:
        problems.append(Problem(label, "no statements"))
    for index, st in enumerate(statements):
        where = f"statement {st.get('Sid') or index}"
        if _listed(st.get("Action")) != ["sts:AssumeRole"]:
            problems.append(Problem(label, f"{where}: a trust policy here allows only sts:AssumeRole"))
        principal = st.get("Principal")
        if not isinstance(principal, Mapping) or not principal:
            problems.append(Problem(label, f"{where}: Principal must name services or AWS principals"))
            continue
        for kind, values in principal.items():
            if kind not in ("AWS", "Service"):
                problems.append(Problem(label, f"{where}: principal type {kind!r} is not used here"))
            for value in _listed(values):
                if "*" in value or "?" in value:
                    problems.append(Problem(label, f"{where}: wildcard principal {value!r}"))
    if documents.size(document) > TRUST_POLICY_MAX:
        problems.append(Problem(label, f"{documents.size(document)} characters, over IAM's {TRUST_POLICY_MAX}"))
    return problems


def unscoped_exceptions(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(action, reason) for every action granted on `"*"` in a document: the documented exceptions."""
    out = []
    for st in (documents.canonical(document) or {}).get("Statement", []):
        if _listed(st.get("Resource")) == ["*"]:
            for action in _listed(st.get("Action")):
                ref = lookup(action)
                out.append((action, ref.unscoped_reason if ref else "not in the reference"))
    return out


def all_problems(items: Iterable[tuple[str, str, Mapping[str, Any]]]) -> list[Problem]:
    """Check (label, kind, document) triples; kind is 'managed', 'inline' or 'trust'."""
    problems: list[Problem] = []
    for label, kind, document in items:
        if kind == "trust":
            problems.extend(check_trust(label, document))
        else:
            limit = MANAGED_POLICY_MAX if kind == "managed" else INLINE_USER_POLICY_MAX
            problems.extend(check_permissions(label, document, limit))
    return problems
