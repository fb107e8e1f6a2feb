"""`migrate run`, `migrate runs`, `migrate report`: playbooks and their journal."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from migrate_cli.cli.context import confirm_on_tty, console, interactive, settings_of
from migrate_cli.cli.output import JsonSink, PlainSink, RichSink, summary_line, summary_table
from migrate_cli.core.errors import ConfigError
from migrate_cli.core.events import Sink
from migrate_cli.core.execute import execute_playbook
from migrate_cli.core.journal import Journal
from migrate_cli.core.runner import RunOptions, RunResult
from migrate_cli.core.settings import Settings
from migrate_cli.report.render import Format, render_report

runs_app = typer.Typer(help="Runs recorded in the journal.", no_args_is_help=True)


def _split(values: list[str] | None) -> frozenset[str]:
    return frozenset(t.strip() for v in values or [] for t in v.split(",") if t.strip())


def sinks_for(settings: Settings) -> list[Sink]:
    """Rich on a TTY, plain lines without one, JSON lines with --json."""
    if settings.json:
        return [JsonSink()]
    if interactive():
        return [RichSink(console(), verbose=settings.verbose, quiet=settings.quiet)]
    return [PlainSink(verbose=settings.verbose, quiet=settings.quiet)]


def render_result(settings: Settings, result: RunResult, report_path: Path | None = None) -> None:
    if settings.json:
        return
    out = console()
    if interactive() and not settings.quiet:
        out.print()
        out.print(summary_table(result))
    out.print(summary_line(result), highlight=False)
    if report_path is not None:
        out.print(f"report: {report_path}", highlight=False)


def run_command(
    ctx: typer.Context,
    playbook: Annotated[Path, typer.Argument(help="Playbook YAML file.", show_default=False)],
    check: Annotated[bool, typer.Option("--check", help="Dry run: plan every step, change nothing.")] = False,
    limit: Annotated[
        str | None, typer.Option("--limit", "-l", help="Hosts: names, @group, globs, !exclusions.")
    ] = None,
    tags: Annotated[list[str] | None, typer.Option("--tags", "-t", help="Only steps with these tags.")] = None,
    skip_tags: Annotated[list[str] | None, typer.Option("--skip-tags", help="Skip steps with these tags.")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Confirm disruptive steps without asking.")] = False,
    forks: Annotated[int, typer.Option("--forks", "-f", min=1, max=500, help="Hosts in parallel per step.")] = 10,
    resume: Annotated[
        str | None,
        typer.Option("--resume", metavar="RUN_ID", help="Re-run a failed run from where it stopped."),
    ] = None,
) -> None:
    """Run a playbook: steps in order, hosts in parallel; --check shows exactly what would change."""
    settings = settings_of(ctx)
    options = RunOptions(
        check=check,
        limit=limit,
        tags=_split(tags),
        skip_tags=_split(skip_tags),
        yes=yes,
        forks=forks,
        resume=resume,
        confirm=confirm_on_tty if interactive() else None,
    )
    result = execute_playbook(settings, playbook, options, sinks_for(settings))
    render_result(settings, result)
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def _fmt_time(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


@runs_app.command("list")
def runs_list(
    ctx: typer.Context,
    last: Annotated[int, typer.Option("--last", "-n", min=1, help="How many runs to show.")] = 20,
) -> None:
    """List recent runs, newest first."""
    settings = settings_of(ctx)
    journal = Journal.in_state_dir(settings.state_dir)
    try:
        runs = journal.list_runs(last)
    finally:
        journal.close()
    if settings.json:
        typer.echo(
            json.dumps(
                [
                    {
                        "id": r.id,
                        "name": r.name,
                        "playbook": r.playbook,
                        "status": r.status,
                        "check": r.check_mode,
                        "started": r.started,
                        "finished": r.finished,
                    }
                    for r in runs
                ]
            )
        )
        return
    table = Table(title=f"Runs in {settings.state_dir}", title_justify="left")
    for col in ("Run", "Playbook", "Mode", "Status", "Started", "Finished"):
        table.add_column(col)
    for r in runs:
        table.add_row(
            r.id,
            r.name,
            "check" if r.check_mode else "apply",
            r.status,
            _fmt_time(r.started),
            _fmt_time(r.finished),
        )
    console().print(table)


def report_command(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="Run id (or a unique prefix, or 'last').")] = "last",
    fmt: Annotated[str, typer.Option("--format", help="md, json or html.")] = "md",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write to FILE instead of stdout.")] = None,
) -> None:
    """Write the report of a run (Markdown, HTML or JSON) for the change ticket."""
    settings = settings_of(ctx)
    if fmt not in ("md", "json", "html"):
        raise ConfigError(f"--format: '{fmt}' is not one of md, json, html")
    text = write_report(settings, run_id, fmt, out)  # type: ignore[arg-type]
    if out is None:
        typer.echo(text, nl=False)
    elif not settings.quiet:
        console().print(f"report written to {out}", highlight=False)


def write_report(settings: Settings, run_id: str, fmt: Format, out: Path | None) -> str:
    journal = Journal.in_state_dir(settings.state_dir)
    try:
        run = journal.get_run(run_id)
        if run is None:
            raise ConfigError(f"no single run matches '{run_id}' in {settings.journal_path}")
        text = render_report(run, journal.events(run.id), fmt)
    finally:
        journal.close()
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    return text
