"""The lab's ISP links: Linux network namespaces on-prem, ISP-A, ISP-B and cloud, joined by veth pairs (root).

::

    on-prem  wan-a 10.201.1.2/30 ── cust 10.201.1.1  ISP-A  core 10.201.2.1 ── isp-a 10.201.2.2 ┐
             wan-b 10.202.1.2/30 ── cust 10.202.1.1  ISP-B  core 10.202.2.1 ── isp-b 10.202.2.2 ┴ cloud
                                                                          lo 10.203.0.10 (ICMP, TCP 8080)

On-prem's default route is via ISP-A; each uplink also has its own routing table (101, 102) chosen by
``ip rule from <source>``, so a probe bound to an uplink's address leaves by that uplink whatever the default
route; each table ends in an ``unreachable default`` so that a probe never falls through to the main table
when its uplink's route is gone. Every address is private test space and lives only inside these namespaces.

Names are ``mgfo-<pid>-<random>-<role>``: unique per run. :meth:`IspLab.start` first removes namespaces left
by a previous run whose process is gone (a crash); :meth:`IspLab.stop` (also at interpreter exit) removes its
own. A drill "cuts" an uplink by taking the ISP's upstream link down inside the ISP namespace: the edge's own
link stays up, so only probes can tell (the hard case); that deletes the ISP's route to the cloud, which the
restore puts back (``lab_links`` in the inventory data carry those routes).
"""

from __future__ import annotations

import atexit
import os
import re
import secrets
import shutil
import socket
import subprocess
import threading
from dataclasses import dataclass, field
from typing import Any

from migrate_cli.core.errors import OperationFailed
from migrate_cli.failover.probes import NETNS_DIR, netns

PREFIX = "mgfo-"
_NAME = re.compile(rf"^{PREFIX}(?P<pid>\d+)-[0-9a-f]+-[a-z]+$")
TARGET = "10.203.0.10"
TARGET_PORT = 8080


@dataclass(frozen=True)
class IspPlan:
    """One ISP of the lab: the uplink as the inventory sees it, and how the lab wires it."""

    uplink: str
    provider: str
    role: str  # namespace role
    edge_if: str
    source: str
    gateway: str
    core_local: str
    core_peer: str
    cloud_if: str
    table: int
    priority: int
    device_interface: str


PLAN = (
    IspPlan("isp-a", "ISP-A", "ispa", "wan-a", "10.201.1.2", "10.201.1.1", "10.201.2.1", "10.201.2.2", "isp-a", 101, 10,
            "GigabitEthernet2"),
    IspPlan("isp-b", "ISP-B", "ispb", "wan-b", "10.202.1.2", "10.202.1.1", "10.202.2.1", "10.202.2.2", "isp-b", 102, 20,
            "GigabitEthernet3"),
)  # fmt: skip


def uplinks_data() -> list[dict[str, Any]]:
    """The edge's `uplinks:` for an inventory that matches this lab (the same as inventory/lab/hosts.yaml)."""
    return [
        {
            "name": p.uplink,
            "provider": p.provider,
            "interface": p.device_interface,
            "source": p.source,
            "gateway": p.gateway,
            "priority": p.priority,
            "targets": [TARGET, f"{TARGET}:{TARGET_PORT}"],
            "table": p.table,
        }
        for p in PLAN
    ]


def edge_device_config() -> str:
    """IOS configuration for the lab's simulated edge device that matches these uplinks: an interface, an
    IP SLA icmp-echo to the ISP's gateway and a track object per uplink, and one tracked default route per
    uplink with the uplink's priority as administrative distance (lower is preferred, as in the inventory)."""
    lines: list[str] = []
    for p in PLAN:
        lines += [
            f"interface {p.device_interface}",
            f" description {p.provider}",
            f" ip address {p.source} 255.255.255.252",
            " no shutdown",
        ]
    for index, p in enumerate(PLAN, start=1):
        lines += [
            f"ip sla {index}",
            f" icmp-echo {p.gateway} source-interface {p.device_interface}",
            " frequency 5",
            f"ip sla schedule {index} life forever start-time now",
            f"track {index} ip sla {index} reachability",
            f"ip route 0.0.0.0 0.0.0.0 {p.gateway} {p.priority} track {index}",
        ]
    return "\n".join(lines) + "\n"


def available() -> str | None:
    """None when namespaces can be built here, else why not (one line)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    return None


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20)
    if check and result.returncode != 0:
        raise OperationFailed(f"ip {' '.join(args)}: {result.stderr.strip() or 'failed'}")
    return result


def list_namespaces() -> list[str]:
    """Names of the lab's namespaces on this machine (any run)."""
    result = _ip("netns", "list", check=False)
    names = [line.split()[0] for line in result.stdout.splitlines() if line.strip()]
    return [n for n in names if n.startswith(PREFIX)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale() -> list[str]:
    """Remove lab namespaces whose creating process is gone; returns the names removed."""
    removed = []
    for name in list_namespaces():
        match = _NAME.match(name)
        if match and _alive(int(match["pid"])):
            continue
        _ip("netns", "delete", name, check=False)
        removed.append(name)
    return removed


@dataclass
class IspLab:
    """Build, describe and remove one run's namespaces. Use as a context manager, or start()/stop()."""

    run_tag: str = field(default_factory=lambda: f"{os.getpid()}-{secrets.token_hex(2)}")
    namespaces: dict[str, str] = field(default_factory=dict)  # role -> name
    removed_stale: list[str] = field(default_factory=list)
    _server: socket.socket | None = None
    _server_thread: threading.Thread | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)

    def name(self, role: str) -> str:
        return f"{PREFIX}{self.run_tag}-{role}"

    @property
    def edge(self) -> str:
        """The on-prem namespace: where the edge's uplinks, routes and probes live."""
        return self.name("onprem")

    def start(self) -> IspLab:
        why = available()
        if why:
            raise OperationFailed(f"cannot build the ISP namespaces: {why}")
        self._stopping.clear()
        self.removed_stale = clean_stale()
        atexit.register(self.stop)
        try:
            self._build()
        except BaseException:
            self.stop()
            raise
        return self

    def _build(self) -> None:
        for role in ("onprem", *(p.role for p in PLAN), "cloud"):
            name = self.name(role)
            _ip("netns", "add", name)
            self.namespaces[role] = name
            _ip("-n", name, "link", "set", "lo", "up")
        edge, cloud = self.edge, self.name("cloud")
        _ip("-n", cloud, "addr", "add", f"{TARGET}/32", "dev", "lo")
        for p in PLAN:
            isp = self.name(p.role)
            _ip("-n", edge, "link", "add", p.edge_if, "type", "veth", "peer", "name", "cust", "netns", isp)
            _ip("-n", isp, "link", "add", "core", "type", "veth", "peer", "name", p.cloud_if, "netns", cloud)
            _ip("-n", edge, "addr", "add", f"{p.source}/30", "dev", p.edge_if)
            _ip("-n", isp, "addr", "add", f"{p.gateway}/30", "dev", "cust")
            _ip("-n", isp, "addr", "add", f"{p.core_local}/30", "dev", "core")
            _ip("-n", cloud, "addr", "add", f"{p.core_peer}/30", "dev", p.cloud_if)
            for ns, dev in ((edge, p.edge_if), (isp, "cust"), (isp, "core"), (cloud, p.cloud_if)):
                _ip("-n", ns, "link", "set", dev, "up")
            self._forward(isp)
            _ip("-n", isp, "route", "add", *self.isp_route(p).split())
            _ip("-n", cloud, "route", "add", f"{p.source.rsplit('.', 2)[0]}.0.0/16", "via", p.core_local)
            _ip("-n", edge, "route", "add", "default", "via", p.gateway, "table", str(p.table))
            # when the uplink's link goes down its route goes too: fail there, never fall through to main
            _ip("-n", edge, "route", "add", "unreachable", "default", "metric", str(2**32 - 1), "table", str(p.table))
            _ip("-n", edge, "rule", "add", "from", p.source, "lookup", str(p.table), "pref", str(1000 + p.table))
        _ip("-n", edge, "route", "add", "default", "via", PLAN[0].gateway)
        self._serve_tcp(cloud)

    @staticmethod
    def isp_route(p: IspPlan) -> str:
        return f"{TARGET.rsplit('.', 1)[0]}.0/24 via {p.core_peer}"

    @staticmethod
    def _forward(ns: str) -> None:
        # /proc/sys/net is per network namespace: written from a thread inside it.
        with netns(ns), open("/proc/sys/net/ipv4/ip_forward", "w") as fh:
            fh.write("1\n")

    def _serve_tcp(self, ns: str) -> None:
        """A TCP listener on the cloud target that accepts and closes (what TCP probes connect to)."""
        with netns(ns):
            server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((TARGET, TARGET_PORT))
        server.listen(128)
        server.settimeout(0.2)
        self._server = server

        def loop() -> None:
            while not self._stopping.is_set():
                try:
                    conn, _ = server.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                conn.close()

        self._server_thread = threading.Thread(target=loop, name="lab-cloud-tcp", daemon=True)
        self._server_thread.start()

    def inventory_data(self) -> dict[str, Any]:
        """`failover:` keys for the edge host in the lab's runtime inventory (namespace names of this run)."""
        return {
            "router": "linux",
            "netns": self.edge,
            "traffic_target": f"{TARGET}:{TARGET_PORT}",
            "lab_links": {
                p.uplink: {"netns": self.name(p.role), "interface": "core", "routes": [self.isp_route(p)]} for p in PLAN
            },
        }

    def stop(self) -> None:
        """Remove every namespace of this run (idempotent; veth pairs go with them)."""
        self._stopping.set()
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._server_thread is not None:
            self._server_thread.join(timeout=2)
            self._server_thread = None
        for role in list(self.namespaces):
            _ip("netns", "delete", self.namespaces.pop(role), check=False)
        atexit.unregister(self.stop)

    def exists(self) -> bool:
        return any(os.path.exists(os.path.join(NETNS_DIR, n)) for n in self.namespaces.values())

    def __enter__(self) -> IspLab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
