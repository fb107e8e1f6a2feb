"""Run one action as a playbook built in code: what a command like `migrate network push` does, so that it is
validated, confirmed, locked, journalled and reported exactly like `migrate run`.

`batches` splits the hosts into consecutive steps of the same action (a canary batch first): the run stops
after the first step that fails, so the later batches are not touched.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from migrate_cli.core.actions import get_action
from migrate_cli.core.errors import ConfigError, ConfigErrors
from migrate_cli.core.events import EventBus, Sink
from migrate_cli.core.inventory import Inventory, load_inventory
from migrate_cli.core.journal import Journal
from migrate_cli.core.lock import StateLock
from migrate_cli.core.playbook import Playbook, Step
from migrate_cli.core.runner import PlaybookRunner, RunOptions, RunResult
from migrate_cli.core.settings import Settings


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
    """A one-action playbook; one step per batch of host names (all selected hosts when None)."""
    action_cls = get_action(action)
    try:
        validated = action_cls.Params.model_validate(params)
    except ValidationError as exc:
        errors = [ConfigError(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}") for e in exc.errors()]
        raise ConfigErrors(errors) from None
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
                action=action,
                action_cls=action_cls,
                params=validated,
                hosts=",".join(hosts) if hosts is not None else None,
                tags=frozenset(),
                disruptive=disruptive,
                on_failure="stop",
                line=0,
            )
        )
    return Playbook(path=Path(source or f"<{action}>"), name=name, vars={}, steps=tuple(steps), sha256="")


def run_playbook(
    settings: Settings,
    playbook: Playbook,
    options: RunOptions,
    sinks: Iterable[Sink] = (),
    inventory: Inventory | None = None,
    lock_name: str = "run",
) -> RunResult:
    """Check safety, take the state lock (not in check mode), run, and journal every event."""
    inventory = inventory or load_inventory(settings.inventory_dir)
    journal = Journal.in_state_dir(settings.state_dir)
    try:
        runner = PlaybookRunner(settings, inventory, EventBus(), journal)
        runner.preflight(playbook, options)
        runner.bus.subscribe(journal)
        for sink in sinks:
            runner.bus.subscribe(sink)
        if options.check:
            return runner.run(playbook, options)
        with StateLock(settings.state_dir, lock_name):
            return runner.run(playbook, options)
    finally:
        journal.close()
