"""The configuration a lab device boots with, derived from its inventory host data.

A real edge router has physical ports, a loopback and its ISP links configured before the migration
starts; the lab's devices get the same so that a push has something realistic to change and the tunnels,
probes and routes have up interfaces to use:

- `ports` physical interfaces (GigabitEthernet1..N): shut down unless an uplink uses them;
- each uplink's interface with its `source` address (the smallest subnet, /30 to /24, holding the gateway);
- `interface Loopback0` with `router_id`, when set;
- `lab.initial_config` from the host data, appended as is.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from ipaddress import IPv4Address, IPv4Interface
from typing import Any

DEFAULT_PORTS = 4
# The secrets the lab inventory's connectivity intent refers to (`${env:...}`).
CONNECTIVITY_SECRETS = ("MIGRATE_LAB_DX_KEY", "MIGRATE_LAB_VPN_PSK1", "MIGRATE_LAB_VPN_PSK2")


def lab_connectivity_secrets() -> dict[str, str]:
    """Fresh values for CONNECTIVITY_SECRETS that pass the intent's rules: a BGP MD5 key IOS accepts
    (6-25 characters) and IPsec PSKs AWS accepts (8-64 of letters, digits, '.', '_', not starting with 0)."""
    return {name: "k" + secrets.token_hex(10) for name in CONNECTIVITY_SECRETS}


def _uplink_address(source: Any, gateway: Any) -> IPv4Interface | None:
    try:
        ip, gw = IPv4Address(str(source)), IPv4Address(str(gateway))
    except ValueError:
        return None
    for length in range(30, 23, -1):
        candidate = IPv4Interface(f"{ip}/{length}")
        if gw in candidate.network and gw != ip:
            return candidate
    return None


def lab_initial_config(data: Mapping[str, Any], ports: int = DEFAULT_PORTS) -> str:
    """IOS configuration text for a lab device with this host data."""
    lab = data.get("lab") if isinstance(data.get("lab"), Mapping) else {}
    ports = int(lab.get("ports", ports)) if isinstance(lab, Mapping) else ports
    addresses: dict[str, IPv4Interface] = {}
    for uplink in data.get("uplinks") or []:
        if isinstance(uplink, Mapping) and isinstance(uplink.get("interface"), str):
            address = _uplink_address(uplink.get("source"), uplink.get("gateway"))
            if address is not None:
                addresses[uplink["interface"]] = address
    lines: list[str] = []
    router_id = data.get("router_id")
    if router_id:
        lines += ["interface Loopback0", f" ip address {router_id} 255.255.255.255"]
    for number in range(1, ports + 1):
        name = f"GigabitEthernet{number}"
        lines.append(f"interface {name}")
        address = addresses.pop(name, None)
        if address is not None:
            lines.append(f" ip address {address.ip} {address.netmask}")
        else:
            lines.append(" shutdown")
        lines.append(" negotiation auto")
    for name, address in addresses.items():
        lines += [f"interface {name}", f" ip address {address.ip} {address.netmask}"]
    extra = lab.get("initial_config") if isinstance(lab, Mapping) else None
    if isinstance(extra, str):
        lines += extra.splitlines()
    return "\n".join(lines) + "\n"
