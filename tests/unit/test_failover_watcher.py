"""The watcher state machine: hysteresis, hold-down, convergence (hypothesis property tests and examples)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migrate_cli.failover.watcher import Decision, Policy, Watcher

LINKS = [("isp-a", 10), ("isp-b", 20), ("isp-c", 30)]


def run(w: Watcher, rounds: list[dict[str, bool]], start: float = 0.0, step: float = 0.2) -> list[Decision]:
    out: list[Decision] = []
    for i, results in enumerate(rounds):
        out += w.observe(start + i * step, results)
    return out


def test_down_after_exactly_n_misses_and_failover_is_immediate() -> None:
    w = Watcher(LINKS[:2], Policy(down_after=3, up_after=2, hold_down=10), active="isp-a", up=["isp-a", "isp-b"])
    decisions = run(w, [{"isp-a": False, "isp-b": True}] * 2)
    assert decisions == [] and w.active == "isp-a"
    decisions = w.observe(0.4, {"isp-a": False, "isp-b": True})
    kinds = [(d.kind, d.uplink) for d in decisions]
    assert kinds == [("down", "isp-a"), ("switch", "isp-b")]
    assert decisions[1].forced and decisions[1].previous == "isp-a"
    assert w.active == "isp-b"


def test_one_lost_probe_changes_nothing() -> None:
    w = Watcher(LINKS[:2], Policy(3, 3, 0), active="isp-a", up=["isp-a", "isp-b"])
    pattern = [{"isp-a": ok, "isp-b": True} for ok in (True, False, True, False, False, True)]
    assert run(w, pattern) == []
    assert w.active == "isp-a"


def test_failback_waits_for_up_after_and_hold_down() -> None:
    w = Watcher(LINKS[:2], Policy(down_after=1, up_after=2, hold_down=1.0), active="isp-a", up=["isp-a", "isp-b"])
    assert [d.kind for d in w.observe(0.0, {"isp-a": False, "isp-b": True})] == ["down", "switch"]
    assert [d.kind for d in w.observe(0.2, {"isp-a": True, "isp-b": True})] == []
    held = w.observe(0.4, {"isp-a": True, "isp-b": True})
    assert [d.kind for d in held] == ["up", "hold"]
    assert w.observe(0.6, {"isp-a": True, "isp-b": True}) == []  # the hold is logged once
    back = w.observe(1.0, {"isp-a": True, "isp-b": True})
    assert [(d.kind, d.uplink, d.forced) for d in back] == [("switch", "isp-a", False)]


def test_no_live_uplink_is_reported_once_and_the_route_stays() -> None:
    w = Watcher(LINKS[:2], Policy(1, 1, 0), active="isp-a", up=["isp-a", "isp-b"])
    first = w.observe(0, {"isp-a": False, "isp-b": False})
    assert [d.kind for d in first] == ["down", "down", "no_uplink"]
    assert w.observe(1, {"isp-a": False, "isp-b": False}) == []
    assert w.active == "isp-a"


def test_starting_without_a_route_takes_the_first_live_uplink() -> None:
    w = Watcher(LINKS[:2], Policy(1, 2, 5), active=None)
    assert run(w, [{"isp-a": False, "isp-b": True}] * 2)[-1].kind == "switch"
    assert w.active == "isp-b"


def test_sync_active_adopts_the_real_route_without_a_decision() -> None:
    w = Watcher(LINKS[:2], Policy(), active="isp-a", up=["isp-a"])
    w.sync_active("isp-b")
    assert w.active == "isp-b"
    with pytest.raises(ValueError):
        w.sync_active("isp-z")


def test_priorities_must_differ() -> None:
    with pytest.raises(ValueError, match="priorities"):
        Watcher([("a", 1), ("b", 1)])


# --- properties ------------------------------------------------------------------------------------------
@st.composite
def scenarios(
    draw: st.DrawFn,
) -> tuple[list[tuple[str, int]], Policy, str | None, set[str], list[tuple[float, dict[str, bool]]]]:
    count = draw(st.integers(min_value=2, max_value=4))
    priorities = draw(st.permutations(list(range(count))))
    links = [(f"l{i}", p * 10) for i, p in enumerate(priorities)]
    names = [n for n, _ in links]
    policy = Policy(
        down_after=draw(st.integers(1, 4)),
        up_after=draw(st.integers(1, 4)),
        hold_down=draw(st.sampled_from([0.0, 0.3, 0.5, 1.0, 2.0, 3.5])),
    )
    active = draw(st.sampled_from([None, *names]))
    up = set(draw(st.lists(st.sampled_from(names), unique=True)))
    if active is not None:
        up.add(active)
    steps = draw(
        st.lists(
            st.tuples(
                st.sampled_from([0.05, 0.1, 0.2, 0.5, 1.0]),
                st.fixed_dictionaries({n: st.booleans() for n in names}),
            ),
            max_size=60,
        )
    )
    return links, policy, active, up, steps


def _play(links, policy, active, up, steps):  # type: ignore[no-untyped-def]
    w = Watcher(links, policy, active=active, up=up)
    now = 0.0
    switches: list[tuple[Decision, bool]] = []  # (decision, previous was up at that time)
    for dt, results in steps:
        now += dt
        previous = w.active
        for d in w.observe(now, results):
            if d.kind == "switch":
                prev_up = previous is not None and w.states[previous].up
                switches.append((d, prev_up))
                assert w.states[d.uplink].up, "switched to an uplink that is not up"
                previous = d.uplink
    return w, switches, now


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_no_route_move_faster_than_the_hold_down(scenario) -> None:  # type: ignore[no-untyped-def]
    """Two consecutive moves are at least hold_down apart unless the second leaves a dead uplink."""
    links, policy, active, up, steps = scenario
    _, switches, _ = _play(links, policy, active, up, steps)
    for (before, _), (after, prev_up) in zip(switches, switches[1:], strict=False):
        if after.forced:
            assert not prev_up, "a forced switch left an uplink that was up"
        else:
            assert after.at - before.at >= policy.hold_down - 1e-9
    for decision, prev_up in switches:
        assert decision.forced == (not prev_up)


@settings(max_examples=300, deadline=None)
@given(scenarios(), st.data())
def test_always_converges_to_the_best_live_uplink(scenario, data) -> None:  # type: ignore[no-untyped-def]
    """Whatever happened before, once each uplink's health is steady the route ends on the best live one."""
    links, policy, active, up, steps = scenario
    w, _, now = _play(links, policy, active, up, steps)
    names = [n for n, _ in links]
    live = set(data.draw(st.lists(st.sampled_from(names), unique=True)))
    step = 0.2
    rounds = max(policy.down_after, policy.up_after) + math.ceil(policy.hold_down / step) + 2
    late_switches = []
    for i in range(rounds):
        for d in w.observe(now + (i + 1) * step, {n: n in live for n in names}):
            if d.kind == "switch" and i >= policy.down_after:
                late_switches.append(d)
    if live:
        assert w.active == min(live, key=dict(links).__getitem__)
    else:
        assert not any(s.up for s in w.states.values())
        assert late_switches == []  # once everything is down the route stays where it is
