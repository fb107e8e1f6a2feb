"""IOS-like CLI state machine and configuration tree for the lab's simulated devices.

Pure: no sockets, threads or sleeps. One `DeviceState` per device holds the running and
startup configuration; every SSH session drives its own `CliSession` against it. The
accepted configuration commands are data (`Rule` regexes grouped per `ModeDef`) so a
platform is a `Grammar` and more commands or platforms can be added without new code.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .ios_oper import RemotePeer, WorldConditions, interface_status, render_exec

INVALID_INPUT = "% Invalid input detected at '^' marker."
INCOMPLETE = "% Incomplete command."
ACCESS_DENIED = "% Access denied"
REMOTE_AS_FIRST = "% Specify remote-as or peer-group commands first"
CONFIG_BANNER = "Enter configuration commands, one per line.  End with CNTL/Z."
COPY_PROMPT = "Destination filename [startup-config]? "
PASSWORD_PROMPT = "Password: "
NVRAM_SIZE = 33554432

# Lines that appear in saved/shown configs but are not commands.
_NOT_COMMANDS = re.compile(
    r"^(?:!.*|end|version \S+|Building configuration\.\.\.|Current configuration : \d+ bytes"
    r"|Using \d+ out of \d+ bytes)$"
)


class ConfigLoadError(ValueError):
    """A configuration text contained a line the device grammar rejects."""


@dataclass
class DeviceSpec:
    """What a simulated device is: identity, credentials, platform and initial config."""

    name: str
    username: str
    password: str
    enable_secret: str | None = None
    platform: str = "cisco_ios"
    initial_config: str = ""
    version: str = "17.9.4a"
    # The far ends the lab simulates (e.g. the AWS side of DX/VPN); see ios_oper.RemotePeer.
    peers: tuple[RemotePeer, ...] = ()


@dataclass(eq=False)
class ConfigNode:
    """One configuration line; a section header when `mode` is set."""

    text: str
    mode: str | None = None
    key: str = ""
    children: list[ConfigNode] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.key:
            self.key = self.text

    def child(self, key: str) -> ConfigNode | None:
        """The child whose replacement key is `key`, if any."""
        return next((c for c in self.children if c.key == key), None)


# ---------------------------------------------------------------------------------------------
# Grammar as data
# ---------------------------------------------------------------------------------------------

_TOKENS = {
    "<IP>": r"(?:\d{1,3}\.){3}\d{1,3}",
    "<PFX>": r"(?:\d{1,3}\.){3}\d{1,3}/\d{1,2}",
    "<IF>": r"(?P<ifname>[A-Za-z][A-Za-z-]*\s?\d+(?:/\d+)*(?:\.\d+)?)",
    "<IFMAIN>": r"(?P<ifname>[A-Za-z][A-Za-z-]*\s?\d+(?:/\d+)*)",
    "<IFSUB>": r"(?P<ifname>[A-Za-z][A-Za-z-]*\s?\d+(?:/\d+)*\.\d+)",
    "<N>": r"\d+",
    "<W>": r"\S+",
    "<ASN>": r"\d+(?:\.\d+)?",
}


@lru_cache(maxsize=1024)
def _compile(pattern: str) -> re.Pattern[str]:
    for token, regex in _TOKENS.items():
        pattern = pattern.replace(token, regex)
    return re.compile(pattern)


@dataclass(frozen=True)
class Rule:
    """One accepted command shape in a mode.

    `key` (a `Match.expand` template) names what the line sets: a new line with the same key
    replaces the old one (`description`, `ip address`, ...); without a key only identical
    lines collapse. `enters` makes the line a section header entering that mode; `switches`
    changes the mode of the current section without nesting (IOS `ip sla` -> `icmp-echo`).
    `canonical` rewrites the stored text, `fixup` may complete it from its siblings, and
    `requires` = (ancestor mode, key template, error) refuses the line unless that ancestor
    section already holds the key. `removes` marks the default polarity of a toggle: typing
    it deletes the stored non-default line instead of being stored itself.
    """

    regex: re.Pattern[str]
    key: str | None = None
    enters: str | None = None
    switches: str | None = None
    canonical: str | Callable[[re.Match[str]], str] | None = None
    fixup: Callable[[str, ConfigNode], str] | None = None
    requires: tuple[str, str, str] | None = None
    removes: bool = False


def rule(
    pattern: str,
    key: str | None = None,
    *,
    enters: str | None = None,
    switches: str | None = None,
    canonical: str | Callable[[re.Match[str]], str] | None = None,
    fixup: Callable[[str, ConfigNode], str] | None = None,
    requires: tuple[str, str, str] | None = None,
    removes: bool = False,
) -> Rule:
    """Build a `Rule` from a pattern using the `<IP>`, `<IF>`, `<N>`... shorthands."""
    return Rule(_compile(pattern), key, enters, switches, canonical, fixup, requires, removes)


@dataclass(frozen=True)
class ModeDef:
    """A configuration mode: its prompt, grammar and rendering hints."""

    name: str
    prompt: str
    rules: tuple[Rule, ...]
    negatable: tuple[str, ...] = ()  # bare `no X` forms accepted even when nothing matches
    cascade_no: tuple[str, ...] = ()  # `no X` also clears X from nested sections
    exit_words: tuple[str, ...] = ("exit",)
    order: tuple[tuple[str, float], ...] = ()  # rendering rank of children (regex, rank)
    footer: str | None = None  # rendered after the section's children
    placeholder: tuple[str, str] | None = None  # (regex, line) rendered when no child matches
    sort_key: Callable[[str], Any] | None = None  # IOS's order within a rank (e.g. neighbors by address)


@dataclass(frozen=True)
class ExecCommand:
    """An exec command: keywords (abbreviable), `<n>`/`<word>` arguments, an action name."""

    words: tuple[str, ...]
    action: str
    privileged: bool = True


@dataclass(frozen=True)
class Grammar:
    """Everything platform-specific: modes, exec commands, top-level rendering order."""

    platform: str
    modes: dict[str, ModeDef]
    exec_commands: tuple[ExecCommand, ...]
    top_order: tuple[tuple[str, float], ...]
    interface_types: tuple[str, ...]
    top_sort_key: Callable[[str], Any] | None = None


def _route_map(m: re.Match[str]) -> str:
    return f"route-map {m['name']} {m['action'] or 'permit'} {m['seq'] or '10'}"


def _prefix_list_seq(text: str, parent: ConfigNode) -> str:
    """IOS numbers prefix-list entries typed without `seq` in steps of 5."""
    m = re.fullmatch(r"ip prefix-list (\S+) (permit|deny) (.+)", text)
    if not m:
        return text
    entries = [
        (int(e[1]), e[2], c.text)
        for c in parent.children
        if (e := re.fullmatch(rf"ip prefix-list {re.escape(m[1])} seq (\d+) (.+)", c.text))
    ]
    same = next((existing for _, rest, existing in entries if rest == f"{m[2]} {m[3]}"), None)
    if same is not None:
        return same
    return f"ip prefix-list {m[1]} seq {max((s for s, _, _ in entries), default=0) + 5} {m[2]} {m[3]}"


_NEIGHBOR_FIRST = ("config-router", r"neighbor \g<peer> remote-as", REMOTE_AS_FIRST)


def _neighbor(tail: str, key: str | None = None) -> Rule:
    return rule(rf"neighbor (?P<peer>\S+) {tail}", key, requires=_NEIGHBOR_FIRST)


_BGP_NEIGHBOR_COMMON = (
    _neighbor(r"activate", r"neighbor \g<peer> activate"),
    _neighbor(r"route-map (\S+) (?P<dir>in|out)", r"neighbor \g<peer> route-map \g<dir>"),
    _neighbor(r"prefix-list (\S+) (?P<dir>in|out)", r"neighbor \g<peer> prefix-list \g<dir>"),
    _neighbor(r"soft-reconfiguration inbound", r"neighbor \g<peer> soft-reconfiguration"),
    _neighbor(r"send-community(?: (?:both|standard|extended))?", r"neighbor \g<peer> send-community"),
    _neighbor(r"next-hop-self(?: all)?", r"neighbor \g<peer> next-hop-self"),
    _neighbor(r"allowas-in(?: <N>)?", r"neighbor \g<peer> allowas-in"),
    _neighbor(r"maximum-prefix <N>(?: <N>)?(?: warning-only)?", r"neighbor \g<peer> maximum-prefix"),
    _neighbor(r"default-originate(?: route-map \S+)?", r"neighbor \g<peer> default-originate"),
    _neighbor(r"weight <N>", r"neighbor \g<peer> weight"),
    rule(r"network <IP>(?: mask <IP>)?(?: route-map \S+)?"),
    rule(r"redistribute (connected|static)(?: route-map \S+)?", r"redistribute \1"),
    rule(r"maximum-paths <N>", "maximum-paths"),
)

_IF_ORDER = (
    (r"description ", 0),
    (r"encapsulation ", 1),
    (r"mtu ", 2),
    (r"vrf forwarding ", 2.5),
    (r"ip address \S+ \S+ secondary", 3),
    (r"ip address |no ip address|ip unnumbered ", 3.5),
    (r"(?:no )?ip (?:redirects|unreachables|proxy-arp)", 4),
    (r"ip mtu ", 5),
    (r"ip nat ", 5.5),
    (r"ip tcp adjust-mss ", 6),
    (r"load-interval ", 6.5),
    (r"shutdown", 7),
    (r"tunnel source ", 8),
    (r"tunnel destination ", 8.1),
    (r"tunnel mode ", 8.2),
    (r"tunnel protection ", 8.3),
    (r"negotiation |speed |duplex ", 9),
    (r"bfd ", 10),
)

_INTERFACE_RULES = (
    rule(r"description (.+)", "description"),
    rule(r"ip address <IP> <IP>", "ip address"),
    rule(r"ip address (<IP>) <IP> secondary", r"ip address \1 secondary"),
    rule(r"ip address dhcp", "ip address"),
    rule(r"ip unnumbered <IF>", "ip unnumbered"),
    rule(r"no ip (redirects|unreachables|proxy-arp)", r"ip \1"),
    rule(r"ip (redirects|unreachables|proxy-arp)", r"ip \1", removes=True),
    rule(r"shutdown", "shutdown"),
    rule(
        r"encapsulation (?i:dot1q) (<N>)( native)?",
        "encapsulation",
        canonical=r"encapsulation dot1Q \1\2",
    ),
    rule(r"bfd interval <N> min_rx <N> multiplier <N>", "bfd interval"),
    rule(r"bfd template <W>", "bfd template"),
    rule(r"ip tcp adjust-mss <N>", "ip tcp adjust-mss"),
    rule(r"ip mtu <N>", "ip mtu"),
    rule(r"mtu <N>", "mtu"),
    rule(r"ip nat (inside|outside)", "ip nat"),
    rule(r"vrf forwarding <W>", "vrf forwarding"),
    rule(r"load-interval <N>", "load-interval"),
    rule(r"tunnel source (?:<IF>|<IP>)", "tunnel source"),
    rule(r"tunnel destination <IP>", "tunnel destination"),
    rule(r"tunnel mode (?:ipsec ipv4(?: v6-overlay)?|gre ip)", "tunnel mode"),
    rule(r"tunnel protection ipsec profile <W>(?: shared)?", "tunnel protection"),
    rule(r"negotiation auto", "negotiation"),
    rule(r"speed (?:10|100|1000|10000|auto)", "speed"),
    rule(r"duplex (?:full|half|auto)", "duplex"),
)

_GLOBAL_RULES = (
    rule(r"hostname (\S+)", "hostname"),
    rule(r"interface <IFSUB>", r"interface \g<ifname>", enters="config-subif"),
    rule(r"interface <IFMAIN>", r"interface \g<ifname>", enters="config-if"),
    rule(r"router bgp <ASN>", enters="config-router"),
    rule(r"ip route (?:vrf \S+ )?<IP> <IP>(?: \S+){1,8}"),
    rule(r"ip sla schedule (<N>) .+", r"ip sla schedule \1"),
    rule(r"ip sla <N>", enters="config-ip-sla"),
    rule(r"track (<N>) ip sla <N>(?: (?:reachability|state))?", r"track \1", enters="config-track"),
    rule(r"track (<N>) interface <IF> line-protocol", r"track \1", enters="config-track"),
    rule(r"crypto ikev2 proposal <W>", enters="config-ikev2-proposal"),
    rule(r"crypto ikev2 policy <W>", enters="config-ikev2-policy"),
    rule(r"crypto ikev2 keyring <W>", enters="config-ikev2-keyring"),
    rule(r"crypto ikev2 profile <W>", enters="config-ikev2-profile"),
    rule(
        r"crypto ipsec transform-set (\S+)(?: (?:esp|ah)-[\w-]+(?: (?:128|192|256))?)+",
        r"crypto ipsec transform-set \1",
        enters="cfg-crypto-trans",
    ),
    rule(r"crypto ipsec profile <W>", enters="ipsec-profile"),
    rule(
        r"route-map (?P<name>\S+)(?: (?P<action>permit|deny))?(?: (?P<seq>\d+))?",
        r"route-map \g<name> \g<seq>",
        enters="config-route-map",
        canonical=_route_map,
    ),
    rule(r"ip prefix-list (\S+) description .+", r"ip prefix-list \1 description"),
    rule(
        r"ip prefix-list (\S+) (?:seq (\d+) )?(?:permit|deny) <PFX>(?: (?:ge|le) <N>){0,2}",
        r"ip prefix-list \1 seq \2",
        fixup=_prefix_list_seq,
    ),
    rule(r"username (\S+)(?: privilege <N>)? (?:secret|password)(?: \d)? \S+", r"username \1"),
    rule(r"ip domain[ -]name (\S+)", "ip domain name", canonical=r"ip domain name \1"),
    rule(r"no ip domain lookup", "ip domain lookup"),
    rule(r"ip domain lookup", "ip domain lookup", removes=True),
    rule(r"ip name-server (?:<IP> ?)+"),
    rule(r"ip ssh version [12]", "ip ssh version"),
    rule(r"(?:no )?ip http (server|secure-server)", r"ip http \1"),
    rule(r"ip forward-protocol nd"),
    rule(r"ntp server (?:vrf \S+ )?(\S+)(?: (?:prefer|iburst|source \S+|key \d+))*", r"ntp server \1"),
    rule(r"ntp source <IF>", "ntp source"),
    rule(r"logging buffered .+", "logging buffered"),
    rule(r"logging (?:host )?(<IP>)((?: .+)?)", r"logging host \1", canonical=r"logging host \1\2"),
    rule(r"logging .+"),
    rule(r"snmp-server community (\S+) .+", r"snmp-server community \1"),
    rule(r"snmp-server (location|contact) .+", r"snmp-server \1"),
    rule(r"snmp-server .+"),
    rule(r"service timestamps (debug|log) .+", r"service timestamps \1"),
    rule(r"no service (pad|dhcp)", r"service \1"),
    rule(r"service (pad|dhcp)", r"service \1", removes=True),
    rule(r"(?:no )?service ([\w-]+)", r"service \1"),
    rule(r"vlan <N>", enters="config-vlan"),
    rule(r"line (con|aux|vty) <N>(?: <N>)?", enters="config-line"),
    rule(r"bfd-template single-hop <W>", enters="config-bfd"),
)

_TOP_ORDER = (
    (r"(?:no )?service ", 0),
    (r"hostname ", 1),
    (r"vrf ", 2),
    (r"(?:no )?ip domain |ip name-server ", 3),
    (r"username ", 4),
    (r"vlan ", 5),
    (r"track ", 6),
    (r"crypto ikev2 proposal ", 7.0),
    (r"crypto ikev2 policy ", 7.1),
    (r"crypto ikev2 keyring ", 7.2),
    (r"crypto ikev2 profile ", 7.3),
    (r"crypto ipsec transform-set ", 7.4),
    (r"crypto ipsec profile ", 7.5),
    (r"interface ", 8),
    (r"router ", 9),
    (r"(?:no )?ip (?:forward-protocol|http) ", 10),
    (r"ip route ", 11),
    (r"ip ssh ", 11.5),
    (r"ip prefix-list ", 12),
    (r"ip sla ", 13),
    (r"logging ", 14),
    (r"route-map ", 15),
    (r"snmp-server ", 16),
    (r"bfd-template ", 17),
    (r"line ", 18),
    (r"ntp ", 19),
)

# -- IOS's order within a rank: what makes `show running-config` canonical, so that a config
# restored line by line (a rollback) prints exactly as it did before ---------------------------

_IF_TYPE_RANK = ("Loopback", "Port-channel", "Tunnel")


def _numbers(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", text))


def _interface_key(name: str) -> tuple[Any, ...]:
    kind = re.match(r"[A-Za-z-]+", name)
    word = kind.group() if kind else name
    rank = _IF_TYPE_RANK.index(word) if word in _IF_TYPE_RANK else len(_IF_TYPE_RANK)
    return (rank, word if rank == len(_IF_TYPE_RANK) else "", _numbers(name))


def _ios_top_key(text: str) -> tuple[Any, ...]:
    """Secondary sort key of a top-level line: interfaces by type and number, named objects by name."""
    if m := re.match(r"interface (\S+)", text):
        return _interface_key(m[1])
    if m := re.match(r"route-map (\S+) \S+ (\d+)", text):
        return (m[1], int(m[2]))
    if m := re.match(r"ip prefix-list (\S+) (?:seq (\d+)|description)", text):
        return (m[1], int(m[2] or -1))
    if m := re.match(r"ip sla (?:(schedule) )?(\d+)", text):
        return (int(m[2]), 1 if m[1] else 0)
    if m := re.match(r"track (\d+)", text):
        return (int(m[1]),)
    if m := re.match(r"ip route (?:vrf (\S+) )?(\S+) (\S+)", text):
        return (m[1] or "", _numbers(m[2]), _numbers(m[3]), text)
    if m := re.match(r"crypto (?:ikev2|ipsec) \S+ (\S+)", text):
        return (m[1],)
    return ()


_NEIGHBOR_ATTR_ORDER = (
    "remote-as", "peer-group", "description", "ebgp-multihop", "password", "shutdown", "update-source",
    "timers", "fall-over", "activate", "send-community", "next-hop-self", "allowas-in",
    "soft-reconfiguration", "default-originate", "weight", "maximum-prefix", "prefix-list", "route-map",
)  # fmt: skip


def _bgp_key(text: str) -> tuple[Any, ...]:
    """Neighbors grouped per peer (by address), attributes in IOS order; networks by address."""
    if m := re.match(r"neighbor (\S+) (\S+)(?: \S+)?(?: (in|out))?", text):
        peer = _numbers(m[1]) if re.fullmatch(r"[\d.]+", m[1]) else (1 << 32, m[1])
        attr = _NEIGHBOR_ATTR_ORDER.index(m[2]) if m[2] in _NEIGHBOR_ATTR_ORDER else len(_NEIGHBOR_ATTR_ORDER)
        return (peer, attr, m[3] or "")
    if m := re.match(r"network (\S+)", text):
        return (_numbers(m[1]),)
    return ()


_IOS_MODES = (
    ModeDef(
        "config",
        "(config)#",
        _GLOBAL_RULES,
        negatable=(r"ip domain name", r"ip domain-name", r"ip sla schedule <N>", r"ntp source"),
    ),
    ModeDef(
        "config-if",
        "(config-if)#",
        _INTERFACE_RULES,
        negatable=(r"ip address", r"encapsulation dot1Q(?: <N>)?", r"ip nat"),
        order=_IF_ORDER,
        placeholder=(r"ip address |ip unnumbered ", "no ip address"),
    ),
    ModeDef(
        "config-subif",
        "(config-subif)#",
        _INTERFACE_RULES,
        negatable=(r"ip address", r"encapsulation dot1Q(?: <N>)?", r"ip nat"),
        order=_IF_ORDER,
        placeholder=(r"ip address |ip unnumbered ", "no ip address"),
    ),
    ModeDef(
        "config-router",
        "(config-router)#",
        (
            rule(r"bgp router-id <IP>", "bgp router-id"),
            rule(r"bgp log-neighbor-changes", "bgp log-neighbor-changes"),
            rule(r"no bgp default ipv4-unicast", "bgp default ipv4-unicast"),
            rule(r"bgp default ipv4-unicast", "bgp default ipv4-unicast", removes=True),
            rule(r"bgp (bestpath|graceful-restart|deterministic-med|always-compare-med)(?: .+)?", r"bgp \1"),
            rule(r"timers bgp <N> <N>(?: <N>)?", "timers bgp"),
            rule(r"neighbor (?P<peer>\S+) remote-as <ASN>", r"neighbor \g<peer> remote-as"),
            _neighbor(r"password(?: [07])? \S+", r"neighbor \g<peer> password"),
            _neighbor(r"description .+", r"neighbor \g<peer> description"),
            _neighbor(r"fall-over bfd(?: (?:single-hop|multi-hop))?", r"neighbor \g<peer> fall-over"),
            _neighbor(r"timers <N> <N>(?: <N>)?", r"neighbor \g<peer> timers"),
            _neighbor(r"ebgp-multihop(?: <N>)?", r"neighbor \g<peer> ebgp-multihop"),
            _neighbor(r"update-source <IF>", r"neighbor \g<peer> update-source"),
            _neighbor(r"shutdown", r"neighbor \g<peer> shutdown"),
            *_BGP_NEIGHBOR_COMMON,
            rule(
                r"address-family (ipv4|ipv6)(?: (?:unicast|multicast))?(?: vrf (\S+))?",
                enters="config-router-af",
                canonical=lambda m: f"address-family {m[1]}" + (f" vrf {m[2]}" if m[2] else ""),
            ),
        ),
        negatable=(r"neighbor \S+",),
        cascade_no=(r"neighbor \S+",),
        order=((r"bgp ", 0), (r"timers ", 0.5), (r"neighbor ", 1), (r"network ", 2), (r"redist", 3)),
        sort_key=_bgp_key,
    ),
    ModeDef(
        "config-router-af",
        "(config-router-af)#",
        _BGP_NEIGHBOR_COMMON,
        negatable=(r"neighbor \S+",),
        exit_words=("exit", "exit-address-family"),
        order=((r"network ", 0), (r"redist", 1), (r"neighbor ", 2), (r"maximum-paths", 3)),
        footer="exit-address-family",
        sort_key=_bgp_key,
    ),
    ModeDef(
        "config-route-map",
        "(config-route-map)#",
        (
            rule(r"description .+", "description"),
            rule(r"match ip address prefix-list (?:\S+ ?)+", "match ip address prefix-list"),
            rule(r"match ip address (?:\S+ ?)+", "match ip address"),
            rule(r"match (as-path|community|tag|interface) .+", r"match \1"),
            rule(r"set local-preference <N>", "set local-preference"),
            rule(r"set as-path prepend (?:<ASN> ?)+", "set as-path prepend"),
            rule(r"set (metric|weight|origin|tag) .+", r"set \1"),
            rule(r"set community .+", "set community"),
            rule(r"set ip next-hop <IP>", "set ip next-hop"),
            rule(r"continue(?: <N>)?", "continue"),
        ),
        order=((r"description ", 0), (r"match ", 1), (r"set ", 2)),
    ),
    ModeDef(
        "config-line",
        "(config-line)#",
        (
            rule(r"exec-timeout <N>(?: <N>)?", "exec-timeout"),
            rule(r"login(?: local)?", "login"),
            rule(r"password .+", "password"),
            rule(r"transport input (?:ssh|telnet|none|all)(?: (?:ssh|telnet))?", "transport input"),
            rule(r"transport output .+", "transport output"),
            rule(r"logging synchronous", "logging synchronous"),
            rule(r"privilege level <N>", "privilege level"),
            rule(r"stopbits [12]", "stopbits"),
        ),
    ),
    ModeDef(
        "config-ikev2-proposal",
        "(config-ikev2-proposal)#",
        (
            rule(r"encryption (?:[\w-]+ ?)+", "encryption"),
            rule(r"integrity (?:[\w-]+ ?)+", "integrity"),
            rule(r"group (?:\d+ ?)+", "group"),
            rule(r"prf (?:[\w-]+ ?)+", "prf"),
        ),
    ),
    ModeDef(
        "config-ikev2-policy",
        "(config-ikev2-policy)#",
        (
            rule(r"proposal <W>"),
            rule(r"match address local <IP>", "match address local"),
            rule(r"match fvrf (?:\S+)", "match fvrf"),
        ),
    ),
    ModeDef(
        "config-ikev2-keyring",
        "(config-ikev2-keyring)#",
        (rule(r"peer <W>", enters="config-ikev2-keyring-peer"),),
    ),
    ModeDef(
        "config-ikev2-keyring-peer",
        "(config-ikev2-keyring-peer)#",
        (
            rule(r"description .+", "description"),
            rule(r"address <IP>(?: <IP>)?", "address"),
            rule(r"hostname \S+", "hostname"),
            rule(r"identity address <IP>", "identity"),
            rule(r"pre-shared-key(?: (local|remote))?(?: [06])? \S+", r"pre-shared-key \1"),
        ),
    ),
    ModeDef(
        "config-ikev2-profile",
        "(config-ikev2-profile)#",
        (
            rule(r"description .+", "description"),
            rule(r"match identity remote (?:address <IP>(?: <IP>)?|fqdn \S+)"),
            rule(r"match address local (?:<IP>|interface <IF>)", "match address local"),
            rule(r"match fvrf \S+", "match fvrf"),
            rule(r"identity local (?:address <IP>|fqdn \S+)", "identity local"),
            rule(r"authentication (remote|local) pre-share(?: key .+)?", r"authentication \1"),
            rule(r"keyring local <W>", "keyring"),
            rule(r"dpd <N> <N> (?:periodic|on-demand)", "dpd"),
            rule(r"lifetime <N>", "lifetime"),
        ),
    ),
    ModeDef(
        "cfg-crypto-trans",
        "(cfg-crypto-trans)#",
        (rule(r"mode (?:tunnel|transport)(?: require)?", "mode"),),
    ),
    ModeDef(
        "ipsec-profile",
        "(ipsec-profile)#",
        (
            rule(r"description .+", "description"),
            rule(r"set transform-set (?:\S+ ?)+", "set transform-set"),
            rule(r"set ikev2-profile <W>", "set ikev2-profile"),
            rule(r"set pfs(?: group\d+)?", "set pfs"),
            rule(
                r"set security-association lifetime (seconds|kilobytes) <N>",
                r"set security-association lifetime \1",
            ),
        ),
    ),
    ModeDef(
        "config-ip-sla",
        "(config-ip-sla)#",
        (
            rule(
                r"icmp-echo <IP>(?: source-(?:interface <IF>|ip <IP>))?",
                "icmp-echo",
                switches="config-ip-sla-echo",
            ),
        ),
    ),
    ModeDef(
        "config-ip-sla-echo",
        "(config-ip-sla-echo)#",
        (
            rule(r"icmp-echo <IP>(?: source-(?:interface <IF>|ip <IP>))?", "icmp-echo"),
            rule(r"frequency <N>", "frequency"),
            rule(r"threshold <N>", "threshold"),
            rule(r"timeout <N>", "timeout"),
            rule(r"tag .+", "tag"),
            rule(r"vrf \S+", "vrf"),
            rule(r"request-data-size <N>", "request-data-size"),
            rule(r"tos <N>", "tos"),
        ),
        order=((r"icmp-echo ", 0),),
    ),
    ModeDef(
        "config-track",
        "(config-track)#",
        (rule(r"delay(?: up <N>)?(?: down <N>)?", "delay"), rule(r"description .+", "description")),
    ),
    ModeDef(
        "config-bfd",
        "(config-bfd)#",
        (
            rule(r"interval min-tx <N> min-rx <N> multiplier <N>", "interval"),
            rule(r"no echo", "echo"),
            rule(r"echo", "echo", removes=True),
        ),
    ),
    ModeDef("config-vlan", "(config-vlan)#", (rule(r"name \S+", "name"),)),
)

_IOS_EXEC = (
    ExecCommand(("show", "version"), "show_version", privileged=False),
    ExecCommand(("show", "ip", "interface", "brief"), "show_ip_int_brief", privileged=False),
    ExecCommand(("show", "running-config"), "show_run"),
    ExecCommand(("show", "running-config", "interface", "<word>"), "show_run_interface"),
    ExecCommand(("show", "startup-config"), "show_start"),
    ExecCommand(("configure", "terminal"), "configure"),
    ExecCommand(("enable",), "enable", privileged=False),
    ExecCommand(("disable",), "disable", privileged=False),
    ExecCommand(("exit",), "exit", privileged=False),
    ExecCommand(("logout",), "exit", privileged=False),
    ExecCommand(("terminal", "length", "<n>"), "noop", privileged=False),
    ExecCommand(("terminal", "width", "<n>"), "noop", privileged=False),
    ExecCommand(("terminal", "monitor"), "noop", privileged=False),
    ExecCommand(("terminal", "no", "monitor"), "noop", privileged=False),
    ExecCommand(("write",), "write"),
    ExecCommand(("write", "memory"), "write"),
    ExecCommand(("copy", "running-config", "startup-config"), "copy"),
    ExecCommand(("show", "ip", "bgp", "summary"), "oper:bgp_summary", privileged=False),
    ExecCommand(("show", "bfd", "neighbors"), "oper:bfd", privileged=False),
    ExecCommand(("show", "bfd", "neighbors", "details"), "oper:bfd_details", privileged=False),
    ExecCommand(("show", "ip", "sla", "summary"), "oper:sla_summary", privileged=False),
    ExecCommand(("show", "track"), "oper:track", privileged=False),
    ExecCommand(("show", "track", "<n>"), "oper:track", privileged=False),
    ExecCommand(("show", "ip", "route"), "oper:route", privileged=False),
)

CISCO_IOS = Grammar(
    platform="cisco_ios",
    modes={m.name: m for m in _IOS_MODES},
    exec_commands=_IOS_EXEC,
    top_order=_TOP_ORDER,
    top_sort_key=_ios_top_key,
    interface_types=(
        "GigabitEthernet",
        "TenGigabitEthernet",
        "FortyGigabitEthernet",
        "HundredGigE",
        "FastEthernet",
        "Ethernet",
        "Loopback",
        "Tunnel",
        "Vlan",
        "Port-channel",
        "BDI",
        "Null",
    ),
)

GRAMMARS: dict[str, Grammar] = {"cisco_ios": CISCO_IOS}


def grammar_for(platform: str) -> Grammar:
    """The grammar for a netmiko-style platform name; ValueError when not simulated."""
    try:
        return GRAMMARS[platform]
    except KeyError:
        raise ValueError(f"unsupported platform {platform!r}; supported: {sorted(GRAMMARS)}") from None


# ---------------------------------------------------------------------------------------------
# Device state: configuration tree, rendering, save/reload
# ---------------------------------------------------------------------------------------------


def _rank(text: str, order: Iterable[tuple[str, float]], default: float) -> float:
    return next((rank for regex, rank in order if re.match(regex, text)), default)


class DeviceState:
    """Running and startup configuration of one device, shared by all its sessions."""

    def __init__(
        self,
        spec: DeviceSpec,
        clock: Callable[[], float] = time.monotonic,
        conditions: WorldConditions | None = None,
    ) -> None:
        self.spec = spec
        self.grammar = grammar_for(spec.platform)
        self.clock = clock
        # The world around the device (links down, unreachable probe targets, peers down) and the far
        # ends it talks to; `oper` remembers when each session/track last changed (see ios_oper).
        self.conditions = conditions if conditions is not None else WorldConditions()
        self.peers: dict[str, RemotePeer] = {p.address: p for p in spec.peers}
        self.oper: dict[str, Any] = {}
        self.booted_at = clock()
        self.root = ConfigNode("", mode="config")
        self.root.children.append(ConfigNode(f"hostname {spec.name}", key="hostname"))
        self.load(spec.initial_config)
        self.startup = self.config_text()

    @property
    def hostname(self) -> str:
        """Current hostname (IOS falls back to `Router` when it is removed)."""
        node = self.root.child("hostname")
        return node.text.split(" ", 1)[1] if node else "Router"

    def load(self, text: str) -> None:
        """Apply IOS-style config text line by line, as IOS does when it boots."""
        session = CliSession(self, privileged=True)
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or _NOT_COMMANDS.match(line):
                continue
            if not session.in_config:
                session.execute("configure terminal")
            output = session.execute(line)
            if output.strip():
                message = output.strip().splitlines()[-1]
                raise ConfigLoadError(f"line {number}: {line!r}: {message}")

    def save(self) -> None:
        """`write memory`: startup-config becomes the running config."""
        self.startup = self.config_text()

    def reload(self) -> None:
        """Boot again: running config is rebuilt from startup-config, uptime restarts."""
        self.root = ConfigNode("", mode="config")
        self.load(self.startup)
        self.booted_at = self.clock()

    def config_text(self) -> str:
        """The configuration as IOS stores it (`!` ... `end`), without show headers."""
        lines = ["!", f"version {_short_version(self.spec.version)}"]
        lines += self._render_top()
        if lines[-1] != "!":
            lines.append("!")
        lines.append("end")
        return "\n".join(lines) + "\n"

    def show_running(self) -> str:
        """`show running-config` output."""
        body = self.config_text()
        return f"Building configuration...\n\nCurrent configuration : {len(body)} bytes\n{body}"

    def show_startup(self) -> str:
        """`show startup-config` output."""
        return f"Using {len(self.startup)} out of {NVRAM_SIZE} bytes\n{self.startup}"

    def interfaces(self) -> list[ConfigNode]:
        """Interface sections in configuration order."""
        return [c for c in self.root.children if c.mode in ("config-if", "config-subif")]

    def _render_top(self) -> list[str]:
        out: list[str] = []
        previous: float | None = None
        for node in self._sorted(self.root.children, self.grammar.top_order, 10.5, self.grammar.top_sort_key):
            rank = _rank(node.text, self.grammar.top_order, 10.5)
            if previous is not None and rank != previous and out[-1] != "!":
                out.append("!")
            previous = rank
            out += self.render_node(node, 0)
            if node.mode is not None:
                out.append("!")
        return out

    def render_node(self, node: ConfigNode, depth: int) -> list[str]:
        """A node and its descendants as indented IOS text lines."""
        out = [" " * depth + node.text]
        if node.mode is None:
            return out
        mode = self.grammar.modes[node.mode]
        children = list(node.children)
        if mode.placeholder and not any(re.match(mode.placeholder[0], c.text) for c in children):
            children.append(ConfigNode(mode.placeholder[1]))
        lines = [c for c in children if c.mode is None]
        sections = [c for c in children if c.mode is not None]
        for child in self._sorted(lines, mode.order, 6.5, mode.sort_key):
            out.append(" " * (depth + 1) + child.text)
        for child in sections:
            child_mode = self.grammar.modes[child.mode or ""]
            if child_mode.footer:
                out.append(" " * (depth + 1) + "!")
                out += self.render_node(child, depth + 1)
            else:
                out += self.render_node(child, depth + 1)
                out.append(" " * (depth + 1) + "!")
        if mode.footer:
            out.append(" " * depth + mode.footer)
        return out

    @staticmethod
    def _sorted(
        nodes: list[ConfigNode],
        order: Iterable[tuple[str, float]],
        default: float,
        secondary: Callable[[str], Any] | None = None,
    ) -> list[ConfigNode]:
        order = tuple(order)
        if secondary is None:
            return sorted(nodes, key=lambda n: _rank(n.text, order, default))
        # Lines whose shape has no secondary key keep their configuration order (stable sort).
        return sorted(nodes, key=lambda n: (_rank(n.text, order, default), secondary(n.text)))


def _short_version(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _long_version(version: str) -> str:
    """`17.9.4a` -> `17.09.04a`, the way IOS XE prints its first version line."""
    parts = version.split(".")
    padded = [parts[0]] + [re.sub(r"^(\d)(?!\d)", r"0\1", p) for p in parts[1:]]
    return ".".join(padded)


def _uptime(seconds: float) -> str:
    minutes = int(seconds // 60)
    weeks, minutes = divmod(minutes, 7 * 24 * 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [(weeks, "week"), (days, "day"), (hours, "hour")]
    text = [f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in parts if n]
    text.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return ", ".join(text)


def serial_number(name: str) -> str:
    """A stable 11-character chassis serial derived from the device name."""
    digest = hashlib.sha256(name.encode()).hexdigest().upper()
    return "9" + digest[:10]


def render_show_version(state: DeviceState) -> str:
    """IOS XE (C8000V) `show version` text, parseable by ntc-templates."""
    uptime = _uptime(state.clock() - state.booted_at)
    gig = sum(1 for n in state.interfaces() if n.text.startswith("interface GigabitEthernet") and "." not in n.text)
    version = state.spec.version
    return "\n".join(
        [
            f"Cisco IOS XE Software, Version {_long_version(version)}",
            "Cisco IOS Software [Cupertino], Virtual XE Software (X86_64_LINUX_IOSD-UNIVERSALK9-M), "
            f"Version {version}, RELEASE SOFTWARE (fc3)",
            "Technical Support: http://www.cisco.com/techsupport",
            "Copyright (c) 1986-2023 by Cisco Systems, Inc.",
            "Compiled Fri 20-Oct-23 10:44 by mcpre",
            "",
            "",
            "Cisco IOS-XE software, Copyright (c) 2005-2023 by cisco Systems, Inc.",
            "All rights reserved.  Certain components of Cisco IOS-XE software are",
            'licensed under the GNU General Public License ("GPL") Version 2.0.',
            "",
            "ROM: IOS-XE ROMMON",
            "",
            f"{state.hostname} uptime is {uptime}",
            f"Uptime for this control processor is {uptime}",
            "System returned to ROM by reload",
            'System image file is "bootflash:packages.conf"',
            "Last reload reason: reload",
            "",
            "cisco C8000V (VXE) processor (revision VXE) with 1987213K/3075K bytes of memory.",
            f"Processor board ID {serial_number(state.spec.name)}",
            "Router operating mode: Autonomous",
            f"{max(gig, 1)} Gigabit Ethernet interface{'s' if gig != 1 else ''}",
            "32768K bytes of non-volatile configuration memory.",
            "3965316K bytes of physical memory.",
            "11526144K bytes of virtual hard disk at bootflash:.",
            "",
            "Configuration register is 0x2102",
            "",
        ]
    )


def render_ip_interface_brief(state: DeviceState) -> str:
    """`show ip interface brief` from the configured interfaces."""
    rows = ["Interface              IP-Address      OK? Method Status                Protocol"]
    statuses = interface_status(state)
    for node in sorted(state.interfaces(), key=lambda n: _interface_key(n.text.split(" ", 1)[1])):
        name = node.text.split(" ", 1)[1]
        address = next(
            (c.text.split()[2] for c in node.children if c.key == "ip address" and c.text != "ip address dhcp"),
            "unassigned",
        )
        status, proto = statuses.get(name, ("up", "up"))
        method = "manual" if address != "unassigned" else "unset"
        rows.append(f"{name:<23}{address:<16}YES {method:<7}{status:<22}{proto}")
    return "\n".join(rows)


# ---------------------------------------------------------------------------------------------
# Sessions
# ---------------------------------------------------------------------------------------------


def _caret(prompt: str, column: int, message: str = INVALID_INPUT) -> str:
    return " " * (len(prompt) + column) + "^\n" + message + "\n"


def _collapse(line: str) -> str:
    """Collapse whitespace like the IOS parser, except inside description text."""
    m = re.match(r"^((?:no\s+)?(?:neighbor\s+\S+\s+)?description)\s+(.*)$", line)
    if m:
        return " ".join(m[1].split()) + " " + m[2]
    return " ".join(line.split())


def _valid_octets(text: str) -> bool:
    return all(int(o) <= 255 for ip in re.findall(r"\b(?:\d+\.){3}\d+\b", text) for o in ip.split("."))


def _is_prefix_of(words: str, text: str) -> bool:
    return text == words or text.startswith(words + " ")


@dataclass
class _Level:
    mode: str
    node: ConfigNode


class CliSession:
    """One CLI session (an SSH shell or exec) against a `DeviceState`.

    `execute(line)` returns the output for one input line (lines joined with `\\n`, without
    the trailing prompt); `prompt` is what to print next. `reject` is an optional policy
    hook: configuration lines for which it returns True are refused as invalid input.
    """

    def __init__(
        self,
        device: DeviceState,
        *,
        privileged: bool | None = None,
        reject: Callable[[str], bool] | None = None,
    ) -> None:
        self.device = device
        self.grammar = device.grammar
        if privileged is None:
            privileged = device.spec.enable_secret is None
        self.privileged = privileged
        self.reject = reject
        self.stack: list[_Level] = []
        self.pending: str | None = None  # "enable" (secret expected) or "copy" (filename)
        self.closed = False

    @property
    def mode(self) -> str:
        """`user`, `exec` (privileged) or the configuration mode name."""
        if self.stack:
            return self.stack[-1].mode
        return "exec" if self.privileged else "user"

    @property
    def in_config(self) -> bool:
        """True in global configuration mode or any sub-mode."""
        return bool(self.stack)

    @property
    def echo_input(self) -> bool:
        """False while the device waits for a secret that must not be echoed."""
        return self.pending != "enable"

    @property
    def prompt(self) -> str:
        """The prompt shown after the last output."""
        if self.pending == "enable":
            return PASSWORD_PROMPT
        if self.pending == "copy":
            return COPY_PROMPT
        host = self.device.hostname
        if self.stack:
            return host + self.grammar.modes[self.stack[-1].mode].prompt
        return host + ("#" if self.privileged else ">")

    def execute(self, line: str) -> str:
        """Run one input line and return its output."""
        if self.closed:
            return ""
        if self.pending:
            return self._answer_pending(line)
        if self.stack:
            return self._config_line(line)
        return self._exec_line(line, self.prompt)

    # -- exec ----------------------------------------------------------------------------

    def _answer_pending(self, line: str) -> str:
        pending, self.pending = self.pending, None
        if pending == "enable":
            if line == self.device.spec.enable_secret:
                self.privileged = True
                return ""
            return ACCESS_DENIED + "\n"
        target = line.strip()
        if target in ("", "startup-config", "nvram:startup-config"):
            self.device.save()
            return "Building configuration...\n[OK]\n"
        return f"%Error opening nvram:{target} (Invalid argument)\n"

    def _exec_line(self, line: str, prompt: str) -> str:
        command, _, pipe = line.partition("|")
        tokens = [(m.start(), m.group()) for m in re.finditer(r"\S+", command)]
        if not tokens:
            return ""
        resolved = self._resolve(tokens)
        if isinstance(resolved, int):
            return _caret(prompt, resolved)
        if isinstance(resolved, str):
            return resolved
        cmd, args = resolved
        output = self._run_exec(cmd.action, args, prompt, tokens)
        if pipe.strip():
            return _apply_pipe(output, pipe.strip(), prompt, len(command) + 1)
        return output

    def _resolve(self, tokens: list[tuple[int, str]]) -> tuple[ExecCommand, list[str]] | str | int:
        """Match abbreviated tokens to one command; else an error text or the caret column."""
        candidates = [c for c in self.grammar.exec_commands if self.privileged or not c.privileged]
        for i, (column, token) in enumerate(tokens):
            matched = [c for c in candidates if i < len(c.words) and _word_matches(c.words[i], token)]
            exact = [c for c in matched if c.words[i] == token.lower()]
            if exact:
                matched = exact
            elif len({c.words[i] for c in matched if not c.words[i].startswith("<")}) > 1:
                text = " ".join(t for _, t in tokens[: i + 1])
                return f'% Ambiguous command:  "{text}"\n'
            if not matched:
                return column
            candidates = matched
        complete = [c for c in candidates if len(c.words) == len(tokens)]
        if complete:
            cmd = complete[0]
            args = [t for (_, t), w in zip(tokens, cmd.words, strict=True) if w.startswith("<")]
            return cmd, args
        if len(tokens) == 1 and tokens[0][1].lower() in ("sh", "sho", "show"):
            return '% Type "show ?" for a list of subcommands\n'
        return INCOMPLETE + "\n"

    def _run_exec(self, action: str, args: list[str], prompt: str, tokens: list[tuple[int, str]]) -> str:
        device = self.device
        if action == "show_version":
            return render_show_version(device)
        if action == "show_ip_int_brief":
            return render_ip_interface_brief(device) + "\n"
        if action == "show_run":
            return device.show_running()
        if action == "show_run_interface":
            return self._show_run_interface(args[0], prompt, tokens[-1][0])
        if action == "show_start":
            return device.show_startup()
        if action == "configure":
            self.stack = [_Level("config", device.root)]
            return CONFIG_BANNER + "\n"
        if action == "enable":
            if not self.privileged:
                if device.spec.enable_secret is None:
                    self.privileged = True
                else:
                    self.pending = "enable"
            return ""
        if action == "disable":
            self.privileged = False
            return ""
        if action == "exit":
            self.closed = True
            return ""
        if action == "write":
            device.save()
            return "Building configuration...\n[OK]\n"
        if action == "copy":
            self.pending = "copy"
            return ""
        if action.startswith("oper:"):
            return render_exec(device, action[5:], args)
        return ""  # noop: terminal settings

    def _show_run_interface(self, name: str, prompt: str, column: int) -> str:
        full = normalize_interface(name, self.grammar.interface_types)
        node = self.device.root.child(f"interface {full}") if full else None
        if node is None:
            return _caret(prompt, column)
        body = "!\n" + "\n".join(self.device.render_node(node, 0)) + "\nend\n"
        return f"Building configuration...\n\nCurrent configuration : {len(body)} bytes\n{body}"

    # -- configuration -------------------------------------------------------------------

    def _config_line(self, raw: str) -> str:
        prompt = self.prompt
        indent = len(raw) - len(raw.lstrip())
        line = self._expand_first_word(_collapse(raw))
        if not line:
            return ""
        if self.reject is not None and self.reject(line):
            return _caret(prompt, indent)
        if line in ("end", "\x1a"):
            self.stack = []
            return ""
        if line in self.grammar.modes[self.mode].exit_words:
            self.stack.pop()
            return ""
        if line.startswith("do "):
            return self._exec_line(raw.strip()[3:], prompt)
        for depth in range(len(self.stack) - 1, -1, -1):
            level = self.stack[depth]
            mode = self.grammar.modes[level.mode]
            found = self._match(mode, line)
            if found is not None:
                del self.stack[depth + 1 :]
                return self._apply(depth, *found)
            if line.startswith("no ") and self._negate(level, mode, line[3:]):
                del self.stack[depth + 1 :]
                return ""
        return _caret(prompt, indent)

    def _expand_first_word(self, line: str) -> str:
        """Expand an abbreviated leading keyword (`int` -> `interface`) when unambiguous."""
        first, _, rest = line.partition(" ")
        words = {"no", "do", "end", "exit"}
        for level in self.stack:
            words |= _first_words(self.grammar.modes[level.mode])
        if first in words:
            return line
        candidates = [w for w in words if w.startswith(first)]
        if len(candidates) != 1:
            return line
        return f"{candidates[0]} {rest}".rstrip()

    def _match(self, mode: ModeDef, line: str) -> tuple[Rule, str, str] | None:
        """The rule accepting `line` in `mode`, with the stored text and replacement key."""
        for candidate in mode.rules:
            m = candidate.regex.fullmatch(line)
            if m is None:
                continue
            if "ifname" in m.groupdict() and m["ifname"] is not None:
                full = normalize_interface(m["ifname"], self.grammar.interface_types)
                if full is None:
                    continue
                line = line[: m.start("ifname")] + full + line[m.end("ifname") :]
                m = candidate.regex.fullmatch(line)
                if m is None:
                    continue
            if "description" not in line and not _valid_octets(line):
                continue
            if callable(candidate.canonical):
                text = candidate.canonical(m)
            elif candidate.canonical:
                text = m.expand(candidate.canonical)
            else:
                text = line
            m = candidate.regex.fullmatch(text) or m
            key = m.expand(candidate.key) if candidate.key else text
            return candidate, text, key
        return None

    def _apply(self, depth: int, found_rule: Rule, text: str, key: str) -> str:
        level = self.stack[depth]
        if found_rule.requires is not None:
            error = self._missing_requirement(found_rule, text)
            if error:
                return error + "\n"
        if found_rule.fixup is not None:
            text = found_rule.fixup(text, level.node)
            refound = self._match(self.grammar.modes[level.mode], text)
            if refound is not None:
                _, text, key = refound
        existing = level.node.child(key)
        if found_rule.removes:
            level.node.children = [c for c in level.node.children if c.key != key]
            return ""
        if found_rule.enters:
            if existing is None:
                existing = ConfigNode(text, mode=found_rule.enters, key=key)
                level.node.children.append(existing)
            existing.text = text
            self.stack.append(_Level(existing.mode or found_rule.enters, existing))
            return ""
        if existing is not None:
            existing.text = text
        else:
            level.node.children.append(ConfigNode(text, key=key))
        if found_rule.switches:
            level.mode = found_rule.switches
            level.node.mode = found_rule.switches
        return ""

    def _missing_requirement(self, found_rule: Rule, text: str) -> str | None:
        assert found_rule.requires is not None
        mode_name, template, error = found_rule.requires
        m = found_rule.regex.fullmatch(text)
        anchor = next((lv for lv in reversed(self.stack) if lv.mode == mode_name), None)
        if m is None or anchor is None:
            return None
        return None if anchor.node.child(m.expand(template)) else error

    def _negate(self, level: _Level, mode: ModeDef, words: str) -> bool:
        """Apply `no <words>` at `level`; False when the command is not valid there."""
        node = level.node
        matching = [c for c in node.children if _is_prefix_of(words, c.text) or c.key == words]
        found = self._match(mode, words)
        if found is not None:
            _, text, key = found
            matching += [c for c in node.children if c.key == key or c.text == text]
        else:
            literal_keys = {r.key for r in mode.rules if r.key and "\\" not in r.key}
            allowed = words in literal_keys or any(_compile(p).fullmatch(words) for p in mode.negatable)
            if not (allowed or matching):
                return False
        node.children = [c for c in node.children if c not in matching]
        if any(_compile(p).fullmatch(words) for p in mode.cascade_no):
            for section in _sections(node):
                section.children = [c for c in section.children if not _is_prefix_of(words, c.text)]
        return True


@lru_cache(maxsize=64)
def _first_words(mode: ModeDef) -> frozenset[str]:
    words = set(mode.exit_words)
    for r in mode.rules:
        m = re.match(r"(?:\(\?:no \)\?)?([a-z][a-z0-9-]*)(?= |$)", r.regex.pattern)
        if m:
            words.add(m[1])
    return frozenset(words)


def _sections(node: ConfigNode) -> Iterator[ConfigNode]:
    for child in node.children:
        if child.mode is not None:
            yield child
            yield from _sections(child)


def _word_matches(word: str, token: str) -> bool:
    if word == "<n>":
        return token.isdigit()
    if word == "<word>":
        return True
    return word.startswith(token.lower())


def normalize_interface(name: str, types: Iterable[str]) -> str | None:
    """Expand an abbreviated interface name (`Gi2.100` -> `GigabitEthernet2.100`)."""
    m = re.fullmatch(r"([A-Za-z][A-Za-z-]*)\s?(\d+(?:/\d+)*(?:\.\d+)?)", name)
    if not m:
        return None
    prefix = m[1].lower()
    candidates = [t for t in types if t.lower().startswith(prefix)]
    exact = [t for t in candidates if t.lower() == prefix]
    if exact:
        candidates = exact
    return candidates[0] + m[2] if len(candidates) == 1 else None


def _apply_pipe(output: str, pipe: str, prompt: str, column: int) -> str:
    """`| include/exclude/begin/section/count REGEX` on an exec command's output."""
    verb, _, pattern = pipe.partition(" ")
    verbs = [v for v in ("begin", "count", "exclude", "include", "section") if v.startswith(verb.lower())]
    if len(verbs) != 1 or not pattern.strip():
        return _caret(prompt, column + 1)
    try:
        regex = re.compile(pattern.strip())
    except re.error:
        return _caret(prompt, column + 1 + len(verb) + 1)
    lines = output.splitlines()
    chosen: list[str]
    if verbs[0] == "include":
        chosen = [ln for ln in lines if regex.search(ln)]
    elif verbs[0] == "exclude":
        chosen = [ln for ln in lines if not regex.search(ln)]
    elif verbs[0] == "begin":
        start = next((i for i, ln in enumerate(lines) if regex.search(ln)), len(lines))
        chosen = lines[start:]
    elif verbs[0] == "count":
        return f"Number of lines which match regexp = {sum(1 for ln in lines if regex.search(ln))}\n"
    else:
        chosen = []
        keep = False
        for ln in lines:
            if ln and not ln.startswith(" "):
                keep = bool(regex.search(ln))
            if keep and ln.strip() != "!":
                chosen.append(ln)
    return "\n".join(chosen) + ("\n" if chosen else "")
