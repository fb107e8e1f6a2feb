"""Archiving against moto server over HTTP: lifecycle rules merged with foreign ones, moving objects to other
storage classes now, and restore requests. (moto stores lifecycle rules but never applies them, and
completes restores at once: see MOTO-NOTES.md; the --wait loop's timing is unit-tested.)"""

from __future__ import annotations

import os
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from migrate_cli.core.actions import TaskContext
from migrate_cli.core.errors import ConfigError, OperationFailed
from migrate_cli.core.execute import execute_playbook
from migrate_cli.core.oneshot import run_action
from migrate_cli.core.runner import RunOptions
from migrate_cli.core.settings import Settings
from migrate_cli.transfer.archive.lifecycle import build_rule, plan_rule, read_lifecycle, verify_rules, write_lifecycle
from migrate_cli.transfer.archive.move import move_objects, select_objects
from migrate_cli.transfer.archive.status import select_archived
from migrate_cli.transfer.backup.s3util import S3Location
from migrate_cli.transfer.backup_actions import (
    ArchiveRestoreAction,
    ArchiveRestoreParams,
    ArchiveRuleAction,
    ArchiveRuleParams,
)
from tests.conftest import write

FOREIGN = [
    {"ID": "tmp-cleanup", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 3}},
    {
        "ID": "old-versions",
        "Status": "Disabled",
        "Filter": {"And": {"Prefix": "logs/", "Tags": [{"Key": "keep", "Value": "no"}]}},
        "NoncurrentVersionExpiration": {"NoncurrentDays": 5},
    },
]
MIB = 1024 * 1024


def count_calls(s3: Any) -> Counter[str]:
    calls: Counter[str] = Counter()
    s3.meta.events.register("before-call.s3", lambda model, **_: calls.update([model.name]))
    return calls


# --- lifecycle ------------------------------------------------------------------------------------


def test_rule_is_merged_with_foreign_rules_and_is_idempotent(s3: Any, bucket: str) -> None:
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": FOREIGN})
    loc = S3Location(bucket, "logs/")
    rule = build_rule("logs/", "GLACIER", 30, 365)
    plan = plan_rule(s3, loc, rule)
    assert plan.changed and plan.action_word() == "add" and plan.foreign == ["tmp-cleanup", "old-versions"]
    write_lifecycle(s3, bucket, plan.proposed, plan.current.min_size)
    verify_rules(s3, bucket, plan.proposed)
    now = read_lifecycle(s3, bucket)
    assert [r["ID"] for r in now.rules] == ["tmp-cleanup", "old-versions", "migrate-cli:archive:logs/"]
    assert now.rules[:2] == FOREIGN  # foreign rules untouched, byte for byte

    calls = count_calls(s3)
    again = plan_rule(s3, loc, rule)
    assert not again.changed
    assert calls["PutBucketLifecycleConfiguration"] == 0

    changed = plan_rule(s3, loc, build_rule("logs/", "DEEP_ARCHIVE", 90, None))
    assert changed.changed and changed.action_word() == "change"
    write_lifecycle(s3, bucket, changed.proposed, changed.current.min_size)
    ours = [r for r in read_lifecycle(s3, bucket).rules if r["ID"].startswith("migrate-cli:")]
    assert ours == [build_rule("logs/", "DEEP_ARCHIVE", 90, None)]

    other_prefix = plan_rule(s3, S3Location(bucket, "media/"), build_rule("media/", "GLACIER_IR", 0, None))
    write_lifecycle(s3, bucket, other_prefix.proposed, other_prefix.current.min_size)
    assert len(read_lifecycle(s3, bucket).rules) == 4  # our two prefixes and the two foreign rules

    removed = plan_rule(s3, loc, None, remove=True)
    assert removed.action_word() == "remove"
    write_lifecycle(s3, bucket, removed.proposed, removed.current.min_size)
    assert [r["ID"] for r in read_lifecycle(s3, bucket).rules] == [
        "tmp-cleanup",
        "old-versions",
        "migrate-cli:archive:media/",
    ]


def test_removing_the_only_rule_deletes_the_configuration(s3: Any, bucket: str) -> None:
    loc = S3Location(bucket, "")
    plan = plan_rule(s3, loc, build_rule("", "GLACIER", 1, None))
    assert not plan.current.exists
    write_lifecycle(s3, bucket, plan.proposed, None)
    assert read_lifecycle(s3, bucket).exists
    gone = plan_rule(s3, loc, None, remove=True)
    write_lifecycle(s3, bucket, gone.proposed, None)
    assert not read_lifecycle(s3, bucket).exists


def test_verify_notices_a_rule_that_did_not_stick(s3: Any, bucket: str) -> None:
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": FOREIGN[:1]})
    with pytest.raises(OperationFailed, match="did not take effect"):
        verify_rules(s3, bucket, [*FOREIGN[:1], build_rule("x/", "GLACIER", 1, None)])


def test_missing_bucket_is_bad_input(s3: Any) -> None:
    with pytest.raises(ConfigError, match="bucket 'no-such-bucket-zz' does not exist"):
        plan_rule(s3, S3Location("no-such-bucket-zz", "x/"), build_rule("x/", "GLACIER", 1, None))


def test_data_archive_in_a_playbook_check_apply_and_rollback(
    s3: Any, bucket: str, tmp_path: Path, small_inventory: Path
) -> None:
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": FOREIGN})
    playbook = write(
        tmp_path / "archive.yml",
        f"""
        name: archive logs
        steps:
          - name: Old logs go to Glacier
            action: data.archive
            with:
              url: s3://{bucket}/logs/
              to: GLACIER
              after: 30
              expire: 400
        """,
    )
    settings = Settings(inventory_dir=small_inventory, state_dir=tmp_path / "state")
    dry = execute_playbook(settings, playbook, RunOptions(check=True))
    host = dry.steps[0].hosts[0]
    assert dry.ok and host.status == "changed"
    assert '+    "ID": "migrate-cli:archive:logs/"' in host.diff
    assert len(read_lifecycle(s3, bucket).rules) == 2  # check mode changed nothing

    real = execute_playbook(settings, playbook, RunOptions())
    assert real.ok and len(read_lifecycle(s3, bucket).rules) == 3
    again = execute_playbook(settings, playbook, RunOptions())
    assert again.steps[0].hosts[0].status == "ok" and not again.steps[0].hosts[0].changed

    # rollback puts back exactly what the bucket had before the step
    action = ArchiveRuleAction()
    params = ArchiveRuleParams(url=f"s3://{bucket}/media/", to="DEEP_ARCHIVE", after=10)
    ctx = TaskContext("r", None, params, False, settings, None, None)  # type: ignore[arg-type]
    plan = action.plan(ctx)
    action.apply(ctx, plan)
    assert len(read_lifecycle(s3, bucket).rules) == 4
    note = action.rollback(ctx, plan, {})
    assert "restored the 3 lifecycle rule(s)" in note
    assert [r["ID"] for r in read_lifecycle(s3, bucket).rules] == [
        "tmp-cleanup",
        "old-versions",
        "migrate-cli:archive:logs/",
    ]


# --- archive now ---------------------------------------------------------------------------------


def put_objects(s3: Any, bucket: str) -> None:
    s3.put_object(
        Bucket=bucket,
        Key="logs/a.log",
        Body=b"a" * 100,
        ContentType="text/plain",
        Metadata={"owner": "ops"},
        Tagging="team=web",
        ServerSideEncryption="AES256",
        ChecksumAlgorithm="SHA256",
    )
    s3.put_object(Bucket=bucket, Key="logs/b.log", Body=b"b" * 200)
    s3.put_object(Bucket=bucket, Key="logs/already.log", Body=b"c", StorageClass="GLACIER")
    s3.put_object(Bucket=bucket, Key="other/x", Body=b"x")


def test_archive_now_moves_old_objects_keeping_their_attributes(s3: Any, bucket: str) -> None:
    put_objects(s3, bucket)
    before = s3.head_object(Bucket=bucket, Key="logs/a.log", ChecksumMode="ENABLED")
    loc = S3Location(bucket, "logs/")
    assert select_objects(s3, loc, "GLACIER_IR", 30).to_move == []  # everything is newer than 30 days
    later = datetime.now().astimezone() + timedelta(days=31)
    sel = select_objects(s3, loc, "GLACIER_IR", 30, now=later)
    assert sorted(c.key for c in sel.to_move) == ["logs/a.log", "logs/b.log"]
    assert sel.need_restore[0].key == "logs/already.log" and sel.bytes == 300 and not sel.versioned

    results = move_objects(s3, sel)
    assert [(r.key, r.status) for r in results] == [("logs/a.log", "moved"), ("logs/b.log", "moved")]
    after = s3.head_object(Bucket=bucket, Key="logs/a.log", ChecksumMode="ENABLED")
    assert after["StorageClass"] == "GLACIER_IR"
    assert after["ContentType"] == "text/plain" and after["Metadata"] == {"owner": "ops"}
    assert after["ServerSideEncryption"] == "AES256"
    assert after["ChecksumSHA256"] == before["ChecksumSHA256"]
    assert s3.get_object_tagging(Bucket=bucket, Key="logs/a.log")["TagSet"] == [{"Key": "team", "Value": "web"}]
    assert s3.head_object(Bucket=bucket, Key="other/x").get("StorageClass") is None  # outside the prefix

    # on to GLACIER; then the archived objects need a restore before they can move again
    to_glacier = select_objects(s3, loc, "GLACIER", 0, now=later)
    assert to_glacier.already == 1 and all(r.status == "moved" for r in move_objects(s3, to_glacier))
    assert s3.head_object(Bucket=bucket, Key="logs/a.log")["StorageClass"] == "GLACIER"
    back = select_objects(s3, loc, "STANDARD_IA", 0, now=later)
    assert {c.key for c in back.need_restore} == {"logs/a.log", "logs/b.log", "logs/already.log"}
    s3.restore_object(Bucket=bucket, Key="logs/b.log", RestoreRequest={"Days": 1})
    back = select_objects(s3, loc, "STANDARD_IA", 0, now=later)
    assert [c.key for c in back.to_move] == ["logs/b.log"]
    assert move_objects(s3, back)[0].status == "moved"
    assert s3.head_object(Bucket=bucket, Key="logs/b.log")["StorageClass"] == "STANDARD_IA"


def test_archive_now_large_objects_use_multipart_copy(s3: Any, bucket: str) -> None:
    """(GLACIER_IR, not DEEP_ARCHIVE: moto refuses GetObjectTagging on Glacier classes, which AWS allows.)"""
    body = os.urandom(11 * MIB)
    s3.put_object(Bucket=bucket, Key="big/blob", Body=body, Metadata={"k": "v"}, ContentType="application/x-test")
    s3.put_object_tagging(Bucket=bucket, Key="big/blob", Tagging={"TagSet": [{"Key": "t", "Value": "1"}]})
    calls = count_calls(s3)
    sel = select_objects(s3, S3Location(bucket, "big/"), "GLACIER_IR", 0)
    results = move_objects(s3, sel, copy_limit=5 * MIB)
    assert results[0].status == "moved", results[0].detail
    assert calls["UploadPartCopy"] >= 2 and calls["CopyObject"] == 0
    head = s3.head_object(Bucket=bucket, Key="big/blob")
    assert head["StorageClass"] == "GLACIER_IR" and head["ContentLength"] == len(body)
    assert head["Metadata"] == {"k": "v"} and head["ContentType"] == "application/x-test"
    assert s3.get_object_tagging(Bucket=bucket, Key="big/blob")["TagSet"] == [{"Key": "t", "Value": "1"}]


def test_an_object_changed_after_listing_is_skipped(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"v1")
    sel = select_objects(s3, S3Location(bucket, ""), "GLACIER", 0)
    s3.put_object(Bucket=bucket, Key="k", Body=b"v2 changed")
    result = move_objects(s3, sel)[0]
    assert result.status == "skipped" and "changed since it was listed" in result.detail
    assert s3.head_object(Bucket=bucket, Key="k").get("StorageClass") is None


# --- archive restore -------------------------------------------------------------------------------


def test_restore_requests_and_status(s3: Any, bucket: str, tmp_path: Path) -> None:
    s3.put_object(Bucket=bucket, Key="arch/one", Body=b"1", StorageClass="GLACIER")
    s3.put_object(Bucket=bucket, Key="arch/two", Body=b"2", StorageClass="DEEP_ARCHIVE")
    s3.put_object(Bucket=bucket, Key="arch/ir", Body=b"3", StorageClass="GLACIER_IR")
    single = select_archived(s3, S3Location(bucket, "arch/one"))
    assert single.single and [a.key for a in single.archived] == ["arch/one"]
    prefix = select_archived(s3, S3Location(bucket, "arch/"))
    assert sorted(a.key for a in prefix.archived) == ["arch/one", "arch/two"]
    assert [a.key for a in prefix.not_archived] == ["arch/ir"]
    with pytest.raises(ConfigError, match="no objects at"):
        select_archived(s3, S3Location(bucket, "nothing-here/"))

    settings = Settings(state_dir=tmp_path / "state")
    expedited = ArchiveRestoreParams(url=f"s3://{bucket}/arch/", days=2, tier="Expedited")
    refused = run_action(settings, ArchiveRestoreAction, expedited, title="t", step_name="s", check=False)
    assert isinstance(refused.error, ConfigError) and refused.exit_code == 2
    assert "not available for DEEP_ARCHIVE" in str(refused.error)
    assert "Restore" not in s3.head_object(Bucket=bucket, Key="arch/one")  # nothing was requested

    params = ArchiveRestoreParams(url=f"s3://{bucket}/arch/", days=2, tier="Bulk", wait=True, interval=0.1)
    checked = run_action(settings, ArchiveRestoreAction, params, title="t", step_name="s", check=True)
    assert checked.exit_code == 0 and checked.data["archived"] == 2
    assert "Restore" not in s3.head_object(Bucket=bucket, Key="arch/one")

    done = run_action(settings, ArchiveRestoreAction, params, title="t", step_name="s", check=False)
    assert done.exit_code == 0, done.host
    results = {r["key"]: r for r in done.data["results"]}
    assert set(results) == {"arch/one", "arch/two"}
    assert all(r["status"] == "restored" and r["expiry"] for r in results.values())
    assert s3.get_object(Bucket=bucket, Key="arch/one")["Body"].read() == b"1"

    again = run_action(settings, ArchiveRestoreAction, params, title="t", step_name="s", check=False)
    assert {r["request"] for r in again.data["results"]} == {"already restored (days extended)"}
