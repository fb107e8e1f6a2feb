"""The pure IOS-like CLI model behind the lab's simulated devices."""

from __future__ import annotations

import pytest
from hier_config import Platform, WorkflowRemediation, get_hconfig
from hypothesis import given, settings
from hypothesis import strategies as st
from ntc_templates.parse import parse_output

from migrate_cli.lab.devices.ios_model import (
    CONFIG_BANNER,
    INVALID_INPUT,
    CliSession,
    ConfigLoadError,
    DeviceSpec,
    DeviceState,
)

BASE_CONFIG = """\
interface Loopback0
 ip address 10.255.0.1 255.255.255.255
interface GigabitEthernet1
 description uplink
 ip address 192.0.2.1 255.255.255.0
 negotiation auto
router bgp 65010
 bgp log-neighbor-changes
 neighbor 192.0.2.2 remote-as 65020
 neighbor 192.0.2.2 description isp
 address-family ipv4
  neighbor 192.0.2.2 activate
 exit-address-family
ip route 0.0.0.0 0.0.0.0 192.0.2.254
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_device(initial: str = BASE_CONFIG, secret: str | None = None, clock: Clock | None = None) -> DeviceState:
    spec = DeviceSpec("r1", "admin", "pw", enable_secret=secret, initial_config=initial)
    return DeviceState(spec, clock=clock or Clock())


def configure(device: DeviceState, *lines: str) -> CliSession:
    """A privileged session that ran `configure terminal` and then `lines`, all accepted."""
    session = CliSession(device)
    assert session.execute("configure terminal") == CONFIG_BANNER + "\n"
    for line in lines:
        assert session.execute(line) == "", line
    return session


def running_lines(device: DeviceState) -> list[str]:
    return device.config_text().splitlines()


def section(device: DeviceState, header: str) -> list[str]:
    """A top-level section as rendered: header plus its indented lines."""
    lines = running_lines(device)
    start = lines.index(header)
    end = start + 1
    while end < len(lines) and lines[end].startswith(" "):
        end += 1
    return lines[start:end]


# -- modes and prompts ------------------------------------------------------------------------


def test_login_lands_in_privileged_exec_without_enable_secret() -> None:
    session = CliSession(make_device())
    assert session.prompt == "r1#"
    assert session.mode == "exec"


def test_enable_secret_password_prompt_denied_then_accepted() -> None:
    session = CliSession(make_device(secret="s3cret"))
    assert session.prompt == "r1>"
    assert session.execute("enable") == ""
    assert session.prompt == "Password: "
    assert not session.echo_input
    assert session.execute("wrong") == "% Access denied\n"
    assert session.prompt == "r1>"
    session.execute("enable")
    assert session.execute("s3cret") == ""
    assert session.prompt == "r1#"
    assert session.echo_input
    session.execute("disable")
    assert session.prompt == "r1>"


def test_user_exec_refuses_privileged_commands() -> None:
    session = CliSession(make_device(secret="s3cret"))
    out = session.execute("configure terminal")
    assert out == " " * len("r1>") + "^\n" + INVALID_INPUT + "\n"
    assert session.execute("show running-config").endswith(INVALID_INPUT + "\n")
    assert "uptime is" in session.execute("show version")


@pytest.mark.parametrize(
    ("lines", "prompt"),
    [
        ([], "r1(config)#"),
        (["interface GigabitEthernet2"], "r1(config-if)#"),
        (["interface Tunnel1"], "r1(config-if)#"),
        (["interface GigabitEthernet2.100"], "r1(config-subif)#"),
        (["router bgp 65010"], "r1(config-router)#"),
        (["router bgp 65010", "address-family ipv4 unicast"], "r1(config-router-af)#"),
        (["route-map RM permit 10"], "r1(config-route-map)#"),
        (["line vty 0 4"], "r1(config-line)#"),
        (["crypto ikev2 proposal P"], "r1(config-ikev2-proposal)#"),
        (["crypto ikev2 policy P"], "r1(config-ikev2-policy)#"),
        (["crypto ikev2 keyring K"], "r1(config-ikev2-keyring)#"),
        (["crypto ikev2 keyring K", "peer AWS"], "r1(config-ikev2-keyring-peer)#"),
        (["crypto ikev2 profile P"], "r1(config-ikev2-profile)#"),
        (["crypto ipsec transform-set TS esp-aes 256 esp-sha256-hmac"], "r1(cfg-crypto-trans)#"),
        (["crypto ipsec profile IP"], "r1(ipsec-profile)#"),
        (["ip sla 10"], "r1(config-ip-sla)#"),
        (["ip sla 10", "icmp-echo 8.8.8.8 source-interface Gi1"], "r1(config-ip-sla-echo)#"),
        (["track 10 ip sla 10 reachability"], "r1(config-track)#"),
        (["bfd-template single-hop BFD"], "r1(config-bfd)#"),
        (["vlan 10"], "r1(config-vlan)#"),
    ],
)
def test_sub_mode_prompts(lines: list[str], prompt: str) -> None:
    assert configure(make_device(), *lines).prompt == prompt


def test_exit_goes_up_one_level_and_end_returns_to_exec() -> None:
    session = configure(make_device(), "router bgp 65010", "address-family ipv4")
    session.execute("exit-address-family")
    assert session.prompt == "r1(config-router)#"
    session.execute("address-family ipv4")
    session.execute("exit")
    assert session.prompt == "r1(config-router)#"
    session.execute("exit")
    assert session.prompt == "r1(config)#"
    session.execute("exit")
    assert session.prompt == "r1#"
    configure_again = configure(session.device, "crypto ikev2 keyring K", "peer P")
    configure_again.execute("end")
    assert configure_again.prompt == "r1#"
    assert not configure_again.in_config


def test_exit_in_exec_closes_the_session() -> None:
    session = CliSession(make_device())
    session.execute("exit")
    assert session.closed


def test_hostname_changes_the_prompt_and_replaces_the_line() -> None:
    device = make_device()
    session = configure(device, "hostname edge-7")
    assert session.prompt == "edge-7(config)#"
    session.execute("hostname edge-8")
    assert [ln for ln in running_lines(device) if ln.startswith("hostname")] == ["hostname edge-8"]
    session.execute("no hostname edge-8")
    assert session.prompt == "Router(config)#"


def test_command_valid_in_a_parent_mode_exits_implicitly() -> None:
    device = make_device()
    session = configure(device, "router bgp 65010", "address-family ipv4")
    assert session.execute("interface Gi2") == ""
    assert session.prompt == "r1(config-if)#"
    session.execute("description new")
    assert session.execute("ip route 10.9.0.0 255.255.0.0 192.0.2.254") == ""
    assert session.prompt == "r1(config)#"
    assert section(device, "interface GigabitEthernet2") == [
        "interface GigabitEthernet2",
        " description new",
        " no ip address",
    ]
    assert "ip route 10.9.0.0 255.255.0.0 192.0.2.254" in running_lines(device)
    assert " description new" not in section(device, "router bgp 65010")


def test_nested_sections_render_with_deeper_indent() -> None:
    device = make_device()
    configure(
        device,
        "crypto ikev2 keyring KR",
        "peer AWS1",
        "address 203.0.113.10",
        "pre-shared-key local abc",
        "router bgp 65010",
        "address-family ipv4",
        "network 10.255.0.1 mask 255.255.255.255",
    )
    assert section(device, "crypto ikev2 keyring KR") == [
        "crypto ikev2 keyring KR",
        " peer AWS1",
        "  address 203.0.113.10",
        "  pre-shared-key local abc",
        " !",
    ]
    assert section(device, "router bgp 65010") == [
        "router bgp 65010",
        " bgp log-neighbor-changes",
        " neighbor 192.0.2.2 remote-as 65020",
        " neighbor 192.0.2.2 description isp",
        " !",
        " address-family ipv4",
        "  network 10.255.0.1 mask 255.255.255.255",
        "  neighbor 192.0.2.2 activate",
        " exit-address-family",
    ]


def test_ip_sla_echo_mode_is_flat_and_resumed_on_reentry() -> None:
    device = make_device()
    session = configure(device, "ip sla 10", "icmp-echo 8.8.8.8 source-interface Gi1", "frequency 5", "exit")
    session.execute("ip sla 10")
    assert session.prompt == "r1(config-ip-sla-echo)#"
    session.execute("threshold 500")
    session.execute("ip sla schedule 10 life forever start-time now")
    assert section(device, "ip sla 10") == [
        "ip sla 10",
        " icmp-echo 8.8.8.8 source-interface GigabitEthernet1",
        " frequency 5",
        " threshold 500",
    ]
    assert "ip sla schedule 10 life forever start-time now" in running_lines(device)


# -- replace, no, invalid ------------------------------------------------------------------------


def test_value_lines_replace_instead_of_duplicating() -> None:
    device = make_device()
    configure(
        device,
        "interface GigabitEthernet1",
        "description new uplink",
        "ip address 192.0.2.10 255.255.255.0",
        "ip address 192.0.3.10 255.255.255.0 secondary",
        "interface Gi2.100",
        "encapsulation dot1q 100",
        "encapsulation dot1Q 200",
        "router bgp 65010",
        "bgp router-id 10.255.0.1",
        "bgp router-id 10.255.0.2",
        "neighbor 192.0.2.2 remote-as 65030",
        "ip route 0.0.0.0 0.0.0.0 192.0.2.254",
    )
    assert section(device, "interface GigabitEthernet1") == [
        "interface GigabitEthernet1",
        " description new uplink",
        " ip address 192.0.3.10 255.255.255.0 secondary",
        " ip address 192.0.2.10 255.255.255.0",
        " negotiation auto",
    ]
    assert section(device, "interface GigabitEthernet2.100")[1] == " encapsulation dot1Q 200"
    bgp = section(device, "router bgp 65010")
    assert [ln for ln in bgp if "router-id" in ln] == [" bgp router-id 10.255.0.2"]
    assert [ln for ln in bgp if "remote-as" in ln] == [" neighbor 192.0.2.2 remote-as 65030"]
    assert running_lines(device).count("ip route 0.0.0.0 0.0.0.0 192.0.2.254") == 1


def test_no_removes_lines_sections_and_whole_neighbors() -> None:
    device = make_device()
    configure(
        device,
        "route-map RM permit 10",
        "set local-preference 200",
        "route-map RM deny 20",
        "interface GigabitEthernet1",
        "no description",
        "no ip address",
        "no interface Loopback0",
        "router bgp 65010",
        "no neighbor 192.0.2.2",
        "no ip route 0.0.0.0 0.0.0.0 192.0.2.254",
        "no route-map RM",
    )
    lines = running_lines(device)
    assert section(device, "interface GigabitEthernet1") == [
        "interface GigabitEthernet1",
        " no ip address",
        " negotiation auto",
    ]
    assert "interface Loopback0" not in lines
    assert not [ln for ln in lines if "192.0.2.2" in ln]
    assert section(device, "router bgp 65010")[-2:] == [" address-family ipv4", " exit-address-family"]
    assert not [ln for ln in lines if ln.startswith(("ip route", "route-map"))]


def test_no_section_header_and_unknown_no_forms() -> None:
    device = make_device()
    session = configure(device, "no router bgp 65010")
    assert not [ln for ln in running_lines(device) if ln.startswith("router bgp")]
    assert session.execute("no frobnicate everything").endswith(INVALID_INPUT + "\n")


def test_shutdown_rendered_only_when_shut() -> None:
    device = make_device()
    session = configure(device, "interface GigabitEthernet2")
    assert "shutdown" not in "\n".join(section(device, "interface GigabitEthernet2"))
    session.execute("shutdown")
    assert " shutdown" in section(device, "interface GigabitEthernet2")
    session.execute("no shutdown")
    assert " shutdown" not in section(device, "interface GigabitEthernet2")


def test_invalid_config_line_is_not_applied_and_shows_caret() -> None:
    device = make_device()
    session = configure(device, "interface GigabitEthernet1")
    before = device.config_text()
    out = session.execute("  frobnicate 7")
    assert out == " " * (len("r1(config-if)#") + 2) + "^\n" + INVALID_INPUT + "\n"
    assert session.execute("ip address 300.1.1.1 255.255.255.0").endswith(INVALID_INPUT + "\n")
    assert session.execute("interface Frobnicator3").endswith(INVALID_INPUT + "\n")
    assert device.config_text() == before
    assert session.prompt == "r1(config-if)#"


def test_neighbor_attributes_need_remote_as_first() -> None:
    device = make_device()
    session = configure(device, "router bgp 65010")
    out = session.execute("neighbor 10.0.0.9 description late")
    assert out == "% Specify remote-as or peer-group commands first\n"
    assert session.execute("neighbor 10.0.0.9 remote-as 65099") == ""
    assert session.execute("neighbor 10.0.0.9 description late") == ""


def test_prefix_list_entries_get_sequence_numbers() -> None:
    device = make_device()
    configure(
        device,
        "ip prefix-list PL permit 10.0.0.0/8 le 24",
        "ip prefix-list PL permit 10.0.0.0/8 le 24",
        "ip prefix-list PL deny 0.0.0.0/0",
        "ip prefix-list PL seq 5 permit 172.16.0.0/12",
    )
    assert [ln for ln in running_lines(device) if ln.startswith("ip prefix-list")] == [
        "ip prefix-list PL seq 5 permit 172.16.0.0/12",
        "ip prefix-list PL seq 10 deny 0.0.0.0/0",
    ]


def test_reject_hook_refuses_matching_config_lines() -> None:
    device = make_device()
    session = CliSession(device, reject=lambda line: line.startswith("description"))
    session.execute("configure terminal")
    session.execute("interface GigabitEthernet1")
    assert session.execute("description blocked").endswith(INVALID_INPUT + "\n")
    assert " description uplink" in section(device, "interface GigabitEthernet1")


# -- exec commands -------------------------------------------------------------------------------


def test_exec_errors_abbreviations_and_pipes() -> None:
    device = make_device()
    session = CliSession(device)
    assert session.execute("show frobnicate") == " " * len("r1#show ") + "^\n" + INVALID_INPUT + "\n"
    assert session.execute("frobnicate") == " " * len("r1#") + "^\n" + INVALID_INPUT + "\n"
    assert session.execute("show") == '% Type "show ?" for a list of subcommands\n'
    assert session.execute("show ip") == "% Incomplete command.\n"
    assert session.execute("sh run").startswith("Building configuration...")
    assert session.execute("show running-config | include ^interface") == (
        "interface Loopback0\ninterface GigabitEthernet1\n"
    )
    assert session.execute("sh run | section router bgp").splitlines()[:2] == [
        "router bgp 65010",
        " bgp log-neighbor-changes",
    ]
    assert session.execute("terminal length 0") == ""
    assert session.execute("terminal width 511") == ""
    assert session.execute("") == ""
    assert session.execute("conf t") == CONFIG_BANNER + "\n"
    assert session.execute("do show run | include ^hostname") == "hostname r1\n"
    assert session.execute("int gi3") == ""
    assert session.prompt == "r1(config-if)#"


def test_running_config_rendering() -> None:
    device = make_device()
    text = device.show_running()
    header, body = text.split("\n", 3)[:3], text.split("\n", 3)[3]
    assert header == ["Building configuration...", "", f"Current configuration : {len(body)} bytes"]
    lines = body.splitlines()
    assert lines[:3] == ["!", "version 17.9", "hostname r1"]
    assert lines[-2:] == ["!", "end"]
    assert section(device, "interface Loopback0") == ["interface Loopback0", " ip address 10.255.0.1 255.255.255.255"]
    for header_line in ("interface Loopback0", "interface GigabitEthernet1", "router bgp 65010"):
        assert lines[lines.index(header_line) - 1] == "!"


def test_write_memory_and_copy_update_startup_config() -> None:
    device = make_device()
    assert "interface Loopback0" in device.show_startup()
    assert device.show_startup().startswith(f"Using {len(device.startup)} out of 33554432 bytes\n")
    session = configure(device, "interface Loopback9", "end")
    assert "interface Loopback9" not in device.startup
    assert session.execute("write memory") == "Building configuration...\n[OK]\n"
    assert device.startup == device.config_text()
    configure(device, "interface Loopback10", "end")
    assert session.execute("copy running-config startup-config") == ""
    assert session.prompt == "Destination filename [startup-config]? "
    assert session.execute("") == "Building configuration...\n[OK]\n"
    assert session.prompt == "r1#"
    assert "interface Loopback10" in device.startup
    configure(device, "interface Loopback11", "end")
    assert session.execute("wr") == "Building configuration...\n[OK]\n"
    assert "interface Loopback11" in device.startup


def test_reload_restores_startup_config_and_uptime() -> None:
    clock = Clock()
    device = make_device(clock=clock)
    configure(device, "interface Loopback9")
    clock.now += 3 * 3600 + 120
    assert "r1 uptime is 3 hours, 2 minutes" in render_version(device)
    device.reload()
    assert "interface Loopback9" not in device.config_text()
    assert "interface Loopback0" in device.config_text()
    assert "r1 uptime is 0 minutes" in render_version(device)


def render_version(device: DeviceState) -> str:
    return CliSession(device).execute("show version")


def test_show_version_and_interface_brief_parse_with_ntc_templates() -> None:
    device = make_device()
    configure(device, "interface GigabitEthernet2", "shutdown")
    version = parse_output(platform="cisco_ios", command="show version", data=render_version(device))
    assert version[0]["hostname"] == "r1"
    assert version[0]["version"] == "17.9.4a"
    assert version[0]["hardware"] == ["C8000V"]
    assert version[0]["serial"][0]
    assert version[0]["uptime"] == "0 minutes"
    brief = CliSession(device).execute("show ip interface brief")
    rows = parse_output(platform="cisco_ios", command="show ip interface brief", data=brief)
    assert [(r["interface"], r["ip_address"], r["status"], r["proto"]) for r in rows] == [
        ("Loopback0", "10.255.0.1", "up", "up"),
        ("GigabitEthernet1", "192.0.2.1", "up", "up"),
        ("GigabitEthernet2", "unassigned", "administratively down", "down"),
    ]


# -- loading and hier_config ---------------------------------------------------------------------


def test_initial_config_is_loaded_and_becomes_startup() -> None:
    device = make_device()
    assert device.startup == device.config_text()
    reloaded = make_device(initial=device.show_running())
    assert reloaded.config_text() == device.config_text()


def test_invalid_initial_config_raises() -> None:
    with pytest.raises(ConfigLoadError, match=r"line 2: 'frobnicate'"):
        make_device(initial="interface Loopback1\n frobnicate\n")


def test_unsupported_platform_is_rejected() -> None:
    with pytest.raises(ValueError, match="unsupported platform"):
        DeviceState(DeviceSpec("sw1", "a", "b", platform="arista_eos"))


def test_hier_config_remediation_converges_on_the_model() -> None:
    device = make_device()
    intended_text = (
        BASE_CONFIG.replace("description uplink", "description to-aws")
        .replace("ip route 0.0.0.0 0.0.0.0 192.0.2.254", "ip route 10.0.0.0 255.0.0.0 192.0.2.254")
        .replace(" neighbor 192.0.2.2 description isp\n", " neighbor 169.254.10.1 remote-as 64512\n")
        .replace("  neighbor 192.0.2.2 activate\n", "  neighbor 169.254.10.1 activate\n")
    ) + "interface Tunnel1\n ip address 169.254.10.2 255.255.255.252\n tunnel source GigabitEthernet1\n"
    intended = get_hconfig(Platform.CISCO_IOS, intended_text)
    pushed = []
    for _ in range(2):
        running = get_hconfig(Platform.CISCO_IOS, device.show_running())
        lines = WorkflowRemediation(running, intended).remediation_config.dump_simple(sectional_exiting=True)
        if not lines:
            break
        pushed.append(lines)
        session = CliSession(device)
        session.execute("configure terminal")
        for line in lines:
            assert session.execute(line) == "", line
    else:
        pytest.fail(f"remediation did not converge: {lines}")
    assert len(pushed) == 1
    assert "no neighbor 192.0.2.2 description isp" in [ln.strip() for ln in pushed[0]]
    assert " description to-aws" in section(device, "interface GigabitEthernet1")
    assert "ip route 0.0.0.0 0.0.0.0 192.0.2.254" not in running_lines(device)


COMMAND_POOL = [
    "interface GigabitEthernet2",
    "interface Gi2.100",
    "interface Tunnel1",
    "description link one",
    "description link two",
    "ip address 10.1.1.1 255.255.255.0",
    "ip address 10.1.2.1 255.255.255.0 secondary",
    "no ip address",
    "shutdown",
    "no shutdown",
    "encapsulation dot1Q 100",
    "tunnel source GigabitEthernet1",
    "router bgp 65010",
    "neighbor 10.0.0.2 remote-as 65020",
    "neighbor 10.0.0.2 description peer",
    "no neighbor 10.0.0.2",
    "address-family ipv4",
    "neighbor 10.0.0.2 activate",
    "exit-address-family",
    "route-map RM permit 10",
    "set local-preference 150",
    "ip prefix-list PL permit 10.0.0.0/8",
    "ip route 10.9.0.0 255.255.0.0 192.0.2.254",
    "no ip route 10.9.0.0 255.255.0.0 192.0.2.254",
    "ip sla 5",
    "icmp-echo 192.0.2.254 source-interface Gi1",
    "frequency 10",
    "crypto ikev2 keyring KR",
    "peer P1",
    "address 203.0.113.1",
    "no interface Tunnel1",
    "hostname edge-9",
    "exit",
    "end",
]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(COMMAND_POOL), max_size=25))
def test_rendered_config_loads_back_to_the_same_config(commands: list[str]) -> None:
    device = make_device()
    session = CliSession(device)
    for command in commands:
        if not session.in_config:
            session.execute("configure terminal")
        session.execute(command)
    text = device.config_text()
    assert make_device(initial=text).config_text() == text
    assert get_hconfig(Platform.CISCO_IOS, device.show_running()).dump_simple()
