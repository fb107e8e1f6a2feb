"""The `data.copy` playbook action: sync a tree between local, S3 and SFTP (see `migrate data copy --help`)."""

from __future__ import annotations

import dataclasses
import re
from typing import Any, ClassVar, Protocol

from pydantic import Field, model_validator

from migrate_cli.core.actions import Action, ActionParams, Plan, TaskContext
from migrate_cli.core.errors import ConfigError, OperationFailed
from migrate_cli.transfer.engine import EngineResult, Progress
from migrate_cli.transfer.plan import SyncPlan
from migrate_cli.transfer.progress import EventProgress
from migrate_cli.transfer.service import (
    DEFAULT_WORKERS,
    MAX_WORKERS,
    CopyRequest,
    Endpoints,
    ValidCopy,
    apply_copy,
    inventory_for,
    open_endpoints,
    plan_copy,
    plan_lines,
    plan_listing,
    remember_identical,
    validate,
)

DIFF_LIMIT = 50


class CopyObserver(Protocol):
    """A front end watching the copy (the CLI): shown the plan, given a progress display, told the result."""

    def planned(self, plan: SyncPlan, valid: ValidCopy, check: bool) -> None: ...

    def progress(self) -> Progress | None: ...

    def finished(self, result: EngineResult) -> None: ...


class CopyParams(ActionParams):
    src: str = Field(min_length=1)
    dest: str = Field(min_length=1)
    checksum: bool = False
    delete: bool = False
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    storage_class: str | None = None
    sse: str | None = None
    kms_key_id: str | None = None
    workers: int = Field(default=DEFAULT_WORKERS, ge=1, le=MAX_WORKERS)
    bwlimit: str | None = None
    part_size: str | None = None
    follow_symlinks: bool = True
    accept_new_host_keys: bool = False

    def request(self) -> CopyRequest:
        values = self.model_dump(exclude={"src"})
        values.update(include=tuple(self.include), exclude=tuple(self.exclude))
        return CopyRequest(source=self.src, **values)

    @classmethod
    def from_request(cls, request: CopyRequest) -> CopyParams:
        values = dataclasses.asdict(request)
        values["src"] = values.pop("source")
        return cls.model_validate(values)

    @model_validator(mode="after")
    def _valid(self) -> CopyParams:
        try:
            validate(self.request())
        except ConfigError as exc:
            text = re.sub(r"--([a-z-]+)", lambda m: m.group(1).replace("-", "_"), exc.message)
            raise ValueError(text) from None
        return self


def _facts(plan: SyncPlan, valid: ValidCopy) -> dict[str, Any]:
    return {
        "source": valid.source.url,
        "dest": valid.dest.url,
        "to_copy": len(plan.copies),
        "bytes_to_copy": plan.copy_bytes,
        "unchanged": len(plan.skips),
        "to_delete": len(plan.deletes),
        "errors": len(plan.errors),
    }


def _errors_text(plan: SyncPlan) -> str:
    first = "; ".join(f"{k}: {e}" for k, e in plan.errors[:3])
    more = f" (and {len(plan.errors) - 3} more)" if len(plan.errors) > 3 else ""
    return f"{len(plan.errors)} file(s) could not be read or listed: {first}{more}"


class DataCopyAction(Action):
    """Plan lists both sides and compares them (read-only); apply copies, verifies, deletes (with `delete`)."""

    name = "data.copy"
    summary = "Copy/sync files between a local directory, S3 (s3://) and an SSH host (sftp://, HOST:/path)."
    Params = CopyParams
    per_host = False
    # Set on a subclass by `migrate data copy` (command.py): the already opened endpoints and its display.
    prepared: ClassVar[Endpoints | None] = None
    observer: ClassVar[CopyObserver | None] = None

    def plan(self, ctx: TaskContext) -> Plan:
        valid = validate(ctx.params.request())
        endpoints = self.prepared or open_endpoints(valid, inventory_for(valid, ctx.settings))
        try:
            sync = plan_copy(endpoints, ctx.settings)
        except BaseException:
            endpoints.close()
            raise
        if self.observer is not None:
            self.observer.planned(sync, valid, ctx.check)
        if ctx.check or not sync.changed:
            endpoints.close()
        if not ctx.check and not sync.changed:
            remember_identical(endpoints, sync, ctx.settings)  # apply will not run: keep what HEAD taught us
        if sync.errors and (ctx.check or not sync.changed):
            raise OperationFailed(_errors_text(sync))
        limit = None if ctx.settings.verbose else DIFF_LIMIT
        diff = "\n".join(plan_listing(sync, valid.source, valid.dest, limit, skips=False))
        return Plan(
            changes=plan_lines(sync, valid.source, valid.dest),
            diff=diff if sync.changed else "",
            data=_facts(sync, valid),
            state=(endpoints, sync),
        )

    def apply(self, ctx: TaskContext, plan: Plan) -> dict[str, Any]:
        endpoints, sync = plan.state
        progress = self.observer.progress() if self.observer is not None else None
        if progress is None and self.observer is None:
            progress = EventProgress(ctx.emit.progress)
        try:
            result = apply_copy(endpoints, sync, ctx.settings, progress)
        finally:
            endpoints.close()
        if self.observer is not None:
            self.observer.finished(result)
        data = result.as_dict()
        return {
            "copied": result.copied,
            "copied_bytes": result.copied_bytes,
            "deleted": result.deleted,
            "failed": len(result.failed) + len(result.delete_failed) + len(sync.errors),
            "verified": result.verified,
            "server_side": result.server_side,
            "resumed_parts": result.resumed_parts,
            "retries": result.retries,
            "elapsed_s": data["elapsed"],
            "files_per_s": data["files_per_s"],
            "failures": [f"{k}: {e}" for k, e in (sync.errors + result.failed + result.delete_failed)[:20]],
        }

    def verify(self, ctx: TaskContext, plan: Plan, applied: dict[str, Any]) -> None:
        if applied.get("failed"):
            first = "; ".join(applied.get("failures", [])[:3])
            raise OperationFailed(f"{applied['failed']} file(s) failed: {first}")
