"""The playbook actions `failover.check` and `failover.drill`: registration, plans, verdicts and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrate_cli.core.actions import TaskContext, get_action
from migrate_cli.core.errors import ConfigError, OperationFailed
from migrate_cli.core.events import Emitter, EventBus
from migrate_cli.core.inventory import load_inventory
from migrate_cli.core.settings import Settings
from migrate_cli.failover.actions import (
    CheckParams,
    DrillParams,
    FailoverCheckAction,
    FailoverDrillAction,
    NotArmed,
)
from tests.conftest import write

HOSTS = """
edge1:
  data:
    site: branch
    uplinks:
      - {name: isp-a, interface: eth0, source: 198.51.100.2, gateway: 198.51.100.1, priority: 10, targets: [192.0.2.10]}
      - {name: isp-b, interface: eth1, source: 203.0.113.2, gateway: 203.0.113.1, priority: 20, targets: [192.0.2.10]}
    failover:
      dx:
        - {name: dx-1, virtual_interface_id: dxvif-ffabc123}
core1:
  platform: cisco_ios
  data:
    uplinks:
      - {name: wan, interface: Gi1, source: 192.0.2.2, gateway: 192.0.2.1, priority: 1, targets: [192.0.2.10]}
"""


def _ctx(tmp_path: Path, params: object) -> TaskContext:
    write(tmp_path / "inv" / "hosts.yaml", HOSTS)
    inventory = load_inventory(tmp_path / "inv")
    settings = Settings(inventory_dir=tmp_path / "inv", state_dir=tmp_path / "state")
    return TaskContext("run-1", None, params, False, settings, inventory, Emitter(EventBus("run-1"), 0, "s", None))


def test_registered_as_builtin_actions() -> None:
    assert get_action("failover.check") is FailoverCheckAction
    assert get_action("failover.drill") is FailoverDrillAction
    assert not FailoverCheckAction.per_host and not FailoverDrillAction.per_host


def test_check_that_is_not_armed_fails_with_every_verdict(tmp_path: Path) -> None:
    """Nothing is probed here (the uplinks' sources are not on this machine) and no watcher runs."""
    ctx = _ctx(tmp_path, CheckParams(limit="edge1", count=1))
    with pytest.raises(NotArmed) as info:
        FailoverCheckAction().plan(ctx)
    (verdict,) = info.value.verdicts
    assert verdict.site == "branch" and not verdict.armed
    assert any("no `migrate failover watch` runs for edge1" in r for r in verdict.reasons)
    plan = FailoverCheckAction().plan(_ctx(tmp_path, CheckParams(limit="edge1", count=1, require_armed=False)))
    assert plan.data["sites"] == 1 and plan.data["armed"] == 0
    assert plan.data["site branch"].startswith("NOT armed: ") and not plan.changed


def test_check_without_edges_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no host has `uplinks`"):
        FailoverCheckAction().plan(_ctx(tmp_path, CheckParams(limit="core1,!core1")))


def test_drill_plan_describes_exactly_what_apply_does(tmp_path: Path) -> None:
    plan = FailoverDrillAction().plan(_ctx(tmp_path, DrillParams(link="isp-a", max_duration=30)))
    assert plan.changes == [
        "take isp-a (isp-a) on edge1 down: interface eth0; for at most 30s time the failover to isp-b, "
        "then restore it and time the failback"
    ]
    assert plan.data == {"link": "isp-a", "host": "edge1", "mode": "linux", "fails_over_to": "isp-b"}
    dx = FailoverDrillAction().plan(_ctx(tmp_path, DrillParams(link="dx-1")))
    assert dx.changes[0].startswith("run StartBgpFailoverTest on dxvif-ffabc123 (dx-1, edge1)")
    with pytest.raises(OperationFailed, match="has only wan: a drill would cut the site off"):
        FailoverDrillAction().plan(_ctx(tmp_path, DrillParams(link="wan")))
    with pytest.raises(ConfigError, match="unknown link 'nope'"):
        FailoverDrillAction().plan(_ctx(tmp_path, DrillParams(link="nope")))


def test_drill_verify_fails_loudly_when_not_restored(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, DrillParams(link="isp-a"))
    action = FailoverDrillAction()
    plan = action.plan(ctx)
    action.verify(ctx, plan, {"drill": "passed", "link": "isp-a"})
    with pytest.raises(OperationFailed, match="DRILL COULD NOT RESTORE isp-a: RTNETLINK"):
        action.verify(ctx, plan, {"drill": "NOT RESTORED", "link": "isp-a", "restore_error": "RTNETLINK"})
    with pytest.raises(OperationFailed, match="drill of isp-a timed out: no failover seen"):
        action.verify(ctx, plan, {"drill": "timed out", "link": "isp-a"})
