"""Simulated network devices for the lab: an IOS-like CLI served over real SSH on 127.0.0.1."""

from .faults import DeviceFaults
from .ios_model import CliSession, ConfigLoadError, DeviceSpec, DeviceState
from .ios_oper import RemotePeer, WorldConditions
from .ssh_server import (
    DeviceFleet,
    SimulatedDevice,
    generate_host_key,
    known_hosts_line,
    load_or_create_host_key,
)

__all__ = [
    "CliSession",
    "ConfigLoadError",
    "DeviceFaults",
    "DeviceFleet",
    "DeviceSpec",
    "DeviceState",
    "RemotePeer",
    "SimulatedDevice",
    "WorldConditions",
    "generate_host_key",
    "known_hosts_line",
    "load_or_create_host_key",
]
