"""The service behind `migrate run` and `migrate demo`: load, validate, lock, run, journal."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from migrate_cli.core.events import EventBus, Sink
from migrate_cli.core.inventory import Inventory, load_inventory
from migrate_cli.core.journal import Journal
from migrate_cli.core.lock import StateLock
from migrate_cli.core.playbook import Playbook, load_playbook
from migrate_cli.core.runner import PlaybookRunner, RunOptions, RunResult
from migrate_cli.core.settings import Settings


def prepare(settings: Settings, playbook_path: Path) -> tuple[Inventory, Playbook]:
    """Load the inventory and the whole playbook; raises ConfigError(s) before anything runs."""
    inventory = load_inventory(settings.inventory_dir)
    return inventory, load_playbook(playbook_path, inventory)


def execute_playbook(
    settings: Settings,
    playbook_path: Path,
    options: RunOptions,
    sinks: Iterable[Sink] = (),
    lock_name: str = "run",
) -> RunResult:
    """Validate everything, take the state lock (not in check mode), run, and journal every event."""
    inventory, playbook = prepare(settings, playbook_path)
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
