"""Turn a journalled run into a report a change board can read: Markdown, HTML or JSON."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, Literal

import jinja2

from migrate_cli.core.events import Event
from migrate_cli.core.journal import RunRecord
from migrate_cli.core.secrets import mask

Format = Literal["md", "json", "html"]

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("migrate_cli.report", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if ts else "-"


def _duration(start: float | None, end: float | None) -> str:
    return f"{end - start:.1f}s" if start and end else "-"


def _facts(data: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in data.items() if not isinstance(v, dict | list))[:300]


def report_model(run: RunRecord, events: list[Event]) -> dict[str, Any]:
    """A JSON-safe view of the run: the single source for every format."""
    hosts = [h for s in run.steps for h in s.hosts]
    return {
        "run": {
            "id": run.id,
            "name": run.name,
            "playbook": run.playbook,
            "status": run.status,
            "check_mode": run.check_mode,
            "started": _when(run.started),
            "finished": _when(run.finished),
            "duration": _duration(run.started, run.finished),
            "resumed_from": run.resumed_from,
            "options": {k: v for k, v in run.options.items() if k not in ("pid",)},
        },
        "totals": {
            "steps": len(run.steps),
            "hosts": len({h.host for h in hosts if h.host != "(once)"}),
            "changed": sum(1 for h in hosts if h.changed),
            "failed": sum(1 for h in hosts if h.status == "failed"),
        },
        "steps": [
            {
                "index": s.index + 1,
                "name": s.name,
                "action": s.action,
                "status": s.status,
                "duration": _duration(s.started, s.finished),
                "hosts": [
                    asdict(h) | {"duration": _duration(h.started, h.finished), "facts": _facts(h.data)} for h in s.hosts
                ],
            }
            for s in run.steps
        ],
        "events": [
            {"time": _when(e.ts), "kind": str(e.kind), "step": e.step, "host": e.host, "message": e.message}
            for e in events
        ],
    }


def render_report(run: RunRecord, events: list[Event], fmt: Format = "md") -> str:
    """Render the report; every string passes the secret masker once more on the way out."""
    model = report_model(run, events)
    if fmt == "json":
        text = json.dumps(model, indent=2, default=str)
    else:
        text = _env.get_template(f"report.{fmt}.j2").render(**model)
    return mask(text)
