"""The service behind `migrate run` and `migrate demo`: load and validate everything, then run it."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from migrate_cli.core.events import Sink
from migrate_cli.core.inventory import Inventory, load_inventory
from migrate_cli.core.oneshot import run_playbook
from migrate_cli.core.playbook import Playbook, load_playbook
from migrate_cli.core.runner import RunOptions, RunResult
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
    return run_playbook(settings, playbook, options, sinks, inventory=inventory, lock_name=lock_name)
