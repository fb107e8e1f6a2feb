"""What a drill measured, and the options it ran with (shared by the uplink and the Direct Connect drills)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Log = Callable[[str, dict[str, Any]], None]
GOAL_S = 1.0


@dataclass(frozen=True)
class DrillOptions:
    max_duration: float = 60.0  # the whole drill, failback included
    settle: float | None = None  # seconds on the secondary before restoring (default: the hold-down + 0.5 s)
    traffic_interval: float = 0.1
    traffic_timeout: float = 0.5
    warmup: float = 10.0  # at most this long to see the primary carry traffic and a secondary up
    goal: float = GOAL_S


# ------------------------------------------------------------------------------------------------------------
# Result
# ------------------------------------------------------------------------------------------------------------
@dataclass
class DrillResult:
    """Measurements in seconds from the cut (failover) and from the restore (failback)."""

    host: str
    link: str
    mode: str
    watcher: str = ""
    secondary: str | None = None
    started: float = field(default_factory=time.time)
    cut: bool = False
    detect_s: float | None = None
    switch_s: float | None = None
    traffic_s: float | None = None
    failback_detect_s: float | None = None
    failback_switch_s: float | None = None
    failback_traffic_s: float | None = None
    probes_lost: int = 0
    probes_sent: int = 0
    restored: bool = False
    restore_error: str | None = None
    restore_by_hand: str | None = None
    timed_out: bool = False
    interrupted: bool = False
    error: str | None = None
    goal_s: float = GOAL_S
    notes: list[str] = field(default_factory=list)

    @property
    def failed_over(self) -> bool:
        return (self.traffic_s if self.mode in ("lab", "linux") else self.switch_s) is not None

    @property
    def failed_back(self) -> bool:
        measured = self.failback_traffic_s if self.mode in ("lab", "linux") else self.failback_switch_s
        return measured is not None

    @property
    def ok(self) -> bool:
        clean = not (self.timed_out or self.interrupted or self.error)
        return clean and self.restored and self.failed_over and self.failed_back

    @property
    def goal_met(self) -> bool | None:
        measured = self.traffic_s if self.traffic_s is not None else self.switch_s
        return None if measured is None else measured <= self.goal_s

    @property
    def verdict(self) -> str:
        if self.cut and not self.restored:
            return "NOT RESTORED"
        if self.ok:
            return "passed"
        if self.interrupted:
            return "interrupted"
        if self.timed_out:
            return "timed out"
        return "failed"

    def facts(self) -> dict[str, Any]:
        """Scalars for the journal's host result and the report's details column."""
        out: dict[str, Any] = {"drill": self.verdict, "link": self.link, "mode": self.mode, "secondary": self.secondary}
        for key in (
            "detect_s",
            "switch_s",
            "traffic_s",
            "failback_detect_s",
            "failback_switch_s",
            "failback_traffic_s",
        ):
            value = getattr(self, key)
            if value is not None:
                out[key] = round(value, 3)
        if self.probes_sent:
            out["probes_lost"] = f"{self.probes_lost}/{self.probes_sent}"
        out["restored"] = self.restored
        if self.goal_met is not None:
            out["goal"] = f"{'met' if self.goal_met else 'missed'} ({self.goal_s:g}s)"
        if self.restore_error:
            out["restore_error"] = self.restore_error
        if self.error:
            out["error"] = self.error
        return out

    def lines(self) -> list[str]:
        """The result as sentences for the console and the report's event log."""

        def s(value: float | None) -> str:
            return f"{value:.2f}s" if value is not None else "not seen"

        out = [f"drill of {self.link} on {self.host} ({self.mode}; watcher: {self.watcher or '-'}): {self.verdict}"]
        if self.cut:
            traffic = self.probes_sent > 0 or self.traffic_s is not None
            over = f"failover to {self.secondary or '?'}: detected {s(self.detect_s)}, route moved {s(self.switch_s)}"
            back = (
                f"failback to {self.link}: detected {s(self.failback_detect_s)}, "
                f"route moved {s(self.failback_switch_s)}"
            )
            if traffic:
                over += f", traffic on the secondary {s(self.traffic_s)}"
                back += f", traffic on {self.link} {s(self.failback_traffic_s)}"
            out.append(over + " after the cut")
            out.append(back + " after the restore")
            if self.probes_sent:
                out.append(f"traffic probes lost: {self.probes_lost} of {self.probes_sent}")
            if self.goal_met is not None:
                out.append(f"goal (failover within {self.goal_s:g}s): {'met' if self.goal_met else 'MISSED'}")
        if self.cut and not self.restored:
            out.append(f"DRILL COULD NOT RESTORE {self.link} ON {self.host}: {self.restore_error or 'unknown'}")
            if self.restore_by_hand:
                out.append(f"restore it by hand: {self.restore_by_hand}")
        out += self.notes
        if self.error:
            out.append(f"error: {self.error}")
        return out
