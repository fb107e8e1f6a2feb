"""`migrate network render|plan|push|backups|rollback`: Direct Connect + backup VPN on the edge devices.

Plan, push and rollback run as one-step playbooks (`core.oneshot`): validated, confirmed, locked and
journalled like `migrate run`, and `migrate report` writes their report.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.syntax import Syntax
from rich.table import Table

from migrate_cli.cli.context import confirm_on_tty, console, interactive, settings_of
from migrate_cli.cli.run_cmd import render_result, sinks_for
from migrate_cli.core.inventory import load_inventory
from migrate_cli.core.oneshot import build_playbook, run_playbook
from migrate_cli.core.runner import RunOptions, RunResult
from migrate_cli.core.settings import Settings
from migrate_cli.network import service

network_app = typer.Typer(
    help="Direct Connect + backup VPN on the edge devices: render, plan, push (backup, verify, rollback).",
    no_args_is_help=True,
)

Limit = Annotated[str | None, typer.Option("--limit", "-l", help="Hosts: names, @group, globs, !exclusions.")]
KnownHosts = Annotated[
    Path | None,
    typer.Option("--known-hosts", metavar="FILE", help="known_hosts to verify device keys against."),
]
AcceptNew = Annotated[
    bool,
    typer.Option(
        "--accept-new-host-keys", help="Trust unknown device keys on first use (recorded). Changed keys are refused."
    ),
]
Timeout = Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds a device may take to answer.")]


def _network_params(known_hosts: Path | None, accept_new: bool, timeout: float) -> dict[str, Any]:
    return {
        "known_hosts": str(known_hosts) if known_hosts else None,
        "accept_new_host_keys": accept_new,
        "timeout": timeout,
    }


def _finish(settings: Settings, result: RunResult) -> None:
    if not settings.json and not settings.quiet and not interactive():
        # Plain output gets each device's remediation once, in full (a TTY saw it as it was planned).
        for step in result.steps:
            for host in step.hosts:
                if host.diff:
                    lines = host.diff.count("\n") + 1
                    verb = "would send" if result.check else {"changed": "sent"}.get(host.status, "planned")
                    typer.echo(f"--- {host.host} ({host.status}): {verb} {lines} line(s)")
                    typer.echo(host.diff)
        for step in result.steps:
            for host in step.hosts:
                if host.status == "failed":
                    typer.echo(f"FAILED {host.host}: {host.error}")
    render_result(settings, result)
    if result.status == "refused":
        raise typer.Exit(3)
    if not result.ok:
        raise typer.Exit(1)


@network_app.command("render")
def render_command(
    ctx: typer.Context,
    limit: Limit = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", metavar="DIR", help="Write DIR/<host>.cfg.")] = None,
) -> None:
    """Print (or write) each edge device's intended configuration; secrets are masked."""
    settings = settings_of(ctx)
    inventory = load_inventory(settings.inventory_dir)
    rendered = service.render_edges(inventory, limit)
    if settings.json:
        typer.echo(json.dumps({r.host: {"platform": r.platform, "config": r.text} for r in rendered}))
        return
    if out is not None:
        for path in service.write_rendered(rendered, out):
            console().print(f"wrote {path}", highlight=False)
        return
    if not rendered:
        console().print("No selected host has connectivity intent (direct_connect, vpn or uplinks).")
        return
    rich = interactive()
    for item in rendered:
        header = f"! ---- {item.host} ({item.platform}) ----"
        if rich:
            console().print(f"[bold]{header}[/]")
            console().print(Syntax(item.text, "text", background_color="default"))
        else:
            typer.echo(header)
            typer.echo(item.text, nl=False)


@network_app.command("plan")
def plan_command(
    ctx: typer.Context,
    limit: Limit = None,
    forks: Annotated[int, typer.Option("--forks", "-f", min=1, max=500, help="Devices in parallel.")] = 10,
    known_hosts: KnownHosts = None,
    accept_new_host_keys: AcceptNew = False,
    timeout: Timeout = 30.0,
) -> None:
    """Read-only: connect, read each running config, show the remediation a push would send."""
    _run(ctx, "network.plan", limit, forks, known_hosts, accept_new_host_keys, timeout, check=True)


@network_app.command("push")
def push_command(
    ctx: typer.Context,
    limit: Limit = None,
    check: Annotated[bool, typer.Option("--check", help="Dry run: print the plan, change nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Confirm without asking (needed without a TTY).")] = False,
    forks: Annotated[int, typer.Option("--forks", "-f", min=1, max=500, help="Devices in parallel.")] = 10,
    canary: Annotated[
        int | None, typer.Option("--canary", min=1, metavar="N", help="Push N devices first; stop if one fails.")
    ] = None,
    known_hosts: KnownHosts = None,
    accept_new_host_keys: AcceptNew = False,
    timeout: Timeout = 30.0,
    verify_timeout: Annotated[
        float, typer.Option("--verify-timeout", min=0, help="Seconds to wait for BGP/BFD to come up.")
    ] = 60.0,
) -> None:
    """Back up, send the remediation, re-read, verify BGP/BFD, save; roll back automatically on failure."""
    params = {"verify_timeout": verify_timeout}
    _run(ctx, "network.push", limit, forks, known_hosts, accept_new_host_keys, timeout, check, yes, canary, params)


@network_app.command("rollback")
def rollback_command(
    ctx: typer.Context,
    limit: Limit = None,
    to: Annotated[
        str | None, typer.Option("--to", metavar="BACKUP_ID", help="Backup to restore (default: latest).")
    ] = None,
    check: Annotated[bool, typer.Option("--check", help="Dry run: print what would be sent.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Confirm without asking (needed without a TTY).")] = False,
    forks: Annotated[int, typer.Option("--forks", "-f", min=1, max=500, help="Devices in parallel.")] = 10,
    known_hosts: KnownHosts = None,
    accept_new_host_keys: AcceptNew = False,
    timeout: Timeout = 30.0,
) -> None:
    """Restore running configs from a backup and prove each equals it (then write memory)."""
    settings = settings_of(ctx)
    inventory = load_inventory(settings.inventory_dir)
    selected = service.rollback_hosts(settings.state_dir, inventory, limit, to)
    params = _network_params(known_hosts, accept_new_host_keys, timeout) | {"to": to}
    playbook = build_playbook(
        "network rollback", "network.rollback", params, disruptive=True, batches=[selected], source="<network rollback>"
    )
    options = _options(check, yes, forks, limit)
    _finish(settings, run_playbook(settings, playbook, options, sinks_for(settings), inventory))


@network_app.command("backups")
def backups_command(ctx: typer.Context, limit: Limit = None) -> None:
    """List the running-config backups pushes took (the id is the run id; use it with rollback --to)."""
    settings = settings_of(ctx)
    inventory = load_inventory(settings.inventory_dir) if limit else None
    backups = service.list_backups(settings.state_dir, inventory, limit)
    if settings.json:
        rows = [
            {"id": b.id, "host": b.host, "taken": b.taken, "size": b.size, "sha256": b.sha256, "path": str(b.path)}
            for b in backups
        ]
        typer.echo(json.dumps(rows))
        return
    if not backups:
        console().print(f"No backups in {settings.state_dir / 'network' / 'backups'}.")
        return
    table = Table(title=f"Backups in {settings.state_dir / 'network' / 'backups'}", title_justify="left")
    for column in ("Backup id", "Host", "Taken", "Bytes", "SHA-256"):
        table.add_column(column)
    for b in backups:
        when = datetime.fromtimestamp(b.taken).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(b.id, b.host, when, str(b.size), b.sha256[:12])
    console().print(table)


def _options(check: bool, yes: bool, forks: int, limit: str | None) -> RunOptions:
    return RunOptions(check=check, limit=limit, yes=yes, forks=forks, confirm=confirm_on_tty if interactive() else None)


def _run(
    ctx: typer.Context,
    action: str,
    limit: str | None,
    forks: int,
    known_hosts: Path | None,
    accept_new: bool,
    timeout: float,
    check: bool = False,
    yes: bool = False,
    canary: int | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    settings = settings_of(ctx)
    inventory = load_inventory(settings.inventory_dir)
    hosts = service.edges(inventory, limit)
    if not hosts:
        console().print("No selected host has connectivity intent (direct_connect, vpn or uplinks).")
        return
    service.check_intents(inventory, hosts)  # bad input: exit 2 before any device is touched
    batches = service.canary_batches(hosts, canary) or [[h.name for h in hosts]]
    params = _network_params(known_hosts, accept_new, timeout) | (extra or {})
    playbook = build_playbook(
        f"network {action.split('.')[1]}",
        action,
        params,
        disruptive=action == "network.push",
        batches=batches,
        source=f"<network {action.split('.')[1]}>",
    )
    result = run_playbook(settings, playbook, _options(check, yes, forks, limit), sinks_for(settings), inventory)
    _finish(settings, result)
