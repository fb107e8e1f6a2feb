"""What AWS knows about the site's connectivity: DX virtual interfaces and VPN connections.

- Direct Connect: `DescribeVirtualInterfaces` gives the VLAN, the peering addresses, Amazon's ASN and the
  BGP MD5 key of a private (or transit) virtual interface.
- Site-to-site VPN: `DescribeVpnConnections` gives each connection's CustomerGatewayConfiguration, an XML
  document with both tunnels (outside and inside addresses, pre-shared keys, ASNs, DPD). Real documents vary
  (element order, `network_cidr` missing, DPD `interval` or `delay`, no `<bgp>` for static routing, an XML
  declaration or not), so `parse_vpn_configuration` looks elements up by name and fills what is missing.

Values read from AWS complete the inventory's intent; a value also written in inventory must agree with
AWS (a ConfigError names the field). Keys and PSKs from AWS become Secrets registered with the masker.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface
from typing import Any

from migrate_cli.core.errors import ConfigError, OperationFailed
from migrate_cli.core.inventory import Host, Inventory
from migrate_cli.core.secrets import Secret
from migrate_cli.network.intent import DirectConnect, EdgeIntent, Tunnel, Vpn, intent_error

ClientFactory = Callable[[str], Any]

_VIF_USABLE = {"available", "down", "pending", "confirming", "verifying", "testing"}
_VPN_USABLE = {"available", "pending"}


@dataclass(frozen=True)
class VpnTunnelParams:
    """One tunnel of a CustomerGatewayConfiguration (customer side first)."""

    customer_outside: IPv4Address | None
    amazon_outside: IPv4Address
    customer_inside: IPv4Interface
    amazon_inside: IPv4Interface
    psk: str
    customer_asn: int | None
    amazon_asn: int | None
    hold_time: int | None
    dpd_interval: int | None
    dpd_retries: int | None
    tcp_mss: int | None


class VpnXmlError(ValueError):
    """The CustomerGatewayConfiguration cannot be used (the message never quotes a key)."""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(node: ET.Element | None, *path: str) -> ET.Element | None:
    """The first descendant along `path`, matching local names (namespaces ignored)."""
    for name in path:
        if node is None:
            return None
        node = next((c for c in node if _local(c.tag) == name), None)
    return node


def _text(node: ET.Element | None, *path: str) -> str | None:
    found = _child(node, *path)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _inside(side: ET.Element | None, what: str, index: int) -> IPv4Interface:
    block = _child(side, "tunnel_inside_address")
    address = _text(block, "ip_address")
    if address is None:
        raise VpnXmlError(f"tunnel {index}: {what} has no tunnel_inside_address/ip_address")
    length = _int(_text(block, "network_cidr"))
    mask = _text(block, "network_mask")
    try:
        if length is None and mask is not None:
            length = IPv4Interface(f"0.0.0.0/{mask}").network.prefixlen
        return IPv4Interface(f"{address}/{length or 30}")
    except ValueError as exc:
        raise VpnXmlError(f"tunnel {index}: {what} inside address {address!r} is not IPv4 ({exc})") from None


def parse_vpn_configuration(document: str) -> list[VpnTunnelParams]:
    """Both tunnels of a CustomerGatewayConfiguration, sorted by Amazon's outside address.

    Raises VpnXmlError for what cannot be used: not XML, a DTD, no tunnels, a tunnel without addresses or
    pre-shared key, IPv6 inside addresses.
    """
    text = document.lstrip("\ufeff \t\r\n")
    if "<!DOCTYPE" in text[:2048].upper() or "<!ENTITY" in text.upper():
        raise VpnXmlError("refusing a document with a DTD or entities")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise VpnXmlError(f"not well-formed XML: {exc}") from None
    tunnels = [node for node in root.iter() if _local(node.tag) == "ipsec_tunnel"]
    if not tunnels:
        raise VpnXmlError("no <ipsec_tunnel> elements")
    out = []
    for index, node in enumerate(tunnels, start=1):
        customer, amazon = _child(node, "customer_gateway"), _child(node, "vpn_gateway")
        outside = _text(amazon, "tunnel_outside_address", "ip_address")
        if outside is None:
            raise VpnXmlError(f"tunnel {index}: vpn_gateway has no tunnel_outside_address/ip_address")
        psk = _text(node, "ike", "pre_shared_key")
        if psk is None:
            raise VpnXmlError(f"tunnel {index}: ike has no pre_shared_key")
        dpd = _child(node, "ipsec", "dead_peer_detection")
        try:
            customer_outside = _text(customer, "tunnel_outside_address", "ip_address")
            params = VpnTunnelParams(
                customer_outside=IPv4Address(customer_outside) if customer_outside else None,
                amazon_outside=IPv4Address(outside),
                customer_inside=_inside(customer, "customer_gateway", index),
                amazon_inside=_inside(amazon, "vpn_gateway", index),
                psk=psk,
                customer_asn=_int(_text(customer, "bgp", "asn")),
                amazon_asn=_int(_text(amazon, "bgp", "asn")),
                hold_time=_int(_text(amazon, "bgp", "hold_time") or _text(customer, "bgp", "hold_time")),
                dpd_interval=_int(_text(dpd, "interval") or _text(dpd, "delay")),
                dpd_retries=_int(_text(dpd, "retries")),
                tcp_mss=_int(_text(node, "ipsec", "tcp_mss_adjustment")),
            )
        except ValueError as exc:
            raise VpnXmlError(f"tunnel {index}: {exc}") from None
        out.append(params)
    return sorted(out, key=lambda t: int(t.amazon_outside))


# ---------------------------------------------------------------------------------------------
# Completing an intent from AWS
# ---------------------------------------------------------------------------------------------


def _default_clients(service: str) -> Any:
    from migrate_cli.aws.session import client

    return client(service)


def describe_virtual_interface(vif_id: str, clients: ClientFactory = _default_clients) -> dict[str, Any]:
    """The virtual interface `vif_id` as DescribeVirtualInterfaces returns it."""
    from migrate_cli.aws.session import aws_call

    dx = clients("directconnect")
    response = aws_call(dx.describe_virtual_interfaces, virtualInterfaceId=vif_id)
    found = [v for v in response.get("virtualInterfaces", []) if v.get("virtualInterfaceId") == vif_id]
    if not found:
        raise OperationFailed(f"Direct Connect virtual interface {vif_id} not found")
    return found[0]


def describe_vpn_connection(vpn_id: str, clients: ClientFactory = _default_clients) -> dict[str, Any]:
    """The VPN connection `vpn_id` as DescribeVpnConnections returns it."""
    from migrate_cli.aws.session import aws_call

    ec2 = clients("ec2")
    response = aws_call(ec2.describe_vpn_connections, VpnConnectionIds=[vpn_id])
    found = [v for v in response.get("VpnConnections", []) if v.get("VpnConnectionId") == vpn_id]
    if not found:
        raise OperationFailed(f"VPN connection {vpn_id} not found")
    return found[0]


class _Merge:
    """Fill intent fields from AWS; a value already in inventory must agree."""

    def __init__(self, host: Host, inventory: Inventory | None, prefix: str, source: str) -> None:
        self.host, self.inventory, self.prefix, self.source = host, inventory, prefix, source
        self.errors: list[ConfigError] = []

    def value(self, field: str, mine: Any, theirs: Any) -> Any:
        if theirs is None:
            return mine
        if mine is not None and mine != theirs:
            self.errors.append(
                intent_error(
                    self.inventory, self.host, f"{self.prefix}.{field}", f"is {mine} but {self.source} has {theirs}"
                )
            )
            return mine
        return theirs


def _dx_from_aws(dx: DirectConnect, intent: EdgeIntent, host: Host, inventory: Inventory | None, vif: dict) -> Any:
    vif_id = dx.virtual_interface_id
    state = vif.get("virtualInterfaceState", "")
    if state not in _VIF_USABLE:
        raise OperationFailed(f"{host.name}: Direct Connect virtual interface {vif_id} is {state}")
    kind = vif.get("virtualInterfaceType", "")
    if kind not in ("private", "transit"):
        raise ConfigError(f"host {host.name}: {vif_id} is a {kind} virtual interface; private or transit is needed")
    peer = next((p for p in vif.get("bgpPeers", []) if p.get("addressFamily") == "ipv4"), {})
    merge = _Merge(host, inventory, "direct_connect", vif_id or "AWS")
    customer = vif.get("customerAddress") or peer.get("customerAddress")
    amazon = vif.get("amazonAddress") or peer.get("amazonAddress")
    key = vif.get("authKey") or peer.get("authKey")
    site_asn = vif.get("asn") or peer.get("asn")
    if site_asn is not None and int(site_asn) != intent.asn:
        merge.errors.append(
            intent_error(inventory, host, "asn", f"is {intent.asn} but {vif_id} peers with ASN {site_asn}")
        )
    update = {
        "vlan": merge.value("vlan", dx.vlan, vif.get("vlan")),
        "customer_address": merge.value(
            "customer_address", dx.customer_address, IPv4Interface(customer) if customer else None
        ),
        "amazon_address": merge.value("amazon_address", dx.amazon_address, IPv4Interface(amazon) if amazon else None),
        "amazon_asn": merge.value("amazon_asn", dx.amazon_asn, vif.get("amazonSideAsn")),
        "bgp_auth_key": dx.bgp_auth_key if dx.bgp_auth_key is not None or not key else Secret.from_literal(key),
    }
    return dx.model_copy(update=update), merge.errors


def _vpn_from_aws(vpn: Vpn, host: Host, inventory: Inventory | None, connection: dict) -> Any:
    vpn_id = vpn.vpn_connection_id
    state = connection.get("State", "")
    if state not in _VPN_USABLE:
        raise OperationFailed(f"{host.name}: VPN connection {vpn_id} is {state}")
    if (connection.get("Options") or {}).get("StaticRoutesOnly"):
        raise ConfigError(f"host {host.name}: {vpn_id} uses static routing; BGP over both tunnels needs a dynamic VPN")
    if vpn.tunnels:
        raise ConfigError(f"host {host.name}: data.vpn: give either vpn_connection_id or tunnels, not both")
    document = connection.get("CustomerGatewayConfiguration")
    if not document:
        raise OperationFailed(f"{host.name}: {vpn_id} has no CustomerGatewayConfiguration yet ({state})")
    try:
        params = parse_vpn_configuration(document)
    except VpnXmlError as exc:
        raise OperationFailed(f"{host.name}: {vpn_id}: CustomerGatewayConfiguration: {exc}") from None
    merge = _Merge(host, inventory, "vpn", vpn_id or "AWS")
    first = params[0]
    tunnels = [
        Tunnel(
            outside_address=t.amazon_outside,
            inside_address=t.customer_inside,
            amazon_inside_address=t.amazon_inside,
            psk=Secret.from_literal(t.psk),
        )
        for t in params
    ]
    update = {
        "tunnels": tunnels,
        "amazon_asn": merge.value("amazon_asn", vpn.amazon_asn, first.amazon_asn),
        "customer_asn": first.customer_asn,
        "local_address": merge.value("local_address", vpn.local_address, first.customer_outside),
        "dpd_interval": first.dpd_interval or vpn.dpd_interval,
        "dpd_retries": first.dpd_retries or vpn.dpd_retries,
    }
    return vpn.model_copy(update=update), merge.errors


def resolve(
    intent: EdgeIntent,
    host: Host,
    inventory: Inventory | None = None,
    clients: ClientFactory = _default_clients,
) -> EdgeIntent:
    """Complete the intent: values from AWS for ids given, defaults derived from the uplinks."""
    errors: list[ConfigError] = []
    update: dict[str, Any] = {}
    dx = intent.direct_connect
    if dx is not None and dx.virtual_interface_id:
        dx, found = _dx_from_aws(
            dx, intent, host, inventory, describe_virtual_interface(dx.virtual_interface_id, clients)
        )
        errors += found
        update["direct_connect"] = dx
    vpn = intent.vpn
    if vpn is not None:
        if vpn.vpn_connection_id:
            vpn, found = _vpn_from_aws(vpn, host, inventory, describe_vpn_connection(vpn.vpn_connection_id, clients))
            errors += found
        uplinks = intent.ordered_uplinks()
        source = vpn.source_interface or (uplinks[0].interface if uplinks else None)
        uplink = next((u for u in uplinks if u.interface == source), None)
        local = vpn.local_address or (uplink.source if uplink else None)
        update["vpn"] = vpn.model_copy(update={"source_interface": source, "local_address": local})
    if errors:
        from migrate_cli.network.intent import collect

        collect(errors)
    return intent.model_copy(update=update) if update else intent
