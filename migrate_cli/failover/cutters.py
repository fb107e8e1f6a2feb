"""Cutting an uplink and restoring it: in the lab's ISP namespace, on a Linux edge, or on a device (netmiko);
and the marker that names a cut link until it is restored."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from migrate_cli.core.errors import MigrateError, OperationFailed
from migrate_cli.failover.model import Edge, LabLink, Uplink
from migrate_cli.failover.routes import LinuxRoutes


class Cutter(Protocol):
    def describe(self) -> str: ...
    def cut(self) -> None: ...
    def restore(self) -> None: ...
    def is_restored(self) -> bool: ...
    def by_hand(self) -> str: ...


@dataclass
class LabCut:
    """The lab: the ISP's upstream link, inside the ISP namespace; restoring puts the ISP's routes back."""

    link: LabLink

    def _routes(self) -> LinuxRoutes:
        return LinuxRoutes(self.link.netns)

    def describe(self) -> str:
        return f"link {self.link.interface} in namespace {self.link.netns} (the ISP's upstream)"

    def cut(self) -> None:
        self._routes().set_link(self.link.interface, up=False)

    def restore(self) -> None:
        routes = self._routes()
        routes.set_link(self.link.interface, up=True)
        for route in self.link.routes:
            routes.replace_route(route)

    def is_restored(self) -> bool:
        return self._routes().link_up(self.link.interface)

    def by_hand(self) -> str:
        cmds = [f"ip -n {self.link.netns} link set dev {self.link.interface} up"]
        cmds += [f"ip -n {self.link.netns} route replace {r}" for r in self.link.routes]
        return "; ".join(cmds)


@dataclass
class LinuxCut:
    """A Linux edge's own uplink interface; restoring also puts the uplink's table route back."""

    routes: LinuxRoutes
    uplink: Uplink

    def describe(self) -> str:
        where = f" in namespace {self.routes.netns}" if self.routes.netns else ""
        return f"interface {self.uplink.interface}{where}"

    def cut(self) -> None:
        self.routes.set_link(self.uplink.interface, up=False)

    def restore(self) -> None:
        self.routes.set_link(self.uplink.interface, up=True)
        self.routes.ensure_uplink_table(self.uplink)

    def is_restored(self) -> bool:
        return self.routes.link_up(self.uplink.interface)

    def by_hand(self) -> str:
        ns = f"-n {self.routes.netns} " if self.routes.netns else ""
        return f"ip {ns}link set dev {self.uplink.interface} up"


@dataclass
class DeviceCut:
    """`shutdown` / `no shutdown` on the device's interface over netmiko (one session for cut and restore)."""

    host: Any
    interface: str
    connect: Callable[[Any], Any]
    _conn: Any = None

    def describe(self) -> str:
        return f"interface {self.interface} on device {self.host.name}"

    def _session(self) -> Any:
        if self._conn is None:
            conn = self.connect(self.host)
            with suppress(Exception):  # configuration needs privileged mode; a device without `secret` may be there
                conn.enable()
            self._conn = conn
        return self._conn

    def _configure(self, line: str) -> None:
        try:
            self._session().send_config_set([f"interface {self.interface}", line])
        except MigrateError:
            raise
        except Exception:
            self.close()  # the session may have died with the link; one fresh attempt
            self._session().send_config_set([f"interface {self.interface}", line])

    def cut(self) -> None:
        self._configure("shutdown")

    def restore(self) -> None:
        self._configure("no shutdown")

    def is_restored(self) -> bool:
        text = str(self._session().send_command(f"show running-config interface {self.interface}"))
        if text.strip().startswith("%"):
            raise OperationFailed(f"{self.host.name}: cannot read interface {self.interface}: {text.strip()}")
        return not any(line.strip() == "shutdown" for line in text.splitlines())

    def by_hand(self) -> str:
        return f"on {self.host.name}: configure terminal / interface {self.interface} / no shutdown"

    def close(self) -> None:
        if self._conn is not None:
            with suppress(Exception):
                self._conn.disconnect()
            self._conn = None


# ------------------------------------------------------------------------------------------------------------
# The marker of a cut link
# ------------------------------------------------------------------------------------------------------------
def marker_path(state_dir: Path, host: str) -> Path:
    return state_dir / "failover" / f"drill-{host}.json"


def write_marker(state_dir: Path, host: str, link: str, by_hand: str) -> None:
    path = marker_path(state_dir, host)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": os.getpid(), "link": link, "since": time.time(), "restore": by_hand}))


def read_marker(state_dir: Path, host: str) -> dict[str, Any] | None:
    """A previous drill's cut that was never restored (its process is gone), or None."""
    path = marker_path(state_dir, host)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    pid = data.get("pid")
    if isinstance(pid, int) and pid != os.getpid():
        try:
            os.kill(pid, 0)
            return None  # a drill is running right now
        except ProcessLookupError:
            pass
        except PermissionError:
            return None
    return data if isinstance(data, dict) else None


def clear_marker(state_dir: Path, host: str) -> None:
    with suppress(FileNotFoundError):
        marker_path(state_dir, host).unlink()


# ------------------------------------------------------------------------------------------------------------
# The drill
# ------------------------------------------------------------------------------------------------------------
def drill_mode(edge: Edge, uplink: Uplink) -> str:
    if uplink.name in edge.lab_links:
        return "lab"
    return "linux" if edge.router == "linux" else "device"


def make_cutter(edge: Edge, uplink: Uplink, host: Any = None, connect: Callable[[Any], Any] | None = None) -> Cutter:
    mode = drill_mode(edge, uplink)
    if mode == "lab":
        return LabCut(edge.lab_links[uplink.name])
    if mode == "linux":
        return LinuxCut(LinuxRoutes(edge.netns), uplink)
    if connect is None:
        from migrate_cli.network.session import connect as connect_fn

        connect = connect_fn
    return DeviceCut(host, uplink.interface, connect)
