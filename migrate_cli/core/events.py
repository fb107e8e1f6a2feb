"""One event stream for every action; sinks (console, plain lines, JSON, journal) subscribe to it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from migrate_cli.core.secrets import mask


class EventKind(StrEnum):
    RUN_STARTED = "run_started"
    RUN_FINISHED = "run_finished"
    STEP_STARTED = "step_started"
    STEP_FINISHED = "step_finished"
    STEP_SKIPPED = "step_skipped"
    HOST_STARTED = "host_started"
    HOST_FINISHED = "host_finished"
    PROGRESS = "progress"
    CHANGED = "changed"
    DIFF = "diff"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    MESSAGE = "message"


@dataclass(frozen=True)
class Event:
    """Something that happened during a run. `data` is JSON-safe."""

    kind: EventKind
    run_id: str
    message: str = ""
    step_index: int | None = None
    step: str | None = None
    host: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    ts: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["kind"] = str(self.kind)
        return out


Sink = Callable[[Event], None]


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v) for v in value]
    return value


class EventBus:
    """Thread-safe fan-out of events to sinks. Secret values are masked before any sink sees them."""

    def __init__(self, run_id: str = "") -> None:
        self.run_id = run_id
        self._sinks: list[Sink] = []
        self._lock = threading.RLock()

    def subscribe(self, sink: Sink) -> None:
        self._sinks.append(sink)

    def emit(self, kind: EventKind, message: str = "", **fields: Any) -> Event:
        """Build an event for the current run, mask secrets, deliver it to every sink in order."""
        data = _masked(fields.pop("data", {}) or {})
        event = Event(kind=kind, run_id=self.run_id, message=mask(message), data=data, **fields)
        with self._lock:
            for sink in self._sinks:
                sink(event)
        return event


class Emitter:
    """What an action sees: emit progress/messages for its own step and host."""

    def __init__(self, bus: EventBus, step_index: int | None, step: str | None, host: str | None) -> None:
        self._bus = bus
        self._where = {"step_index": step_index, "step": step, "host": host}

    def progress(self, message: str, **data: Any) -> None:
        self._bus.emit(EventKind.PROGRESS, message, data=data, **self._where)

    def message(self, message: str, **data: Any) -> None:
        self._bus.emit(EventKind.MESSAGE, message, data=data, **self._where)
