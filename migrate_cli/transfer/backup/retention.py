"""Which snapshots to keep: the newest snapshot of each of the last N days, M weeks, K months, Y years.

Periods are counted among the periods that HAVE snapshots (as borg and restic do), so a pause in backups
never makes retention delete everything: with `daily: 7` the seven most recent backup days are kept, even
if they span a month. Weeks are ISO weeks (Monday to Sunday). A snapshot kept by any rule is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from migrate_cli.transfer.backup.config import Retention

RULES: tuple[tuple[str, Callable[[date], Any]], ...] = (
    ("daily", lambda d: d),
    ("weekly", lambda d: d.isocalendar()[:2]),
    ("monthly", lambda d: (d.year, d.month)),
    ("yearly", lambda d: d.year),
)


def kept_snapshots(dates: Iterable[date], policy: Retention, always: Iterable[date] = ()) -> dict[date, list[str]]:
    """Snapshot date -> the rules that keep it (e.g. ['daily', 'monthly']); `always` are kept regardless."""
    newest_first = sorted(set(dates), reverse=True)
    kept: dict[date, list[str]] = {d: ["current"] for d in always}
    for rule, period_of in RULES:
        count = getattr(policy, rule)
        last_period: Any = None
        taken = 0
        for day in newest_first:
            if taken >= count:
                break
            period = period_of(day)
            if period != last_period:
                kept.setdefault(day, []).append(rule)
                last_period = period
                taken += 1
    return kept


def expired_snapshots(dates: Iterable[date], policy: Retention, always: Iterable[date] = ()) -> list[date]:
    """The dates retention deletes, oldest first."""
    dates = set(dates)
    kept = kept_snapshots(dates, policy, always)
    return sorted(d for d in dates if d not in kept)
