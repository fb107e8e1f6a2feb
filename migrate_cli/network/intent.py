"""Connectivity intent of an edge device, read from inventory host data.

Host data keys (each may come from the host, its groups or the defaults, key by key):

```yaml
asn: 65010                       # the site's BGP AS
router_id: 10.255.0.1            # optional
advertise: [10.10.0.0/16]        # prefixes announced to AWS over DX and (prepended) over the VPN
direct_connect:                  # a private virtual interface
  virtual_interface_id: dxvif-ffg1234   # looked up with DescribeVirtualInterfaces, or explicitly:
  interface: GigabitEthernet2           # the port facing the DX router (always from inventory)
  vlan: 101
  customer_address: 169.254.100.2/30
  amazon_address: 169.254.100.1/30
  amazon_asn: 64512
  bgp_auth_key: ${env:DX_BGP_KEY}
  bfd: true                             # BFD 300/300/3
  local_preference: 200                 # on routes learned over DX
vpn:                             # the site-to-site VPN (backup path)
  vpn_connection_id: vpn-0abc...        # looked up with DescribeVpnConnections, or explicitly:
  source_interface: GigabitEthernet1    # default: the first uplink's interface
  amazon_asn: 64512
  prepend: 2                            # AS-path prepends on what is advertised over the VPN
  tunnels:
    - {outside_address: 203.0.113.10, inside_address: 169.254.10.2/30, psk: ${env:VPN_PSK1}}
    - {outside_address: 203.0.113.20, inside_address: 169.254.11.2/30, psk: ${env:VPN_PSK2}}
uplinks:                         # ISP links (shared with `migrate failover`), lowest priority first
  - {name: isp-a, interface: GigabitEthernet1, source: 198.51.100.2, gateway: 198.51.100.1, priority: 10,
     targets: [203.0.113.99], track: 1}
  - {name: isp-b, interface: GigabitEthernet3, source: 192.0.2.2, gateway: 192.0.2.1, priority: 20,
     targets: [203.0.113.99], track: 2}
```

Each uplink gets an IP SLA icmp-echo probe (the first ICMP target no earlier uplink probes, pinned to the
uplink by a /32 route; else its gateway), a track object (`track`, default 10, 20, ...) and a default
route tracking it; the last uplink's route is the floating one (distance 250).

`load_spec` parses types (pydantic); `aws_params.resolve` fills what AWS knows; `validate` checks the
rules of the resolved intent and reports every problem at once, each naming the host and the field
(and the inventory file and line where the value is written, when it can be found).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from migrate_cli.core.errors import ConfigError, ConfigErrors
from migrate_cli.core.inventory import Host, Inventory
from migrate_cli.core.secrets import Secret
from migrate_cli.core.yamlio import line_of, load_yaml

INTENT_KEYS = ("direct_connect", "vpn", "uplinks")
DATA_KEYS = ("asn", "router_id", "advertise", *INTENT_KEYS)


def _secret(value: Any) -> Any:
    if isinstance(value, str):
        return Secret.parse(value)
    return value


SecretValue = Annotated[Secret, BeforeValidator(_secret)]
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,30}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, frozen=True)


class DirectConnect(_Model):
    virtual_interface_id: str | None = Field(default=None, pattern=r"^dxvif-[0-9a-z]+$")
    interface: str
    vlan: int | None = None
    customer_address: IPv4Interface | None = None
    amazon_address: IPv4Interface | None = None
    amazon_asn: int | None = None
    bgp_auth_key: SecretValue | None = None
    bfd: bool = True
    local_preference: int = Field(default=200, ge=0, le=4294967295)


class Tunnel(_Model):
    outside_address: IPv4Address
    inside_address: IPv4Interface
    amazon_inside_address: IPv4Interface | None = None
    psk: SecretValue


class Vpn(_Model):
    vpn_connection_id: str | None = Field(default=None, pattern=r"^vpn-[0-9a-f]+$")
    source_interface: str | None = None
    local_address: IPv4Address | None = None
    amazon_asn: int | None = None
    customer_asn: int | None = None  # from AWS: the customer gateway's ASN (must equal `asn`)
    prepend: int = Field(default=2, ge=0, le=10)
    first_tunnel: int = Field(default=1, ge=0, le=2147483646)
    dpd_interval: int = Field(default=10, ge=2, le=3600)
    dpd_retries: int = Field(default=3, ge=2, le=60)
    tunnels: list[Tunnel] = Field(default_factory=list)


class Uplink(_Model):
    """An ISP link, in the schema `migrate failover` shares (its `table` and `provider` are not used here).

    The link's interface and address are the site's existing ISP configuration: the render adds the
    failover (IP SLA probe, track, tracked default route) and sources the VPN from the primary uplink.
    """

    name: Name
    provider: str | None = None
    interface: str
    source: IPv4Address | None = None
    gateway: IPv4Address
    priority: int | None = Field(default=None, ge=0)
    targets: list[str] = Field(default_factory=list)
    table: int | None = None
    track: int | None = Field(default=None, ge=1, le=1000)

    @property
    def icmp_targets(self) -> list[IPv4Address]:
        """Targets without a port that are IPv4 addresses (what an IOS icmp-echo probe can use)."""
        out = []
        for target in self.targets:
            try:
                out.append(IPv4Address(str(target)))
            except ValueError:
                continue
        return out


class EdgeIntent(_Model):
    """One edge device's connectivity: what the templates render."""

    host: str
    platform: str
    asn: int
    router_id: IPv4Address | None = None
    advertise: list[IPv4Network] = Field(default_factory=list)
    direct_connect: DirectConnect | None = None
    vpn: Vpn | None = None
    uplinks: list[Uplink] = Field(default_factory=list)

    @field_validator("advertise", mode="before")
    @classmethod
    def _strict_networks(cls, value: Any) -> Any:
        if isinstance(value, list):
            for item in value:
                try:
                    IPv4Network(str(item))
                except ValueError as exc:
                    raise ValueError(f"{item}: {exc}") from None
        return value

    @property
    def uses_bgp(self) -> bool:
        return self.direct_connect is not None or self.vpn is not None

    def ordered_uplinks(self) -> list[Uplink]:
        """Uplinks by priority (lowest first; without priorities, as written)."""
        return sorted(self.uplinks, key=lambda u: (u.priority is None, u.priority or 0))


def has_intent(host: Host) -> bool:
    """True when the host's data describes any connectivity (DX, VPN or uplinks)."""
    return any(host.data.get(key) for key in INTENT_KEYS)


# ---------------------------------------------------------------------------------------------
# Errors that point at the inventory
# ---------------------------------------------------------------------------------------------


def locate(inventory: Inventory | None, host: Host, loc: tuple[Any, ...]) -> tuple[str | None, int | None]:
    """The file and line where host data `loc` is written: the host's entry, else its groups, else defaults."""
    hosts_file = Path(host.source[0])
    candidates: list[tuple[Path, tuple[Any, ...]]] = [(hosts_file, (host.name, "data", *loc))]
    directory = inventory.directory if inventory is not None else hosts_file.parent
    for suffix in (".yaml", ".yml"):
        groups = Path(directory) / f"groups{suffix}"
        if groups.is_file():
            candidates += [(groups, (g, "data", *loc)) for g in host.all_groups]
        defaults = Path(directory) / f"defaults{suffix}"
        if defaults.is_file():
            candidates.append((defaults, ("data", *loc)))
    for path, full in candidates:
        try:
            raw = load_yaml(path)
        except ConfigError:
            continue
        node: Any = raw
        found = True
        for part in full[: len(full) - len(loc) + 1]:  # the layer that sets the top-level data key wins
            if isinstance(node, dict) and part in node:
                node = node[part]
            else:
                found = False
                break
        if found:
            return str(path), line_of(raw, full)
    return host.source[0], host.source[1]


def intent_error(inventory: Inventory | None, host: Host, field: str, message: str) -> ConfigError:
    """`host NAME: data.FIELD: message` at the file and line where the field is written."""
    loc = tuple(int(p) if p.isdigit() else p for p in re.split(r"[.\[\]]+", field) if p)
    file, line = locate(inventory, host, loc)
    return ConfigError(f"host {host.name}: data.{field}: {message}", file=file, line=line)


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


def load_spec(host: Host, inventory: Inventory | None = None) -> EdgeIntent | None:
    """The host's intent as written in inventory (not yet completed from AWS); None without any."""
    if not has_intent(host):
        return None
    raw = {key: host.data[key] for key in DATA_KEYS if host.data.get(key) is not None}
    raw["host"] = host.name
    raw["platform"] = host.connection("netmiko").platform or host.platform or ""
    try:
        return EdgeIntent.model_validate(raw)
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "data"
            message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            if err["type"] == "missing" and field == "asn":
                message = "required when direct_connect, vpn or uplinks are set"
            errors.append(intent_error(inventory, host, field, message))
        raise ConfigErrors(errors) from None


# ---------------------------------------------------------------------------------------------
# Validation of a resolved intent
# ---------------------------------------------------------------------------------------------

_RESERVED_ASN = (
    (0, 0, "reserved"),
    (23456, 23456, "AS_TRANS, reserved"),
    (64496, 64511, "reserved for documentation"),
    (65535, 65535, "reserved"),
    (65536, 65551, "reserved for documentation"),
    (65552, 131071, "reserved by IANA"),
    (4294967295, 4294967295, "reserved"),
)
PSK_PATTERN = re.compile(r"[A-Za-z0-9._]{8,64}")
MD5_MIN, MD5_MAX = 6, 80
PLATFORM_MD5_MAX = {"cisco_ios": 25}
INTERFACE_PATTERNS = {
    "cisco_ios": r"(GigabitEthernet|TenGigabitEthernet|FortyGigabitEthernet|HundredGigE|FastEthernet|Ethernet|"
    r"Port-channel)\d+(/\d+)*",
    "juniper_junos": r"(ge|xe|et|ae)-\d+/\d+/\d+|ae\d+",
    "arista_eos": r"(Ethernet|Port-Channel)\d+(/\d+)*",
}


def asn_kind(asn: int) -> str:
    """`private` or `public` (2-byte or 4-byte); ValueError naming the problem for invalid ones."""
    if not 0 <= asn <= 4294967295:
        raise ValueError(f"{asn} is outside the 2-byte (1-65535) and 4-byte (1-4294967295) ranges")
    for low, high, why in _RESERVED_ASN:
        if low <= asn <= high:
            raise ValueError(f"{asn} is {why}")
    if 64512 <= asn <= 65534 or 4200000000 <= asn <= 4294967294:
        return "private"
    return "public"


def psk_problem(value: str) -> str | None:
    """Why an IPsec pre-shared key breaks AWS's rules, or None when it is fine (never quotes the key)."""
    if not PSK_PATTERN.fullmatch(value):
        return f"must be 8-64 characters of letters, digits, '.' and '_' (got {len(value)} characters)"
    if value.startswith("0"):
        return "must not start with 0"
    return None


def md5_problem(value: str, platform: str) -> str | None:
    """Why a BGP MD5 key cannot be used, or None (never quotes the key)."""
    limit = min(MD5_MAX, PLATFORM_MD5_MAX.get(platform, MD5_MAX))
    if not MD5_MIN <= len(value) <= limit:
        return f"must be {MD5_MIN}-{limit} characters on {platform or 'this platform'} (got {len(value)})"
    if any(ch.isspace() for ch in value):
        return "must not contain spaces"
    return None


def pair_problem(customer: IPv4Interface, amazon: IPv4Interface) -> str | None:
    """Customer/Amazon addresses must be two usable addresses of the same /30 or /31."""
    if customer.network.prefixlen not in (30, 31):
        return f"{customer} is not a /30 or /31"
    if customer.network != amazon.network:
        return f"{customer} and {amazon} are not in the same /{customer.network.prefixlen}"
    if customer.ip == amazon.ip:
        return f"both sides use {customer.ip}"
    if customer.network.prefixlen == 30:
        edges = (customer.network.network_address, customer.network.broadcast_address)
        bad = [str(ip) for ip in (customer.ip, amazon.ip) if ip in edges]
        if bad:
            return f"{', '.join(bad)} is the network or broadcast address of {customer.network}"
    return None


def other_address(address: IPv4Interface) -> IPv4Interface:
    """The other usable address of a /30 or /31 (the far end's default)."""
    network = address.network
    hosts = [network.network_address, network.broadcast_address] if network.prefixlen == 31 else list(network.hosts())
    others = [ip for ip in hosts if ip != address.ip]
    return IPv4Interface(f"{others[0] if others else address.ip}/{network.prefixlen}")


def amazon_inside(tunnel: Tunnel) -> IPv4Interface:
    return tunnel.amazon_inside_address or other_address(tunnel.inside_address)


def validate(intent: EdgeIntent, host: Host, inventory: Inventory | None = None, source: str = "") -> None:
    """Raise ConfigErrors with every rule the resolved intent breaks (secrets are revealed, never quoted)."""
    problems: list[tuple[str, str]] = []
    add = problems.append
    platform = intent.platform
    if platform not in INTERFACE_PATTERNS:
        add(("platform", f"'{platform}' has no templates; supported: {', '.join(sorted(INTERFACE_PATTERNS))}"))
    iface = INTERFACE_PATTERNS.get(platform)

    def check_interface(field: str, name: str | None) -> None:
        if iface and name is not None and not re.fullmatch(iface, name):
            add((field, f"'{name}' is not a full {platform} interface name (e.g. GigabitEthernet2)"))

    def check_asn(field: str, asn: int | None) -> None:
        if asn is None:
            add((field, "required (or give the AWS id so it can be read from AWS)"))
            return
        try:
            asn_kind(asn)
        except ValueError as exc:
            add((field, str(exc)))

    check_asn("asn", intent.asn)
    used: dict[str, str] = {}
    for index, uplink in enumerate(intent.uplinks):
        field = f"uplinks[{index}]"
        check_interface(f"{field}.interface", uplink.interface)
        if uplink.interface in used:
            add((f"{field}.interface", f"{uplink.interface} is already used by {used[uplink.interface]}"))
        used[uplink.interface] = field
        if uplink.source is not None and uplink.source == uplink.gateway:
            add((f"{field}.gateway", f"{uplink.gateway} is the uplink's own source address"))
    names = [u.name for u in intent.uplinks]
    for name in sorted({n for n in names if names.count(n) > 1}):
        add(("uplinks", f"name '{name}' is used twice"))
    tracks = [u.track for u in intent.uplinks if u.track is not None]
    for number in sorted({t for t in tracks if tracks.count(t) > 1}):
        add(("uplinks", f"track {number} is used twice"))
    if intent.uses_bgp and not intent.advertise:
        add(("advertise", "at least one prefix is required to announce to AWS over DX/VPN"))

    dx = intent.direct_connect
    if dx is not None:
        where = f" (from {dx.virtual_interface_id})" if dx.virtual_interface_id else ""
        check_interface("direct_connect.interface", dx.interface)
        if dx.interface in used:
            add(("direct_connect.interface", f"{dx.interface} is already used by {used[dx.interface]}"))
        if dx.vlan is None or not 1 <= dx.vlan <= 4094:
            add(("direct_connect.vlan", f"VLAN must be 1-4094{where}" + (f", got {dx.vlan}" if dx.vlan else "")))
        if dx.customer_address is None or dx.amazon_address is None:
            add(("direct_connect.customer_address", f"customer_address and amazon_address are required{where}"))
        elif problem := pair_problem(dx.customer_address, dx.amazon_address):
            add(("direct_connect.customer_address", problem + where))
        check_asn("direct_connect.amazon_asn", dx.amazon_asn)
        if dx.amazon_asn is not None and dx.amazon_asn == intent.asn:
            add(("direct_connect.amazon_asn", f"equals the site's asn {intent.asn}; DX peering is eBGP"))
        if dx.bgp_auth_key is None:
            add(("direct_connect.bgp_auth_key", f"a BGP MD5 key is required{where}"))
        else:
            try:
                key = dx.bgp_auth_key.reveal()
            except ConfigError as exc:
                add(("direct_connect.bgp_auth_key", exc.message))
            else:
                if problem := md5_problem(key, platform):
                    add(("direct_connect.bgp_auth_key", problem + where))

    vpn = intent.vpn
    if vpn is not None:
        where = f" (from {vpn.vpn_connection_id})" if vpn.vpn_connection_id else ""
        check_interface("vpn.source_interface", vpn.source_interface)
        if vpn.source_interface is None:
            add(("vpn.source_interface", "required when there are no uplinks"))
        if vpn.local_address is None:
            add(("vpn.local_address", "required: the customer gateway address (or an uplink on source_interface)"))
        check_asn("vpn.amazon_asn", vpn.amazon_asn)
        if vpn.amazon_asn is not None and vpn.amazon_asn == intent.asn:
            add(("vpn.amazon_asn", f"equals the site's asn {intent.asn}; VPN peering is eBGP"))
        if vpn.customer_asn is not None and vpn.customer_asn != intent.asn:
            add(("vpn.customer_asn", f"the customer gateway uses ASN {vpn.customer_asn}{where}, not {intent.asn}"))
        if len(vpn.tunnels) != 2:
            add(("vpn.tunnels", f"exactly two tunnels are required, got {len(vpn.tunnels)}{where}"))
        for index, tunnel in enumerate(vpn.tunnels):
            field = f"vpn.tunnels[{index}]"
            inside, far = tunnel.inside_address, amazon_inside(tunnel)
            if inside.network.prefixlen != 30 or not inside.network.subnet_of(IPv4Network("169.254.0.0/16")):
                add((f"{field}.inside_address", f"{inside} must be a /30 in 169.254.0.0/16{where}"))
            elif problem := pair_problem(inside, far):
                add((f"{field}.inside_address", problem + where))
            try:
                psk = tunnel.psk.reveal()
            except ConfigError as exc:
                add((f"{field}.psk", exc.message))
            else:
                if problem := psk_problem(psk):
                    add((f"{field}.psk", problem + where))
        if len(vpn.tunnels) == 2:
            first, second = vpn.tunnels
            if first.outside_address == second.outside_address:
                add(("vpn.tunnels", f"both tunnels end at {first.outside_address}; they must be distinct{where}"))
            if first.inside_address.network == second.inside_address.network:
                add(("vpn.tunnels", f"both tunnels use {first.inside_address.network}; they must be distinct{where}"))
    if dx is not None and vpn is not None and dx.customer_address is not None:
        for index, tunnel in enumerate(vpn.tunnels):
            if tunnel.inside_address.network == dx.customer_address.network:
                add((f"vpn.tunnels[{index}].inside_address", "overlaps the Direct Connect peering subnet"))
    if problems:
        raise ConfigErrors([intent_error(inventory, host, field, message + source) for field, message in problems])


def collect(errors: Iterable[ConfigError]) -> None:
    """Raise one ConfigErrors for all `errors` (flattening nested ConfigErrors), if any."""
    flat: list[ConfigError] = []
    for error in errors:
        flat.extend(error.errors if isinstance(error, ConfigErrors) else [error])
    if flat:
        raise ConfigErrors(flat)
