"""What backup/restore progress looks like: a live bar on a terminal, sparse plain lines for cron."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from migrate_cli.cli.backup_cmd import PlainProgress, TransferConsole, transfer_sinks
from migrate_cli.cli.output import JsonSink, PlainSink
from migrate_cli.core.events import Event, EventKind
from migrate_cli.core.settings import Settings


def progress(done: int, total: int = 100) -> Event:
    data = {"files_done": done, "files_total": total, "bytes_done": done * 1024, "bytes_total": total * 1024}
    return Event(EventKind.PROGRESS, "r1", f"backed up {done}/{total} files", data=data)


def test_terminal_shows_a_live_bar_then_plan_and_failure_lines() -> None:
    buf = io.StringIO()
    sink = TransferConsole(Console(file=buf, force_terminal=True, width=100))
    sink(Event(EventKind.DIFF, "r1", "write snapshot 2026-11-03"))
    sink(progress(10))
    assert sink.task is not None  # the bar is live
    sink(progress(100))
    sink(Event(EventKind.HOST_FINISHED, "r1", "changed"))
    assert sink.task is None  # and gone when the host finishes
    sink(Event(EventKind.FAILED, "r1", "apply: s3 PutObject: SlowDown"))
    text = buf.getvalue()
    assert "plan:" in text and "write snapshot 2026-11-03" in text
    assert "100/100 files" in text
    assert "failed:" in text and "SlowDown" in text


def test_plain_progress_is_sparse(capsys: pytest.CaptureFixture[str]) -> None:
    every = PlainProgress(every=0)
    for i in range(3):
        every(progress(i))
    every(Event(EventKind.MESSAGE, "r1", "not progress"))
    assert capsys.readouterr().out.count(" progress backed up ") == 3
    rare = PlainProgress(every=3600)
    for i in range(50):
        rare(progress(i))
    assert capsys.readouterr().out == ""


def test_sink_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("migrate_cli.cli.backup_cmd.interactive", lambda: False)
    assert [type(s) for s in transfer_sinks(Settings(json=True))] == [JsonSink]
    assert [type(s) for s in transfer_sinks(Settings())] == [PlainSink, PlainProgress]
    assert [type(s) for s in transfer_sinks(Settings(quiet=True))] == [PlainSink]
    monkeypatch.setattr("migrate_cli.cli.backup_cmd.interactive", lambda: True)
    assert [type(s) for s in transfer_sinks(Settings())] == [TransferConsole]
