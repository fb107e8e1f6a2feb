"""Exchanges with an open netmiko session: show commands, configuration pushes, `write memory`.

netmiko's `send_command`/`send_config_set` sleep a fixed 25 ms per call and wait for every line's echo
before sending the next (about 11 ms per line). A change window pushing to dozens of devices pays for
that, so this module drives the same netmiko channel differently: it writes a chunk of configuration lines
at once (as a person pasting into the terminal does), then reads until the device has answered every line
of the chunk (one prompt per line) and checks the answers against an error pattern before the next chunk.
Reads block on the SSH channel (select) instead of polling, so an answer is seen as soon as it arrives.

A device that stops answering raises `DeviceTimeout` after `timeout` seconds; a closed session raises
`SessionDropped`; an answer matching the error pattern raises `CommandRejected` naming the command. After
`CommandRejected` the session is back in exec mode; after the other two it must be reopened.
"""

from __future__ import annotations

import re
import select
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import paramiko
from netmiko import BaseConnection

from migrate_cli.core.errors import OperationFailed

ERROR_PATTERN = r"^% ?(?:Invalid input|Incomplete command|Ambiguous command|Specify |Error|.*not allowed|.*failed)"
DEFAULT_CHUNK = 25


class DeviceTimeout(OperationFailed):
    """The device did not answer in time."""


class SessionDropped(OperationFailed):
    """The SSH session closed under us."""


class CommandRejected(OperationFailed):
    """A configuration command was refused by the device."""

    def __init__(self, command: str, answer: str) -> None:
        self.command = command
        self.answer = answer
        super().__init__(f"device rejected '{command}': {answer}")


@dataclass
class Answer:
    """One command and what the device printed for it (echo and prompt removed)."""

    command: str
    output: str


def _alive(conn: BaseConnection) -> bool:
    channel = conn.remote_conn
    if not isinstance(channel, paramiko.Channel) or channel.closed:
        return False
    transport = channel.get_transport()
    return transport is not None and transport.is_active()


def read_until(conn: BaseConnection, done: Callable[[str], bool], timeout: float, what: str, name: str = "") -> str:
    """Read from a netmiko session until `done(buffer)`, waiting on the SSH channel rather than polling.

    DeviceTimeout after `timeout` seconds, SessionDropped when the channel closes."""
    name = name or conn.host
    buffer = ""
    deadline = time.monotonic() + timeout
    channel = conn.remote_conn
    while True:
        try:
            buffer += conn.read_channel()
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise SessionDropped(f"{name}: session dropped during {what}: {exc}") from exc
        if done(buffer):
            return buffer
        if not _alive(conn):
            raise SessionDropped(f"{name}: session dropped during {what}")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeviceTimeout(f"{name}: no answer within {timeout:g} s during {what}")
        if isinstance(channel, paramiko.Channel) and not channel.recv_ready():
            select.select([channel], [], [], min(remaining, 0.5))


class DeviceSession:
    """A connected, privileged netmiko session with fast exchanges. Use as a context manager."""

    def __init__(self, conn: BaseConnection, name: str, timeout: float = 30.0, privileged: bool = False) -> None:
        self.conn = conn
        self.name = name
        self.timeout = timeout
        if not privileged and not conn.check_enable_mode():
            conn.enable()
        self.base = conn.base_prompt
        exec_prompt = re.escape(self.base) + r"#"
        # Any prompt of this device at the start of a line (exec or any configuration mode).
        self._any_prompt = re.compile(rf"(?m)^{re.escape(self.base)}(?:\([\w.\-/]+\))?#")
        self._exec_end = re.compile(rf"(?:^|\n){exec_prompt}[ \t]*$")

    # -- plumbing -------------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        return _alive(self.conn)

    def _write(self, text: str) -> None:
        try:
            self.conn.write_channel(text)
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise SessionDropped(f"{self.name}: session dropped while sending: {exc}") from exc

    def _read_until(self, done: Callable[[str], bool], timeout: float, what: str) -> str:
        return read_until(self.conn, done, timeout, what, self.name)

    # -- commands ------------------------------------------------------------------------------

    def show(self, command: str, timeout: float | None = None) -> str:
        """Output of an exec command, without its echo and the trailing prompt."""
        self._write(command + self.conn.RETURN)
        echo = _echo(command)

        def done(buffer: str) -> bool:
            found = echo.search(buffer)
            return found is not None and bool(self._exec_end.search(buffer, found.end()))

        raw = self._read_until(done, timeout or self.timeout, f"'{command}'")
        found = echo.search(raw)
        assert found is not None
        body = raw[found.end() :]
        return self._exec_end.sub("", body).rstrip("\n") + "\n"

    def configure(
        self,
        commands: Sequence[str],
        error_pattern: str = ERROR_PATTERN,
        chunk: int = DEFAULT_CHUNK,
        timeout: float | None = None,
        stop_on_error: bool = True,
    ) -> list[Answer]:
        """Send configuration lines in chunks; raise CommandRejected at the first refused one.

        Returns each command with its answer. With `stop_on_error` False every chunk is sent and the
        rejected commands are in the answers (`rejected()` lists them).
        """
        lines = ["configure terminal", *[c for c in commands if c.strip()], "end"]
        pattern = re.compile(error_pattern, re.M)
        answers: list[Answer] = []
        for start in range(0, len(lines), chunk):
            batch = lines[start : start + chunk]
            self._write("".join(line + self.conn.RETURN for line in batch))
            echo = _echo(batch[0])

            def done(buffer: str, n: int = len(batch), echo: re.Pattern[str] = echo) -> bool:
                found = echo.search(buffer)  # anything before our first echo is an earlier answer
                if found is None:
                    return False
                tail = buffer[found.start() :]
                return len(self._any_prompt.findall(tail)) >= n and tail.rstrip().endswith("#")

            raw = self._read_until(
                done, timeout or self.timeout, f"configuration lines {start + 1}-{start + len(batch)}"
            )
            found = echo.search(raw)
            assert found is not None
            answers += self._split(batch, raw[found.start() :])
            bad = next((a for a in answers[start:] if pattern.search(a.output)), None)
            if bad is not None and stop_on_error:
                if batch[-1] != "end":
                    self._leave_config()
                raise CommandRejected(bad.command.strip(), _first_error(bad.output, pattern))
        return answers[1:-1]

    def _split(self, batch: Sequence[str], raw: str) -> list[Answer]:
        """Pair each sent line with the text between its prompt and the next one."""
        # raw = echo(c0) output(c0) PROMPT echo(c1) output(c1) PROMPT ... echo(cN) output(cN) PROMPT
        prompts = list(self._any_prompt.finditer(raw))
        begins = [0] + [m.end() for m in prompts]
        ends = [m.start() for m in prompts] + [len(raw)]
        answers = []
        for index, command in enumerate(batch):
            segment = raw[begins[index] : ends[index]] if index < len(begins) else ""
            segment = segment.split("\n", 1)[1] if "\n" in segment else ""
            answers.append(Answer(command, segment.strip("\n")))
        return answers

    def _leave_config(self) -> None:
        self._write("end" + self.conn.RETURN)
        self._read_until(lambda b: bool(self._exec_end.search(b)), self.timeout, "leaving configuration mode")

    def save(self, timeout: float | None = None) -> str:
        """`write memory`; OperationFailed unless the device answers [OK]."""
        output = self.show("write memory", timeout)
        if "[OK]" not in output:
            raise OperationFailed(f"{self.name}: write memory did not succeed: {' '.join(output.split())[:200]}")
        return output

    def close(self) -> None:
        try:
            self.conn.disconnect()
        except Exception:  # a dropped session may fail to close cleanly; it is gone either way
            if self.conn.session_log is not None:
                self.conn.session_log.close()

    def __enter__(self) -> DeviceSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _echo(command: str) -> re.Pattern[str]:
    """The device's echo of `command`: at the start of the buffer or right after a prompt or newline."""
    return re.compile(rf"(?:^|(?<=[#>\n]))[ \t]*{re.escape(command.strip())}[ \t]*\r?(?:\n|$)")


def rejected(answers: Sequence[Answer], error_pattern: str = ERROR_PATTERN) -> list[Answer]:
    """The answers that match the error pattern."""
    pattern = re.compile(error_pattern, re.M)
    return [a for a in answers if pattern.search(a.output)]


def _first_error(output: str, pattern: re.Pattern[str]) -> str:
    match = pattern.search(output)
    if match is None:
        return output.strip()[:200]
    line_end = output.find("\n", match.start())
    return output[match.start() : line_end if line_end >= 0 else None].strip()
