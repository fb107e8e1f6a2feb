"""Event sinks for the terminal: rich on a TTY, plain timestamped lines for cron, JSON lines for machines."""

from __future__ import annotations

import json
import sys
import time
from typing import IO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.syntax import Syntax
from rich.table import Table

from migrate_cli.core.events import Event, EventKind
from migrate_cli.core.runner import RunResult

STYLE = {"ok": "green", "changed": "yellow", "failed": "bold red", "skipped": "dim", "rolled_back": "magenta"}


class RichSink:
    """Live progress per step and a line per host result; diffs shown as they are planned."""

    def __init__(self, console: Console, verbose: bool = False, quiet: bool = False) -> None:
        self.console = console
        self.verbose = verbose
        self.quiet = quiet
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._tasks: dict[int, int] = {}
        self._check = False

    def __call__(self, e: Event) -> None:
        k = e.kind
        if k == EventKind.RUN_STARTED:
            self._check = bool(e.data.get("check"))
            if not self.quiet:
                mode = " [yellow](dry run: nothing will be changed)[/]" if self._check else ""
                self.console.print(f"[bold]Run {e.run_id}[/] {e.data.get('name', '')}{mode}")
            self.progress.start()
        elif k == EventKind.STEP_STARTED and e.step_index is not None:
            if not self.quiet:
                self.console.print(f"\n[bold cyan]▶ {e.step}[/] [dim]{e.data.get('action', '')}[/]")
            self._tasks[e.step_index] = self.progress.add_task(e.step or "", total=len(e.data.get("hosts", [])))
        elif k == EventKind.STEP_SKIPPED and not self.quiet:
            self.console.print(f"\n[dim]▷ {e.step}: skipped ({e.message})[/]")
        elif k == EventKind.HOST_FINISHED:
            self._host_line(e)
            task = self._tasks.get(e.step_index or 0)
            if task is not None:
                self.progress.advance(task)
        elif k == EventKind.STEP_FINISHED and e.step_index in self._tasks:
            self.progress.remove_task(self._tasks.pop(e.step_index))
        elif k == EventKind.DIFF and not self.quiet and e.data.get("diff"):
            self.console.print(f"  [yellow]~ {e.host}[/] {'would change' if self._check else 'plan'}:")
            self.console.print(Syntax(e.data["diff"], "diff", theme="ansi_dark", background_color="default"))
        elif k == EventKind.ROLLED_BACK:
            self.console.print(f"  [magenta]↺ {e.host}[/] rolled back: {e.message}")
        elif k in (EventKind.PROGRESS, EventKind.MESSAGE) and self.verbose:
            self.console.print(f"  [dim]{e.host or ''} {e.message}[/]")
        elif k == EventKind.RUN_FINISHED:
            self.progress.stop()

    def _host_line(self, e: Event) -> None:
        status = e.data.get("status", "ok")
        if self.quiet and status != "failed":
            return
        word = "would change" if (status == "changed" and self._check) else status
        style = STYLE.get(status, "")
        detail = e.data.get("error") or _facts_line(e.data.get("result") or {})
        self.console.print(f"  [{style}]{word:>12}[/] {e.host}  [dim]{detail}[/]")


class PlainSink:
    """One timestamped line per event that matters: for cron and log files (no colour, no bars)."""

    def __init__(self, stream: IO[str] | None = None, verbose: bool = False, quiet: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.verbose = verbose
        self.quiet = quiet

    def __call__(self, e: Event) -> None:
        if e.kind in (EventKind.PROGRESS, EventKind.MESSAGE, EventKind.HOST_STARTED) and not self.verbose:
            return
        if self.quiet and e.kind not in (EventKind.FAILED, EventKind.RUN_FINISHED):
            return
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(e.ts))
        parts = [stamp, e.run_id, str(e.kind)]
        if e.step is not None:
            parts.append(f"step={e.step_index + 1 if e.step_index is not None else '-'}:{e.step!r}")
        if e.host:
            parts.append(f"host={e.host}")
        message = e.message
        if e.kind == EventKind.STEP_STARTED:
            message = f"action={e.data.get('action')} hosts={len(e.data.get('hosts', []))}"
        elif e.kind == EventKind.HOST_FINISHED:
            message = e.data.get("status", message)
            detail = e.data.get("error") or _facts_line(e.data.get("result") or {})
            if detail:
                message += f": {detail}"
        if message:
            parts.append(message.replace("\n", " "))
        print(" ".join(parts), file=self.stream, flush=True)


class JsonSink:
    """Every event as one JSON object per line on stdout."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout

    def __call__(self, e: Event) -> None:
        print(json.dumps(e.to_dict(), default=str), file=self.stream, flush=True)


def _facts_line(result: dict[str, object]) -> str:
    return ", ".join(f"{k}={v}" for k, v in result.items() if not isinstance(v, dict | list))[:120]


def summary_table(result: RunResult) -> Table:
    """Steps x hosts: what happened, for the end of a run."""
    title = f"{result.name}: {result.status}" + (" (dry run)" if result.check else "")
    table = Table(title=title, title_justify="left")
    for col in ("Step", "Action", "Host", "Status", "Details"):
        table.add_column(col)
    for step in result.steps:
        if not step.hosts:
            table.add_row(step.name, step.action, "-", f"[dim]{step.status}[/]", step.note)
        for row, host in enumerate(step.hosts):
            word = "would change" if (host.status == "changed" and result.check) else host.status
            table.add_row(
                step.name if row == 0 else "",
                step.action if row == 0 else "",
                host.host,
                f"[{STYLE.get(host.status, '')}]{word}[/]",
                host.error or _facts_line(host.data),
            )
    return table


def summary_line(result: RunResult) -> str:
    hosts = [h for s in result.steps for h in s.hosts]
    changed = sum(1 for h in hosts if h.changed)
    failed = sum(1 for h in hosts if h.status == "failed")
    verb = "would change" if result.check else "changed"
    return f"run {result.run_id} {result.status}: {len(result.steps)} steps, {changed} {verb}, {failed} failed"
