"""Retention: which snapshots survive keep-daily/weekly/monthly/yearly (pure logic)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from migrate_cli.transfer.backup.config import Retention
from migrate_cli.transfer.backup.retention import expired_snapshots, kept_snapshots


def days(start: date, count: int) -> list[date]:
    return [start + timedelta(days=i) for i in range(count)]


def test_daily_weekly_monthly_over_ninety_days() -> None:
    snaps = days(date(2026, 1, 1), 90)  # 2026-01-01 .. 2026-03-31, one a day
    kept = kept_snapshots(snaps, Retention(daily=7, weekly=4, monthly=3))
    newest = date(2026, 3, 31)
    # the last 7 days
    assert all("daily" in kept[newest - timedelta(days=i)] for i in range(7))
    # the newest snapshot of each of the last 4 ISO weeks (weeks end on Sunday)
    weekly = sorted(d for d, why in kept.items() if "weekly" in why)
    assert weekly == [date(2026, 3, 15), date(2026, 3, 22), date(2026, 3, 29), date(2026, 3, 31)]
    # the newest snapshot of each of the last 3 months
    monthly = sorted(d for d, why in kept.items() if "monthly" in why)
    assert monthly == [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)]
    expired = expired_snapshots(snaps, Retention(daily=7, weekly=4, monthly=3))
    assert len(expired) == 90 - len(kept)
    assert date(2026, 1, 1) in expired and date(2026, 1, 31) not in expired


def test_periods_count_only_days_that_have_snapshots() -> None:
    # a two-month pause in backups must not make retention delete the old ones
    snaps = [date(2026, 1, 1), date(2026, 1, 2), date(2026, 3, 10)]
    assert expired_snapshots(snaps, Retention(daily=3, weekly=0, monthly=0)) == []
    assert expired_snapshots(snaps, Retention(daily=2, weekly=0, monthly=0)) == [date(2026, 1, 1)]


def test_yearly_and_always_kept() -> None:
    snaps = [date(2024, 12, 31), date(2025, 6, 1), date(2025, 12, 30), date(2026, 1, 5)]
    policy = Retention(daily=1, weekly=0, monthly=0, yearly=2)
    kept = kept_snapshots(snaps, policy)
    assert set(kept) == {date(2026, 1, 5), date(2025, 12, 30)}
    # `always` (the snapshot just taken) survives even if it is older than the others (a backfill)
    assert date(2024, 12, 31) not in expired_snapshots(snaps, policy, always=[date(2024, 12, 31)])


@settings(max_examples=200, deadline=None)
@given(
    offsets=st.sets(st.integers(min_value=0, max_value=800), min_size=1, max_size=60),
    daily=st.integers(min_value=1, max_value=10),
    weekly=st.integers(min_value=0, max_value=6),
    monthly=st.integers(min_value=0, max_value=6),
)
def test_properties(offsets: set[int], daily: int, weekly: int, monthly: int) -> None:
    snaps = {date(2024, 1, 1) + timedelta(days=o) for o in offsets}
    policy = Retention(daily=daily, weekly=weekly, monthly=monthly)
    kept = kept_snapshots(snaps, policy)
    expired = expired_snapshots(snaps, policy)
    assert max(snaps) in kept  # the newest snapshot is never deleted
    assert set(expired) | set(kept) == snaps and not set(expired) & set(kept)
    assert len(kept) <= daily + weekly + monthly
    ordered = sorted(snaps, reverse=True)
    assert set(ordered[:daily]) <= set(kept)  # the `daily` newest days are kept
    # idempotent: applying retention to what it kept deletes nothing more
    assert expired_snapshots(kept, policy) == []
