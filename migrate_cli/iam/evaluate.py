"""A small local IAM policy evaluator: is this request allowed by these documents?

It stands in for IAM's SimulatePrincipalPolicy / SimulateCustomPolicy, which the local AWS endpoint
(moto) does not implement, so tests can show that the generated policies allow what the migration needs
and deny what it does not. It covers what migrate-cli's documents use, and fails loudly on anything else:

- Effect Allow/Deny; an explicit Deny wins, no matching Allow is an implicit deny;
- Action/NotAction (case-insensitive, `*` and `?` wildcards), Resource/NotResource (case-sensitive);
- Principal (trust policies): `*`, `{"AWS": ...}` (an account id or `...:root` stands for every principal
  of that account) and `{"Service": ...}`;
- Condition operators String(Not)Equals, String(Not)Like, StringEqualsIgnoreCase, Arn(Not)Equals,
  Arn(Not)Like, Bool, each with the `IfExists` suffix; keys AND-ed, values OR-ed; a key missing from the
  request fails a positive operator and satisfies a negated one.

Not covered (raise ValueError): other operators, ForAnyValue/ForAllValues, policy variables,
permissions boundaries, SCPs, session policies, resource-based policies.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any


class Decision(StrEnum):
    ALLOWED = "allowed"
    EXPLICIT_DENY = "explicitDeny"
    IMPLICIT_DENY = "implicitDeny"


@dataclass(frozen=True)
class Request:
    action: str
    resource: str = "*"
    context: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    principal: Mapping[str, str] | None = None  # {"AWS": arn} or {"Service": name}, for trust policies


@dataclass(frozen=True)
class Result:
    decision: Decision
    statements: tuple[str, ...] = ()  # Sids (or indexes) of the statements that decided

    @property
    def allowed(self) -> bool:
        return self.decision == Decision.ALLOWED


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in (value if isinstance(value, list | tuple) else [value])]


@cache
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def glob_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def _matches_any(patterns: Iterable[str], value: str, ignore_case: bool) -> bool:
    return any(glob_match(p, value, ignore_case) for p in patterns)


def _account_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[0] == "arn" else None


def _principal_matches(spec: Any, principal: Mapping[str, str] | None) -> bool:
    if principal is None:
        raise ValueError("a statement with Principal needs a request principal (a trust policy)")
    if spec == "*":
        return True
    if not isinstance(spec, Mapping):
        raise ValueError(f"unsupported Principal {spec!r}")
    for kind, values in spec.items():
        if kind not in ("AWS", "Service"):
            raise ValueError(f"unsupported principal type {kind!r}")
        asked = principal.get(kind)
        if asked is None:
            continue
        for value in _listed(values):
            if value == "*" or value == asked:
                return True
            if kind == "AWS":
                root = re.fullmatch(r"(?:arn:[^:]+:iam::)?(\d{12})(?::root)?", value)
                if root and _account_of(asked) == root.group(1):
                    return True
    return False


_STRING_OPS = {
    "StringEquals": (lambda p, v: p == v, False),
    "StringNotEquals": (lambda p, v: p == v, True),
    "StringEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), True),
    "StringLike": (lambda p, v: glob_match(p, v), False),
    "StringNotLike": (lambda p, v: glob_match(p, v), True),
    "ArnEquals": (lambda p, v: p == v, False),
    "ArnNotEquals": (lambda p, v: p == v, True),
    "ArnLike": (lambda p, v: glob_match(p, v), False),
    "ArnNotLike": (lambda p, v: glob_match(p, v), True),
    "Bool": (lambda p, v: p.lower() == v.lower(), False),
}


def _condition_holds(condition: Mapping[str, Mapping[str, Any]], context: Mapping[str, Any]) -> bool:
    lowered = {k.lower(): v for k, v in context.items()}
    for operator, keys in condition.items():
        if ":" in operator:
            raise ValueError(f"unsupported set operator {operator!r}")
        if_exists = operator.endswith("IfExists")
        base = operator.removesuffix("IfExists")
        if base not in _STRING_OPS:
            raise ValueError(f"unsupported condition operator {operator!r}")
        compare, negated = _STRING_OPS[base]
        for key, wanted in keys.items():
            present = lowered.get(key.lower())
            if present is None:
                if if_exists or negated:
                    continue
                return False
            values = _listed(present)
            hit = any(compare(p, v) for p in _listed(wanted) for v in values)
            if hit == negated:
                return False
    return True


def _statement_applies(st: Mapping[str, Any], request: Request) -> bool:
    if "Principal" in st and not _principal_matches(st["Principal"], request.principal):
        return False
    if "NotPrincipal" in st:
        raise ValueError("NotPrincipal is not supported")
    if "Action" in st:
        if not _matches_any(_listed(st["Action"]), request.action, ignore_case=True):
            return False
    elif "NotAction" in st:
        if _matches_any(_listed(st["NotAction"]), request.action, ignore_case=True):
            return False
    else:
        raise ValueError("a statement needs Action or NotAction")
    if "Resource" in st:
        if not _matches_any(_listed(st["Resource"]), request.resource, ignore_case=False):
            return False
    elif "NotResource" in st:
        if _matches_any(_listed(st["NotResource"]), request.resource, ignore_case=False):
            return False
    elif "Principal" not in st:  # trust policies have no Resource
        raise ValueError("a statement needs Resource or NotResource")
    return _condition_holds(st.get("Condition") or {}, request.context)


def evaluate(documents: Iterable[Mapping[str, Any]], request: Request) -> Result:
    """The decision IAM's policy logic gives `request` under `documents` (identity or trust policies)."""
    allows: list[str] = []
    denies: list[str] = []
    for doc in documents:
        statements = doc.get("Statement", [])
        if isinstance(statements, Mapping):
            statements = [statements]
        for index, st in enumerate(statements):
            effect = st.get("Effect")
            if effect not in ("Allow", "Deny"):
                raise ValueError(f"statement {index}: Effect must be Allow or Deny")
            if _statement_applies(st, request):
                (allows if effect == "Allow" else denies).append(str(st.get("Sid", index)))
    if denies:
        return Result(Decision.EXPLICIT_DENY, tuple(denies))
    if allows:
        return Result(Decision.ALLOWED, tuple(allows))
    return Result(Decision.IMPLICIT_DENY)
