"""Intended configuration per device: the intent rendered through the platform's Jinja2 templates.

Templates live in `templates/<platform>/edge.j2` (cisco_ios, juniper_junos). For cisco_ios they are
written exactly the way IOS prints its running configuration (full interface names, `encapsulation
dot1Q`, `address-family ipv4`, no `no shutdown`), so that hier-config's remediation against the device
converges to nothing after a push.

Every object the templates create is named with the `AWS-` or `ISP-` prefix (route-maps, prefix-lists,
crypto objects, static route names, IP SLA tags, interface descriptions); `plan.py` relies on that to
find and remove objects an earlier intent created and this one no longer has.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from ipaddress import IPv4Interface
from typing import Any

import jinja2

from migrate_cli.core.errors import ConfigError
from migrate_cli.core.secrets import mask
from migrate_cli.network.intent import EdgeIntent, amazon_inside

PLATFORMS = ("cisco_ios", "juniper_junos")
BFD = {"interval": 300, "min_rx": 300, "multiplier": 3}
TCP_MSS = 1379
VPN_HOLD = {"keepalive": 10, "hold": 30}


@dataclass(frozen=True)
class Names:
    """Object names the templates use (and the plan recognises as its own)."""

    prefix_list: str = "AWS-ADVERTISE"
    dx_in: str = "AWS-DX-IN"
    dx_out: str = "AWS-DX-OUT"
    vpn_out: str = "AWS-VPN-OUT"
    ike_proposal: str = "AWS-IKEV2-PROPOSAL"
    ike_policy: str = "AWS-IKEV2-POLICY"
    keyring: str = "AWS-IKEV2-KEYRING"
    transform_set: str = "AWS-IPSEC-TS"
    ipsec_proposal: str = "AWS-IPSEC-PROPOSAL"
    ipsec_policy: str = "AWS-IPSEC-POLICY"


NAMES = Names()


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("migrate_cli.network", "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def _address(value: IPv4Interface) -> dict[str, Any]:
    return {
        "ip": str(value.ip),
        "netmask": str(value.netmask),
        "prefixlen": value.network.prefixlen,
        "cidr": str(value),
    }


def context(intent: EdgeIntent) -> dict[str, Any]:
    """Template variables (secrets revealed here: the result must never be printed unmasked)."""
    uplinks = []
    ordered = intent.ordered_uplinks()
    probed: set[str] = set()
    for index, uplink in enumerate(ordered):
        backup = index == len(ordered) - 1 and len(ordered) > 1
        target = next((t for t in uplink.icmp_targets if str(t) not in probed), None)
        probe = str(target or uplink.gateway)
        probed.add(probe)
        name = uplink.name.upper()
        uplinks.append(
            {
                "name": uplink.name,
                "label": name if name.startswith("ISP-") else f"ISP-{name}",
                "interface": uplink.interface,
                "gateway": str(uplink.gateway),
                "probe": probe,
                "probe_route": target is not None,
                "track": uplink.track or 10 * (index + 1),
                "distance": 250 if backup else (index + 1 if index else None),
            }
        )
    dx = None
    if intent.direct_connect is not None:
        d = intent.direct_connect
        assert d.customer_address is not None and d.amazon_address is not None and d.bgp_auth_key is not None
        dx = {
            "interface": d.interface,
            "subinterface": f"{d.interface}.{d.vlan}",
            "vlan": d.vlan,
            "label": f"AWS-DX {d.virtual_interface_id or 'vlan ' + str(d.vlan)}",
            "local": _address(d.customer_address),
            "peer": str(d.amazon_address.ip),
            "amazon_asn": d.amazon_asn,
            "key": d.bgp_auth_key.reveal(),
            "bfd": d.bfd,
            "local_preference": d.local_preference,
        }
    vpn = None
    if intent.vpn is not None:
        v = intent.vpn
        tunnels = []
        for index, tunnel in enumerate(v.tunnels):
            number = v.first_tunnel + index
            tunnels.append(
                {
                    "index": index + 1,
                    "number": number,
                    "name": f"AWS-VPN-TUNNEL{index + 1}",
                    "label": f"AWS-VPN {v.vpn_connection_id or 'tunnel'} {index + 1}",
                    "outside": str(tunnel.outside_address),
                    "local": _address(tunnel.inside_address),
                    "peer": str(amazon_inside(tunnel).ip),
                    "psk": tunnel.psk.reveal(),
                }
            )
        vpn = {
            "id": v.vpn_connection_id,
            "source_interface": v.source_interface,
            "local_address": str(v.local_address),
            "amazon_asn": v.amazon_asn,
            "prepend": " ".join([str(intent.asn)] * v.prepend),
            "dpd_interval": v.dpd_interval,
            "dpd_retries": v.dpd_retries,
            "tunnels": tunnels,
        }
    return {
        "host": intent.host,
        "asn": intent.asn,
        "router_id": str(intent.router_id) if intent.router_id else None,
        "advertise": [
            {"network": str(n.network_address), "netmask": str(n.netmask), "cidr": str(n)} for n in intent.advertise
        ],
        "uplinks": uplinks,
        "dx": dx,
        "vpn": vpn,
        "bgp": intent.uses_bgp,
        "names": NAMES,
        "bfd": BFD,
        "tcp_mss": TCP_MSS,
        "vpn_timers": VPN_HOLD,
    }


def render(intent: EdgeIntent) -> str:
    """The intended configuration (with secret values: hand it to a device, never to a person)."""
    if intent.platform not in PLATFORMS:
        raise ConfigError(
            f"host {intent.host}: no templates for platform '{intent.platform}' (have: {', '.join(PLATFORMS)})"
        )
    template = _environment().get_template(f"{intent.platform}/edge.j2")
    text = template.render(context(intent))
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    return "\n".join(lines) + "\n"


def render_for_people(intent: EdgeIntent) -> str:
    """`render` with every secret value masked (what `migrate network render` prints and writes)."""
    from migrate_cli.network.redact import redact

    return redact(mask(render(intent)))
