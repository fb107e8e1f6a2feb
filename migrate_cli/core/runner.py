"""Runs a playbook: steps in order, hosts of a step in parallel, plan -> confirm -> apply -> verify."""

from __future__ import annotations

import os
import secrets as _random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from migrate_cli.core.actions import Action, Plan, TaskContext
from migrate_cli.core.errors import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_REFUSED,
    ConfigError,
    MigrateError,
    SafetyRefusal,
)
from migrate_cli.core.events import Emitter, EventBus, EventKind
from migrate_cli.core.inventory import Host, Inventory
from migrate_cli.core.journal import Journal
from migrate_cli.core.playbook import Playbook, Step
from migrate_cli.core.settings import Settings

Confirm = Callable[[str], bool]


@dataclass
class RunOptions:
    check: bool = False
    limit: str | None = None
    tags: frozenset[str] = frozenset()
    skip_tags: frozenset[str] = frozenset()
    yes: bool = False
    forks: int = 10
    resume: str | None = None
    confirm: Confirm | None = None  # None: nobody to ask (no TTY)

    def public(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "limit": self.limit,
            "tags": sorted(self.tags),
            "skip_tags": sorted(self.skip_tags),
            "forks": self.forks,
            "resume": self.resume,
        }


@dataclass
class HostOutcome:
    host: str
    status: str  # ok | changed | failed | skipped | rolled_back
    changed: bool = False
    diff: str = ""
    error: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.time)
    plan: Plan | None = None
    applied: dict[str, Any] | None = None
    exception: BaseException | None = None


@dataclass
class StepOutcome:
    index: int
    name: str
    action: str
    status: str  # ok | failed | skipped | refused
    hosts: list[HostOutcome] = field(default_factory=list)
    note: str = ""


@dataclass
class RunResult:
    run_id: str
    name: str
    status: str  # ok | failed | refused | interrupted
    check: bool
    steps: list[StepOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def errors(self) -> list[BaseException]:
        return [h.exception for s in self.steps for h in s.hosts if h.exception is not None]

    @property
    def exit_code(self) -> int:
        """0 ok; 3 refused (by the operator or an action's safety check); 2 when every failure was bad
        input; else 1 (DESIGN.md)."""
        if self.status == "refused":
            return EXIT_REFUSED
        if self.ok:
            return EXIT_OK
        errors = self.errors
        if errors and all(isinstance(e, ConfigError) for e in errors):
            return EXIT_BAD_INPUT
        return EXIT_FAILED


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + _random.token_hex(2)


ONCE = "(once)"


class PlaybookRunner:
    """Executes a validated playbook against an inventory, reporting everything through the bus."""

    def __init__(self, settings: Settings, inventory: Inventory, bus: EventBus, journal: Journal) -> None:
        self.settings = settings
        self.inventory = inventory
        self.bus = bus
        self.journal = journal

    def preflight(self, playbook: Playbook, options: RunOptions) -> tuple[list[Step], set[int]]:
        """Select steps and check safety before anything runs; returns (steps, indexes already done)."""
        if options.limit:
            self.inventory.select(options.limit)
        steps = [s for s in playbook.steps if _tag_selected(s, options)]
        done: set[int] = set()
        if options.resume:
            done = self._completed_steps(playbook, options.resume)
        if not options.check and not options.yes and options.confirm is None:
            disruptive = [s.name for s in steps if s.disruptive and s.index not in done]
            if disruptive:
                raise SafetyRefusal(
                    f"step '{disruptive[0]}' is disruptive and there is no terminal to confirm it: "
                    "re-run with --yes, or --check for a dry run"
                )
        return steps, done

    def _completed_steps(self, playbook: Playbook, run_id: str) -> set[int]:
        previous = self.journal.get_run(run_id)
        if previous is None:
            raise ConfigError(f"--resume: no single run matches '{run_id}' (see `migrate runs list`)")
        if previous.options.get("sha256") not in (None, playbook.sha256):
            raise ConfigError(f"--resume: {playbook.path} changed since run {previous.id}; start a new run")
        done: set[int] = set()
        by_index = {s.index: s for s in previous.steps}
        for step in playbook.steps:
            record = by_index.get(step.index)
            if record is None or record.status not in ("ok", "skipped"):
                break
            done.add(step.index)
        return done

    def run(self, playbook: Playbook, options: RunOptions, run_id: str | None = None) -> RunResult:
        """Run the playbook. Raises SafetyRefusal/ConfigError before anything starts; KeyboardInterrupt
        is recorded and re-raised."""
        steps, done = self.preflight(playbook, options)
        run_id = run_id or new_run_id()
        self.bus.run_id = run_id
        result = RunResult(run_id=run_id, name=playbook.name, status="ok", check=options.check)
        public = options.public() | {"sha256": playbook.sha256, "pid": os.getpid()}
        self.bus.emit(
            EventKind.RUN_STARTED,
            f"{'check of ' if options.check else ''}playbook '{playbook.name}'",
            data={
                "name": playbook.name,
                "playbook": str(playbook.path),
                "check": options.check,
                "options": public,
                "resumed_from": options.resume,
                "steps": len(steps),
            },
        )
        try:
            stop = False
            for step in steps:
                if stop:
                    break
                if step.index in done:
                    outcome = StepOutcome(step.index, step.name, step.action, "ok", note="done in resumed run")
                    self.bus.emit(
                        EventKind.STEP_SKIPPED,
                        f"already completed in run {options.resume}",
                        step_index=step.index,
                        step=step.name,
                        data={"action": step.action, "status": "ok"},
                    )
                    result.steps.append(outcome)
                    continue
                outcome = self._run_step(step, options)
                result.steps.append(outcome)
                if outcome.status == "refused":
                    result.status = "refused"
                    stop = True
                elif outcome.status == "failed":
                    result.status = "failed"
                    stop = step.on_failure != "continue"
        except KeyboardInterrupt:
            result.status = "interrupted"
            self.bus.emit(EventKind.RUN_FINISHED, "interrupted", data={"status": "interrupted"})
            raise
        self.bus.emit(EventKind.RUN_FINISHED, f"run {result.status}", data={"status": result.status})
        return result

    # --- one step -----------------------------------------------------------------------------

    def _hosts_for(self, step: Step, options: RunOptions) -> list[Host | None]:
        if not step.action_cls.per_host:
            return [None]
        hosts = self.inventory.select(step.hosts)
        if options.limit:
            allowed = {h.name for h in self.inventory.select(options.limit)}
            hosts = [h for h in hosts if h.name in allowed]
        return list(hosts)

    def _run_step(self, step: Step, options: RunOptions) -> StepOutcome:
        outcome = StepOutcome(step.index, step.name, step.action, "ok")
        hosts = self._hosts_for(step, options)
        where = {"step_index": step.index, "step": step.name}
        if not hosts:
            self.bus.emit(
                EventKind.STEP_SKIPPED,
                "no hosts selected",
                data={"action": step.action, "status": "skipped"},
                **where,
            )
            outcome.status = "skipped"
            return outcome
        self.bus.emit(
            EventKind.STEP_STARTED,
            step.name,
            data={
                "action": step.action,
                "hosts": [h.name if h else ONCE for h in hosts],
                "check": options.check,
            },
            **where,
        )
        action = step.action_cls()
        contexts = [self._context(step, h, options) for h in hosts]
        outcomes = self._parallel(options.forks, lambda c: self._plan_one(step, action, c), contexts)
        pending = [(c, o) for c, o in zip(contexts, outcomes, strict=True) if o.status == "changed"]
        for o in outcomes:  # decided while planning: nothing to change, or failed to plan
            if o.status != "changed" or options.check:
                self._finish_host(step, o)

        if not options.check and pending:
            if step.disruptive and not options.yes:
                targets = ", ".join(o.host for _, o in pending)
                asked = options.confirm is not None and options.confirm(
                    f"Step '{step.name}' is disruptive and will change {len(pending)} host(s): {targets}. Apply?"
                )
                if not asked:
                    for _, o in pending:
                        o.status, o.error = "skipped", "not confirmed"
                        self._finish_host(step, o)
                    outcome.hosts, outcome.status = outcomes, "refused"
                    self.bus.emit(EventKind.STEP_FINISHED, "not confirmed", data={"status": "refused"}, **where)
                    return outcome
            self._parallel(options.forks, lambda pair: self._apply_one(step, action, *pair), pending)

        failed = [o for o in outcomes if o.status == "failed"]
        refused = [o for o in failed if isinstance(o.exception, SafetyRefusal)]
        if failed and step.on_failure == "rollback" and not options.check:
            changed = [(c, o) for c, o in pending if o.applied is not None]
            self._parallel(options.forks, lambda pair: self._rollback_one(step, action, *pair), changed)
        outcome.hosts = outcomes
        outcome.status = "refused" if refused and len(refused) == len(failed) else "failed" if failed else "ok"
        summary = f"{len(outcomes) - len(failed)} ok, {len(failed)} failed"
        self.bus.emit(EventKind.STEP_FINISHED, summary, data={"status": outcome.status}, **where)
        return outcome

    def _context(self, step: Step, host: Host | None, options: RunOptions) -> TaskContext:
        name = host.name if host else None
        return TaskContext(
            run_id=self.bus.run_id,
            host=host,
            params=step.params,
            check=options.check,
            settings=self.settings,
            inventory=self.inventory,
            emit=Emitter(self.bus, step.index, step.name, name),
        )

    def _parallel(self, forks: int, fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        if not items:
            return []
        if len(items) == 1:
            return [fn(items[0])]
        pool = ThreadPoolExecutor(max_workers=max(1, min(forks, len(items))))
        try:
            futures = [pool.submit(fn, item) for item in items]
            return [f.result() for f in futures]
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _plan_one(self, step: Step, action: Action, ctx: TaskContext) -> HostOutcome:
        name = ctx.host.name if ctx.host else ONCE
        outcome = HostOutcome(host=name, status="ok")
        self.bus.emit(EventKind.HOST_STARTED, "planning", step_index=step.index, step=step.name, host=name)
        try:
            plan = action.plan(ctx)
        except Exception as exc:  # an action's failure is a host result, not a crash
            return self._fail(step, outcome, exc, phase="plan")
        outcome.plan = plan
        outcome.data = dict(plan.data)
        if plan.changed:
            outcome.diff = plan.diff
            if ctx.check or not action.read_only:  # in a real run, a read-only action changed nothing
                outcome.status, outcome.changed = "changed", True
            if plan.diff or plan.changes:
                self.bus.emit(
                    EventKind.DIFF,
                    "; ".join(plan.changes) or "diff",
                    step_index=step.index,
                    step=step.name,
                    host=name,
                    data={"diff": plan.diff, "changes": plan.changes},
                )
        return outcome

    def _apply_one(self, step: Step, action: Action, ctx: TaskContext, outcome: HostOutcome) -> None:
        assert outcome.plan is not None
        try:
            outcome.applied = action.apply(ctx, outcome.plan) or {}
            outcome.data.update(outcome.applied)
            action.verify(ctx, outcome.plan, outcome.applied)
        except Exception as exc:
            self._fail(step, outcome, exc, phase="apply" if outcome.applied is None else "verify")
            if outcome.applied is None:
                outcome.applied = {}
            self._finish_host(step, outcome)
            return
        self.bus.emit(
            EventKind.CHANGED,
            "; ".join(outcome.plan.changes) or "changed",
            step_index=step.index,
            step=step.name,
            host=outcome.host,
            data={"diff": outcome.diff},
        )
        self._finish_host(step, outcome)

    def _rollback_one(self, step: Step, action: Action, ctx: TaskContext, outcome: HostOutcome) -> None:
        assert outcome.plan is not None
        try:
            note = action.rollback(ctx, outcome.plan, outcome.applied or {})
        except Exception as exc:
            self.bus.emit(
                EventKind.FAILED,
                f"rollback failed: {_describe(exc)}",
                step_index=step.index,
                step=step.name,
                host=outcome.host,
            )
            return
        self.bus.emit(EventKind.ROLLED_BACK, note, step_index=step.index, step=step.name, host=outcome.host)
        outcome.data["rollback"] = note
        if outcome.status != "failed":
            outcome.status = "rolled_back"
        self._finish_host(step, outcome)

    def _fail(self, step: Step, outcome: HostOutcome, exc: BaseException, phase: str) -> HostOutcome:
        outcome.status, outcome.error = "failed", f"{phase}: {_describe(exc)}"
        outcome.exception = exc
        self.bus.emit(
            EventKind.FAILED,
            outcome.error,
            step_index=step.index,
            step=step.name,
            host=outcome.host,
            data={"phase": phase, "type": type(exc).__name__},
        )
        return outcome

    def _finish_host(self, step: Step, o: HostOutcome) -> None:
        self.bus.emit(
            EventKind.HOST_FINISHED,
            o.status,
            step_index=step.index,
            step=step.name,
            host=o.host,
            data={
                "status": o.status,
                "changed": o.changed,
                "diff": o.diff,
                "error": o.error,
                "result": o.data,
                "started": o.started,
            },
        )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, MigrateError):
        return str(exc)
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _tag_selected(step: Step, options: RunOptions) -> bool:
    if options.tags and not (step.tags & options.tags):
        return False
    return not (options.skip_tags and step.tags & options.skip_tags)
