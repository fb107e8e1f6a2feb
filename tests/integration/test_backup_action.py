"""`data.backup` as a playbook step and as the one-step run behind `migrate backup run`: check mode, the
journal, the backup lock (moto server over HTTP)."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from migrate_cli.core.actions import TaskContext
from migrate_cli.core.errors import SafetyRefusal
from migrate_cli.core.events import Emitter, Event, EventBus, EventKind
from migrate_cli.core.execute import execute_playbook
from migrate_cli.core.inventory import Inventory
from migrate_cli.core.journal import Journal
from migrate_cli.core.lock import StateLock
from migrate_cli.core.oneshot import run_action
from migrate_cli.core.runner import RunOptions
from migrate_cli.core.settings import Settings
from migrate_cli.transfer.backup.config import BackupParams
from migrate_cli.transfer.backup.locking import backup_lock, backup_lock_held
from migrate_cli.transfer.backup.s3util import S3Location
from migrate_cli.transfer.backup.store import BackupStore
from migrate_cli.transfer.backup_actions import BackupAction, BackupRestoreAction, BackupRestoreParams
from tests.conftest import write


@pytest.fixture
def source(tmp_path: Path) -> Path:
    src = tmp_path / "site"
    (src / "www").mkdir(parents=True)
    (src / "www" / "index.html").write_text("<h1>hi</h1>")
    (src / "www" / "big.bin").write_bytes(os.urandom(200_000))
    return src


def test_playbook_step_check_then_apply(
    s3: Any, bucket: str, source: Path, tmp_path: Path, small_inventory: Path
) -> None:
    playbook = write(
        tmp_path / "nightly.yml",
        f"""
        name: nightly
        steps:
          - name: Back up the site
            action: data.backup
            with:
              source: {source}
              destination: s3://{bucket}/nightly
              retention: {{daily: 2, weekly: 0, monthly: 0}}
              as_of: "2026-05-01"
        """,
    )
    settings = Settings(inventory_dir=small_inventory, state_dir=tmp_path / "state")
    store = BackupStore(S3Location(bucket, "nightly"), s3)
    dry = execute_playbook(settings, playbook, RunOptions(check=True))
    host = dry.steps[0].hosts[0]
    assert dry.ok and host.status == "changed"
    assert host.data["new_objects"] == 2 and host.data["new_bytes"] == 200_000 + len("<h1>hi</h1>")
    assert store.list_snapshots() == []

    real = execute_playbook(settings, playbook, RunOptions())
    host = real.steps[0].hosts[0]
    assert real.ok and host.data["written"] and host.data["new_objects"] == 2
    assert store.list_snapshots() == [date(2026, 5, 1)]
    assert not backup_lock_held(settings.state_dir)

    same = execute_playbook(settings, playbook, RunOptions())  # same day, nothing changed: no change
    assert same.ok and same.steps[0].hosts[0].status == "ok"


def test_one_step_run_is_one_journal_entry_with_throttled_progress(
    s3: Any, bucket: str, source: Path, tmp_path: Path
) -> None:
    settings = Settings(state_dir=tmp_path / "state")
    seen: list[Event] = []
    params = BackupParams(source=str(source), destination=f"s3://{bucket}/p", as_of=date(2026, 5, 1))
    for _ in range(2):
        res = run_action(
            settings, BackupAction, params, title="backup", step_name="back up", check=False,
            sinks=[seen.append], guard=backup_lock(settings.state_dir),
        )  # fmt: skip
        assert res.exit_code == 0
    journal = Journal.in_state_dir(settings.state_dir)
    try:
        runs = journal.list_runs()
        assert [r.name for r in runs] == ["backup", "backup"]
        record = journal.get_run(runs[-1].id)
        assert record is not None and record.steps[0].action == "data.backup"
        assert record.steps[0].hosts[0].data["new_objects"] == 2
    finally:
        journal.close()
    progress = [e for e in seen if e.kind == EventKind.PROGRESS]
    assert progress and progress[-1].data["bytes_done"] == progress[-1].data["bytes_total"] == 200_011
    assert len(progress) <= 3  # at most one a second, plus the final one


def test_lock_held_refuses_before_anything_happens(s3: Any, bucket: str, source: Path, tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "state")
    params = BackupParams(source=str(source), destination=f"s3://{bucket}/p")
    with StateLock(settings.state_dir, "backup", purpose="migrate backup run (cron)"):
        with pytest.raises(SafetyRefusal, match="lock 'backup' is held by pid") as err:
            run_action(
                settings, BackupAction, params, title="backup", step_name="s", check=False,
                guard=backup_lock(settings.state_dir),
            )  # fmt: skip
        assert err.value.exit_code == 3
        # inside a playbook the step takes the lock itself before writing: it fails, nothing is written
        res = run_action(settings, BackupAction, params, title="backup", step_name="s", check=False)
        assert res.exit_code == 3 and isinstance(res.error, SafetyRefusal)
    assert BackupStore(S3Location(bucket, "p"), s3).list_snapshots() == []
    journal = Journal.in_state_dir(settings.state_dir)
    try:
        assert len(journal.list_runs()) == 1  # the refused one-step run never started
    finally:
        journal.close()


def test_restore_takes_the_backup_lock(s3: Any, bucket: str, source: Path, tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "state")
    params = BackupParams(source=str(source), destination=f"s3://{bucket}/p", as_of=date(2026, 5, 1))
    taken = run_action(
        settings, BackupAction, params, title="backup", step_name="s", guard=backup_lock(settings.state_dir)
    )
    assert taken.exit_code == 0
    dest = tmp_path / "restored"
    restore = BackupRestoreParams(store=f"s3://{bucket}/p", dest=str(dest))
    with StateLock(settings.state_dir, "backup", purpose="migrate backup run (cron)"):
        with pytest.raises(SafetyRefusal, match=r"lock 'backup' is held by pid \d+ .*migrate backup run \(cron\)"):
            run_action(
                settings, BackupRestoreAction, restore, title="backup restore", guard=backup_lock(settings.state_dir)
            )
        # as a step of a playbook (no guard) the action takes the lock itself before writing anything
        res = run_action(settings, BackupRestoreAction, restore, title="backup restore")
        assert res.exit_code == 3 and isinstance(res.error, SafetyRefusal)
    assert not dest.exists()
    res = run_action(
        settings, BackupRestoreAction, restore, title="backup restore", guard=backup_lock(settings.state_dir)
    )
    assert res.exit_code == 0 and (dest / "www" / "index.html").read_text() == "<h1>hi</h1>"
    assert not backup_lock_held(settings.state_dir)


def test_a_restore_step_restores_the_snapshot_as_it_is_when_it_runs(
    s3: Any, bucket: str, source: Path, tmp_path: Path
) -> None:
    """In a playbook the restore is planned without the lock; a same-day backup that replaces the snapshot
    before the restore applies (retention pruning what only the old snapshot named) must not make it fail:
    the manifest is read again under the lock."""
    settings = Settings(state_dir=tmp_path / "state")
    day = date(2026, 5, 1)
    params = BackupParams(source=str(source), destination=f"s3://{bucket}/p", as_of=day)
    assert run_action(settings, BackupAction, params, title="backup", step_name="s").exit_code == 0
    dest = tmp_path / "restored"
    restore = BackupRestoreParams(store=f"s3://{bucket}/p", dest=str(dest), date=day.isoformat())
    action = BackupRestoreAction()
    emit = Emitter(EventBus("r1"), 0, "restore", None)
    ctx = TaskContext("r1", None, restore, False, settings, Inventory(tmp_path, {}, {}, ()), emit)
    plan = action.plan(ctx)
    (source / "www" / "big.bin").write_bytes(os.urandom(200_000))  # the old content is pruned by this run
    assert run_action(settings, BackupAction, params, title="backup", step_name="s").exit_code == 0
    applied = action.apply(ctx, plan)
    assert applied.get("error_count", 0) == 0
    assert (dest / "www" / "big.bin").read_bytes() == (source / "www" / "big.bin").read_bytes()


def test_a_lifecycle_rule_that_would_expire_store_objects_is_warned_about(
    s3: Any, bucket: str, source: Path, tmp_path: Path
) -> None:
    rule = {"ID": "purge", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 30}}
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [rule]})
    settings = Settings(state_dir=tmp_path / "state")
    seen: list[Event] = []
    params = BackupParams(source=str(source), destination=f"s3://{bucket}/p")
    res = run_action(settings, BackupAction, params, title="backup", step_name="s", check=True, sinks=[seen.append])
    assert res.exit_code == 0
    assert "lifecycle rule(s) purge" in res.data["warnings"][0]
    assert any(e.kind == EventKind.MESSAGE and e.message.startswith("warning: lifecycle rule(s) purge") for e in seen)


def test_backup_lock_is_reentrant_in_one_process(tmp_path: Path) -> None:
    with backup_lock(tmp_path):
        assert backup_lock_held(tmp_path)
        with backup_lock(tmp_path):
            assert backup_lock_held(tmp_path)
        assert backup_lock_held(tmp_path)
        with pytest.raises(SafetyRefusal):
            StateLock(tmp_path, "backup").acquire()  # another holder (another open file) is refused
    assert not backup_lock_held(tmp_path)
    with StateLock(tmp_path, "backup"):
        pass
