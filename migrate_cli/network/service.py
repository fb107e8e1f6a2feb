"""What the `migrate network` commands do, apart from parsing and printing: select the edge devices,
validate every intent before anything connects, render, split canary batches, list backups."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from migrate_cli.core.errors import ConfigError, ConfigErrors
from migrate_cli.core.inventory import Host, Inventory
from migrate_cli.network.actions import resolved_intent
from migrate_cli.network.backups import Backup, BackupStore
from migrate_cli.network.intent import EdgeIntent, collect, has_intent
from migrate_cli.network.render import render_for_people


def edges(inventory: Inventory, limit: str | None) -> list[Host]:
    """Selected hosts whose data describes connectivity (DX, VPN or uplinks), in inventory order."""
    return [h for h in inventory.select(limit) if has_intent(h)]


def check_intents(inventory: Inventory, hosts: list[Host]) -> dict[str, EdgeIntent]:
    """Every host's resolved, validated intent; one ConfigErrors listing all problems (exit 2)."""
    errors: list[ConfigError] = []
    out: dict[str, EdgeIntent] = {}
    for host in hosts:
        try:
            intent = resolved_intent(host, inventory)
        except ConfigErrors as exc:
            errors += exc.errors
            continue
        except ConfigError as exc:
            errors.append(exc)
            continue
        if intent is not None:
            out[host.name] = intent
    collect(errors)
    return out


@dataclass(frozen=True)
class Rendered:
    host: str
    platform: str
    text: str  # secrets masked


def render_edges(inventory: Inventory, limit: str | None) -> list[Rendered]:
    """The intended configuration of each selected edge, secrets masked."""
    intents = check_intents(inventory, edges(inventory, limit))
    return [Rendered(name, i.platform, render_for_people(i)) for name, i in intents.items()]


def write_rendered(rendered: list[Rendered], out: Path) -> list[Path]:
    """One `<host>.cfg` per device in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for item in rendered:
        path = out / f"{item.host}.cfg"
        path.write_text(item.text, encoding="utf-8")
        paths.append(path)
    return paths


def canary_batches(hosts: list[Host], canary: int | None) -> list[list[str]] | None:
    """[first N, the rest] for `--canary N`; None without a canary (or when N covers every host)."""
    if not canary or canary >= len(hosts):
        return None
    names = [h.name for h in hosts]
    return [names[:canary], names[canary:]]


def list_backups(state_dir: Path, inventory: Inventory | None, limit: str | None) -> list[Backup]:
    """Backups in the state dir, oldest first, for the selected hosts (all hosts without an inventory)."""
    store = BackupStore(state_dir)
    backups = store.list()
    if inventory is not None and limit:
        names = {h.name for h in inventory.select(limit)}
        backups = [b for b in backups if b.host in names]
    return backups


def rollback_hosts(state_dir: Path, inventory: Inventory, limit: str | None, backup_id: str | None) -> list[str]:
    """Selected hosts that have the backup to restore (any backup, or `backup_id`); ConfigError if none."""
    backups = list_backups(state_dir, inventory, limit)
    if backup_id is not None:
        backups = [b for b in backups if b.id == backup_id or b.id.startswith(backup_id)]
    names = {b.host for b in backups}
    selected = [h.name for h in inventory.select(limit) if h.name in names]
    if not selected:
        wanted = f"backup {backup_id}" if backup_id else "backups"
        raise ConfigError(f"no {wanted} for the selected hosts in {BackupStore(state_dir).root}")
    return selected
