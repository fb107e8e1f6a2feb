"""`migrate inventory`: validate and list the site's hosts."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from migrate_cli.cli.context import console, settings_of
from migrate_cli.core.inventory import load_inventory

inventory_app = typer.Typer(
    help="Validate and list the inventory (Nornir SimpleInventory layout).", no_args_is_help=True
)


@inventory_app.command("check")
def check(ctx: typer.Context) -> None:
    """Validate hosts, groups and defaults; every error as FILE:LINE: message (exit 2)."""
    settings = settings_of(ctx)
    inventory = load_inventory(settings.inventory_dir)
    err = console(stderr=True)
    for warning in inventory.warnings:
        err.print(f"warning: {warning.location_message()}", highlight=False, markup=False)
    if settings.json:
        typer.echo(
            json.dumps(
                {
                    "ok": True,
                    "hosts": len(inventory.hosts),
                    "groups": len(inventory.groups),
                    "warnings": [w.location_message() for w in inventory.warnings],
                }
            )
        )
    elif not settings.quiet:
        console().print(
            f"{settings.inventory_dir}: {len(inventory.hosts)} hosts, {len(inventory.groups)} groups, "
            f"{len(inventory.warnings)} warnings, no errors",
            highlight=False,
        )


@inventory_app.command("list")
def list_hosts(
    ctx: typer.Context,
    limit: Annotated[
        str | None,
        typer.Option("--limit", "-l", help="Hosts: names, @group, globs, !exclusions, &intersections."),
    ] = None,
) -> None:
    """List hosts (secrets shown as their references, never their values)."""
    settings = settings_of(ctx)
    inventory = load_inventory(settings.inventory_dir)
    hosts = inventory.select(limit)
    if settings.json:
        typer.echo(json.dumps([h.to_public_dict() for h in hosts], indent=2))
        return
    table = Table(title=f"{len(hosts)} hosts in {settings.inventory_dir}", title_justify="left")
    for col in ("Host", "Address", "Platform", "User", "Groups"):
        table.add_column(col)
    for h in hosts:
        address = f"{h.hostname}:{h.port}" if h.port else str(h.hostname)
        table.add_row(h.name, address, h.platform or "-", h.username or "-", ", ".join(h.all_groups))
    console().print(table)
