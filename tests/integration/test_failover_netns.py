"""Failover in real Linux network namespaces (on-prem, ISP-A, ISP-B, cloud): probes, the watcher, drills.

Needs root (CI runs as root); skipped with a reason otherwise. All traffic stays inside the namespaces these
tests create.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from migrate_cli.core.errors import OperationFailed, SafetyRefusal
from migrate_cli.core.inventory import load_inventory
from migrate_cli.core.lock import StateLock
from migrate_cli.failover.check import observe_edge, verdict
from migrate_cli.failover.cutters import LabCut, marker_path, write_marker
from migrate_cli.failover.drill import DrillOptions, run_drill
from migrate_cli.failover.model import Edge, Target, load_edges
from migrate_cli.failover.probes import probe
from migrate_cli.failover.routes import LinuxRoutes
from migrate_cli.failover.service import WatcherProcess
from migrate_cli.failover.watch import WatchLoop, lock_name
from migrate_cli.lab import netns as labnet
from migrate_cli.lab.netns import IspLab, uplinks_data
from tests.conftest import REPO

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root (CI runs as root)"),
]

TARGET = Target(labnet.TARGET, labnet.TARGET_PORT)
QUICK = DrillOptions(settle=0.6)  # with hold_down 0.5: long enough on the secondary for a prompt failback


@pytest.fixture
def lab() -> Iterator[IspLab]:
    isp = IspLab().start()
    try:
        yield isp
    finally:
        isp.stop()
    assert not [n for n in labnet.list_namespaces() if isp.run_tag in n], "a namespace was left behind"


def make_edge(lab: IspLab, tmp_path: Path, **failover: Any) -> Edge:
    data = {"site": "hq", "uplinks": uplinks_data(), "failover": {**lab.inventory_data(), **failover}}
    for key in [k for k, v in failover.items() if v is None]:
        data["failover"].pop(key)
    inv = tmp_path / "inv"
    inv.mkdir(exist_ok=True)
    (inv / "hosts.yaml").write_text(yaml.safe_dump({"edge1": {"data": data}}))
    return load_edges(load_inventory(inv))[0]


def _link_up(ns: str, dev: str) -> bool:
    return LinuxRoutes(ns).link_up(dev)


# --- the lab itself ----------------------------------------------------------------------------------------
def test_each_probe_leaves_by_its_own_uplink(lab: IspLab) -> None:
    edge_ns = lab.edge
    for source in ("10.201.1.2", "10.202.1.2"):
        assert probe(TARGET, source, 1.0, edge_ns).local == source
        assert probe(Target(labnet.TARGET), source, 1.0, edge_ns).ok
    LabCut(lab_link(lab, "isp-a")).cut()
    assert not probe(TARGET, "10.201.1.2", 0.5, edge_ns).ok  # ISP-A is dead beyond the edge...
    assert probe(TARGET, "10.202.1.2", 0.5, edge_ns).ok  # ...ISP-B still works, whatever the default route
    assert LinuxRoutes(edge_ns).default_gateway() == "10.201.1.1"


def lab_link(lab: IspLab, name: str) -> Any:
    from migrate_cli.failover.model import LabLink

    raw = lab.inventory_data()["lab_links"][name]
    return LabLink(raw["netns"], raw["interface"], tuple(raw["routes"]))


def test_stale_namespaces_of_a_dead_run_are_removed() -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = f"{labnet.PREFIX}{dead.pid}-beef-onprem"
    subprocess.run(["ip", "netns", "add", stale], check=True)
    try:
        with IspLab() as isp:
            assert stale in isp.removed_stale
            assert stale not in labnet.list_namespaces()
            assert isp.exists()
    finally:
        subprocess.run(["ip", "netns", "delete", stale], capture_output=True)


# --- the drill ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_drill_fails_over_and_back_within_1_5_s(lab: IspLab, tmp_path: Path) -> None:
    """Default timers (200 ms probes, 3 misses, 3 successes, 2 s hold-down), the watcher in-process."""
    edge = make_edge(lab, tmp_path)
    log: list[tuple[str, dict[str, Any]]] = []
    result = run_drill(edge, edge.uplink("isp-a"), tmp_path / "state", log=lambda m, d: log.append((m, d)))
    assert result.ok, result.lines()
    assert result.secondary == "isp-b" and result.watcher.startswith("in-process")
    assert result.detect_s is not None and result.switch_s is not None and result.traffic_s is not None
    assert result.detect_s <= result.switch_s <= result.traffic_s <= 1.5
    assert result.failback_traffic_s is not None and result.failback_traffic_s <= 1.5
    assert result.restored and _link_up(lab.name("ispa"), "core")
    assert LinuxRoutes(lab.edge).default_gateway() == "10.201.1.1"
    assert not marker_path(tmp_path / "state", "edge1").exists()
    messages = [m for m, _ in log]
    assert any(m.startswith("CUT isp-a") for m in messages) and any(m.startswith("RESTORED isp-a") for m in messages)
    assert any(m.startswith("failover: isp-a -> isp-b") for m in messages)
    assert any(m.startswith("failback: isp-b -> isp-a") for m in messages)
    assert 0 < result.probes_lost < result.probes_sent


def test_drill_observes_an_external_watcher(lab: IspLab, tmp_path: Path) -> None:
    edge = make_edge(lab, tmp_path, hold_down=0.5)
    state = tmp_path / "state"
    with StateLock(state, lock_name("edge1")):
        watch = WatchLoop(edge).start()  # stands for `migrate failover watch` in another process
        try:
            result = run_drill(edge, edge.uplink("isp-a"), state, QUICK)
        finally:
            watch.join(5)
    assert result.ok, result.lines()
    assert result.watcher.startswith("external")
    assert result.switch_s is not None and result.switch_s <= 1.5
    assert result.failback_switch_s is not None and result.failback_switch_s <= 1.5
    assert any("timed by the route change" in n for n in result.notes)


def test_time_limit_restores_the_link(lab: IspLab, tmp_path: Path) -> None:
    edge = make_edge(lab, tmp_path, down_after=50)  # detection would take 10 s
    result = run_drill(edge, edge.uplink("isp-a"), tmp_path / "state", DrillOptions(max_duration=2.0))
    assert result.timed_out and result.restored and result.verdict == "timed out" and not result.ok
    assert _link_up(lab.name("ispa"), "core")
    assert probe(TARGET, "10.201.1.2", 1.0, lab.edge).ok  # the ISP's route came back too


def test_ctrl_c_restores_the_link(lab: IspLab, tmp_path: Path) -> None:
    edge = make_edge(lab, tmp_path, hold_down=0.5)

    def log(message: str, data: dict[str, Any]) -> None:
        if data.get("event") == "failed_over":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_drill(edge, edge.uplink("isp-a"), tmp_path / "state", log=log)
    assert _link_up(lab.name("ispa"), "core")
    assert not marker_path(tmp_path / "state", "edge1").exists()


def test_a_drill_that_cannot_restore_says_so(lab: IspLab, tmp_path: Path) -> None:
    edge = make_edge(lab, tmp_path, hold_down=0.5)
    real = LabCut(lab_link(lab, "isp-a"))

    class Broken(LabCut):
        def restore(self) -> None:
            raise OperationFailed("ip: RTNETLINK answers: Operation not permitted")

    try:
        result = run_drill(edge, edge.uplink("isp-a"), tmp_path / "state", QUICK, cutter=Broken(real.link))
    finally:
        real.restore()
    assert result.verdict == "NOT RESTORED" and not result.restored
    text = "\n".join(result.lines())
    assert "DRILL COULD NOT RESTORE isp-a ON edge1: ip: RTNETLINK answers: Operation not permitted" in text
    assert f"restore it by hand: ip -n {lab.name('ispa')} link set dev core up" in text
    assert marker_path(tmp_path / "state", "edge1").exists()  # the next drill/check sees it


def test_a_killed_drill_is_restored_by_the_next(lab: IspLab, tmp_path: Path) -> None:
    edge = make_edge(lab, tmp_path, hold_down=0.5)
    state = tmp_path / "state"
    cut = LabCut(lab_link(lab, "isp-a"))
    cut.cut()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    write_marker(state, "edge1", "isp-a", cut.by_hand())
    marker = marker_path(state, "edge1")
    marker.write_text(marker.read_text().replace(f'"pid": {os.getpid()}', f'"pid": {dead.pid}'))
    result = run_drill(edge, edge.uplink("isp-a"), state, QUICK)
    assert result.ok, result.lines()


def test_refuses_without_a_second_uplink_or_a_live_secondary(lab: IspLab, tmp_path: Path) -> None:
    edge = make_edge(lab, tmp_path)
    single = Edge(**{**edge.__dict__, "uplinks": edge.uplinks[:1]})
    with pytest.raises(SafetyRefusal, match="only isp-a"):
        run_drill(single, single.uplinks[0], tmp_path / "state")
    LabCut(lab_link(lab, "isp-b")).cut()
    with pytest.raises(OperationFailed, match="nothing was cut.*no other uplink is up"):
        run_drill(edge, edge.uplink("isp-a"), tmp_path / "state", DrillOptions(warmup=1.5))
    assert _link_up(lab.name("ispa"), "core")


def test_linux_edge_cut_deletes_routes_and_the_restore_puts_them_back(lab: IspLab, tmp_path: Path) -> None:
    """Cutting the edge's own interface: `ip link set down` deletes every route via it (the default route and
    the uplink's table route); the watcher fails over anyway and the restore re-adds the table route."""
    data = {**lab.inventory_data(), "lab_links": {}, "hold_down": 0.5}
    ups = [{**u, "interface": "wan-a" if u["name"] == "isp-a" else "wan-b"} for u in uplinks_data()]
    inv = tmp_path / "inv"
    inv.mkdir()
    (inv / "hosts.yaml").write_text(yaml.safe_dump({"edge1": {"data": {"uplinks": ups, "failover": data}}}))
    edge = load_edges(load_inventory(inv))[0]
    result = run_drill(edge, edge.uplink("isp-a"), tmp_path / "state", QUICK)
    assert result.mode == "linux" and result.ok, result.lines()
    assert result.traffic_s is not None and result.traffic_s <= 1.5
    routes = LinuxRoutes(lab.edge)
    assert routes.link_up("wan-a") and routes.default_gateway() == "10.201.1.1"
    assert probe(TARGET, "10.201.1.2", 1.0, lab.edge).ok


# --- the watcher and the check ----------------------------------------------------------------------------
def test_watch_loop_moves_the_default_route_and_logs_every_decision(lab: IspLab, tmp_path: Path) -> None:
    edge = make_edge(lab, tmp_path, hold_down=0.5)
    log: list[dict[str, Any]] = []
    routes = LinuxRoutes(lab.edge)
    watch = WatchLoop(edge, log=lambda m, d: log.append(d)).start()
    try:
        time.sleep(0.8)
        cut = LabCut(lab_link(lab, "isp-a"))
        t0 = time.monotonic()
        cut.cut()
        while routes.default_gateway() != "10.202.1.1" and time.monotonic() - t0 < 3:
            time.sleep(0.02)
        assert time.monotonic() - t0 <= 1.5
        cut.restore()
        t1 = time.monotonic()
        while routes.default_gateway() != "10.201.1.1" and time.monotonic() - t1 < 3:
            time.sleep(0.02)
        assert time.monotonic() - t1 <= 1.5
    finally:
        watch.join(5)
    decisions = [(d.get("decision"), d.get("uplink")) for d in log]
    assert decisions[0] == ("start", None)
    assert ("down", "isp-a") in decisions and ("switch", "isp-b") in decisions
    assert ("up", "isp-a") in decisions and decisions[-2] == ("switch", "isp-a") and decisions[-1] == ("stop", None)
    assert watch.error is None


def test_check_in_namespaces(lab: IspLab, tmp_path: Path) -> None:
    edge = make_edge(lab, tmp_path)
    state = tmp_path / "state"
    report = observe_edge(edge, None, state, count=2)
    assert [(s.uplink, s.live, s.loss_pct) for s in report.stats] == [("isp-a", True, 0.0), ("isp-b", True, 0.0)]
    assert report.default_uplink == "isp-a" and report.missing_rules == []
    v = verdict("hq", [edge], [report])
    assert v.reasons == [
        "no `migrate failover watch` runs for edge1: nothing moves its default route when an uplink dies"
    ]
    with StateLock(state, lock_name("edge1")):
        assert verdict("hq", [edge], [observe_edge(edge, None, state, count=2)]).armed
        LabCut(lab_link(lab, "isp-b")).cut()
        v = verdict("hq", [edge], [observe_edge(edge, None, state, count=2)])
    assert v.reasons == ["1 of 2 uplinks confirmed live (isp-a)"]
    assert any("isp-b (ISP-B) on edge1 is DOWN: 100% loss" in n for n in v.notes)


def test_watcher_process_arms_the_lab(lab: IspLab, tmp_path: Path) -> None:
    """What the lab manager does as root: the lab inventory's edge1 + this run's namespaces, and
    `migrate failover watch` in the background; `failover check` then finds the site armed."""
    hosts = yaml.safe_load((REPO / "inventory" / "lab" / "hosts.yaml").read_text())
    edge1 = hosts["edge1"]
    edge1["data"].setdefault("failover", {}).update(lab.inventory_data())
    edge1.pop("groups")  # no device in this test (the groups give the platform): only the namespaces
    inv = tmp_path / "runtime"
    inv.mkdir()
    (inv / "hosts.yaml").write_text(yaml.safe_dump({"edge1": edge1}))
    edge = load_edges(load_inventory(inv))[0]
    state = tmp_path / "state"
    watcher = WatcherProcess(state, inv).start()
    try:
        assert watcher.running
        time.sleep(1.0)  # the watcher sees isp-b up
        assert verdict("hq", [edge], [observe_edge(edge, None, state, count=2)]).armed
    finally:
        assert watcher.stop() == 0
    assert " watching edge1: isp-a, isp-b" in watcher.log.read_text()


def test_a_watcher_stops_when_its_namespace_is_gone(tmp_path: Path) -> None:
    """A lab killed outright leaves its watcher orphaned; once the namespaces are cleaned up it exits."""
    isp = IspLab().start()
    try:
        edge = make_edge(isp, tmp_path)
        watch = WatchLoop(edge).start()
        time.sleep(0.5)
    finally:
        isp.stop()
    deadline = time.monotonic() + 5
    while watch.error is None and time.monotonic() < deadline:
        time.sleep(0.05)
    watch.join(5)
    assert isinstance(watch.error, OperationFailed) and "is gone" in str(watch.error)
