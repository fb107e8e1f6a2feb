"""Simulated devices over real SSH on 127.0.0.1, driven by netmiko and paramiko clients."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paramiko
import pytest
from hier_config import Platform, WorkflowRemediation, get_hconfig
from netmiko import BaseConnection, ConnectHandler
from netmiko.exceptions import ConfigInvalidException, NetmikoAuthenticationException, ReadTimeout

from migrate_cli.lab.devices import DeviceFleet, DeviceSpec, SimulatedDevice

INITIAL = """\
interface Loopback0
 ip address 10.255.0.1 255.255.255.255
interface GigabitEthernet1
 description old uplink
 ip address 192.0.2.1 255.255.255.0
 negotiation auto
interface GigabitEthernet3
 description to be removed
 ip address 198.51.100.1 255.255.255.0
router bgp 65010
 bgp log-neighbor-changes
 neighbor 192.0.2.2 remote-as 65020
 neighbor 192.0.2.2 description old-peer
 neighbor 192.0.2.9 remote-as 65099
 address-family ipv4
  network 10.255.0.1 mask 255.255.255.255
  neighbor 192.0.2.2 activate
  neighbor 192.0.2.9 activate
 exit-address-family
ip route 0.0.0.0 0.0.0.0 192.0.2.254
ip route 10.99.0.0 255.255.0.0 192.0.2.254
"""

INTENDED = """\
hostname edge1
crypto ikev2 proposal AWS-PROP
 encryption aes-cbc-256
 integrity sha256
 group 14
crypto ikev2 policy AWS-POL
 proposal AWS-PROP
crypto ikev2 keyring AWS-KR
 peer AWS-T1
  address 203.0.113.10
  pre-shared-key local s3cret
  pre-shared-key remote s3cret
crypto ikev2 profile AWS-PROF
 match identity remote address 203.0.113.10 255.255.255.255
 identity local address 192.0.2.1
 authentication remote pre-share
 authentication local pre-share
 keyring local AWS-KR
 dpd 10 3 periodic
crypto ipsec transform-set AWS-TS esp-aes 256 esp-sha256-hmac
 mode tunnel
crypto ipsec profile AWS-IPSEC
 set transform-set AWS-TS
 set ikev2-profile AWS-PROF
 set pfs group14
interface Loopback0
 ip address 10.255.0.1 255.255.255.255
interface Tunnel1
 description AWS tunnel 1
 ip address 169.254.10.2 255.255.255.252
 ip tcp adjust-mss 1379
 tunnel source GigabitEthernet1
 tunnel destination 203.0.113.10
 tunnel mode ipsec ipv4
 tunnel protection ipsec profile AWS-IPSEC
 bfd interval 300 min_rx 300 multiplier 3
interface GigabitEthernet1
 description new uplink
 ip address 192.0.2.1 255.255.255.0
 negotiation auto
interface GigabitEthernet2.100
 encapsulation dot1Q 100
 ip address 172.16.100.1 255.255.255.0
router bgp 65010
 bgp router-id 10.255.0.1
 bgp log-neighbor-changes
 neighbor 192.0.2.2 remote-as 65020
 neighbor 192.0.2.2 description new-peer
 neighbor 169.254.10.1 remote-as 64512
 neighbor 169.254.10.1 timers 10 30 30
 neighbor 169.254.10.1 fall-over bfd
 address-family ipv4
  network 10.255.0.1 mask 255.255.255.255
  neighbor 192.0.2.2 activate
  neighbor 169.254.10.1 activate
  neighbor 169.254.10.1 route-map AWS-IN in
  neighbor 169.254.10.1 soft-reconfiguration inbound
 exit-address-family
ip route 0.0.0.0 0.0.0.0 192.0.2.254
ip prefix-list AWS-PL seq 5 permit 10.0.0.0/8 le 24
ip sla 10
 icmp-echo 203.0.113.10 source-interface GigabitEthernet1
 frequency 5
ip sla schedule 10 life forever start-time now
track 10 ip sla 10 reachability
route-map AWS-IN permit 10
 match ip address prefix-list AWS-PL
 set local-preference 200
route-map AWS-IN permit 20
 set as-path prepend 65010 65010
line vty 0 4
 login local
 transport input ssh
ntp server 192.0.2.123
"""


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[DeviceFleet]:
    specs = [
        DeviceSpec("edge1", "admin", "pw1", enable_secret="en4ble", initial_config=INITIAL),
        DeviceSpec("edge2", "netops", "pw2"),
    ]
    devices = DeviceFleet(specs, tmp_path / "keys")
    devices.start()
    devices.write_known_hosts(tmp_path / "known_hosts")
    yield devices
    devices.stop()


def connect(device: SimulatedDevice, known_hosts: Path, **overrides: Any) -> BaseConnection:
    params: dict[str, Any] = {
        "device_type": "cisco_ios",
        "host": "127.0.0.1",
        "port": device.port,
        "username": device.spec.username,
        "password": device.spec.password,
        "secret": device.spec.enable_secret or "",
        "ssh_strict": True,
        "system_host_keys": False,
        "alt_host_keys": True,
        "alt_key_file": str(known_hosts),
        "conn_timeout": 5,
    }
    params.update(overrides)
    return ConnectHandler(**params)


def test_connect_enable_and_show_version_parsed_by_textfsm(fleet: DeviceFleet, tmp_path: Path) -> None:
    device = fleet.devices["edge1"]
    with connect(device, tmp_path / "known_hosts") as conn:
        assert conn.find_prompt() == "edge1>"
        conn.enable()
        assert conn.find_prompt() == "edge1#"
        parsed = conn.send_command("show version", use_textfsm=True)
    assert isinstance(parsed, list)
    assert parsed[0]["hostname"] == "edge1"
    assert parsed[0]["version"] == "17.9.4a"
    assert parsed[0]["hardware"] == ["C8000V"]
    assert parsed[0]["serial"] and parsed[0]["serial"][0]
    assert parsed[0]["uptime"].endswith("minutes")
    assert device.commands_received[:2] == ["terminal width 511", "terminal length 0"]
    assert "en4ble" not in device.commands_received


def test_send_config_set_and_save_config(fleet: DeviceFleet, tmp_path: Path) -> None:
    device = fleet.devices["edge2"]
    with connect(device, tmp_path / "known_hosts") as conn:
        assert conn.find_prompt() == "edge2#"
        conn.config_mode()
        assert conn.check_config_mode()
        conn.exit_config_mode()
        assert not conn.check_config_mode()
        output = conn.send_config_set(
            ["interface Loopback7", "description lab loopback", "ip address 10.7.7.7 255.255.255.255"]
        )
        assert "edge2(config-if)#" in output
        assert not conn.check_config_mode()
        assert "interface Loopback7" not in device.startup_config()
        assert "[OK]" in conn.save_config()
        running = conn.send_command("show running-config")
        startup = conn.send_command("show startup-config")
        brief = conn.send_command("show ip interface brief", use_textfsm=True)
    for text in (running, startup, device.running_config(), device.startup_config()):
        assert "interface Loopback7\n description lab loopback\n ip address 10.7.7.7 255.255.255.255\n" in text
    assert brief == [{"interface": "Loopback7", "ip_address": "10.7.7.7", "status": "up", "proto": "up"}]


def test_hier_config_remediation_round_trip_converges(fleet: DeviceFleet, tmp_path: Path) -> None:
    device = fleet.devices["edge1"]
    intended = get_hconfig(Platform.CISCO_IOS, INTENDED)
    with connect(device, tmp_path / "known_hosts") as conn:
        conn.enable()
        running = get_hconfig(Platform.CISCO_IOS, conn.send_command("show running-config"))
        remediation = WorkflowRemediation(running, intended).remediation_config
        lines = list(remediation.dump_simple(sectional_exiting=True))
        assert "no interface GigabitEthernet3" in lines
        assert len(lines) > 50
        conn.send_config_set(lines, error_pattern=r"^% ")
        running_after = get_hconfig(Platform.CISCO_IOS, conn.send_command("show running-config"))
    assert not WorkflowRemediation(running_after, intended).remediation_config.dump_simple()
    text = device.running_config()
    assert "interface GigabitEthernet3" not in text
    assert "ip route 10.99.0.0 255.255.0.0 192.0.2.254" not in text
    assert " neighbor 192.0.2.9" not in text
    assert "  neighbor 169.254.10.1 route-map AWS-IN in\n" in text


def test_invalid_command_raises_with_error_pattern(fleet: DeviceFleet, tmp_path: Path) -> None:
    device = fleet.devices["edge2"]
    with connect(device, tmp_path / "known_hosts") as conn:
        with pytest.raises(ConfigInvalidException, match="frobnicate"):
            conn.send_config_set(["interface Loopback3", "frobnicate 1"], error_pattern=r"% Invalid")
        conn.exit_config_mode()
        output = conn.send_config_set(["interface Loopback3", "frobnicate 1"])
    assert "% Invalid input detected at '^' marker." in output
    assert "frobnicate" not in device.running_config()


def test_reject_patterns_refuse_matching_commands(fleet: DeviceFleet, tmp_path: Path) -> None:
    device = fleet.devices["edge2"]
    device.faults.reject_patterns = [r"^ip route 10\."]
    with connect(device, tmp_path / "known_hosts") as conn:
        conn.send_config_set(["ip route 192.168.0.0 255.255.0.0 10.0.0.1"], error_pattern=r"% Invalid")
        with pytest.raises(ConfigInvalidException):
            conn.send_config_set(["ip route 10.1.0.0 255.255.0.0 10.0.0.1"], error_pattern=r"% Invalid")
    assert "ip route 192.168.0.0 255.255.0.0 10.0.0.1" in device.running_config()
    assert "ip route 10.1.0.0" not in device.running_config()


def test_delay_seconds_slows_every_command(fleet: DeviceFleet, tmp_path: Path) -> None:
    device = fleet.devices["edge2"]
    with connect(device, tmp_path / "known_hosts") as conn:
        start = time.monotonic()
        conn.send_command("show ip interface brief")
        fast = time.monotonic() - start
        device.faults.delay_seconds = 0.6
        start = time.monotonic()
        output = conn.send_command("show version")
        slow = time.monotonic() - start
    assert "edge2 uptime is" in output
    assert slow >= 0.6 > fast


def test_drop_after_commands_closes_the_session_mid_push(fleet: DeviceFleet, tmp_path: Path) -> None:
    device = fleet.devices["edge2"]
    device.faults.drop_after_commands = 2
    conn = connect(device, tmp_path / "known_hosts")
    try:
        # netmiko only notices the drop through a failed write or a read timeout.
        with pytest.raises((ReadTimeout, OSError)):
            conn.send_config_set(
                ["interface Loopback5", "description first", "description second", "shutdown"],
                read_timeout=2,
            )
    finally:
        conn.disconnect()
    text = device.running_config()
    assert "interface Loopback5\n description first\n" in text
    assert "second" not in text
    device.faults.drop_after_commands = None
    with connect(device, tmp_path / "known_hosts") as conn:
        conn.send_config_set(["interface Loopback5", "description second"])
    assert " description second" in device.running_config()


def test_fail_auth_and_wrong_password_are_refused(fleet: DeviceFleet, tmp_path: Path) -> None:
    device = fleet.devices["edge2"]
    with pytest.raises(NetmikoAuthenticationException):
        connect(device, tmp_path / "known_hosts", password="wrong")
    device.faults.fail_auth = True
    with pytest.raises(NetmikoAuthenticationException):
        connect(device, tmp_path / "known_hosts")
    device.faults.fail_auth = False
    with connect(device, tmp_path / "known_hosts") as conn:
        assert conn.find_prompt() == "edge2#"


def test_unknown_host_key_is_refused(fleet: DeviceFleet, tmp_path: Path) -> None:
    only_edge1 = tmp_path / "known_hosts_edge1"
    only_edge1.write_text(fleet.known_hosts_lines()[0] + "\n")
    with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
        connect(fleet.devices["edge2"], only_edge1)
    with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
        connect(fleet.devices["edge2"], tmp_path / "missing_known_hosts")


def test_changed_host_key_is_refused(fleet: DeviceFleet, tmp_path: Path) -> None:
    device = fleet.devices["edge2"]
    old_key = device.host_key.get_base64()
    fleet.rotate_host_key("edge2")
    assert device.host_key.get_base64() != old_key
    with pytest.raises(paramiko.SSHException, match="does not match"):
        connect(device, tmp_path / "known_hosts")
    fleet.write_known_hosts(tmp_path / "known_hosts_rotated")
    with connect(device, tmp_path / "known_hosts_rotated") as conn:
        assert conn.find_prompt() == "edge2#"


def test_host_keys_persist_in_key_dir(fleet: DeviceFleet, tmp_path: Path) -> None:
    lines = (tmp_path / "known_hosts").read_text().splitlines()
    assert all(line.startswith("[127.0.0.1]:") and " ecdsa-sha2-nistp256 " in line for line in lines)
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == ["edge1.key", "edge2.key"]
    again = DeviceFleet([d.spec for d in fleet.devices.values()], tmp_path / "keys")
    for name, device in fleet.devices.items():
        assert again.devices[name].host_key.get_base64() == device.host_key.get_base64()


def test_restart_reloads_startup_config_on_the_same_port(fleet: DeviceFleet, tmp_path: Path) -> None:
    device = fleet.devices["edge2"]
    port = device.port
    with connect(device, tmp_path / "known_hosts") as conn:
        conn.send_config_set(["interface Loopback1"])
        conn.save_config()
        conn.send_config_set(["interface Loopback2"])
    device.stop()
    device.stop()
    assert device.start() == port
    assert "interface Loopback1" in device.running_config()
    assert "interface Loopback2" not in device.running_config()
    with connect(device, tmp_path / "known_hosts") as conn:
        assert conn.find_prompt() == "edge2#"


def test_exec_request_and_raw_shell(fleet: DeviceFleet) -> None:
    device = fleet.devices["edge1"]
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(
        "127.0.0.1", port=device.port, username="admin", password="pw1", look_for_keys=False, allow_agent=False
    )
    try:
        _, stdout, _ = client.exec_command("show ip interface brief")
        assert "Loopback0              10.255.0.1      YES manual up" in stdout.read().decode()
        assert stdout.channel.recv_exit_status() == 0
        _, stdout, _ = client.exec_command("show running-config")
        assert "% Invalid input detected" in stdout.read().decode()
        assert stdout.channel.recv_exit_status() == 1

        shell = client.invoke_shell()
        shell.settimeout(5)
        assert read_until(shell, "edge1>").endswith("edge1>")
        shell.sendall(b"enable\n")
        assert read_until(shell, "Password: ").endswith("enable\r\nPassword: ")
        shell.sendall(b"en4ble\n")
        assert read_until(shell, "edge1#") == "\r\nedge1#"
        shell.sendall(b"conf t\ninterface Loopback9\x1a")
        assert read_until(shell, "edge1#").endswith("interface Loopback9^Z\r\nedge1(config-if)#\r\nedge1#")
        shell.sendall(b"exit\n")
        read_until(shell, "exit\r\n")
    finally:
        client.close()
    assert "interface Loopback9" in device.running_config()


def read_until(channel: paramiko.Channel, marker: str) -> str:
    data = ""
    deadline = time.monotonic() + 5
    while not data.endswith(marker) and time.monotonic() < deadline:
        data += channel.recv(4096).decode()
    return data


def test_many_devices_concurrently(tmp_path: Path) -> None:
    specs = [DeviceSpec(f"site{i}", "admin", f"pw{i}", initial_config=INITIAL) for i in range(6)]
    errors: list[Exception] = []
    results: dict[str, str] = {}
    with DeviceFleet(specs, tmp_path / "keys") as fleet:
        fleet.write_known_hosts(tmp_path / "known_hosts")
        targets = list(fleet.devices.values()) + [fleet.devices["site0"]]

        def work(index: int, device: SimulatedDevice) -> None:
            try:
                with connect(device, tmp_path / "known_hosts") as conn:
                    conn.send_config_set([f"interface Loopback{100 + index}", f"description worker {index}"])
                    results[f"{device.spec.name}/{index}"] = conn.send_command("show running-config")
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i, d)) for i, d in enumerate(targets)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
        assert not errors
        assert len(results) == len(targets)
        for index, device in enumerate(targets):
            assert f"interface Loopback{100 + index}\n description worker {index}\n" in device.running_config()
        assert "description worker 6" in fleet.devices["site0"].running_config()
