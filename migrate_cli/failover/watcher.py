"""The failover decision logic as a pure state machine: probe results and a clock in, decisions out. No I/O.

Rules:

- An uplink goes **down** after `down_after` consecutive missed probe rounds, and **up** again after
  `up_after` consecutive good rounds (hysteresis: one lost or one lucky probe changes nothing).
- The default route should be on the **best live uplink** (lowest priority number).
- Leaving a dead active uplink is immediate (that is the failover; it is never delayed).
- Any other move (failing back to a better uplink that came back) waits until `hold_down` seconds have passed
  since the last move, so a flapping uplink cannot move the route more often than once per hold-down.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

DecisionKind = Literal["down", "up", "switch", "hold", "no_uplink"]


@dataclass(frozen=True)
class Policy:
    down_after: int = 3
    up_after: int = 3
    hold_down: float = 2.0


@dataclass(frozen=True)
class Decision:
    """One thing the watcher decided, with why. `switch` decisions are what moves the route."""

    at: float
    kind: DecisionKind
    uplink: str | None
    reason: str
    previous: str | None = None
    forced: bool = False  # a switch away from a dead (or missing) active uplink

    def public(self) -> dict[str, object]:
        return {
            "decision": self.kind,
            "uplink": self.uplink,
            "previous": self.previous,
            "forced": self.forced,
            "reason": self.reason,
        }


@dataclass
class LinkState:
    name: str
    priority: int
    up: bool
    misses: int = 0
    successes: int = 0


@dataclass
class Watcher:
    """Tracks uplink health and which uplink should carry the default route.

    `links` are (name, priority) pairs; `active` is the uplink carrying the route now (None: no route);
    `up` names the uplinks assumed up at the start (the others must first prove themselves).
    """

    links: Iterable[tuple[str, int]]
    policy: Policy = field(default_factory=Policy)
    active: str | None = None
    up: Iterable[str] = ()
    last_switch: float | None = None
    states: dict[str, LinkState] = field(init=False)
    _held_for: str | None = field(init=False, default=None)
    _stranded: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        up = set(self.up)
        self.states = {name: LinkState(name, prio, name in up) for name, prio in self.links}
        if len({s.priority for s in self.states.values()}) != len(self.states):
            raise ValueError("uplink priorities must differ")
        if self.active is not None and self.active not in self.states:
            raise ValueError(f"unknown active uplink {self.active!r}")

    # --- queries --------------------------------------------------------------------------------------
    def is_up(self, name: str) -> bool:
        return self.states[name].up

    def best_live(self) -> str | None:
        """The up uplink with the lowest priority number, or None when none is up."""
        live = [s for s in self.states.values() if s.up]
        return min(live, key=lambda s: s.priority).name if live else None

    # --- transitions --------------------------------------------------------------------------------------
    def sync_active(self, name: str | None) -> None:
        """The route is really on `name` (seen on the system, or a route change failed): adopt it, no decision."""
        if name is not None and name not in self.states:
            raise ValueError(f"unknown uplink {name!r}")
        self.active = name

    def observe(self, now: float, results: Mapping[str, bool]) -> list[Decision]:
        """One probe round: `results[name]` is True when the uplink answered. Returns the decisions taken."""
        decisions: list[Decision] = []
        for name, ok in results.items():
            state = self.states[name]
            if ok:
                state.successes += 1
                state.misses = 0
                if not state.up and state.successes >= self.policy.up_after:
                    state.up = True
                    decisions.append(Decision(now, "up", name, f"{state.successes} good rounds in a row"))
            else:
                state.misses += 1
                state.successes = 0
                if state.up and state.misses >= self.policy.down_after:
                    state.up = False
                    decisions.append(Decision(now, "down", name, f"{state.misses} missed rounds in a row"))
        decisions += self._route(now)
        return decisions

    def _route(self, now: float) -> list[Decision]:
        want = self.best_live()
        active_dead = self.active is None or not self.states[self.active].up
        if want is None:
            if active_dead and not self._stranded:
                self._stranded = True
                return [Decision(now, "no_uplink", self.active, "no uplink is up: the route stays where it is")]
            return []
        self._stranded = False
        if want == self.active:
            self._held_for = None
            return []
        if active_dead:
            return [self._switch(now, want, forced=True, reason=self._why_forced())]
        since = now - self.last_switch if self.last_switch is not None else None
        if since is not None and since < self.policy.hold_down:
            if self._held_for == want:
                return []
            self._held_for = want
            wait = self.policy.hold_down - since
            return [Decision(now, "hold", want, f"{want} is preferred but the hold-down has {wait:.2f}s to run")]
        return [self._switch(now, want, forced=False, reason=f"{want} is up and preferred over {self.active}")]

    def _why_forced(self) -> str:
        if self.active is None:
            return "no uplink carries the default route"
        return f"{self.active} is down"

    def _switch(self, now: float, to: str, forced: bool, reason: str) -> Decision:
        previous, self.active, self.last_switch, self._held_for = self.active, to, now, None
        return Decision(now, "switch", to, reason, previous=previous, forced=forced)
