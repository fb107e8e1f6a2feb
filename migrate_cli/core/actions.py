"""The action contract (plan -> apply -> verify -> rollback) and the registry playbooks look actions up in."""

from __future__ import annotations

import difflib
import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from migrate_cli.core.events import Emitter
from migrate_cli.core.inventory import Host, Inventory
from migrate_cli.core.settings import Settings


class ActionParams(BaseModel):
    """Base for an action's `with:` parameters: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class Plan:
    """What an action would do on one host. In check mode this is the whole result.

    `changes` are one-line descriptions; `diff` is a unified or remediation diff; `data` are facts read
    while planning (shown in the result and the report); `state` is private to the action's apply.
    """

    changes: list[str] = field(default_factory=list)
    diff: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    state: Any = None

    @property
    def changed(self) -> bool:
        return bool(self.changes or self.diff)


@dataclass
class TaskContext:
    """Everything one action invocation sees."""

    run_id: str
    host: Host | None
    params: Any
    check: bool
    settings: Settings
    inventory: Inventory
    emit: Emitter


class Action(ABC):
    """One kind of work a playbook step can do. One instance serves one step, for all its hosts."""

    name: ClassVar[str]
    summary: ClassVar[str]
    Params: ClassVar[type[ActionParams]]
    per_host: ClassVar[bool] = True
    # A disruptive action always asks for confirmation (or --yes), whatever the playbook step says.
    disruptive: ClassVar[bool] = False
    # A read-only action never applies anything: in a real run its plan (diff included) is reported as
    # found, not as a change; in check mode it shows what would change like any other.
    read_only: ClassVar[bool] = False

    @abstractmethod
    def plan(self, ctx: TaskContext) -> Plan:
        """Read current state and return what apply would do. Must not change anything."""

    def apply(self, ctx: TaskContext, plan: Plan) -> dict[str, Any]:
        """Make the planned change; called only when `plan.changed`. Returns result data."""
        return {}

    def verify(self, ctx: TaskContext, plan: Plan, applied: dict[str, Any]) -> None:
        """Raise OperationFailed when the change did not take effect. Default: apply is its own proof."""
        return None

    def rollback(self, ctx: TaskContext, plan: Plan, applied: dict[str, Any]) -> str:
        """Undo an applied change; return a one-line description. Default: nothing to undo."""
        return "nothing to roll back"


# name -> "module:Class"; modules are imported only when a playbook uses the action (fast --help).
BUILTIN_ACTIONS: dict[str, str] = {
    "network.facts": "migrate_cli.network.facts:NetworkFactsAction",
    "network.plan": "migrate_cli.network.actions:NetworkPlanAction",
    "network.push": "migrate_cli.network.actions:NetworkPushAction",
    "network.verify": "migrate_cli.network.actions:NetworkVerifyAction",
    "network.rollback": "migrate_cli.network.actions:NetworkRollbackAction",
    "aws.identity": "migrate_cli.aws.actions:AwsIdentityAction",
    "dns.resolve": "migrate_cli.dns.actions:DnsResolveAction",
    "aws.check": "migrate_cli.aws.actions:AwsCheckAction",
    "domain.publish": "migrate_cli.dns.domain_actions:DomainPublishAction",
    "domain.verify": "migrate_cli.dns.domain_actions:DomainVerifyAction",
    "failover.check": "migrate_cli.failover.actions:FailoverCheckAction",
    "failover.drill": "migrate_cli.failover.actions:FailoverDrillAction",
    "data.copy": "migrate_cli.transfer.actions:DataCopyAction",
    "data.backup": "migrate_cli.transfer.backup_actions:BackupAction",
    "data.archive": "migrate_cli.transfer.backup_actions:ArchiveRuleAction",
    "iam.apply": "migrate_cli.iam.action:IamApplyAction",
}
_loaded: dict[str, type[Action]] = {}


def register_action(cls: type[Action]) -> type[Action]:
    """Register an action class under its `name` (plugins and tests); usable as a decorator."""
    _loaded[cls.name] = cls
    return cls


def action_names() -> list[str]:
    return sorted(set(BUILTIN_ACTIONS) | set(_loaded))


def get_action(name: str) -> type[Action]:
    """The action class registered as `name`; KeyError with a suggestion when unknown."""
    if name in _loaded:
        return _loaded[name]
    target = BUILTIN_ACTIONS.get(name)
    if target is None:
        close = difflib.get_close_matches(name, action_names(), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise KeyError(f"unknown action '{name}'{hint}; known: {', '.join(action_names())}")
    module_name, _, attr = target.partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    _loaded[name] = cls
    return cls
