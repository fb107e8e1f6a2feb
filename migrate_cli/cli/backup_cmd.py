"""`migrate backup run|list|restore`: daily snapshots into S3, for cron and for people."""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from migrate_cli.cli.context import console, interactive, settings_of
from migrate_cli.cli.output import JsonSink, PlainSink
from migrate_cli.core.errors import ConfigError, MigrateError
from migrate_cli.core.events import Event, EventKind, Sink
from migrate_cli.core.settings import Settings
from migrate_cli.transfer.backup.units import human_bytes, plural

if TYPE_CHECKING:
    from migrate_cli.transfer.backup.one_step import OneStepResult

# Domain modules (boto3 and friends) are imported inside the commands, so `migrate --help` stays fast.
DEFAULT_CONFIG = Path("backup.yaml")

backup_app = typer.Typer(
    help="Daily backups into S3: one verified, deduplicated snapshot a day, retention, exact restores.",
    no_args_is_help=True,
)

ConfigOption = Annotated[
    Path,
    typer.Option("--config", "-c", envvar="MIGRATE_BACKUP_CONFIG", help="Backup config (YAML).", metavar="FILE"),
]
PLAIN_PROGRESS_EVERY = 10.0


class TransferConsole:
    """Events on a terminal: a line per change/failure and a live bar (files, bytes, rate, ETA)."""

    def __init__(self, out: Console, quiet: bool = False) -> None:
        self.out = out
        self.quiet = quiet
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=out,
            transient=True,
        )
        self.task: Any = None

    def __call__(self, e: Event) -> None:
        if e.kind == EventKind.PROGRESS and "bytes_total" in e.data:
            d = e.data
            label = f"{d['files_done']}/{d['files_total']} files"
            if self.task is None:
                self.progress.start()
                self.task = self.progress.add_task(label, total=max(1, d["bytes_total"]))
            self.progress.update(
                self.task, description=label, completed=d["bytes_done"], total=max(1, d["bytes_total"])
            )
        elif e.kind == EventKind.DIFF and not self.quiet:
            self.out.print(f"[yellow]plan:[/] {e.message}", highlight=False)
        elif e.kind == EventKind.FAILED:
            self._stop()
            self.out.print(f"[bold red]failed:[/] {e.message}", highlight=False)
        elif e.kind in (EventKind.HOST_FINISHED, EventKind.RUN_FINISHED):
            self._stop()

    def _stop(self) -> None:
        if self.task is not None:
            self.progress.stop()
            self.task = None


class PlainProgress:
    """Without a TTY: one progress line every PLAIN_PROGRESS_EVERY seconds (cron logs stay short)."""

    def __init__(self, every: float = PLAIN_PROGRESS_EVERY) -> None:
        self.every = every
        self.last = time.monotonic()

    def __call__(self, e: Event) -> None:
        if e.kind != EventKind.PROGRESS:
            return
        now = time.monotonic()
        if now - self.last < self.every:
            return
        self.last = now
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(e.ts))
        print(f"{stamp} {e.run_id} progress {e.message}", flush=True)


def transfer_sinks(settings: Settings) -> list[Sink]:
    """JSON lines with --json; rich progress on a TTY; plain timestamped lines (cron) otherwise."""
    if settings.json:
        return [JsonSink()]
    if interactive():
        return [TransferConsole(console(), quiet=settings.quiet)]
    sinks: list[Sink] = [PlainSink(verbose=settings.verbose, quiet=settings.quiet)]
    if not settings.verbose and not settings.quiet:
        sinks.append(PlainProgress())
    return sinks


def finish(settings: Settings, res: OneStepResult, lines: list[str]) -> None:
    """Print the result lines (not with --json), then exit with the run's code (errors as one line)."""
    if not settings.json:
        for line in lines:
            console().print(line, highlight=False, markup=False, soft_wrap=True)
    err = res.error
    if isinstance(err, MigrateError):
        raise err
    if res.exit_code:
        host = res.host
        if host is not None and host.error and not settings.json:
            typer.echo(f"migrate: error: {host.error}", err=True)
        raise typer.Exit(res.exit_code)


def _as_of(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--as-of: '{text}' is not a date (YYYY-MM-DD)") from None


@backup_app.command("run")
def backup_run(
    ctx: typer.Context,
    config: ConfigOption = DEFAULT_CONFIG,
    check: Annotated[
        bool, typer.Option("--check", "--dry-run", help="Show what would be backed up; change nothing.")
    ] = False,
    as_of: Annotated[
        str | None, typer.Option("--as-of", hidden=True, help="Date the snapshot as this day (tests, backfills).")
    ] = None,
) -> None:
    """Take today's snapshot (for cron): only changed content is uploaded; retention runs after success.

    Exit 0 ok, 1 failed or partial, 2 bad config, 3 another backup is running.
    """
    from migrate_cli.core.oneshot import run_action
    from migrate_cli.transfer.backup.config import BackupParams, load_backup_config
    from migrate_cli.transfer.backup.locking import backup_lock
    from migrate_cli.transfer.backup_actions import BackupAction

    settings = settings_of(ctx)
    cfg = load_backup_config(config)
    params = BackupParams(config=str(config), as_of=_as_of(as_of))
    res = run_action(
        settings,
        BackupAction,
        params,
        title="backup",
        step_name=f"back up {cfg.source_path} to {cfg.location.url}",
        check=check,
        sinks=transfer_sinks(settings),
        source=config,
        guard=None if check else backup_lock(settings.state_dir),
    )
    finish(settings, res, _run_lines(res, check))


def _run_lines(res: OneStepResult, check: bool) -> list[str]:
    data = res.data
    host = res.host
    if host is None or "date" not in data:
        return []
    day = data["date"]
    warnings = [f"warning: {w}" for w in data.get("warnings", [])]
    return warnings + _result_lines(res, check, day)


def _result_lines(res: OneStepResult, check: bool, day: str) -> list[str]:
    data, host = res.data, res.host
    assert host is not None
    if check:
        plan = host.plan
        changes = plan.changes if plan is not None else []
        if not changes:
            return [f"backup {day}: nothing to do (today's snapshot is up to date)"]
        return [f"would {c}" for c in changes]
    if "summary" in data:
        return [data["summary"]]
    if data.get("unchanged") and host.status != "failed":
        return [f"backup {day}: nothing changed since today's snapshot; nothing written"]
    return []


@backup_app.command("list")
def backup_list(ctx: typer.Context, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Show the snapshots in the backup store: date, files, size, new bytes.

    Read-only, so it takes no lock and works while a backup runs.
    """
    from migrate_cli.transfer.backup.config import load_backup_config
    from migrate_cli.transfer.backup_actions import store_for

    settings = settings_of(ctx)
    cfg = load_backup_config(config)
    store = store_for(cfg)
    store.check_bucket()
    infos = store.snapshot_infos()
    if settings.json:
        typer.echo(json.dumps([i.to_dict() for i in infos]))
        return
    table = Table(title=f"Snapshots in {cfg.location.url}", title_justify="left")
    for col, justify in (("Date", "left"), ("Files", "right"), ("Size", "right"), ("New", "right"), ("Status", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for i in infos:
        table.add_row(
            i.date.isoformat(),
            str(i.files),
            human_bytes(i.bytes),
            human_bytes(i.new_bytes),
            "complete" if i.complete else "PARTIAL",
        )
    out = console()
    out.print(table)
    if not infos:
        out.print("no snapshots yet (run `migrate backup run`)")


@backup_app.command("restore")
def backup_restore(
    ctx: typer.Context,
    day: Annotated[str, typer.Argument(metavar="DATE", help="Snapshot date (YYYY-MM-DD) or 'latest'.")],
    dest: Annotated[Path, typer.Argument(metavar="DEST", help="Directory to restore into (empty, or --force).")],
    config: ConfigOption = DEFAULT_CONFIG,
    force: Annotated[bool, typer.Option("--force", help="Restore into a non-empty DEST (overwrites files).")] = False,
    workers: Annotated[int, typer.Option("--workers", help="Parallel downloads.")] = 8,
) -> None:
    """Restore a snapshot into DEST and verify every file's SHA-256.

    Takes the backup lock: exit 3 while a backup run or another restore holds it.
    """
    from migrate_cli.core.oneshot import run_action
    from migrate_cli.transfer.backup.config import load_backup_config
    from migrate_cli.transfer.backup.locking import backup_lock
    from migrate_cli.transfer.backup_actions import BackupRestoreAction, BackupRestoreParams

    settings = settings_of(ctx)
    load_backup_config(config)
    if workers < 1:
        raise ConfigError(f"--workers: must be 1 or more, got {workers}")
    params = BackupRestoreParams(config=str(config), date=day, dest=str(dest), force=force, workers=workers)
    res = run_action(
        settings,
        BackupRestoreAction,
        params,
        title="backup restore",
        step_name=f"restore {day} into {dest}",
        check=False,
        sinks=transfer_sinks(settings),
        source=config,
        guard=backup_lock(settings.state_dir),
    )
    d = res.data
    lines = []
    if "verified" in d:
        lines.append(
            f"restored snapshot {d['date']} into {d['dest']}: {plural(d['files'], 'file')}, "
            f"{plural(d['dirs'], 'dir')}, {plural(d['symlinks'], 'symlink')} ({human_bytes(d['bytes'])}); "
            f"verified {d['verified']}/{d['files']} files by SHA-256"
        )
        for problem in d.get("snapshot_errors", [])[:5]:
            lines.append(f"note: this snapshot is partial: {problem}")
    finish(settings, res, lines)
