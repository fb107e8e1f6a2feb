"""Playbook actions for backups and archiving.

Registered: `data.backup` (take today's snapshot) and `data.archive` (manage an archive lifecycle rule).
Also used by the CLI as one-step playbooks: `data.backup_restore`, `data.archive_now`,
`data.archive_restore`.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from migrate_cli.aws.session import client
from migrate_cli.core.actions import Action, ActionParams, Plan, TaskContext
from migrate_cli.core.errors import ConfigError, MigrateError, OperationFailed
from migrate_cli.core.events import Emitter
from migrate_cli.transfer.archive.lifecycle import (
    build_rule,
    describe_rule,
    overlapping,
    plan_rule,
    read_lifecycle,
    risky_rules,
    rules_diff,
    verify_rules,
    write_lifecycle,
)
from migrate_cli.transfer.archive.move import move_objects, select_objects
from migrate_cli.transfer.archive.status import (
    check_tier,
    object_state,
    request_restore,
    select_archived,
    wait_for_restores,
)
from migrate_cli.transfer.backup.config import BackupConfig, BackupParams, load_backup_config
from migrate_cli.transfer.backup.locking import backup_lock, backup_lock_held
from migrate_cli.transfer.backup.restore import check_dest, restore_snapshot
from migrate_cli.transfer.backup.s3util import (
    ARCHIVE_CLASSES,
    STORAGE_CLASSES,
    check_storage_class,
    parse_s3_url,
)
from migrate_cli.transfer.backup.snapshot import plan_backup, run_backup
from migrate_cli.transfer.backup.store import BackupStore
from migrate_cli.transfer.backup.units import human_bytes
from migrate_cli.transfer.backup.upload import Progress

PROGRESS_EVERY = 1.0  # seconds between progress events (each one is also a journal row)


def s3_client() -> Any:
    """The S3 client actions use (standard chain, AWS_ENDPOINT_URL honoured)."""
    return client("s3")


class ThrottledProgress:
    """Turns transfer progress callbacks into at most one progress event per PROGRESS_EVERY seconds."""

    def __init__(self, emit: Emitter, verb: str) -> None:
        self.emit = emit
        self.verb = verb
        self.last = 0.0

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        final = p.files_done >= p.files_total and p.bytes_done >= p.bytes_total
        if now - self.last < PROGRESS_EVERY and not final:
            return
        self.last = now
        self.emit.progress(
            f"{self.verb} {p.files_done}/{p.files_total} files, "
            f"{human_bytes(p.bytes_done)}/{human_bytes(p.bytes_total)}",
            phase=p.phase,
            files_done=p.files_done,
            files_total=p.files_total,
            bytes_done=p.bytes_done,
            bytes_total=p.bytes_total,
        )


def store_for(config: BackupConfig, s3: Any = None) -> BackupStore:
    return BackupStore(
        config.location,
        s3 if s3 is not None else s3_client(),
        storage_class=config.storage_class,
        sse=config.sse,
        kms_key_id=config.kms_key_id,
        bwlimit=config.bwlimit_bytes,
    )


def store_warnings(store: BackupStore) -> list[str]:
    """Lifecycle rules that would expire or archive the store's objects behind retention's back."""
    try:
        current = read_lifecycle(store.s3, store.bucket)
    except MigrateError:
        return []  # e.g. no permission to read lifecycle rules: nothing to say
    risky = risky_rules(current.rules, store.location.prefix)
    if not risky:
        return []
    return [
        f"lifecycle rule(s) {', '.join(risky)} on s3://{store.bucket} expire or archive objects of this backup "
        "store; snapshots that share them will not restore. Retention already deletes what is unused."
    ]


# --- data.backup -------------------------------------------------------------------------------------


class BackupAction(Action):
    """Take the day's snapshot of a directory into an S3 backup store, then apply retention."""

    name = "data.backup"
    summary = "Back up a directory tree into S3 as a dated, verified, deduplicated snapshot."
    Params = BackupParams
    per_host = False

    def plan(self, ctx: TaskContext) -> Plan:
        params: BackupParams = ctx.params
        config = params.resolve()
        day = params.as_of or date.today()
        store = store_for(config)
        held = backup_lock_held(ctx.settings.state_dir)
        skip = (ctx.settings.state_dir.absolute(),)
        bplan = plan_backup(config, store, day, hash_now=ctx.check, skip_dirs=skip)
        data = bplan.data()
        data["warnings"] = store_warnings(store)
        for warning in data["warnings"]:
            ctx.emit.message(f"warning: {warning}")
        return Plan(changes=bplan.changes(), data=data, state=(bplan, store, held))

    def apply(self, ctx: TaskContext, plan: Plan) -> dict[str, Any]:
        bplan, store, held = plan.state
        with backup_lock(ctx.settings.state_dir):
            outcome = run_backup(bplan, store, ThrottledProgress(ctx.emit, "backed up"), refresh=not held)
        ctx.emit.message(outcome.summary())
        return outcome.to_dict() | {"summary": outcome.summary()}

    def verify(self, ctx: TaskContext, plan: Plan, applied: dict[str, Any]) -> None:
        if not applied.get("complete", True):
            errors = applied.get("errors") or []
            first = f": {errors[0]}" if errors else ""
            raise OperationFailed(f"partial snapshot: {applied.get('error_count', len(errors))} problem(s){first}")


# --- data.backup_restore -----------------------------------------------------------------------------


class BackupRestoreParams(ActionParams):
    config: str | None = None
    store: str | None = None  # s3://bucket/prefix of the backup store, instead of a config file
    date: str = "latest"
    dest: str
    force: bool = False
    workers: int = Field(default=8, ge=1, le=64)

    @model_validator(mode="after")
    def _either(self) -> BackupRestoreParams:
        if bool(self.config) == bool(self.store):
            raise ValueError("give exactly one of config or store")
        if self.store:
            try:
                parse_s3_url(self.store, "store")
            except ConfigError as exc:
                raise ValueError(exc.message) from None
        return self


def restore_store(params: BackupRestoreParams) -> BackupStore:
    if params.config:
        return store_for(load_backup_config(Path(params.config)))
    return BackupStore(parse_s3_url(params.store or "", "store"), s3_client())


class BackupRestoreAction(Action):
    """Restore one snapshot into a directory and verify every file's SHA-256, under the backup lock (a run's
    retention must not delete objects mid-restore; two restores must not write one DEST)."""

    name = "data.backup_restore"
    summary = "Restore a backup snapshot into a directory and verify it."
    Params = BackupRestoreParams
    per_host = False

    def plan(self, ctx: TaskContext) -> Plan:
        params: BackupRestoreParams = ctx.params
        store = restore_store(params)
        store.check_bucket()
        day = store.resolve_date(params.date)
        dest = Path(params.dest).absolute()
        check_dest(dest, params.force)
        manifest = store.read_manifest(day)
        files = manifest.files
        change = (
            f"restore snapshot {day.isoformat()} ({len(files)} files, {human_bytes(manifest.total_bytes)}) "
            f"from {store.location.url} into {dest}"
        )
        data = {
            "date": day.isoformat(),
            "dest": str(dest),
            "files": len(files),
            "bytes": manifest.total_bytes,
            "complete": manifest.complete,
        }
        return Plan(changes=[change], data=data, state=(store, day, dest))

    def apply(self, ctx: TaskContext, plan: Plan) -> dict[str, Any]:
        """The snapshot's manifest is read again under the lock: in a playbook the plan ran without it, and
        a same-day backup may have replaced the snapshot (and pruned what the old one named) since."""
        store, day, dest = plan.state
        params: BackupRestoreParams = ctx.params
        progress = ThrottledProgress(ctx.emit, "restored")
        with backup_lock(ctx.settings.state_dir):
            outcome = restore_snapshot(store, day, dest, params.force, params.workers, progress)
        return outcome.to_dict()

    def verify(self, ctx: TaskContext, plan: Plan, applied: dict[str, Any]) -> None:
        if applied.get("error_count"):
            first = applied["errors"][0]
            raise OperationFailed(f"{applied['error_count']} file(s) not restored or not verified: {first}")


# --- data.archive --------------------------------------------------------------------------------------


def _value_error(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except ConfigError as exc:
        raise ValueError(exc.message) from None


class S3UrlParams(ActionParams):
    """Parameters that start with an `s3://bucket/prefix` URL, checked when the playbook loads."""

    url: str

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        _value_error(parse_s3_url, value, "url")
        return value


class ArchiveRuleParams(S3UrlParams):
    to: str = "GLACIER"
    after: int = 30
    expire: int | None = None
    remove: bool = False

    @field_validator("to")
    @classmethod
    def _to(cls, value: str) -> str:
        return _value_error(check_storage_class, value, ARCHIVE_CLASSES, "to")

    @model_validator(mode="after")
    def _days(self) -> ArchiveRuleParams:
        loc = parse_s3_url(self.url, "url")
        _value_error(build_rule, loc.prefix, self.to, self.after, self.expire)
        return self


class ArchiveRuleAction(Action):
    """Manage the lifecycle rule migrate-cli owns for a prefix, keeping every other rule of the bucket."""

    name = "data.archive"
    summary = "Archive a prefix to a Glacier class after N days with an S3 lifecycle rule (merged, idempotent)."
    Params = ArchiveRuleParams
    per_host = False

    def plan(self, ctx: TaskContext) -> Plan:
        params: ArchiveRuleParams = ctx.params
        loc = parse_s3_url(params.url, "url")
        rule = build_rule(loc.prefix, params.to, params.after, params.expire)
        rplan = plan_rule(s3_client(), loc, rule, remove=params.remove)
        data: dict[str, Any] = {
            "bucket": loc.bucket,
            "prefix": loc.prefix,
            "rule_id": rplan.rule_id,
            "rule": describe_rule(rule) if not params.remove else None,
            "foreign_rules": rplan.foreign,
            "overlapping": overlapping(rplan.current.rules, loc.prefix),
            "action": rplan.action_word() if rplan.changed else "unchanged",
        }
        changes = []
        if rplan.changed:
            what = f"{rplan.action_word()} lifecycle rule {rplan.rule_id} on s3://{loc.bucket}"
            if rplan.rule is not None:
                what += f": {describe_rule(rule)}"
            kept = len(rplan.foreign)
            changes.append(what + (f" (keeping {kept} other rule{'s' if kept != 1 else ''})" if kept else ""))
        diff = rules_diff(rplan.current.rules, rplan.proposed, loc.bucket) if rplan.changed else ""
        return Plan(changes=changes, diff=diff, data=data, state=rplan)

    def apply(self, ctx: TaskContext, plan: Plan) -> dict[str, Any]:
        rplan = plan.state
        write_lifecycle(s3_client(), rplan.location.bucket, rplan.proposed, rplan.current.min_size)
        return {"rules": len(rplan.proposed)}

    def verify(self, ctx: TaskContext, plan: Plan, applied: dict[str, Any]) -> None:
        verify_rules(s3_client(), plan.state.location.bucket, plan.state.proposed)

    def rollback(self, ctx: TaskContext, plan: Plan, applied: dict[str, Any]) -> str:
        rplan = plan.state
        write_lifecycle(s3_client(), rplan.location.bucket, rplan.current.rules, rplan.current.min_size)
        return f"restored the {len(rplan.current.rules)} lifecycle rule(s) s3://{rplan.location.bucket} had before"


# --- data.archive_now ----------------------------------------------------------------------------------


class ArchiveNowParams(S3UrlParams):
    to: str
    older_than: int = Field(ge=0)
    workers: int = Field(default=8, ge=1, le=64)

    @field_validator("to")
    @classmethod
    def _to(cls, value: str) -> str:
        return _value_error(check_storage_class, value, STORAGE_CLASSES, "to")


class ArchiveNowAction(Action):
    """Move existing objects older than N days to a storage class now (copy in place)."""

    name = "data.archive_now"
    summary = "Move objects older than N days to another storage class now."
    Params = ArchiveNowParams
    per_host = False

    def plan(self, ctx: TaskContext) -> Plan:
        params: ArchiveNowParams = ctx.params
        loc = parse_s3_url(params.url, "url")
        sel = select_objects(s3_client(), loc, params.to, params.older_than)
        data = {
            "url": loc.url,
            "to": params.to,
            "older_than_days": params.older_than,
            "to_move": len(sel.to_move),
            "bytes": sel.bytes,
            "already": sel.already,
            "too_new": sel.too_new,
            "need_restore": len(sel.need_restore),
            "versioned": sel.versioned,
            "objects": [c.to_dict() for c in sel.to_move[:200]],
        }
        changes = []
        if sel.to_move:
            changes.append(f"move {len(sel.to_move)} objects ({human_bytes(sel.bytes)}) under {loc.url} to {params.to}")
        return Plan(changes=changes, data=data, state=sel)

    def apply(self, ctx: TaskContext, plan: Plan) -> dict[str, Any]:
        params: ArchiveNowParams = ctx.params
        sel = plan.state
        done = {"n": 0, "last": 0.0}

        def on_done(res: Any) -> None:
            done["n"] += 1
            now = time.monotonic()
            if now - done["last"] >= PROGRESS_EVERY or done["n"] == len(sel.to_move):
                done["last"] = now
                ctx.emit.progress(f"{done['n']}/{len(sel.to_move)} objects", done=done["n"], total=len(sel.to_move))

        results = move_objects(s3_client(), sel, params.workers, on_done=on_done)
        failed = [r for r in results if r.status == "failed"]
        return {
            "moved": sum(1 for r in results if r.status == "moved"),
            "moved_bytes": sum(r.size for r in results if r.status == "moved"),
            "skipped": sum(1 for r in results if r.status == "skipped"),
            "failed": len(failed),
            "failures": [r.to_dict() for r in failed[:50]],
            "results": [r.to_dict() for r in results[:200]],
        }

    def verify(self, ctx: TaskContext, plan: Plan, applied: dict[str, Any]) -> None:
        if applied.get("failed"):
            first = applied["failures"][0]
            raise OperationFailed(f"{applied['failed']} object(s) not moved, e.g. {first['key']}: {first['detail']}")


# --- data.archive_restore --------------------------------------------------------------------------------


class ArchiveRestoreParams(S3UrlParams):
    days: int = Field(ge=1)
    tier: str = "Standard"
    wait: bool = False
    timeout: float = Field(default=48 * 3600, gt=0)
    interval: float = Field(default=60, gt=0)
    workers: int = Field(default=8, ge=1, le=64)

    @field_validator("tier")
    @classmethod
    def _tier(cls, value: str) -> str:
        return _value_error(check_tier, value)


class ArchiveRestoreAction(Action):
    """Request temporary copies of archived objects; optionally wait until they are readable."""

    name = "data.archive_restore"
    summary = "Restore archived (GLACIER / DEEP_ARCHIVE) objects for N days."
    Params = ArchiveRestoreParams
    per_host = False

    def plan(self, ctx: TaskContext) -> Plan:
        params: ArchiveRestoreParams = ctx.params
        loc = parse_s3_url(params.url, "url")
        s3 = s3_client()
        sel = select_archived(s3, loc)
        deep = [a for a in sel.archived if a.storage_class == "DEEP_ARCHIVE"]
        if params.tier == "Expedited" and deep:
            raise ConfigError(
                f"--tier: Expedited retrieval is not available for DEEP_ARCHIVE ({len(deep)} object(s), "
                f"e.g. {deep[0].key}); use Standard or Bulk"
            )
        states = {a.key: object_state(s3, loc.bucket, a.key) for a in sel.archived}
        data = {
            "url": loc.url,
            "tier": params.tier,
            "days": params.days,
            "archived": len(sel.archived),
            "not_archived": len(sel.not_archived),
            "objects": [
                {
                    "key": a.key,
                    "storage_class": a.storage_class,
                    "status": states[a.key].state,
                    "expiry": states[a.key].expiry,
                }
                for a in sel.archived[:1000]
            ],
        }
        changes = []
        if sel.archived:
            changes.append(
                f"request {params.tier} restore of {len(sel.archived)} object(s) under {loc.url} for {params.days} days"
            )
        return Plan(changes=changes, data=data, state=(sel, states))

    def apply(self, ctx: TaskContext, plan: Plan) -> dict[str, Any]:
        params: ArchiveRestoreParams = ctx.params
        sel, _ = plan.state
        s3 = s3_client()
        bucket = sel.location.bucket
        with ThreadPoolExecutor(max_workers=params.workers) as pool:
            requests = list(pool.map(lambda a: request_restore(s3, bucket, a, params.days, params.tier), sel.archived))
        by_key = {r.key: r for r in requests}
        if params.wait:
            waiting = [r.key for r in requests if r.requested != "failed"]

            def report(states: dict[str, Any]) -> None:
                done = sum(1 for s in states.values() if s.state == "restored")
                ctx.emit.progress(f"{done}/{len(states)} restored", restored=done, total=len(states))

            states = wait_for_restores(
                lambda key: object_state(s3, bucket, key), waiting, params.timeout, params.interval, on_poll=report
            )
            for key, state in states.items():
                by_key[key].state = state
        return {
            "requested": len(requests),
            "failed": sum(1 for r in requests if r.requested == "failed"),
            "restored": sum(1 for r in requests if r.state.state == "restored"),
            "in_progress": sum(1 for r in requests if r.state.state == "in-progress"),
            "results": [r.to_dict() for r in requests[:1000]],
        }

    def verify(self, ctx: TaskContext, plan: Plan, applied: dict[str, Any]) -> None:
        params: ArchiveRestoreParams = ctx.params
        if applied.get("failed"):
            first = next(r for r in applied["results"] if r["request"] == "failed")
            raise OperationFailed(
                f"{applied['failed']} restore request(s) failed, e.g. {first['key']}: {first['detail']}"
            )
        if params.wait and applied.get("restored", 0) < applied.get("requested", 0):
            pending = applied["requested"] - applied["restored"]
            raise OperationFailed(f"{pending} restore(s) still in progress after {params.timeout:g} s")
