"""A real SFTP server for tests: paramiko's server side on 127.0.0.1, serving one local directory.

Password authentication; an ECDSA host key generated per server (`host_key`, for known_hosts files).
Paths are confined to the root; `realpath` resolves symlinks like OpenSSH's does.

`shell=True` also runs commands (SSH exec requests) with the machine's real /bin/sh, as sshd does; serve
the root "/" then, so that the paths a client sees are the paths the shell sees. `corrupt_writes = N`
flips one byte in each of the next N writes: a host that stores something other than what it was sent.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import paramiko
from paramiko import SFTPAttributes, SFTPHandle, SFTPServer, SFTPServerInterface
from paramiko.sftp import SFTP_FAILURE, SFTP_NO_SUCH_FILE, SFTP_OK, SFTP_PERMISSION_DENIED

USER = "deploy"
PASSWORD = "s3cret-sftp-pw"


def _errno(exc: OSError) -> int:
    return SFTPServer.convert_errno(exc.errno)


class _Auth(paramiko.ServerInterface):
    def __init__(self, server: SftpTestServer) -> None:
        self.server = server

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        if not self.server.shell:
            return False
        self.server.commands.append(command.decode())
        threading.Thread(target=_run, args=(channel, command, self.server.root), daemon=True).start()
        return True

    def check_auth_password(self, username: str, password: str) -> int:
        ok = username == USER and password == PASSWORD
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def get_allowed_auths(self, username: str) -> str:
        return "password"

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return paramiko.OPEN_SUCCEEDED if kind == "session" else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED


def _run(channel: paramiko.Channel, command: bytes, cwd: Path) -> None:
    # paramiko answers the exec request after check_channel_exec_request returns; a reply written before
    # that answer could overtake it. The client closes its input once it has the answer: wait for that.
    deadline = time.monotonic() + 10
    while not (channel.eof_received or channel.closed) and time.monotonic() < deadline:
        time.sleep(0.001)
    done = subprocess.run(["/bin/sh", "-c", command], cwd=cwd, capture_output=True, stdin=subprocess.DEVNULL)
    channel.sendall(done.stdout)
    channel.sendall_stderr(done.stderr)
    channel.send_exit_status(done.returncode)
    channel.close()


class _Handle(SFTPHandle):
    server: SftpTestServer

    def write(self, offset: int, data: bytes) -> int:
        with self.server.lock:
            corrupt = self.server.corrupt_writes > 0 and bool(data)
            self.server.corrupt_writes -= corrupt
            self.server.bytes_written += len(data)
        if corrupt:
            data = bytes([data[0] ^ 0x01]) + data[1:]
        return super().write(offset, data)

    def stat(self) -> SFTPAttributes | int:
        try:
            return SFTPAttributes.from_stat(os.fstat(self.readfile.fileno()))
        except OSError as exc:
            return _errno(exc)

    def chattr(self, attr: SFTPAttributes) -> int:
        try:
            SFTPServer.set_file_attr(self.filename, attr)
            return SFTP_OK
        except OSError as exc:
            return _errno(exc)


def make_interface(root: Path, server: SftpTestServer) -> type[SFTPServerInterface]:
    real_root = os.path.realpath(root)

    class Interface(SFTPServerInterface):
        def _real(self, path: str) -> str:
            virtual = self.canonical(path)
            return os.path.join(real_root, virtual.lstrip("/"))

        @staticmethod
        def canonical(path: str) -> str:
            return os.path.normpath("/" + path.lstrip("/")) if not path.startswith("/") else os.path.normpath(path)

        def canonicalize(self, path: str) -> str:
            real = os.path.realpath(self._real(path))
            if real != real_root and not real.startswith(real_root + os.sep):
                return self.canonical(path)
            return "/" + os.path.relpath(real, real_root).replace(os.sep, "/").lstrip(".")

        def list_folder(self, path: str) -> list[SFTPAttributes] | int:
            real = self._real(path)
            try:
                out = []
                for name in os.listdir(real):
                    attr = SFTPAttributes.from_stat(os.lstat(os.path.join(real, name)))
                    attr.filename = name
                    out.append(attr)
                return out
            except OSError as exc:
                return _errno(exc)

        def stat(self, path: str) -> SFTPAttributes | int:
            try:
                return SFTPAttributes.from_stat(os.stat(self._real(path)))
            except OSError as exc:
                return _errno(exc)

        def lstat(self, path: str) -> SFTPAttributes | int:
            try:
                return SFTPAttributes.from_stat(os.lstat(self._real(path)))
            except OSError as exc:
                return _errno(exc)

        def open(self, path: str, flags: int, attr: SFTPAttributes) -> SFTPHandle | int:
            real = self._real(path)
            try:
                fd = os.open(real, flags | getattr(os, "O_BINARY", 0), 0o644)
            except OSError as exc:
                return _errno(exc)
            if flags & os.O_CREAT and attr is not None:
                attr._flags &= ~attr.FLAG_PERMISSIONS
                SFTPServer.set_file_attr(real, attr)
            if flags & os.O_WRONLY:
                mode = "ab" if flags & os.O_APPEND else "wb"
            elif flags & os.O_RDWR:
                mode = "a+b" if flags & os.O_APPEND else "r+b"
            else:
                mode = "rb"
            try:
                f = os.fdopen(fd, mode)
            except OSError as exc:
                return _errno(exc)
            handle = _Handle(flags)
            handle.server = server
            handle.filename = real
            handle.readfile = f
            handle.writefile = f
            return handle

        def remove(self, path: str) -> int:
            try:
                os.remove(self._real(path))
            except OSError as exc:
                return _errno(exc)
            return SFTP_OK

        def rename(self, oldpath: str, newpath: str) -> int:
            if os.path.exists(self._real(newpath)):
                return SFTP_FAILURE
            return self.posix_rename(oldpath, newpath)

        def posix_rename(self, oldpath: str, newpath: str) -> int:
            try:
                os.replace(self._real(oldpath), self._real(newpath))
            except OSError as exc:
                return _errno(exc)
            return SFTP_OK

        def mkdir(self, path: str, attr: SFTPAttributes) -> int:
            try:
                os.mkdir(self._real(path))
                if attr is not None:
                    SFTPServer.set_file_attr(self._real(path), attr)
            except OSError as exc:
                return _errno(exc)
            return SFTP_OK

        def rmdir(self, path: str) -> int:
            try:
                os.rmdir(self._real(path))
            except OSError as exc:
                return _errno(exc)
            return SFTP_OK

        def chattr(self, path: str, attr: SFTPAttributes) -> int:
            try:
                SFTPServer.set_file_attr(self._real(path), attr)
            except OSError as exc:
                return _errno(exc)
            return SFTP_OK

        def readlink(self, path: str) -> str | int:
            try:
                return os.readlink(self._real(path))
            except OSError as exc:
                return _errno(exc)

        def symlink(self, target_path: str, path: str) -> int:
            return SFTP_PERMISSION_DENIED

    return Interface


class SftpTestServer:
    """Serve `root` over SFTP on 127.0.0.1 (a free port) until stop()."""

    def __init__(self, root: Path, shell: bool = False) -> None:
        self.root = root
        self.shell = shell
        self.commands: list[str] = []
        self.corrupt_writes = 0
        self.bytes_written = 0  # file content received, every file
        self.lock = threading.Lock()
        self.host_key: paramiko.PKey = paramiko.ECDSAKey.generate()
        self._sock: socket.socket | None = None
        self._transports: list[paramiko.Transport] = []
        self.port = 0
        self.connections = 0

    def start(self) -> int:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        self._sock = sock
        self.port = sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()
        return self.port

    def _accept(self) -> None:
        interface = make_interface(self.root, self)
        while self._sock is not None:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            transport = paramiko.Transport(conn)
            transport.add_server_key(self.host_key)
            transport.set_subsystem_handler("sftp", SFTPServer, interface)
            self._transports.append(transport)
            try:
                transport.start_server(server=_Auth(self))
            except (paramiko.SSHException, EOFError, OSError):
                continue

    def known_hosts_line(self) -> str:
        return f"[127.0.0.1]:{self.port} {self.host_key.get_name()} {self.host_key.get_base64()}\n"

    def stop(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
        for transport in self._transports:
            transport.close()


__all__ = ["PASSWORD", "USER", "SftpTestServer", "SFTP_NO_SUCH_FILE"]
