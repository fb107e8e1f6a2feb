"""Policy documents as data: a canonical form (so equal policies compare equal), JSON text, unified diffs.

IAM keeps a document as it was written, but `"Action": "s3:GetObject"` and `"Action": ["s3:GetObject"]`
mean the same, and so do differently ordered action lists. Comparing canonical forms avoids phantom
diffs on documents someone else wrote (or that IAM returns re-encoded); statement order is kept.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any

VERSION = "2012-10-17"
_LIST_KEYS = ("Action", "NotAction", "Resource", "NotResource")
_KEY_ORDER = ("Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource")


def _as_sorted_list(value: Any) -> list[Any]:
    items = value if isinstance(value, list | tuple) else [value]
    return sorted(dict.fromkeys(str(v) for v in items))


def _principal(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _as_sorted_list(v) for k, v in sorted(value.items())}
    return value  # "*"


def _condition(value: Mapping[str, Any]) -> dict[str, Any]:
    return {
        str(op): {str(key): _as_sorted_list(v) for key, v in sorted(keys.items())} for op, keys in sorted(value.items())
    }


def canonical_statement(statement: Mapping[str, Any]) -> dict[str, Any]:
    """One statement with list values sorted and keys in a fixed order (unknown keys kept, at the end)."""
    out: dict[str, Any] = {}
    for key in _KEY_ORDER:
        if key not in statement:
            continue
        value = statement[key]
        if key in _LIST_KEYS:
            out[key] = _as_sorted_list(value)
        elif key in ("Principal", "NotPrincipal"):
            out[key] = _principal(value)
        else:
            out[key] = value
    if "Condition" in statement:
        out["Condition"] = _condition(statement["Condition"])
    for key, value in statement.items():
        if key not in out:
            out[key] = value
    return out


def canonical(document: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The canonical form of a policy document (None stays None)."""
    if document is None:
        return None
    statements = document.get("Statement", [])
    if isinstance(statements, Mapping):
        statements = [statements]
    out: dict[str, Any] = {"Version": document.get("Version", VERSION)}
    if "Id" in document:
        out["Id"] = document["Id"]
    out["Statement"] = [canonical_statement(s) for s in statements]
    return out


def same(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    return canonical(a) == canonical(b)


def pretty(document: Mapping[str, Any] | None) -> str:
    """Indented JSON of the canonical form ('' for None)."""
    return "" if document is None else json.dumps(canonical(document), indent=2)


def compact(document: Mapping[str, Any]) -> str:
    """The JSON sent to IAM: canonical, no insignificant whitespace."""
    return json.dumps(canonical(document), separators=(",", ":"))


def size(document: Mapping[str, Any]) -> int:
    """Characters IAM counts against its size quotas (whitespace outside strings is not counted)."""
    return len(compact(document))


def unified_diff(label: str, current: Mapping[str, Any] | None, desired: Mapping[str, Any] | None) -> str:
    """A unified diff of two policy documents' canonical JSON; '' when they are the same."""
    if same(current, desired):
        return ""
    return _diff(label, current, desired, pretty(current), pretty(desired))


def json_diff(label: str, current: Any, desired: Any) -> str:
    """A unified diff of any two JSON values (None = does not exist); '' when equal."""
    if current == desired:
        return ""
    dump = lambda v: "" if v is None else json.dumps(v, indent=2)  # noqa: E731
    return _diff(label, current, desired, dump(current), dump(desired))


def _diff(label: str, current: Any, desired: Any, before_text: str, after_text: str) -> str:
    before = before_text.splitlines() if current is not None else []
    after = after_text.splitlines() if desired is not None else []
    lines = difflib.unified_diff(
        before,
        after,
        fromfile=f"a/{label}" if current is not None else "/dev/null",
        tofile=f"b/{label}" if desired is not None else "/dev/null",
        lineterm="",
        n=3,
    )
    return "\n".join(lines) + "\n"
