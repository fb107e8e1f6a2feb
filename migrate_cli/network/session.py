"""Device sessions over SSH with netmiko, with host keys verified against known_hosts by default."""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko
from netmiko import BaseConnection, ConnectHandler
from netmiko.exceptions import NetmikoAuthenticationException, NetmikoTimeoutException

from migrate_cli.core.errors import ConfigError, OperationFailed
from migrate_cli.core.inventory import Host
from migrate_cli.core.secrets import Secret, reveal_all

DEFAULT_KNOWN_HOSTS = Path("~/.ssh/known_hosts")


@dataclass(frozen=True)
class HostKeyPolicy:
    """How to treat the device's SSH host key. Verifying is the default; trusting new keys is explicit."""

    known_hosts: Path | None = None
    accept_new: bool = False


def _reveal(value: Any) -> Any:
    return value.reveal() if isinstance(value, Secret) else value


def known_hosts_for(host: Host, policy: HostKeyPolicy) -> Path:
    """The known_hosts file: explicit choice, else the inventory's `known_hosts` extra, else ~/.ssh/known_hosts."""
    if policy.known_hosts is not None:
        return policy.known_hosts.expanduser()
    extra = host.connection("netmiko").extras.get("known_hosts")
    return Path(str(extra)).expanduser() if extra else DEFAULT_KNOWN_HOSTS.expanduser()


def fingerprint(key: paramiko.PKey) -> str:
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def remote_host_key(address: str, port: int, timeout: float = 5.0) -> paramiko.PKey:
    """Fetch the server's host key with a bare SSH handshake (no authentication)."""
    transport = paramiko.Transport((address, port))
    try:
        transport.start_client(timeout=timeout)
        return transport.get_remote_server_key()
    finally:
        transport.close()


def _key_name(address: str, port: int) -> str:
    return address if port == 22 else f"[{address}]:{port}"


def _check_known(address: str, port: int, known_hosts: Path, host_name: str, accept_new: bool) -> None:
    """Refuse a device whose key changed, or is unknown unless `accept_new`, naming its fingerprint."""
    try:
        offered = remote_host_key(address, port)
    except (OSError, paramiko.SSHException) as exc:
        raise OperationFailed(f"{host_name}: cannot reach SSH at {address}:{port}: {exc}") from exc
    known = paramiko.HostKeys()
    if known_hosts.is_file():
        known.load(str(known_hosts))
    entry = known.lookup(_key_name(address, port))
    expected = entry.get(offered.get_name()) if entry else None
    if expected is None and accept_new:
        return
    if expected is None:
        raise OperationFailed(
            f"{host_name}: host key {offered.get_name()} {fingerprint(offered)} for {_key_name(address, port)} "
            f"is not in {known_hosts}; verify it and add it, or use --accept-new-host-keys"
        )
    if expected != offered:
        raise OperationFailed(
            f"{host_name}: HOST KEY CHANGED for {_key_name(address, port)}: offered {fingerprint(offered)}, "
            f"{known_hosts} has {fingerprint(expected)}; refusing to connect"
        )


def connect(host: Host, policy: HostKeyPolicy | None = None, timeout: float = 20.0) -> BaseConnection:
    """Open a netmiko session to an inventory host (secrets are revealed here and only here)."""
    policy = policy or HostKeyPolicy()
    opts = host.connection("netmiko")
    if not opts.platform:
        raise ConfigError(f"host {host.name}: no platform set (e.g. cisco_ios)", *host.source)
    address = opts.hostname or host.name
    port = int(opts.port or 22)
    known_hosts = known_hosts_for(host, policy)
    _check_known(address, port, known_hosts, host.name, policy.accept_new)
    extras = {k: reveal_all(v) for k, v in opts.extras.items() if k != "known_hosts"}
    params: dict[str, Any] = {
        "device_type": opts.platform,
        "host": address,
        "port": port,
        "username": opts.username,
        "password": _reveal(opts.password),
        "ssh_strict": not policy.accept_new,
        "system_host_keys": False,
        "alt_host_keys": known_hosts.is_file(),
        "alt_key_file": str(known_hosts),
        "allow_agent": False,
        "use_keys": False,
        "conn_timeout": timeout,
        "auth_timeout": timeout,
        "banner_timeout": timeout,
        **extras,
    }
    try:
        conn = ConnectHandler(**params)
    except NetmikoAuthenticationException as exc:
        raise OperationFailed(f"{host.name}: authentication failed for user {opts.username}") from exc
    except NetmikoTimeoutException as exc:
        raise OperationFailed(f"{host.name}: timed out connecting to {address}:{port}") from exc
    except paramiko.SSHException as exc:
        raise OperationFailed(f"{host.name}: SSH to {address}:{port} failed: {exc}") from exc
    if policy.accept_new:
        _record_new_key(conn, known_hosts)
    return conn


def _record_new_key(conn: BaseConnection, known_hosts: Path) -> None:
    """Trust on first use: save what paramiko accepted to the known_hosts file (an explicit choice)."""
    known_hosts.parent.mkdir(parents=True, exist_ok=True)
    client = conn.remote_conn_pre
    if isinstance(client, paramiko.SSHClient):
        client.save_host_keys(str(known_hosts))
        os.chmod(known_hosts, 0o600)
