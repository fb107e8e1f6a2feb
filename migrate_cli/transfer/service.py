"""The copy service: validate -> open both sides -> plan -> apply. Used by `migrate data copy` and `data.copy`.

Order matters for "bad input changes nothing": `validate` is pure; `open_endpoints` only reads (credentials,
HeadBucket, an SSH login, the source's existence) and raises ConfigError (exit 2) or OperationFailed
(exit 1) before the journal, the lock or the transfer state are touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from migrate_cli.core.errors import ConfigError
from migrate_cli.core.inventory import Inventory, load_inventory
from migrate_cli.core.settings import Settings
from migrate_cli.transfer.bandwidth import RateLimiter, parse_rate
from migrate_cli.transfer.checksums import (
    DEFAULT_MULTIPART_THRESHOLD,
    DEFAULT_PART_SIZE,
    MAX_OBJECT_SIZE,
    MIN_PART_SIZE,
    parse_size,
)
from migrate_cli.transfer.engine import EngineOptions, EngineResult, Progress, TransferEngine
from migrate_cli.transfer.filters import KeyFilter
from migrate_cli.transfer.location import Location, parse_location
from migrate_cli.transfer.plan import SyncPlan, build_plan
from migrate_cli.transfer.progress import human_bytes
from migrate_cli.transfer.sources import LocalStore, Store
from migrate_cli.transfer.state import TransferState, state_path, transfer_lock

MAX_WORKERS = 256
DEFAULT_WORKERS = 8


@dataclass(frozen=True)
class CopyRequest:
    """A copy as the user asked for it (CLI flags or playbook parameters), before validation."""

    source: str
    dest: str
    checksum: bool = False
    delete: bool = False
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    storage_class: str | None = None
    sse: str | None = None
    kms_key_id: str | None = None
    workers: int = DEFAULT_WORKERS
    bwlimit: str | None = None
    part_size: str | None = None
    follow_symlinks: bool = True
    accept_new_host_keys: bool = False


@dataclass(frozen=True)
class ValidCopy:
    request: CopyRequest
    source: Location
    dest: Location
    key_filter: KeyFilter
    storage_class: str | None
    sse: str | None
    rate: int
    part_size: int
    multipart_threshold: int

    def public(self) -> dict[str, Any]:
        """The options as recorded in results and reports (no secrets in any of them)."""
        r = self.request
        return {
            "source": self.source.url,
            "dest": self.dest.url,
            "checksum": r.checksum,
            "delete": r.delete,
            "include": list(r.include),
            "exclude": list(r.exclude),
            "storage_class": self.storage_class,
            "sse": self.sse,
            "workers": r.workers,
            "bwlimit": r.bwlimit,
        }


def validate(request: CopyRequest) -> ValidCopy:
    """Check everything that needs no network: URLs, option values and combinations. Raises ConfigError."""
    from migrate_cli.transfer.s3 import SSE_MODES, STORAGE_CLASSES

    source = parse_location(request.source, "source")
    dest = parse_location(request.dest, "destination")
    if source.url == dest.url:
        raise ConfigError("source and destination are the same")
    if source.kind == dest.kind == "local":
        inner, outer = sorted((source.path, dest.path), key=len, reverse=True)
        if inner == outer or inner.startswith(outer.rstrip("/") + "/"):
            raise ConfigError(f"source and destination overlap ({outer} contains {inner})")
    if source.kind == dest.kind == "s3" and source.bucket == dest.bucket:
        a, b = sorted((source.prefix, dest.prefix), key=len)
        if b.startswith(a):
            raise ConfigError(f"source and destination overlap in bucket '{source.bucket}'")
    storage_class = None
    if request.storage_class:
        storage_class = request.storage_class.strip().upper()
        if storage_class not in STORAGE_CLASSES:
            raise ConfigError(f"--storage-class: '{request.storage_class}' is not one of {', '.join(STORAGE_CLASSES)}")
        if dest.kind != "s3":
            raise ConfigError("--storage-class applies only to an s3:// destination")
    sse = None
    if request.sse:
        sse = {"aes256": "AES256", "aws:kms": "aws:kms"}.get(request.sse.strip().lower())
        if sse not in SSE_MODES:
            raise ConfigError(f"--sse: '{request.sse}' is not one of {', '.join(SSE_MODES)}")
        if dest.kind != "s3":
            raise ConfigError("--sse applies only to an s3:// destination")
    if request.kms_key_id and sse != "aws:kms":
        raise ConfigError("--kms-key-id needs --sse aws:kms")
    if not 1 <= request.workers <= MAX_WORKERS:
        raise ConfigError(f"--workers: {request.workers} is not between 1 and {MAX_WORKERS}")
    rate = parse_rate(request.bwlimit) if request.bwlimit else 0
    part_size = parse_size(request.part_size, "--part-size") if request.part_size else DEFAULT_PART_SIZE
    if not MIN_PART_SIZE <= part_size <= MAX_OBJECT_SIZE:
        raise ConfigError(f"--part-size: {request.part_size} is not between 5M and 5G")
    key_filter = KeyFilter(tuple(request.include), tuple(request.exclude))
    threshold = part_size if request.part_size else DEFAULT_MULTIPART_THRESHOLD
    return ValidCopy(request, source, dest, key_filter, storage_class, sse, rate, part_size, threshold)


@dataclass
class Endpoints:
    """Both sides, opened and checked."""

    valid: ValidCopy
    source: Store
    dest: Store

    def close(self) -> None:
        self.source.close()
        self.dest.close()


def inventory_for(valid: ValidCopy, settings: Settings) -> Inventory:
    """The inventory, read only when a side names an SSH host (an S3 copy needs no inventory)."""
    has_hosts = any((settings.inventory_dir / name).is_file() for name in ("hosts.yaml", "hosts.yml"))
    if has_hosts and any(loc.kind == "sftp" for loc in (valid.source, valid.dest)):
        return load_inventory(settings.inventory_dir)
    return Inventory(directory=settings.inventory_dir, hosts={}, groups={}, warnings=())


def _open_store(location: Location, valid: ValidCopy, inventory: Inventory | None, role: str) -> Store:
    if location.kind == "local":
        return LocalStore(location)
    if location.kind == "s3":
        from migrate_cli.transfer.s3 import S3Store

        if role == "dest":
            return S3Store(location, valid.storage_class, valid.sse, valid.request.kms_key_id)
        return S3Store(location)
    from migrate_cli.transfer.sftp import SftpStore, resolve_target

    target = resolve_target(location, inventory)
    return SftpStore(location, target, accept_new=valid.request.accept_new_host_keys)


def open_endpoints(valid: ValidCopy, inventory: Inventory | None) -> Endpoints:
    """Open and check both sides (read-only). Raises ConfigError / OperationFailed."""
    source = _open_store(valid.source, valid, inventory, "source")
    try:
        source.check_source()
        dest = _open_store(valid.dest, valid, inventory, "dest")
    except BaseException:
        source.close()
        raise
    try:
        dest.check_dest()
    except BaseException:
        source.close()
        dest.close()
        raise
    if valid.rate:
        limiter = RateLimiter(valid.rate)
        for store in (source, dest):
            setter = getattr(store, "set_limiter", None)
            if setter is not None:
                setter(limiter)
            else:
                store.limiter = limiter
    return Endpoints(valid, source, dest)


def plan_copy(endpoints: Endpoints, settings: Settings) -> SyncPlan:
    """List both sides and compare (read-only: the transfer state is opened read-only)."""
    valid = endpoints.valid
    state = TransferState(state_path(settings.state_dir, valid.source, valid.dest), valid.source, valid.dest, True)
    try:
        plan = build_plan(
            endpoints.source,
            endpoints.dest,
            valid.key_filter,
            state.manifest(),
            checksum=valid.request.checksum,
            delete=valid.request.delete,
            follow_symlinks=valid.request.follow_symlinks,
            workers=valid.request.workers,
        )
        plan.leftovers = state.leftovers(plan.copy_sigs(endpoints.source))
    finally:
        state.close()
    return plan


def remember_identical(endpoints: Endpoints, plan: SyncPlan, settings: Settings) -> None:
    """Record in the transfer state the objects found identical by asking the destination (HEADs), so the
    next sync need not ask again. A cache write only: the destination is not touched."""
    if not plan.learned:
        return
    valid = endpoints.valid
    state = TransferState(state_path(settings.state_dir, valid.source, valid.dest), valid.source, valid.dest)
    try:
        for key, src_sig, dst_sig in plan.learned:
            state.record(key, src_sig, dst_sig)
    finally:
        state.close()


def apply_copy(endpoints: Endpoints, plan: SyncPlan, settings: Settings, progress: Progress | None) -> EngineResult:
    """Run the plan under the pair's lock, recording progress in the transfer state."""
    valid = endpoints.valid
    with transfer_lock(settings.state_dir, valid.source, valid.dest):
        state = TransferState(state_path(settings.state_dir, valid.source, valid.dest), valid.source, valid.dest)
        try:
            engine = TransferEngine(
                endpoints.source,
                endpoints.dest,
                state,
                EngineOptions(
                    workers=valid.request.workers,
                    part_size=valid.part_size,
                    multipart_threshold=valid.multipart_threshold,
                ),
                progress,
            )
            return engine.run(plan)
        finally:
            state.close()


# --- words for plans and results ------------------------------------------------------------------------------


def verbs(source: Location, dest: Location) -> tuple[str, str]:
    """('upload', 'uploaded') / ('download', ...) / ('copy', ...) for this direction."""
    if dest.kind != "local" and source.kind == "local":
        return "upload", "uploaded"
    if dest.kind == "local" and source.kind != "local":
        return "download", "downloaded"
    return "copy", "copied"


def plan_lines(plan: SyncPlan, source: Location, dest: Location) -> list[str]:
    verb, _ = verbs(source, dest)
    lines = []
    if plan.copies:
        lines.append(f"{verb} {len(plan.copies)} file(s) ({human_bytes(plan.copy_bytes)}) to {dest.url}")
    if plan.deletes:
        lines.append(f"delete {len(plan.deletes)} file(s) ({human_bytes(plan.delete_bytes)}) from {dest.url}")
    if plan.leftovers:
        what = "partial file(s)" if dest.kind in ("local", "sftp") else "unfinished upload(s)"
        lines.append(f"clean up {len(plan.leftovers)} {what} of an earlier run at {dest.url}")
    return lines


def plan_summary(plan: SyncPlan, source: Location, dest: Location) -> str:
    verb, _ = verbs(source, dest)
    return (
        f"{verb} {len(plan.copies)} ({human_bytes(plan.copy_bytes)}), "
        f"skip {len(plan.skips)} unchanged ({human_bytes(plan.skip_bytes)}), "
        f"delete {len(plan.deletes)} ({human_bytes(plan.delete_bytes)})"
    )


def plan_listing(
    plan: SyncPlan, source: Location, dest: Location, limit: int | None = None, skips: bool = True
) -> list[str]:
    """One line per file: what will happen to it and why (unchanged files too, unless `skips` is False)."""
    verb, _ = verbs(source, dest)
    rows = [f"{verb:<8} {i.key}  ({human_bytes(i.source.size)}, {i.reason})" for i in plan.copies]
    rows += [f"{'delete':<8} {e.key}  ({human_bytes(e.size)})" for e in plan.deletes]
    rows += [f"{'clean up':<8} {key}  (unfinished, from an earlier run)" for key in plan.leftovers]
    if skips:
        rows += [f"{'skip':<8} {e.key}  (unchanged)" for e in plan.skips]
    if limit is not None and len(rows) > limit:
        rows = rows[:limit] + [f"... and {len(rows) - limit} more (use --verbose for every file)"]
    return rows


def result_summary(result: EngineResult, source: Location, dest: Location, plan: SyncPlan) -> str:
    _, done = verbs(source, dest)
    rate = f"{result.copied / result.elapsed:.0f} files/s, " if result.elapsed else ""
    speed = f"{human_bytes(result.copied_bytes / result.elapsed)}/s" if result.elapsed else "-"
    server_side = f" ({result.server_side} server-side)" if result.server_side else ""
    text = (
        f"{done} {result.copied} file(s){server_side} ({human_bytes(result.copied_bytes)}) in {result.elapsed:.1f}s "
        f"({rate}{speed}); skipped {len(plan.skips)} unchanged; deleted {result.deleted}; "
        f"failed {len(result.failed) + len(result.delete_failed) + len(plan.errors)}"
    )
    if result.unverified:
        text += f"; {result.unverified} not verifiable (no checksum stored)"
    if result.deletes_skipped:
        text += f"; {result.deletes_skipped} deletion(s) skipped because of errors"
    return text


@dataclass
class CopyReport:
    """Everything a front end needs to show a finished (or planned) copy."""

    valid: ValidCopy
    plan: SyncPlan | None = None
    result: EngineResult | None = None
    run_id: str = ""
    status: str = "ok"
    exit_code: int = 0
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def failures(self) -> list[tuple[str, str]]:
        out = list(self.plan.errors) if self.plan else []
        if self.result:
            out += self.result.failed + self.result.delete_failed
        return out

    def as_dict(self, verbose: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "run_id": self.run_id,
            "status": self.status,
            **self.valid.public(),
        }
        if self.plan is not None:
            data["plan"] = self.plan.counts()
            data["warnings"] = self.plan.warnings
            if verbose:
                data["files"] = {
                    "copy": [{"key": i.key, "bytes": i.source.size, "reason": i.reason} for i in self.plan.copies],
                    "delete": [e.key for e in self.plan.deletes],
                    "skip": [e.key for e in self.plan.skips],
                }
        if self.result is not None:
            data["result"] = self.result.as_dict()
        data["failures"] = [{"key": k, "error": e} for k, e in self.failures()]
        if self.error:
            data["error"] = self.error
        return data
