"""The journal: a SQLite record of every run, step, host result and event, fed from the event bus."""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrate_cli.core.events import Event, EventKind

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, name TEXT, playbook TEXT, started REAL, finished REAL,
    status TEXT, check_mode INTEGER, options TEXT, resumed_from TEXT
);
CREATE TABLE IF NOT EXISTS steps (
    run_id TEXT, idx INTEGER, name TEXT, action TEXT, status TEXT, started REAL, finished REAL,
    PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS host_results (
    run_id TEXT, step_idx INTEGER, host TEXT, status TEXT, changed INTEGER, diff TEXT, error TEXT,
    data TEXT, started REAL, finished REAL, PRIMARY KEY (run_id, step_idx, host)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT, ts REAL, kind TEXT, step_idx INTEGER,
    step TEXT, host TEXT, message TEXT, data TEXT
);
CREATE INDEX IF NOT EXISTS events_run ON events (run_id, id);
"""


@dataclass
class HostRecord:
    host: str
    status: str
    changed: bool
    diff: str
    error: str | None
    data: dict[str, Any]
    started: float | None
    finished: float | None


@dataclass
class StepRecord:
    index: int
    name: str
    action: str
    status: str
    started: float | None
    finished: float | None
    hosts: list[HostRecord] = field(default_factory=list)


@dataclass
class RunRecord:
    id: str
    name: str
    playbook: str
    started: float
    finished: float | None
    status: str
    check_mode: bool
    options: dict[str, Any]
    resumed_from: str | None
    steps: list[StepRecord] = field(default_factory=list)


class Journal:
    """SQLite journal in the state directory. Safe to use from the bus's worker threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # durable in WAL mode, without an fsync per event
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> Journal:
        return cls(state_dir / "journal.sqlite")

    def close(self) -> None:
        self._db.close()

    def __call__(self, event: Event) -> None:
        """Sink for the event bus."""
        with self._lock, self._db:
            self._record(event)

    def _record(self, e: Event) -> None:
        d = e.data
        self._db.execute(
            "INSERT INTO events (run_id, ts, kind, step_idx, step, host, message, data) VALUES (?,?,?,?,?,?,?,?)",
            (
                e.run_id,
                e.ts,
                str(e.kind),
                e.step_index,
                e.step,
                e.host,
                e.message,
                json.dumps(d, default=str),
            ),
        )
        if e.kind == EventKind.RUN_STARTED:
            self._db.execute(
                "INSERT INTO runs (id, name, playbook, started, status, check_mode, options, resumed_from)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (
                    e.run_id,
                    d.get("name", ""),
                    d.get("playbook", ""),
                    e.ts,
                    "running",
                    int(bool(d.get("check"))),
                    json.dumps(d.get("options", {})),
                    d.get("resumed_from"),
                ),
            )
        elif e.kind == EventKind.RUN_FINISHED:
            self._db.execute("UPDATE runs SET finished=?, status=? WHERE id=?", (e.ts, d.get("status", "ok"), e.run_id))
        elif e.kind == EventKind.STEP_STARTED:
            self._db.execute(
                "INSERT OR REPLACE INTO steps (run_id, idx, name, action, status, started) VALUES (?,?,?,?,?,?)",
                (e.run_id, e.step_index, e.step, d.get("action", ""), "running", e.ts),
            )
        elif e.kind == EventKind.STEP_SKIPPED:
            self._db.execute(
                "INSERT OR REPLACE INTO steps (run_id, idx, name, action, status, started, finished)"
                " VALUES (?,?,?,?,?,?,?)",
                (e.run_id, e.step_index, e.step, d.get("action", ""), d.get("status", "skipped"), e.ts, e.ts),
            )
        elif e.kind == EventKind.STEP_FINISHED:
            self._db.execute(
                "UPDATE steps SET status=?, finished=? WHERE run_id=? AND idx=?",
                (d.get("status", "ok"), e.ts, e.run_id, e.step_index),
            )
        elif e.kind == EventKind.HOST_FINISHED:
            self._db.execute(
                "INSERT OR REPLACE INTO host_results"
                " (run_id, step_idx, host, status, changed, diff, error, data, started, finished)"
                " VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    e.run_id,
                    e.step_index,
                    e.host or "",
                    d.get("status", "ok"),
                    int(bool(d.get("changed"))),
                    d.get("diff", ""),
                    d.get("error"),
                    json.dumps(d.get("result", {}), default=str),
                    d.get("started"),
                    e.ts,
                ),
            )

    # --- queries -------------------------------------------------------------------------------

    def list_runs(self, limit: int = 20) -> list[RunRecord]:
        rows = self._db.execute(
            "SELECT id, name, playbook, started, finished, status, check_mode, options, resumed_from"
            " FROM runs ORDER BY started DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [_run_from_row(r) for r in rows]

    def get_run(self, run_id: str) -> RunRecord | None:
        """A run with its steps and host results; `run_id` may be a unique prefix or 'last'."""
        if run_id == "last":
            row = self._db.execute(
                "SELECT id, name, playbook, started, finished, status, check_mode, options, resumed_from"
                " FROM runs ORDER BY started DESC LIMIT 1"
            ).fetchone()
            rows = [row] if row else []
        else:
            rows = self._db.execute(
                "SELECT id, name, playbook, started, finished, status, check_mode, options, resumed_from"
                " FROM runs WHERE id LIKE ? ORDER BY started DESC",
                (run_id.replace("%", "") + "%",),
            ).fetchall()
        if len(rows) != 1:
            return None
        run = _run_from_row(rows[0])
        steps = self._db.execute(
            "SELECT idx, name, action, status, started, finished FROM steps WHERE run_id=? ORDER BY idx",
            (run.id,),
        ).fetchall()
        for s in steps:
            step = StepRecord(index=s[0], name=s[1], action=s[2], status=s[3], started=s[4], finished=s[5])
            for h in self._db.execute(
                "SELECT host, status, changed, diff, error, data, started, finished FROM host_results"
                " WHERE run_id=? AND step_idx=? ORDER BY host",
                (run.id, step.index),
            ).fetchall():
                step.hosts.append(
                    HostRecord(
                        host=h[0],
                        status=h[1],
                        changed=bool(h[2]),
                        diff=h[3] or "",
                        error=h[4],
                        data=json.loads(h[5] or "{}"),
                        started=h[6],
                        finished=h[7],
                    )
                )
            run.steps.append(step)
        return run

    def events(self, run_id: str) -> list[Event]:
        rows = self._db.execute(
            "SELECT ts, kind, step_idx, step, host, message, data FROM events WHERE run_id=? ORDER BY id",
            (run_id,),
        ).fetchall()
        return [
            Event(
                kind=EventKind(r[1]),
                run_id=run_id,
                ts=r[0],
                step_index=r[2],
                step=r[3],
                host=r[4],
                message=r[5],
                data=json.loads(r[6] or "{}"),
            )
            for r in rows
        ]


def _run_from_row(r: tuple[Any, ...]) -> RunRecord:
    return RunRecord(
        id=r[0],
        name=r[1],
        playbook=r[2],
        started=r[3],
        finished=r[4],
        status=r[5],
        check_mode=bool(r[6]),
        options=json.loads(r[7] or "{}"),
        resumed_from=r[8],
    )
