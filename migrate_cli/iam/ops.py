"""One IAM change as data: the API call apply will make, and the line plan prints for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CREATE_ACCESS_KEY = "create_access_key"


@dataclass(frozen=True)
class Op:
    """An IAM client call. `disruptive`: it replaces or removes permissions something may be using."""

    principal: str  # "role/NAME", "policy/NAME", "user/NAME", "instance-profile/NAME"
    text: str
    call: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    disruptive: bool = False
    new_principal_retry: bool = False  # a trust policy that may name a principal created in this run

    def line(self) -> str:
        return f"{self.principal}: {self.text}"

    def to_dict(self) -> dict[str, Any]:
        return {"principal": self.principal, "change": self.text, "call": self.call, "disruptive": self.disruptive}


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def missing_tags(current: dict[str, str], desired: dict[str, str]) -> dict[str, str]:
    """Desired tags absent or different now (tags someone else added are left alone)."""
    return {k: v for k, v in desired.items() if current.get(k) != v}
