"""Device sessions over SSH with netmiko, with host keys verified against known_hosts by default."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko
from netmiko import BaseConnection, ConnectHandler
from netmiko.exceptions import NetmikoAuthenticationException, NetmikoTimeoutException
from netmiko.session_log import SessionLog

from migrate_cli.core.errors import ConfigError, OperationFailed
from migrate_cli.core.inventory import Host
from migrate_cli.core.secrets import Secret, reveal_all

DEFAULT_KNOWN_HOSTS = Path("~/.ssh/known_hosts")

# A device that closes the session after `exit` makes paramiko's client transport log the reset at ERROR;
# without a handler of its own that reaches stderr through logging's last resort. Keep it quiet (an
# application that configures logging still receives it through propagation).
logging.getLogger("paramiko.transport").addHandler(logging.NullHandler())


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


def connect(
    host: Host,
    policy: HostKeyPolicy | None = None,
    timeout: float = 20.0,
    session_log: Path | None = None,
    fast: bool = False,
) -> BaseConnection:
    """Open a netmiko session to an inventory host (secrets are revealed here and only here).

    With `session_log`, everything read from the device is appended to that file, masked (see
    `MaskedSessionLog`).

    `fast` (cisco_ios/cisco_xe): the session comes back privileged, prepared without netmiko's fixed
    sleeps (`fast_prepare`), and the host key is checked by paramiko itself during the handshake
    (unknown and changed keys are refused before authentication); only when it refuses is the key
    fetched again to name its fingerprint. Otherwise the key is checked first with a bare handshake."""
    policy = policy or HostKeyPolicy()
    opts = host.connection("netmiko")
    if not opts.platform:
        raise ConfigError(f"host {host.name}: no platform set (e.g. cisco_ios)", *host.source)
    address = opts.hostname or host.name
    port = int(opts.port or 22)
    known_hosts = known_hosts_for(host, policy)
    fast = fast and opts.platform in FAST_PLATFORMS
    if not fast:
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
    if session_log is not None:
        params["session_log"] = MaskedSessionLog(session_log)
    try:
        if fast:
            conn = ConnectHandler(**params, auto_connect=False)
            try:
                conn.establish_connection()
                fast_prepare(conn, timeout)
            except BaseException:
                conn.disconnect()
                raise
        else:
            conn = ConnectHandler(**params)
    except NetmikoAuthenticationException as exc:  # a paramiko.SSHException: caught first
        raise OperationFailed(f"{host.name}: authentication failed for user {opts.username}") from exc
    except NetmikoTimeoutException as exc:
        if fast:  # unreachable: say so as the key check would
            _check_known(address, port, known_hosts, host.name, policy.accept_new)
        raise OperationFailed(f"{host.name}: timed out connecting to {address}:{port}") from exc
    except paramiko.SSHException as exc:
        if fast:  # name the fingerprint of a refused key (raises), else report the SSH error below
            _check_known(address, port, known_hosts, host.name, policy.accept_new)
        raise OperationFailed(f"{host.name}: SSH to {address}:{port} failed: {exc}") from exc
    if policy.accept_new:
        _record_new_key(conn, known_hosts, _key_name(address, port))
    return conn


_KNOWN_HOSTS_LOCK = threading.Lock()


def _record_new_key(conn: BaseConnection, known_hosts: Path, name: str) -> None:
    """Trust on first use: add the key paramiko accepted to the known_hosts file (an explicit choice).

    Devices connect in parallel: each adds its own entry to what the file holds now, under a lock."""
    client = conn.remote_conn_pre
    transport = client.get_transport() if isinstance(client, paramiko.SSHClient) else None
    if transport is None:
        return
    key = transport.get_remote_server_key()
    with _KNOWN_HOSTS_LOCK:
        known_hosts.parent.mkdir(parents=True, exist_ok=True)
        known = paramiko.HostKeys()
        if known_hosts.is_file():
            known.load(str(known_hosts))
        entry = known.lookup(name)
        if entry is None or entry.get(key.get_name()) != key:
            known.add(name, key.get_name(), key)
            known.save(str(known_hosts))
        os.chmod(known_hosts, 0o600)


FAST_PLATFORMS = frozenset({"cisco_ios", "cisco_xe"})
_PROMPT_END = re.compile(r"[>#]\s*$")


def fast_prepare(conn: BaseConnection, timeout: float) -> None:
    """What netmiko's cisco session_preparation and enable() do, reading on events instead of sleeping:
    find the prompt, `terminal width 511`, `terminal length 0`, and `enable` (with the secret) when the
    login lands in user mode. Leaves `conn.base_prompt` set like netmiko does."""
    from migrate_cli.network.device import read_until

    conn.write_channel(conn.RETURN)
    output = read_until(conn, lambda b: bool(_PROMPT_END.search(b)), timeout, "the first prompt")
    prompt = output.strip().splitlines()[-1].strip()
    conn.base_prompt = prompt[:-1]
    # Each read ends at the echo of the last command sent and the prompt after it, so an extra prompt
    # answering the RETURN above is consumed here instead of being taken for a later answer.
    after = re.compile(rf"terminal length 0[^\n]*\n(?:.*\n)*{re.escape(conn.base_prompt)}[>#]\s*$")
    conn.write_channel(f"terminal width 511{conn.RETURN}terminal length 0{conn.RETURN}")
    read_until(conn, lambda b: bool(after.search(b)), timeout, "terminal settings")
    if prompt.endswith(">"):
        conn.write_channel("enable" + conn.RETURN)
        asked = re.compile(r"enable[^\n]*\n(?:.*\n)*(?:[Pp]assword:|[>#])\s*$")
        answer = read_until(conn, lambda b: bool(asked.search(b)), timeout, "enable")
        if re.search(r"[Pp]assword:\s*$", answer):
            conn.write_channel((conn.secret or "") + conn.RETURN)
            answer = read_until(conn, lambda b: bool(_PROMPT_END.search(b)), timeout, "the enable secret")
        if not answer.rstrip().endswith(conn.base_prompt + "#"):
            raise OperationFailed(f"enable failed on {conn.base_prompt}: check the enable secret")


class MaskedSessionLog(SessionLog):
    """A netmiko session log that writes whole lines only, each with every secret masked.

    Registered secrets (anything revealed in this process: device passwords, PSKs, MD5 keys) and values
    in secret positions of configuration lines (`password`, `pre-shared-key`, ...) become ********.
    Holding back the unfinished last line means a secret split across two reads is still masked whole.
    The file is created 0600.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(file_name=str(path), file_mode="append")
        self.path = path
        self._pending = ""

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.session_log = os.fdopen(fd, "w", encoding=self.file_encoding)
        self._session_log_close = True

    def write(self, data: str) -> None:
        self._pending += data
        head, sep, tail = self._pending.rpartition("\n")
        if sep:
            self._pending = tail
            self._emit(head + sep)

    def flush(self) -> None:
        """Complete lines are written as they arrive; the unfinished line waits for its end."""

    def _emit(self, text: str) -> None:
        from migrate_cli.network.redact import redact

        if self.session_log is not None and text:
            self.session_log.write(redact(text))
            self.session_log.flush()

    def close(self) -> None:
        self._emit(self._pending)
        self._pending = ""
        if self.session_log is not None and self._session_log_close:
            self.session_log.close()
            self.session_log = None
