"""The default route, policy rules and links of a Linux edge (optionally inside a network namespace), via `ip`."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from typing import Any

from migrate_cli.core.errors import OperationFailed
from migrate_cli.failover.model import Uplink


@dataclass(frozen=True)
class LinuxRoutes:
    """`ip [-n NETNS] ...` for one edge. Each call is one short `ip` process (a few milliseconds)."""

    netns: str | None = None

    def _ip(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = ["ip", *(["-n", self.netns] if self.netns else []), *args]
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise OperationFailed(f"{' '.join(argv)}: {exc}") from exc
        if check and result.returncode != 0:
            raise OperationFailed(f"{' '.join(argv)}: {result.stderr.strip() or 'failed'}")
        return result

    def _json(self, *args: str) -> list[dict[str, Any]]:
        out = self._ip("-j", *args).stdout.strip()
        try:
            value = json.loads(out) if out else []
        except ValueError as exc:
            raise OperationFailed(f"ip -j {' '.join(args)}: unreadable output") from exc
        return value if isinstance(value, list) else []

    def default_gateway(self) -> str | None:
        """The gateway of the main table's default route, or None when there is none."""
        for route in self._json("route", "show", "default"):
            if route.get("gateway"):
                return str(route["gateway"])
        return None

    def set_default(self, uplink: Uplink) -> None:
        """Point the main table's default route at `uplink`'s gateway (atomic replace)."""
        self._ip("route", "replace", "default", "via", uplink.gateway)

    def ensure_uplink_table(self, uplink: Uplink) -> bool:
        """Put back the uplink's own table route (a link going down deletes it); False when it cannot yet."""
        if uplink.table is None:
            return True
        return (
            self._ip(
                "route", "replace", "default", "via", uplink.gateway, "table", str(uplink.table), check=False
            ).returncode
            == 0
        )

    def rules(self) -> list[dict[str, Any]]:
        return self._json("rule", "show")

    def has_source_rule(self, uplink: Uplink) -> bool:
        """An `ip rule from SOURCE lookup TABLE` exists, so probes bound to SOURCE leave by this uplink."""
        for rule in self.rules():
            if rule.get("src") == uplink.source and (
                uplink.table is None or str(rule.get("table")) == str(uplink.table)
            ):
                return True
        return False

    def link_up(self, interface: str) -> bool:
        """Whether `interface` is administratively up."""
        links = self._json("link", "show", "dev", interface)
        return bool(links) and "UP" in links[0].get("flags", [])

    def set_link(self, interface: str, up: bool) -> None:
        self._ip("link", "set", "dev", interface, "up" if up else "down")

    def replace_route(self, route: str) -> None:
        self._ip("route", "replace", *route.split())
