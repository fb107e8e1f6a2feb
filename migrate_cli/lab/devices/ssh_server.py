"""Simulated network devices speaking real SSH on 127.0.0.1 (paramiko server side).

Each `SimulatedDevice` owns one listening socket and serves every connection in its own
thread: password authentication, then an interactive shell (what netmiko uses) or exec
requests, both driven by the pure CLI model in `ios_model`.
"""

from __future__ import annotations

import codecs
import contextlib
import hmac
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import paramiko

from .faults import DeviceFaults
from .ios_model import CliSession, DeviceSpec, DeviceState
from .ios_oper import RemotePeer

log = logging.getLogger(__name__)
# paramiko logs peer resets (e.g. a client refusing our host key) at ERROR; keep them in our
# namespace and out of the last-resort stderr handler when the application configured none.
_TRANSPORT_LOG = f"{__name__}.transport"
logging.getLogger(_TRANSPORT_LOG).addHandler(logging.NullHandler())

LISTEN_HOST = "127.0.0.1"
_POLL_SECONDS = 0.2
# What paramiko raises when the peer has gone away mid-conversation.
_PEER_GONE = (EOFError, OSError, paramiko.SSHException)
_REQUEST_TIMEOUT = 10.0


def generate_host_key() -> paramiko.PKey:
    """A fresh ECDSA P-256 host key: generated in milliseconds, verified by paramiko clients."""
    return paramiko.ECDSAKey.generate()


def load_or_create_host_key(path: Path) -> paramiko.PKey:
    """Load the host key stored at `path`, creating it (mode 0600) on first use."""
    if path.exists():
        return paramiko.PKey.from_path(path)
    key = generate_host_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    key.write_private_key_file(str(tmp))
    os.replace(tmp, path)
    return key


def known_hosts_line(port: int, key: paramiko.PKey) -> str:
    """OpenSSH known_hosts entry for a device listening on 127.0.0.1:`port`."""
    return f"[{LISTEN_HOST}]:{port} {key.get_name()} {key.get_base64()}"


class _SshServer(paramiko.ServerInterface):
    """paramiko callbacks for one connection: password auth, session channels, requests."""

    def __init__(self, device: SimulatedDevice) -> None:
        self._device = device
        self._requests: dict[int, tuple[str, str]] = {}
        self._changed = threading.Condition()

    def get_allowed_auths(self, username: str) -> str:
        return "password"

    def check_auth_password(self, username: str, password: str) -> int:
        spec = self._device.spec
        if self._device.faults.fail_auth:
            return paramiko.AUTH_FAILED
        user_ok = hmac.compare_digest(username.encode(), spec.username.encode())
        password_ok = hmac.compare_digest(password.encode(), spec.password.encode())
        return paramiko.AUTH_SUCCESSFUL if user_ok and password_ok else paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_pty_request(self, *args: object) -> bool:
        return True

    def check_channel_window_change_request(self, *args: object) -> bool:
        return True

    def check_channel_shell_request(self, channel: paramiko.Channel) -> bool:
        self._record(channel, "shell", "")
        return True

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        self._record(channel, "exec", command.decode("utf-8", "replace"))
        return True

    def _record(self, channel: paramiko.Channel, kind: str, command: str) -> None:
        with self._changed:
            self._requests[channel.get_id()] = (kind, command)
            self._changed.notify_all()

    def wait_request(self, channel: paramiko.Channel, timeout: float) -> tuple[str, str] | None:
        """The shell/exec request made on `channel`, or None if none came in time."""
        with self._changed:
            self._changed.wait_for(lambda: channel.get_id() in self._requests, timeout)
            return self._requests.pop(channel.get_id(), None)


class SimulatedDevice:
    """One simulated router: an SSH listener on 127.0.0.1 in front of an IOS-like CLI."""

    def __init__(self, spec: DeviceSpec, host_key: paramiko.PKey) -> None:
        self.spec = spec
        self.faults = DeviceFaults()
        self.host_key = host_key
        self.port = 0
        self.commands_received: list[str] = []
        self._state = DeviceState(spec, conditions=self.faults)
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._listener: socket.socket | None = None
        self._threads: set[threading.Thread] = set()
        self._transports: set[paramiko.Transport] = set()
        self._booted = False

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> int:
        """Listen on 127.0.0.1 and serve in daemon threads; return the port.

        A restart after `stop()` is a reload: the running config is rebuilt from
        startup-config and the previous port is reused when it is still free.
        """
        with self._lock:
            if self._listener is not None:
                return self.port
            if self._booted:
                self._state.reload()
            self._booted = True
            self._stopping.clear()
            self._listener = self._bind()
            self._spawn(self._accept_loop, self._listener, name=f"lab-{self.spec.name}-accept")
            return self.port

    def stop(self) -> None:
        """Close the listener and every session; safe to call more than once."""
        with self._lock:
            listener, self._listener = self._listener, None
            self._stopping.set()
            transports = list(self._transports)
            threads = list(self._threads)
        if listener is not None:
            listener.close()
        for transport in transports:
            transport.close()
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(timeout=5)

    def _bind(self) -> socket.socket:
        if self.port:
            try:
                return self._listen(self.port)
            except OSError:
                log.debug("%s: port %d taken, using a new one", self.spec.name, self.port)
        return self._listen(0)

    def _listen(self, port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((LISTEN_HOST, port))
            sock.listen(64)
        except OSError:
            sock.close()
            raise
        sock.settimeout(_POLL_SECONDS)
        self.port = sock.getsockname()[1]
        return sock

    def _spawn(self, target: Callable[..., None], *args: object, name: str) -> None:
        def run() -> None:
            try:
                target(*args)
            finally:
                with self._lock:
                    self._threads.discard(threading.current_thread())

        thread = threading.Thread(target=run, name=name, daemon=True)
        with self._lock:
            self._threads.add(thread)
        thread.start()

    # -- state ---------------------------------------------------------------------------

    def running_config(self) -> str:
        """Running configuration text (`!` ... `end`, as `show running-config` prints it)."""
        with self._lock:
            return self._state.config_text()

    def startup_config(self) -> str:
        """Startup configuration text (what `write memory` saved)."""
        with self._lock:
            return self._state.startup

    def set_peer(self, peer: RemotePeer) -> None:
        """Declare (or replace) the simulated far end at `peer.address` (e.g. the AWS side of a session)."""
        with self._lock:
            self._state.peers[peer.address] = peer

    def show(self, command: str) -> str:
        """Run an exec command on the device's CLI model directly (for tests and the lab's own checks)."""
        with self._lock:
            return CliSession(self._state, privileged=True).execute(command)

    def set_host_key(self, key: paramiko.PKey) -> None:
        """Present `key` to new connections (simulates a replaced or re-keyed device)."""
        self.host_key = key

    # -- connections ---------------------------------------------------------------------

    def _accept_loop(self, listener: socket.socket) -> None:
        count = 0
        while not self._stopping.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self._stopping.is_set():
                client.close()
                return
            client.settimeout(None)
            # Echo and answer are separate small writes: without NODELAY, Nagle + delayed ACK
            # would add ~40 ms to every command.
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            count += 1
            self._spawn(self._serve, client, name=f"lab-{self.spec.name}-conn{count}")

    def _serve(self, client: socket.socket) -> None:
        try:
            transport = paramiko.Transport(client)
        except _PEER_GONE:
            client.close()
            return
        transport.set_log_channel(_TRANSPORT_LOG)
        with self._lock:
            if self._stopping.is_set():
                transport.close()
                return
            self._transports.add(transport)
        try:
            transport.add_server_key(self.host_key)
            server = _SshServer(self)
            transport.start_server(server=server)
            self._serve_channels(transport, server)
        except _PEER_GONE as exc:
            log.debug("%s: connection ended: %r", self.spec.name, exc)
        finally:
            transport.close()
            with self._lock:
                self._transports.discard(transport)

    def _serve_channels(self, transport: paramiko.Transport, server: _SshServer) -> None:
        while transport.is_active() and not self._stopping.is_set():
            channel = transport.accept(_POLL_SECONDS)
            if channel is None:
                continue
            request = server.wait_request(channel, _REQUEST_TIMEOUT)
            if request is None:
                _close(channel)
                continue
            kind, command = request
            if kind == "shell":
                self._run_shell(channel, transport)
                return
            self._run_exec(channel, command)

    def _new_session(self) -> CliSession:
        return CliSession(self._state, reject=lambda line: self.faults.rejects(line))

    def _execute(self, session: CliSession, line: str) -> str:
        """Log, delay and run one input line; returns output with CRLF line ends."""
        command = line.strip()
        if command and session.echo_input:
            self.commands_received.append(command)
            if self.faults.delay_seconds > 0:
                time.sleep(self.faults.delay_seconds)
        with self._lock:
            output = session.execute(line)
        return output.replace("\n", "\r\n")

    def _run_exec(self, channel: paramiko.Channel, command: str) -> None:
        session = self._new_session()
        outputs: list[str] = []
        for line in command.splitlines() or [""]:
            outputs.append(self._execute(session, line))
            if session.closed:
                break
        failed = any(ln.startswith("%") for out in outputs for ln in out.split("\r\n"))
        try:
            channel.sendall("".join(outputs).encode())
            channel.send_exit_status(1 if failed else 0)
        finally:
            _close(channel)

    def _run_shell(self, channel: paramiko.Channel, transport: paramiko.Transport) -> None:
        try:
            _Shell(self, self._new_session(), channel, transport).run()
        finally:
            _close(channel)


def _close(channel: paramiko.Channel) -> None:
    with contextlib.suppress(*_PEER_GONE):
        channel.close()


class _Shell:
    """Terminal side of an interactive session: echo, line editing, faults."""

    def __init__(
        self,
        device: SimulatedDevice,
        session: CliSession,
        channel: paramiko.Channel,
        transport: paramiko.Transport,
    ) -> None:
        self.device = device
        self.session = session
        self.channel = channel
        self.transport = transport
        self.config_commands = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def run(self) -> None:
        self.channel.settimeout(_POLL_SECONDS)
        self.send("\r\n" + self.session.prompt)
        line: list[str] = []
        skip_lf = False
        while (data := self._recv()) is not None:
            echo: list[str] = []
            for ch in data:
                if skip_lf and ch == "\n":
                    skip_lf = False
                    continue
                skip_lf = ch == "\r"
                if ch in "\r\n\x1a\x03":
                    self.send("".join(echo))
                    echo.clear()
                    text = "".join(line)
                    line.clear()
                    if not self._control(ch, text):
                        return
                elif ch in "\x08\x7f":
                    if line:
                        line.pop()
                        if self.session.echo_input:
                            echo.append("\x08 \x08")
                elif ch >= " " or ch == "\t":
                    line.append(ch)
                    if self.session.echo_input:
                        echo.append(ch)
            self.send("".join(echo))

    def _control(self, ch: str, text: str) -> bool:
        """Handle end of line, Ctrl-Z or Ctrl-C; False once the session is over."""
        if ch in "\r\n":
            return self._answer(text)
        if ch == "\x03":
            self.send("^C")
            if self.session.in_config:
                return self._answer("end")
            self.send("\r\n" + self.session.prompt)
            return True
        self.send("^Z")
        if text.strip() and not self._answer(text):
            return False
        if self.session.in_config:
            return self._answer("end")
        return True

    def _answer(self, text: str) -> bool:
        was_config = self.session.in_config
        output = self.device._execute(self.session, text)
        if self.session.closed:
            self.send("\r\n" + output)
            return False
        self.send("\r\n" + output + self.session.prompt)
        if was_config and text.strip():
            self.config_commands += 1
            limit = self.device.faults.drop_after_commands
            if limit is not None and self.config_commands >= limit:
                log.debug("%s: dropping session after %d config commands", self.device.spec.name, limit)
                self.transport.close()
                return False
        return True

    def send(self, text: str) -> None:
        if text:
            self.channel.sendall(text.encode())

    def _recv(self) -> str | None:
        while not self.device._stopping.is_set():
            try:
                data = self.channel.recv(4096)
            except TimeoutError:
                continue
            if not data:
                return None
            return self._decoder.decode(data)
        return None


class DeviceFleet:
    """A set of simulated devices with persistent host keys and a known_hosts helper."""

    def __init__(self, specs: list[DeviceSpec], key_dir: Path) -> None:
        names = [s.name for s in specs]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate device names: {', '.join(duplicates)}")
        self.key_dir = Path(key_dir)
        self.devices: dict[str, SimulatedDevice] = {
            spec.name: SimulatedDevice(spec, load_or_create_host_key(self.key_dir / f"{spec.name}.key"))
            for spec in specs
        }

    def start(self) -> None:
        """Start every device; on failure the ones already started are stopped again."""
        try:
            for device in self.devices.values():
                device.start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every device (idempotent)."""
        for device in self.devices.values():
            device.stop()

    def known_hosts_lines(self) -> list[str]:
        """`[127.0.0.1]:PORT <keytype> <base64>` for each device's current key; needs start()."""
        not_started = [name for name, d in self.devices.items() if not d.port]
        if not_started:
            raise RuntimeError(f"devices not started: {', '.join(not_started)}")
        return [known_hosts_line(d.port, d.host_key) for d in self.devices.values()]

    def write_known_hosts(self, path: Path) -> None:
        """Write `known_hosts_lines()` to `path` (replacing it)."""
        Path(path).write_text("".join(line + "\n" for line in self.known_hosts_lines()))

    def rotate_host_key(self, name: str) -> None:
        """Give device `name` a new random host key (in memory; key_dir keeps the trusted one)."""
        self.devices[name].set_host_key(generate_host_key())

    def __enter__(self) -> DeviceFleet:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with contextlib.suppress(Exception):
            self.stop()
