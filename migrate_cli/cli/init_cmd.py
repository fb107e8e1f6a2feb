"""`migrate init`: a starter inventory and playbook for a new site."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from migrate_cli.cli.context import console
from migrate_cli.core.errors import ConfigError

STARTER = ("inventory/hosts.yaml", "inventory/groups.yaml", "inventory/defaults.yaml", "playbooks/site.yml")


def init_command(
    directory: Annotated[Path, typer.Argument(help="Where to write the starter files.")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that exist.")] = False,
) -> None:
    """Write a starter inventory (Nornir layout) and a site playbook to DIR."""
    source = resources.files("migrate_cli") / "starter"
    existing = [name for name in STARTER if (directory / name).exists()]
    if existing and not force:
        raise ConfigError(f"{directory / existing[0]} exists; nothing written (use --force to overwrite)")
    for name in STARTER:
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text((source / name).read_text(encoding="utf-8"), encoding="utf-8")
    out = console()
    out.print(f"Wrote a starter site to {directory}:", highlight=False)
    for name in STARTER:
        out.print(f"  {directory / name}", highlight=False)
    out.print(
        "Next: edit inventory/hosts.yaml, then `migrate inventory check` and `migrate run playbooks/site.yml --check`."
    )
