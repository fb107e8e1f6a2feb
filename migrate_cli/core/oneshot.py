"""One action as a playbook built in code: what a command like `migrate network push` or `migrate backup run`
does, so that it is validated, confirmed, locked, journalled and reported exactly like `migrate run`
(DESIGN.md: a single CLI command is a one-step playbook).

`batches` splits the hosts into consecutive steps of the same action (a canary batch first): the run stops
after the first step that fails, so the later batches are not touched.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from migrate_cli.core.actions import Action, ActionParams, Plan, get_action
from migrate_cli.core.errors import EXIT_FAILED, EXIT_OK, EXIT_REFUSED, ConfigError, ConfigErrors, MigrateError
from migrate_cli.core.events import EventBus, Sink
from migrate_cli.core.inventory import Inventory, load_inventory
from migrate_cli.core.journal import Journal
from migrate_cli.core.lock import StateLock
from migrate_cli.core.playbook import Playbook, Step
from migrate_cli.core.runner import Confirm, HostOutcome, PlaybookRunner, RunOptions, RunResult
from migrate_cli.core.settings import Settings


def one_step_playbook(
    action_cls: type[Action],
    params: ActionParams,
    *,
    title: str,
    step_name: str | None = None,
    disruptive: bool = False,
    batches: Sequence[Sequence[str]] | None = None,
    source: str | Path | None = None,
) -> Playbook:
    """A playbook of one action; one step per batch of host names (all selected hosts when None)."""
    groups: list[Sequence[str] | None] = list(batches) if batches else [None]
    steps = []
    for index, hosts in enumerate(groups):
        label = step_name or action_cls.summary
        if batches and len(groups) > 1:
            label = f"{label} ({'canary' if index == 0 else 'remaining'}: {len(hosts or [])} host(s))"
        steps.append(
            Step(
                index=index,
                name=label,
                action=action_cls.name,
                action_cls=action_cls,
                params=params,
                hosts=",".join(hosts) if hosts is not None else None,
                tags=frozenset(),
                disruptive=disruptive or action_cls.disruptive,
                on_failure="stop",
                line=0,
            )
        )
    body = json.dumps(params.model_dump(mode="json"), sort_keys=True, default=str).encode()
    return Playbook(
        path=Path(source or f"<{action_cls.name}>"),
        name=title,
        vars={},
        steps=tuple(steps),
        sha256=hashlib.sha256(body).hexdigest(),
    )


def build_playbook(
    name: str,
    action: str,
    params: dict[str, Any],
    *,
    step_name: str | None = None,
    disruptive: bool = False,
    batches: Sequence[Sequence[str]] | None = None,
    source: str = "",
) -> Playbook:
    """`one_step_playbook` for an action named in the registry, with raw parameters (validated here)."""
    action_cls = get_action(action)
    try:
        validated = action_cls.Params.model_validate(params)
    except ValidationError as exc:
        errors = [ConfigError(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}") for e in exc.errors()]
        raise ConfigErrors(errors) from None
    return one_step_playbook(
        action_cls,
        validated,
        title=name,
        step_name=step_name,
        disruptive=disruptive,
        batches=batches,
        source=source or None,
    )


def run_playbook(
    settings: Settings,
    playbook: Playbook,
    options: RunOptions,
    sinks: Iterable[Sink] = (),
    inventory: Inventory | None = None,
    lock_name: str | None = "run",
    run_id: str | None = None,
) -> RunResult:
    """Check safety, take the state lock (not in check mode; none when `lock_name` is None), run, and
    journal every event."""
    if inventory is None:
        inventory = load_inventory(settings.inventory_dir)
    journal = Journal.in_state_dir(settings.state_dir)
    try:
        runner = PlaybookRunner(settings, inventory, EventBus(), journal)
        runner.bus.subscribe(journal)  # run() checks safety before its first event: a refusal journals nothing
        for sink in sinks:
            runner.bus.subscribe(sink)
        lock = nullcontext() if options.check or lock_name is None else StateLock(settings.state_dir, lock_name)
        with lock:
            return runner.run(playbook, options, run_id=run_id)
    finally:
        journal.close()


@dataclass
class OneStepRun:
    """The run of one action, with what a command renders: its host outcome, plan, apply data and error."""

    result: RunResult

    @property
    def host(self) -> HostOutcome | None:
        steps = self.result.steps
        return steps[0].hosts[0] if steps and steps[0].hosts else None

    @property
    def plan(self) -> Plan | None:
        return self.host.plan if self.host else None

    @property
    def applied(self) -> dict[str, Any] | None:
        return self.host.applied if self.host else None

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.host.data) if self.host else {}

    @property
    def error(self) -> BaseException | None:
        return self.host.exception if self.host else None

    @property
    def exit_code(self) -> int:
        """The action's own error decides (2 bad input, 3 refused, 1 failed), else the run's status."""
        if isinstance(self.error, MigrateError):
            return self.error.exit_code
        if self.result.status == "refused":
            return EXIT_REFUSED
        return EXIT_OK if self.result.ok else EXIT_FAILED


def run_action(
    settings: Settings,
    action_cls: type[Action],
    params: ActionParams,
    *,
    title: str,
    step_name: str | None = None,
    check: bool = False,
    yes: bool = False,
    confirm: Confirm | None = None,
    disruptive: bool = False,
    sinks: Iterable[Sink] = (),
    inventory: Inventory | None = None,
    guard: AbstractContextManager[Any] | None = None,
    source: str | Path | None = None,
    run_id: str | None = None,
) -> OneStepRun:
    """Run `action_cls` once with `params`, journalled as playbook `title`.

    `guard` (e.g. a state lock) is entered before anything is planned: its SafetyRefusal propagates (exit 3)
    and nothing is journalled. A disruptive step without `yes` and without `confirm` (no terminal) raises
    SafetyRefusal before anything runs. Hosts are the inventory's when the action works per host; by default
    the inventory is empty, for actions that run once.
    """
    playbook = one_step_playbook(
        action_cls, params, title=title, step_name=step_name or title, disruptive=disruptive, source=source
    )
    if inventory is None:
        inventory = Inventory(directory=settings.inventory_dir, hosts={}, groups={}, warnings=())
    options = RunOptions(check=check, yes=yes, confirm=confirm)
    with guard or nullcontext():
        result = run_playbook(settings, playbook, options, sinks, inventory=inventory, lock_name=None, run_id=run_id)
    return OneStepRun(result)


def params_from(cls: type[ActionParams], values: dict[str, Any], names: dict[str, str] | None = None) -> Any:
    """Validate CLI values into an action's params; the first problem as a one-line ConfigError naming the
    option (`names` maps field -> `--option`)."""
    try:
        return cls.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else ""
        message = str(err.get("ctx", {}).get("error", err["msg"])) if err["type"] == "value_error" else err["msg"]
        label = (names or {}).get(field, field)
        prefix = f"{label}: " if label and not message.startswith(f"{field}:") else ""
        if label and message.startswith(f"{field}:"):
            message = f"{label}:{message[len(field) + 1 :]}"
        raise ConfigError(prefix + message) from None
