"""What a push would send: hier-config remediation from the device's running config to the intended one.

The intended configuration is the running configuration with the parts this tool owns replaced by the
rendered ones, so that nothing else on the device is touched:

- every top-level section the templates render is owned whole (`router bgp`, sub-interfaces, tunnels,
  crypto objects, route-maps, prefix-list entries, IP SLA, track, static routes);
- physical interfaces (uplinks, the DX port) are owned in part: `description`, `ip address` and
  `shutdown`, the rest of their configuration stays as it is;
- objects an earlier intent created and this one no longer has are recognised by their names and
  descriptions (`AWS-`, `ISP-`) and removed; `router bgp` is owned whole when the intent uses BGP.

`remediation(...)` is the list of lines the push sends (with `exit` after each section, as hier-config
dumps it), and `DevicePlan.diff` is the same list with secrets masked: what `plan` and `--check` print.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hier_config import Platform, WorkflowRemediation, get_hconfig
from hier_config.child import HConfigChild
from hier_config.root import HConfig

from migrate_cli.core.errors import ConfigError, OperationFailed
from migrate_cli.network.redact import redact

HIER_PLATFORMS = {"cisco_ios": Platform.CISCO_IOS}
PHYSICAL = re.compile(
    r"interface (?:GigabitEthernet|TenGigabitEthernet|FortyGigabitEthernet|HundredGigE|FastEthernet|Ethernet)"
    r"\d+(?:/\d+)*"
)
PARTIAL_KEYS = ("description ", "ip address ", "shutdown")
OWNED_NAMED = re.compile(
    r"(?:crypto (?:ikev2 (?:proposal|policy|keyring|profile)|ipsec (?:transform-set|profile))|route-map"
    r"|ip prefix-list) (?:AWS|ISP)-"
)
OWNED_ROUTE = re.compile(r"ip route .* name (?:AWS|ISP)-")
OWNED_DESCRIPTION = re.compile(r"description (?:AWS|ISP)-")


def hier_platform(platform: str) -> Platform:
    """hier-config's platform for a netmiko platform name that plan/push support."""
    try:
        return HIER_PLATFORMS[platform]
    except KeyError:
        raise ConfigError(
            f"plan and push support {', '.join(HIER_PLATFORMS)} devices; '{platform}' is render-only"
        ) from None


@dataclass
class DevicePlan:
    """One device's plan: what was read, what is intended, what a push sends."""

    host: str
    platform: str
    running: str
    intended: str
    commands: list[str] = field(default_factory=list)

    @property
    def diff(self) -> str:
        """The commands as people see them: exactly what is sent, secrets masked."""
        return redact("\n".join(self.commands))

    @property
    def changed(self) -> bool:
        return bool(self.commands)

    def sections(self) -> list[str]:
        """Top-level lines the commands touch (for one-line summaries)."""
        return [c for c in self.commands if c and not c.startswith(" ")]


def _owned_stale(child: HConfigChild, owned_slas: set[str], uses_bgp: bool) -> bool:
    """A top-level object this tool created (by its name), which the current intent may no longer have."""
    text = child.text
    if OWNED_NAMED.match(text) or OWNED_ROUTE.match(text):
        return True
    if uses_bgp and text.startswith("router bgp "):
        return True
    if text.startswith("interface ") and not PHYSICAL.fullmatch(text):
        return any(OWNED_DESCRIPTION.match(c.text) for c in child.children)
    if m := re.fullmatch(r"ip sla (?:schedule )?(\d+)(?: .*)?", text):
        return m[1] in owned_slas
    if m := re.fullmatch(r"track \d+ ip sla (\d+)(?: .*)?", text):
        return m[1] in owned_slas
    return False


def _owned_slas(config: HConfig) -> set[str]:
    out = set()
    for child in config.children:
        m = re.fullmatch(r"ip sla (\d+)", child.text)
        if m and any(c.text.startswith("tag ISP-") for c in child.children):
            out.add(m[1])
    return out


def _foreign(current: HConfigChild) -> bool:
    """An interface or IP SLA this tool did not create (no AWS-/ISP- description or tag)."""
    text = current.text
    if text.startswith("interface ") and not PHYSICAL.fullmatch(text):
        return not any(OWNED_DESCRIPTION.match(c.text) for c in current.children)
    if re.fullmatch(r"ip sla \d+", text):
        return not any(c.text.startswith("tag ISP-") for c in current.children)
    return False


def intended_config(platform: str, running_text: str, rendered_text: str, uses_bgp: bool) -> HConfig:
    """The running config with the owned parts replaced by the rendered config.

    OperationFailed when the intent would take over a tunnel, sub-interface or IP SLA the device already
    uses for something else (pick other numbers: `vpn.first_tunnel`, the uplinks' `track`)."""
    hp = hier_platform(platform)
    running = get_hconfig(hp, running_text)
    rendered = get_hconfig(hp, rendered_text)
    taken = [
        c.text
        for c in rendered.children
        if (current := running.get_child(equals=c.text)) is not None and _foreign(current)
    ]
    if taken:
        raise OperationFailed(
            f"refusing to take over {', '.join(taken)}: already configured and not created by migrate "
            "(no AWS-/ISP- description or tag); choose other numbers (vpn.first_tunnel, uplinks[].track)"
        )
    rendered_top = {c.text for c in rendered.children}
    owned_slas = _owned_slas(running) | _owned_slas(rendered)
    intended = get_hconfig(hp, "")
    for child in running.children:
        if child.text in rendered_top or _owned_stale(child, owned_slas, uses_bgp):
            continue
        intended.add_deep_copy_of(child)
    for child in rendered.children:
        current = running.get_child(equals=child.text)
        if PHYSICAL.fullmatch(child.text) and current is not None:
            merged = intended.add_child(child.text)
            claims = [k for k in PARTIAL_KEYS if any(c.text.startswith(k) for c in child.children)] + ["shutdown"]
            for line in current.children:
                if not any(line.text.startswith(k) for k in claims):
                    merged.add_deep_copy_of(line)
            for line in child.children:
                merged.add_deep_copy_of(line)
        else:
            intended.add_deep_copy_of(child)
    return intended


def remediation_lines(platform: str, running_text: str, intended: HConfig | str) -> list[str]:
    """hier-config's remediation from the running config to `intended`, as lines to send."""
    hp = hier_platform(platform)
    running = get_hconfig(hp, running_text)
    target = get_hconfig(hp, intended) if isinstance(intended, str) else intended
    return list(WorkflowRemediation(running, target).remediation_config.dump_simple(sectional_exiting=True))


def plan_device(host: str, platform: str, running_text: str, rendered_text: str, uses_bgp: bool) -> DevicePlan:
    """The plan for one device from its running config and its rendered intended config."""
    intended = intended_config(platform, running_text, rendered_text, uses_bgp)
    commands = remediation_lines(platform, running_text, intended)
    return DevicePlan(host, platform, running_text, "\n".join(intended.dump_simple()) + "\n", commands)


_SHOW_HEADER = re.compile(
    r"^(?:Building configuration\.\.\.|Current configuration : \d+ bytes|! Last configuration change at .*"
    r"|! NVRAM config last updated at .*|! No configuration change since last restart)\s*$"
)


def normalize(config: str) -> str:
    """The running config as compared for equality: show headers and change timestamps removed."""
    lines = [line.rstrip() for line in config.replace("\r\n", "\n").splitlines()]
    kept = [line for line in lines if not _SHOW_HEADER.match(line)]
    while kept and not kept[0]:
        kept.pop(0)
    return "\n".join(kept).strip("\n") + "\n"


def differing_lines(a: str, b: str) -> int:
    """How many lines differ between two configs (normalized), for error messages."""
    import difflib

    diff = difflib.unified_diff(normalize(a).splitlines(), normalize(b).splitlines(), lineterm="", n=0)
    return sum(1 for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---")))
