"""Fault injection settings for a simulated device, changed by tests at run time."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .ios_oper import WorldConditions


@dataclass
class DeviceFaults(WorldConditions):
    """Misbehaviour to inject; sessions read these attributes on every command.

    - `reject_patterns`: regexes; a configuration command matching one (re.search) is
      answered with `% Invalid input detected at '^' marker.` and not applied.
    - `delay_seconds`: sleep before answering each non-blank command (slow device).
    - `drop_after_commands`: close the SSH transport right after the Nth configuration-mode
      command of a session has been answered (session dropped mid-push).
    - `fail_auth`: every authentication attempt fails.

    And the world around the device (`WorldConditions`, read by the operational show commands):
    - `links_down`: interface names whose link is down (line protocol down although not shut).
    - `unreachable`: addresses or prefixes that do not answer IP SLA probes (an ISP outage).
    - `peers_down`: BGP neighbor or tunnel far-end addresses whose far end is down.
    """

    reject_patterns: list[str] = field(default_factory=list)
    delay_seconds: float = 0.0
    drop_after_commands: int | None = None
    fail_auth: bool = False

    def rejects(self, command: str) -> bool:
        """True when `command` matches one of `reject_patterns`."""
        return any(re.search(pattern, command) for pattern in list(self.reject_patterns))

    def clear(self) -> None:
        """Back to a well-behaved device."""
        self.reject_patterns = []
        self.delay_seconds = 0.0
        self.drop_after_commands = None
        self.fail_auth = False
        self.links_down = []
        self.unreachable = []
        self.peers_down = []
