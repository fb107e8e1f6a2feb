"""The playbook runner: ordering, check mode, parallel hosts, failures, rollback, confirmation, resume.

Uses a recording test action registered through the public registry (an action, not a mock of a peer:
the runner's orchestration is what is under test here).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from migrate_cli.core.actions import Plan, TaskContext, register_action
from migrate_cli.core.errors import ConfigError, SafetyRefusal
from migrate_cli.core.events import Event, EventBus, EventKind
from migrate_cli.core.execute import execute_playbook
from migrate_cli.core.journal import Journal
from migrate_cli.core.lock import StateLock
from migrate_cli.core.runner import RunOptions
from migrate_cli.core.secrets import MASK, register_secret
from migrate_cli.core.settings import Settings
from tests.conftest import write
from tests.unit.recording import RecordAction


@pytest.fixture(autouse=True)
def _reset() -> None:
    RecordAction.calls.clear()
    RecordAction.peak = 0


def _settings(tmp_path: Path, inventory: Path) -> Settings:
    return Settings(inventory_dir=inventory, state_dir=tmp_path / "state")


def _run(tmp_path: Path, inventory: Path, body: str, **opts: Any) -> tuple[Any, list[Event]]:
    pb = write(tmp_path / "pb.yml", "name: test\nsteps:\n" + body)
    events: list[Event] = []
    result = execute_playbook(_settings(tmp_path, inventory), pb, RunOptions(**opts), [events.append])
    return result, events


STEPS = """
  - name: one
    action: test.record
  - name: two
    action: test.record
    hosts: "@edge"
    with: {change: false}
"""


def test_steps_in_order_and_apply_only_what_changes(tmp_path: Path, small_inventory: Path) -> None:
    result, events = _run(tmp_path, small_inventory, STEPS)
    assert result.status == "ok"
    phases = {(s, h, p) for s, h, p in RecordAction.calls}
    assert {("one", h, "apply") for h in ("r1", "r2", "c1")} <= phases
    assert not any(s == "two" and p == "apply" for s, _, p in RecordAction.calls)
    first_two = min(i for i, c in enumerate(RecordAction.calls) if c[0] == "two")
    last_one = max(i for i, c in enumerate(RecordAction.calls) if c[0] == "one")
    assert last_one < first_two
    kinds = [e.kind for e in events]
    assert kinds[0] == EventKind.RUN_STARTED and kinds[-1] == EventKind.RUN_FINISHED
    assert [h.host for h in result.steps[1].hosts] == ["r1", "r2"]


def test_check_mode_plans_and_changes_nothing(tmp_path: Path, small_inventory: Path) -> None:
    result, events = _run(tmp_path, small_inventory, STEPS, check=True)
    assert result.status == "ok" and result.check
    assert {p for _, _, p in RecordAction.calls} == {"plan"}
    assert all(h.status == "changed" for h in result.steps[0].hosts)
    diffs = [e for e in events if e.kind == EventKind.DIFF]
    assert {e.host for e in diffs} == {"r1", "r2", "c1"}


def test_failure_stops_run_unless_continue(tmp_path: Path, small_inventory: Path) -> None:
    body = """
  - name: one
    action: test.record
    with: {fail_apply_on: [r2]}
  - name: two
    action: test.record
"""
    result, _ = _run(tmp_path, small_inventory, body)
    assert result.status == "failed"
    assert len(result.steps) == 1
    failed = [h for h in result.steps[0].hosts if h.status == "failed"]
    assert [h.host for h in failed] == ["r2"] and "apply broke" in (failed[0].error or "")
    RecordAction.calls.clear()
    body = body.replace("fail_apply_on: [r2]}", "fail_apply_on: [r2]}\n    on_failure: continue")
    result, _ = _run(tmp_path, small_inventory, body)
    assert result.status == "failed" and len(result.steps) == 2


def test_rollback_on_failure_undoes_applied_hosts(tmp_path: Path, small_inventory: Path) -> None:
    body = """
  - name: one
    action: test.record
    on_failure: rollback
    with: {fail_apply_on: [c1]}
"""
    result, events = _run(tmp_path, small_inventory, body)
    rolled = {h for s, h, p in RecordAction.calls if p == "rollback"}
    assert rolled == {"r1", "r2", "c1"}
    statuses = {h.host: h.status for h in result.steps[0].hosts}
    assert statuses == {"r1": "rolled_back", "r2": "rolled_back", "c1": "failed"}
    assert sum(1 for e in events if e.kind == EventKind.ROLLED_BACK) == 3


def test_hosts_run_in_parallel_up_to_forks(tmp_path: Path, small_inventory: Path) -> None:
    body = "  - name: slow\n    action: test.record\n    with: {sleep: 0.3, change: false}\n"
    _run(tmp_path, small_inventory, body, forks=3)
    assert RecordAction.peak == 3
    RecordAction.peak = 0
    _run(tmp_path, small_inventory, body, forks=1)
    assert RecordAction.peak == 1


def test_limit_and_tags(tmp_path: Path, small_inventory: Path) -> None:
    body = """
  - name: a
    action: test.record
    tags: [net]
  - name: b
    action: test.record
    tags: [data]
"""
    result, _ = _run(tmp_path, small_inventory, body, limit="@edge,!r2", tags=frozenset({"net"}))
    assert [s.name for s in result.steps] == ["a"]
    assert [h.host for h in result.steps[0].hosts] == ["r1"]
    result, _ = _run(tmp_path, small_inventory, body, skip_tags=frozenset({"net"}))
    assert [s.name for s in result.steps] == ["b"]


DISRUPTIVE = "  - name: cut\n    action: test.record\n    disruptive: true\n"


def test_disruptive_step_refused_without_terminal_before_anything_runs(tmp_path: Path, small_inventory: Path) -> None:
    body = "  - name: first\n    action: test.record\n" + DISRUPTIVE
    with pytest.raises(SafetyRefusal):
        _run(tmp_path, small_inventory, body)
    assert RecordAction.calls == []
    journal = Journal.in_state_dir(tmp_path / "state")
    assert journal.list_runs() == []


def test_disruptive_step_confirmation(tmp_path: Path, small_inventory: Path) -> None:
    asked: list[str] = []
    result, _ = _run(tmp_path, small_inventory, DISRUPTIVE, confirm=lambda q: asked.append(q) or False)
    assert result.status == "refused" and len(asked) == 1
    assert not any(p == "apply" for _, _, p in RecordAction.calls)
    result, _ = _run(tmp_path, small_inventory, DISRUPTIVE, confirm=lambda q: True)
    assert result.status == "ok"
    RecordAction.calls.clear()
    result, _ = _run(tmp_path, small_inventory, DISRUPTIVE, yes=True)
    assert result.status == "ok" and any(p == "apply" for _, _, p in RecordAction.calls)
    RecordAction.calls.clear()
    result, _ = _run(tmp_path, small_inventory, DISRUPTIVE, check=True)
    assert result.status == "ok" and {p for _, _, p in RecordAction.calls} == {"plan"}


def test_resume_skips_completed_steps(tmp_path: Path, small_inventory: Path) -> None:
    broken = tmp_path / "broken"
    broken.touch()
    pb = write(
        tmp_path / "pb.yml",
        "name: t\nsteps:\n  - name: one\n    action: test.record\n"
        f"  - name: two\n    action: test.record\n    with: {{fail_if_exists: '{broken}'}}\n"
        "  - name: three\n    action: test.record\n",
    )
    settings = _settings(tmp_path, small_inventory)
    first = execute_playbook(settings, pb, RunOptions())
    assert first.status == "failed" and [s.name for s in first.steps] == ["one", "two"]

    broken.unlink()  # the cause is fixed outside the playbook
    RecordAction.calls.clear()
    again = execute_playbook(settings, pb, RunOptions(resume=first.run_id))
    assert [s.status for s in again.steps] == ["ok", "ok", "ok"]
    assert again.steps[0].note == "done in resumed run"
    assert {s for s, _, _ in RecordAction.calls} == {"two", "three"}
    record = Journal.in_state_dir(tmp_path / "state").get_run(again.run_id)
    assert record is not None and record.resumed_from == first.run_id

    pb.write_text(pb.read_text() + "  - name: four\n    action: test.record\n")
    with pytest.raises(ConfigError, match="changed since run"):
        execute_playbook(settings, pb, RunOptions(resume=first.run_id))
    with pytest.raises(ConfigError, match="no single run matches"):
        execute_playbook(settings, pb, RunOptions(resume="nope"))


def test_journal_records_results_and_masks_secrets(tmp_path: Path, small_inventory: Path) -> None:
    register_secret("hunter2-very-secret")
    body = "  - name: one\n    action: test.record\n    with: {say: 'password is hunter2-very-secret'}\n"
    result, events = _run(tmp_path, small_inventory, body)
    said = [e for e in events if e.kind == EventKind.MESSAGE]
    assert said and all("hunter2" not in e.message and MASK in e.message for e in said)
    journal = Journal.in_state_dir(tmp_path / "state")
    run = journal.get_run(result.run_id)
    assert run is not None and run.status == "ok"
    assert [h.host for h in run.steps[0].hosts] == ["c1", "r1", "r2"]
    assert all(h.changed and h.diff == "+x" for h in run.steps[0].hosts)
    stored = journal.events(result.run_id)
    assert len(stored) == len(events)
    raw = (tmp_path / "state" / "journal.sqlite").read_bytes()
    assert b"hunter2-very-secret" not in raw


def test_lock_held_refuses_second_run(tmp_path: Path, small_inventory: Path) -> None:
    with StateLock(tmp_path / "state", "run", purpose="migrate run other.yml"):
        with pytest.raises(SafetyRefusal, match=r"held by pid \d+ .*migrate run other.yml"):
            _run(tmp_path, small_inventory, STEPS)
        result, _ = _run(tmp_path, small_inventory, STEPS, check=True)  # check mode needs no lock
        assert result.ok
    result, _ = _run(tmp_path, small_inventory, STEPS)
    assert result.ok


def test_bus_masks_nested_data() -> None:
    register_secret("s3cr3t-value-xyz")
    got: list[Event] = []
    bus = EventBus("r")
    bus.subscribe(got.append)
    bus.emit(
        EventKind.MESSAGE,
        "x s3cr3t-value-xyz",
        data={"a": ["s3cr3t-value-xyz"], "b": {"c": "s3cr3t-value-xyz"}},
    )
    assert "s3cr3t" not in repr(got[0])


class RefusingAction(RecordAction):
    name = "test.refuse"

    def plan(self, ctx: TaskContext) -> Plan:
        raise SafetyRefusal("lock 'backup' is held by pid 1")


class BadConfigAction(RecordAction):
    name = "test.badconfig"

    def plan(self, ctx: TaskContext) -> Plan:
        raise ConfigError("field x: must be positive", file="x.yaml", line=3)


register_action(RefusingAction)
register_action(BadConfigAction)


@pytest.mark.parametrize(
    ("action", "status", "code"),
    [("test.record", "ok", 0), ("test.refuse", "refused", 3), ("test.badconfig", "failed", 2)],
)
def test_exit_code_follows_what_actions_raised(
    tmp_path: Path, small_inventory: Path, action: str, status: str, code: int
) -> None:
    result, _ = _run(tmp_path, small_inventory, f"  - name: s\n    action: {action}\n    hosts: r1\n")
    assert (result.status, result.exit_code) == (status, code)
    if code:
        assert result.errors and result.steps[0].hosts[0].exception is result.errors[0]


class ReadOnlyAction(RecordAction):
    name = "test.readonly"
    read_only = True


register_action(ReadOnlyAction)


def test_read_only_action_reports_its_diff_and_never_applies(tmp_path: Path, small_inventory: Path) -> None:
    result, events = _run(tmp_path, small_inventory, "  - name: look\n    action: test.readonly\n    hosts: r1\n")
    host = result.steps[0].hosts[0]
    assert (host.status, host.changed, host.diff) == ("ok", False, "+x")
    assert {p for _, _, p in RecordAction.calls} == {"plan"}
    assert any(e.kind == EventKind.DIFF for e in events)
    checked, _ = _run(
        tmp_path, small_inventory, "  - name: look\n    action: test.readonly\n    hosts: r1\n", check=True
    )
    assert checked.steps[0].hosts[0].status == "changed"  # "would change"


class CuttingAction(RecordAction):
    name = "test.cut"
    disruptive = True


register_action(CuttingAction)


def test_a_disruptive_action_needs_confirmation_even_when_the_step_forgets_to_say_so(
    tmp_path: Path, small_inventory: Path
) -> None:
    with pytest.raises(SafetyRefusal, match="disruptive"):
        _run(tmp_path, small_inventory, "  - name: cut\n    action: test.cut\n")
    assert RecordAction.calls == []
    result, _ = _run(tmp_path, small_inventory, "  - name: cut\n    action: test.cut\n", yes=True)
    assert result.ok and any(p == "apply" for _, _, p in RecordAction.calls)
