"""AWS parameters for DX and VPN: DescribeVirtualInterfaces and the VPN CustomerGatewayConfiguration XML.

moto implements neither faithfully (../shared/MOTO-NOTES.md: no private virtual interfaces or BGP peers for
Direct Connect; a fixed CustomerGatewayConfiguration with the same tunnel twice for VPN), so:
- DescribeVirtualInterfaces and DescribeVpnConnections are answered by botocore's Stubber, which checks the
  request and the response against the service model (the documented shapes);
- the XML parser is tested on documents in the real format, including the variations seen in the field.
"""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from migrate_cli.core.errors import ConfigError, ConfigErrors, OperationFailed
from migrate_cli.core.inventory import load_inventory
from migrate_cli.core.secrets import mask
from migrate_cli.network.aws_params import VpnXmlError, parse_vpn_configuration, resolve
from migrate_cli.network.intent import load_spec, validate
from tests.conftest import write

# The format AWS returns (DescribeVpnConnections CustomerGatewayConfiguration, BGP VPN): tunnel 1 first.
FULL_BGP = """<?xml version="1.0" encoding="UTF-8"?>
<vpn_connection id="vpn-0a1b2c3d4e5f60718">
  <customer_gateway_id>cgw-0a1b2c3d4e5f60718</customer_gateway_id>
  <vpn_gateway_id>vgw-0a1b2c3d4e5f60718</vpn_gateway_id>
  <vpn_connection_type>ipsec.1</vpn_connection_type>
  <ipsec_tunnel>
    <customer_gateway>
      <tunnel_outside_address>
        <ip_address>198.51.100.2</ip_address>
      </tunnel_outside_address>
      <tunnel_inside_address>
        <ip_address>169.254.44.234</ip_address>
        <network_mask>255.255.255.252</network_mask>
        <network_cidr>30</network_cidr>
      </tunnel_inside_address>
      <bgp>
        <asn>65010</asn>
        <hold_time>30</hold_time>
      </bgp>
    </customer_gateway>
    <vpn_gateway>
      <tunnel_outside_address>
        <ip_address>203.0.113.11</ip_address>
      </tunnel_outside_address>
      <tunnel_inside_address>
        <ip_address>169.254.44.233</ip_address>
        <network_mask>255.255.255.252</network_mask>
        <network_cidr>30</network_cidr>
      </tunnel_inside_address>
      <bgp>
        <asn>64512</asn>
        <hold_time>30</hold_time>
      </bgp>
    </vpn_gateway>
    <ike>
      <authentication_protocol>sha1</authentication_protocol>
      <encryption_protocol>aes-128-cbc</encryption_protocol>
      <lifetime>28800</lifetime>
      <perfect_forward_secrecy>group2</perfect_forward_secrecy>
      <mode>main</mode>
      <pre_shared_key>Tunnel1.PreSharedKey_abc</pre_shared_key>
    </ike>
    <ipsec>
      <protocol>esp</protocol>
      <authentication_protocol>hmac-sha1-96</authentication_protocol>
      <encryption_protocol>aes-128-cbc</encryption_protocol>
      <lifetime>3600</lifetime>
      <perfect_forward_secrecy>group2</perfect_forward_secrecy>
      <mode>tunnel</mode>
      <clear_df_bit>true</clear_df_bit>
      <fragmentation_before_encryption>true</fragmentation_before_encryption>
      <tcp_mss_adjustment>1379</tcp_mss_adjustment>
      <dead_peer_detection>
        <interval>10</interval>
        <retries>3</retries>
      </dead_peer_detection>
    </ipsec>
  </ipsec_tunnel>
  <ipsec_tunnel>
    <customer_gateway>
      <tunnel_outside_address>
        <ip_address>198.51.100.2</ip_address>
      </tunnel_outside_address>
      <tunnel_inside_address>
        <ip_address>169.254.45.18</ip_address>
        <network_mask>255.255.255.252</network_mask>
        <network_cidr>30</network_cidr>
      </tunnel_inside_address>
      <bgp>
        <asn>65010</asn>
        <hold_time>30</hold_time>
      </bgp>
    </customer_gateway>
    <vpn_gateway>
      <tunnel_outside_address>
        <ip_address>203.0.113.27</ip_address>
      </tunnel_outside_address>
      <tunnel_inside_address>
        <ip_address>169.254.45.17</ip_address>
        <network_mask>255.255.255.252</network_mask>
        <network_cidr>30</network_cidr>
      </tunnel_inside_address>
      <bgp>
        <asn>64512</asn>
        <hold_time>30</hold_time>
      </bgp>
    </vpn_gateway>
    <ike>
      <authentication_protocol>sha1</authentication_protocol>
      <encryption_protocol>aes-128-cbc</encryption_protocol>
      <lifetime>28800</lifetime>
      <perfect_forward_secrecy>group2</perfect_forward_secrecy>
      <mode>main</mode>
      <pre_shared_key>Tunnel2.PreSharedKey_def</pre_shared_key>
    </ike>
    <ipsec>
      <protocol>esp</protocol>
      <tcp_mss_adjustment>1379</tcp_mss_adjustment>
      <dead_peer_detection>
        <interval>10</interval>
        <retries>3</retries>
      </dead_peer_detection>
    </ipsec>
  </ipsec_tunnel>
</vpn_connection>
"""

# Variations: BOM and no declaration, a default namespace, vpn_gateway before customer_gateway, no
# network_cidr (mask only, or nothing), DPD as <delay>, tunnels out of address order, unknown elements.
VARIANT = """\ufeff
<vpn_connection xmlns="http://ec2.amazonaws.com/doc/2016-11-15/" id="vpn-0f0e0d0c0b0a09080">
  <vpn_connection_type>ipsec.1</vpn_connection_type>
  <vpn_connection_attributes>NoBGPVPNConnection</vpn_connection_attributes>
  <ipsec_tunnel>
    <vpn_gateway>
      <tunnel_outside_address><ip_address>203.0.113.90</ip_address></tunnel_outside_address>
      <tunnel_inside_address><ip_address>169.254.20.5</ip_address></tunnel_inside_address>
      <bgp><asn>7224</asn><hold_time>30</hold_time></bgp>
    </vpn_gateway>
    <customer_gateway>
      <tunnel_inside_address><ip_address>169.254.20.6</ip_address></tunnel_inside_address>
      <bgp><asn>65010</asn></bgp>
    </customer_gateway>
    <ike><pre_shared_key>second.key_42</pre_shared_key><version>ikev2</version></ike>
    <ipsec><dead_peer_detection><delay>15</delay><retries>5</retries></dead_peer_detection></ipsec>
  </ipsec_tunnel>
  <ipsec_tunnel>
    <customer_gateway>
      <tunnel_outside_address><ip_address>198.51.100.9</ip_address></tunnel_outside_address>
      <tunnel_inside_address>
        <ip_address>169.254.20.2</ip_address><network_mask>255.255.255.252</network_mask>
      </tunnel_inside_address>
    </customer_gateway>
    <vpn_gateway>
      <tunnel_outside_address><ip_address>203.0.113.80</ip_address></tunnel_outside_address>
      <tunnel_inside_address><ip_address>169.254.20.1</ip_address><network_cidr>30</network_cidr></tunnel_inside_address>
      <bgp><asn>7224</asn></bgp>
    </vpn_gateway>
    <ike><pre_shared_key>first.key_41</pre_shared_key></ike>
  </ipsec_tunnel>
</vpn_connection>"""


def test_parses_the_documented_format() -> None:
    first, second = parse_vpn_configuration(FULL_BGP)
    assert (str(first.amazon_outside), str(first.customer_inside), str(first.amazon_inside)) == (
        "203.0.113.11",
        "169.254.44.234/30",
        "169.254.44.233/30",
    )
    assert (first.customer_asn, first.amazon_asn, first.hold_time) == (65010, 64512, 30)
    assert (first.dpd_interval, first.dpd_retries, first.tcp_mss) == (10, 3, 1379)
    assert first.psk == "Tunnel1.PreSharedKey_abc" and str(first.customer_outside) == "198.51.100.2"
    assert str(second.amazon_outside) == "203.0.113.27" and second.psk == "Tunnel2.PreSharedKey_def"


def test_parses_the_variations_seen_in_the_field() -> None:
    first, second = parse_vpn_configuration(VARIANT)
    assert str(first.amazon_outside) == "203.0.113.80", "tunnels are ordered by Amazon's outside address"
    assert str(first.customer_inside) == "169.254.20.2/30" and first.psk == "first.key_41"
    assert first.customer_asn is None and first.amazon_asn == 7224
    assert str(second.customer_inside) == "169.254.20.6/30", "no mask: the documented /30"
    assert (second.dpd_interval, second.dpd_retries) == (15, 5)
    assert second.customer_outside is None


@pytest.mark.parametrize(
    ("document", "words"),
    [
        ("not xml at all", "not well-formed XML"),
        ('<!DOCTYPE x [<!ENTITY a "b">]><vpn_connection/>', "DTD"),
        ("<vpn_connection id='vpn-1'></vpn_connection>", "no <ipsec_tunnel>"),
        (FULL_BGP.replace("<pre_shared_key>Tunnel1.PreSharedKey_abc</pre_shared_key>", ""), "no pre_shared_key"),
        (FULL_BGP.replace("169.254.44.234", "fd00::2"), "not IPv4"),
    ],
)
def test_unusable_documents_are_refused_clearly(document: str, words: str) -> None:
    with pytest.raises(VpnXmlError, match=words) as info:
        parse_vpn_configuration(document)
    assert "PreSharedKey" not in str(info.value)


# -- completing the intent from AWS (Stubber) ---------------------------------------------------------------


def _inventory(tmp_path: Path, dx: str, vpn: str) -> tuple:
    inv = tmp_path / "inv"
    write(
        inv / "hosts.yaml",
        f"""
        edge1:
          platform: cisco_ios
          data:
            asn: 65010
            advertise: [10.10.0.0/16]
            direct_connect:
              interface: GigabitEthernet4
        {dx}
            vpn:
              source_interface: GigabitEthernet2
        {vpn}
        """,
    )
    loaded = load_inventory(inv)
    return loaded, loaded.hosts["edge1"]


def _client(service: str):
    return boto3.client(service, region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")


VIF = {
    "ownerAccount": "123456789012",
    "virtualInterfaceId": "dxvif-fgh1234a",
    "location": "EqDC2",
    "connectionId": "dxcon-fgh5678b",
    "virtualInterfaceType": "private",
    "virtualInterfaceName": "site-hq",
    "vlan": 101,
    "asn": 65010,
    "amazonSideAsn": 64512,
    "authKey": "0xAwsGenKey12345",
    "amazonAddress": "169.254.100.1/30",
    "customerAddress": "169.254.100.2/30",
    "addressFamily": "ipv4",
    "virtualInterfaceState": "available",
    "mtu": 1500,
    "jumboFrameCapable": False,
    "directConnectGatewayId": "5f294f92-bafb-4011-916d-9b0bEXAMPLE",
    "routeFilterPrefixes": [],
    "bgpPeers": [
        {
            "bgpPeerId": "dxpeer-fgab1234",
            "asn": 65010,
            "authKey": "0xAwsGenKey12345",
            "addressFamily": "ipv4",
            "amazonAddress": "169.254.100.1/30",
            "customerAddress": "169.254.100.2/30",
            "bgpPeerState": "available",
            "bgpStatus": "up",
            "awsDeviceV2": "EqDC2-123h49s71dabc",
        }
    ],
    "region": "us-east-1",
    "awsDeviceV2": "EqDC2-123h49s71dabc",
    "tags": [{"key": "site", "value": "hq"}],
}


def _stubbed(vif: dict | None = None, vpn_connection: dict | None = None):
    dx_client, ec2_client = _client("directconnect"), _client("ec2")
    dx_stub, ec2_stub = Stubber(dx_client), Stubber(ec2_client)
    if vif is not None:
        dx_stub.add_response(
            "describe_virtual_interfaces",
            {"virtualInterfaces": [vif]},
            {"virtualInterfaceId": vif["virtualInterfaceId"]},
        )
    if vpn_connection is not None:
        ec2_stub.add_response(
            "describe_vpn_connections",
            {"VpnConnections": [vpn_connection]},
            {"VpnConnectionIds": [vpn_connection["VpnConnectionId"]]},
        )
    dx_stub.activate()
    ec2_stub.activate()
    return {"directconnect": dx_client, "ec2": ec2_client}, (dx_stub, ec2_stub)


def _vpn_connection(document: str = FULL_BGP, static: bool = False, state: str = "available") -> dict:
    return {
        "CustomerGatewayConfiguration": document,
        "CustomerGatewayId": "cgw-0a1b2c3d4e5f60718",
        "Category": "VPN",
        "State": state,
        "Type": "ipsec.1",
        "VpnConnectionId": "vpn-0a1b2c3d4e5f60718",
        "VpnGatewayId": "vgw-0a1b2c3d4e5f60718",
        "Options": {"StaticRoutesOnly": static, "TunnelInsideIpVersion": "ipv4"},
        "Routes": [],
        "VgwTelemetry": [],
    }


def test_dx_and_vpn_come_from_aws(tmp_path: Path) -> None:
    inv, host = _inventory(
        tmp_path,
        "      virtual_interface_id: dxvif-fgh1234a",
        "      vpn_connection_id: vpn-0a1b2c3d4e5f60718",
    )
    clients, stubs = _stubbed(VIF, _vpn_connection())
    intent = resolve(load_spec(host, inv), host, inv, clients=clients.__getitem__)
    for stub in stubs:
        stub.assert_no_pending_responses()
    dx = intent.direct_connect
    assert (dx.vlan, str(dx.customer_address), str(dx.amazon_address), dx.amazon_asn) == (
        101,
        "169.254.100.2/30",
        "169.254.100.1/30",
        64512,
    )
    assert dx.bgp_auth_key.reveal() == "0xAwsGenKey12345"
    assert mask("key 0xAwsGenKey12345") == "key ********", "keys from AWS are masked everywhere"
    vpn = intent.vpn
    assert [str(t.outside_address) for t in vpn.tunnels] == ["203.0.113.11", "203.0.113.27"]
    assert [str(t.inside_address) for t in vpn.tunnels] == ["169.254.44.234/30", "169.254.45.18/30"]
    assert (vpn.amazon_asn, vpn.customer_asn, str(vpn.local_address)) == (64512, 65010, "198.51.100.2")
    assert mask("Tunnel2.PreSharedKey_def") == "********"
    validate(intent, host, inv)


def test_inventory_values_must_agree_with_aws(tmp_path: Path) -> None:
    inv, host = _inventory(
        tmp_path,
        "      virtual_interface_id: dxvif-fgh1234a\n              vlan: 202",
        "      vpn_connection_id: vpn-0a1b2c3d4e5f60718",
    )
    clients, _ = _stubbed(VIF | {"asn": 65099}, _vpn_connection())
    with pytest.raises(ConfigErrors) as info:
        resolve(load_spec(host, inv), host, inv, clients=clients.__getitem__)
    messages = [e.location_message() for e in info.value.errors]
    assert any("data.direct_connect.vlan: is 202 but dxvif-fgh1234a has 101" in m for m in messages), messages
    assert any("data.asn: is 65010 but dxvif-fgh1234a peers with ASN 65099" in m for m in messages), messages


def test_unusable_aws_state_fails_and_static_vpn_is_bad_input(tmp_path: Path) -> None:
    inv, host = _inventory(
        tmp_path,
        "      virtual_interface_id: dxvif-fgh1234a",
        "      vpn_connection_id: vpn-0a1b2c3d4e5f60718",
    )
    clients, _ = _stubbed(VIF | {"virtualInterfaceState": "deleted"})
    with pytest.raises(OperationFailed, match="dxvif-fgh1234a is deleted"):
        resolve(load_spec(host, inv), host, inv, clients=clients.__getitem__)
    clients, _ = _stubbed(VIF, _vpn_connection(static=True))
    with pytest.raises(ConfigError, match="uses static routing"):
        resolve(load_spec(host, inv), host, inv, clients=clients.__getitem__)


def test_a_template_like_moto_document_fails_validation(tmp_path: Path) -> None:
    """moto returns the same tunnel twice: the 'two distinct tunnels' rule must catch it."""
    twice = FULL_BGP.replace("203.0.113.27", "203.0.113.11").replace("169.254.45.1", "169.254.44.23")
    inv, host = _inventory(tmp_path, "      vlan: 101", "      vpn_connection_id: vpn-0a1b2c3d4e5f60718")
    clients, _ = _stubbed(None, _vpn_connection(twice))
    intent = resolve(load_spec(host, inv), host, inv, clients=clients.__getitem__)
    with pytest.raises(ConfigErrors) as info:
        validate(intent, host, inv)
    text = str(info.value)
    assert (
        "data.vpn.tunnels: both tunnels end at 203.0.113.11; they must be distinct (from vpn-0a1b2c3d4e5f60718)" in text
    )
