"""A lab of simulated edge routers with connectivity intent, for the network tests and the benchmark.

`NetLab.start(tmp_path, count)` starts `count` SSH devices booted from `lab_initial_config` (ports, uplink
addresses, loopback), writes an inventory describing each one's DX, VPN and uplinks (unique addressing per
device), a known_hosts file, and the environment the secret references need.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from migrate_cli.core.inventory import Inventory, load_inventory
from migrate_cli.lab.devices import DeviceFleet, DeviceSpec, SimulatedDevice
from migrate_cli.lab.devices.base_config import lab_initial_config

SECRETS = {
    "NET_PW": "lab-pw-9876x",
    "NET_DX_KEY": "dxK3y.abcdef",
    "NET_PSK1": "psk.tunnel_one1",
    "NET_PSK2": "psk.tunnel_two2",
}


def edge_data(index: int, vpn: bool = True, uplinks: bool = True) -> dict[str, Any]:
    """Host data of edge number `index` (0-based; up to 60 devices get distinct addresses)."""
    data: dict[str, Any] = {
        "router_id": f"10.255.0.{index + 1}",
        "direct_connect": {
            "interface": "GigabitEthernet4",
            "vlan": 100 + index,
            "customer_address": f"169.254.100.{4 * index + 2}/30",
            "amazon_address": f"169.254.100.{4 * index + 1}/30",
            "amazon_asn": 64512,
            "bgp_auth_key": "${env:NET_DX_KEY}",
        },
    }
    if uplinks:
        data["uplinks"] = [
            {"name": "isp-a", "interface": "GigabitEthernet2", "source": f"10.201.{index}.2",
             "gateway": f"10.201.{index}.1", "priority": 10, "targets": ["10.203.0.10"], "track": 1},
            {"name": "isp-b", "interface": "GigabitEthernet3", "source": f"10.202.{index}.2",
             "gateway": f"10.202.{index}.1", "priority": 20, "targets": ["10.203.0.10"], "track": 2},
        ]  # fmt: skip
    if vpn:
        data["vpn"] = {
            "amazon_asn": 64512,
            "tunnels": [
                {"outside_address": f"203.0.113.{10 + 2 * index}", "inside_address": f"169.254.{10 + 2 * index}.2/30",
                 "psk": "${env:NET_PSK1}"},
                {"outside_address": f"203.0.113.{11 + 2 * index}", "inside_address": f"169.254.{11 + 2 * index}.2/30",
                 "psk": "${env:NET_PSK2}"},
            ],
        }  # fmt: skip
    return data


@dataclass
class NetLab:
    fleet: DeviceFleet
    root: Path
    inventory_dir: Path
    known_hosts: Path
    state_dir: Path

    @property
    def env(self) -> dict[str, str]:
        return dict(SECRETS)

    def device(self, name: str) -> SimulatedDevice:
        return self.fleet.devices[name]

    def inventory(self) -> Inventory:
        return load_inventory(self.inventory_dir)

    @classmethod
    @contextmanager
    def start(
        cls, root: Path, count: int = 2, vpn: bool = True, uplinks: bool = True, prefix: str = "edge"
    ) -> Iterator[NetLab]:
        """Devices `<prefix>1..N`, their inventory and known_hosts; os.environ gets the secrets."""
        data = {f"{prefix}{i + 1}": edge_data(i, vpn=vpn, uplinks=uplinks) for i in range(count)}
        specs = [
            DeviceSpec(name, "admin", SECRETS["NET_PW"], initial_config=lab_initial_config(host_data))
            for name, host_data in data.items()
        ]
        fleet = DeviceFleet(specs, root / "keys")
        fleet.start()
        try:
            known = root / "known_hosts"
            fleet.write_known_hosts(known)
            inv = root / "inventory"
            inv.mkdir(parents=True, exist_ok=True)
            hosts = {
                name: {"hostname": "127.0.0.1", "port": fleet.devices[name].port, "groups": ["edge"], "data": d}
                for name, d in data.items()
            }
            (inv / "hosts.yaml").write_text(yaml.safe_dump(hosts, sort_keys=False))
            groups = {"edge": {"platform": "cisco_ios", "data": {"asn": 65010, "advertise": ["10.10.0.0/16"]}}}
            (inv / "groups.yaml").write_text(yaml.safe_dump(groups))
            defaults = {
                "username": "admin",
                "password": "${env:NET_PW}",
                "connection_options": {"netmiko": {"extras": {"known_hosts": str(known)}}},
            }
            (inv / "defaults.yaml").write_text(yaml.safe_dump(defaults))
            saved = {k: os.environ.get(k) for k in SECRETS}
            os.environ.update(SECRETS)
            try:
                yield cls(fleet, root, inv, known, root / "state")
            finally:
                for key, value in saved.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value
        finally:
            fleet.stop()
