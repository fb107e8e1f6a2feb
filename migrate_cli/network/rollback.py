"""Put a device back to a backup and prove it: remediation from the running config to the backup, sent,
then the running config read again must equal the backup (show headers aside), then `write memory`.

Used automatically when a push fails, and by `migrate network rollback`.
"""

from __future__ import annotations

from collections.abc import Callable

from migrate_cli.core.errors import OperationFailed
from migrate_cli.network.backups import Backup
from migrate_cli.network.device import DeviceSession, DeviceTimeout, SessionDropped, rejected
from migrate_cli.network.plan import differing_lines, normalize, remediation_lines

Opener = Callable[[float], DeviceSession]
Progress = Callable[[str], None]


class RollbackFailed(OperationFailed):
    """The device could not be proven equal to its backup."""


def restore(
    backup: Backup,
    opener: Opener,
    session: DeviceSession | None = None,
    timeout: float = 120.0,
    chunk: int = 25,
    progress: Progress = lambda _: None,
) -> tuple[str, int]:
    """Bring the device back to `backup`; returns (a one-line note, commands sent).

    Takes over `session` (closed at the end); reconnects when it is missing or dropped, closing a session
    that timed out first so the device is not still working through it. RollbackFailed when equality
    cannot be proven.
    """
    target = backup.text()
    sent = 0
    problem = ""
    try:
        for _ in range(3):
            if session is None or not session.alive:
                if session is not None:
                    session.close()
                session = opener(timeout)
            try:
                current = session.show("show running-config", timeout)
                if normalize(current) == normalize(target):
                    session.save(timeout)
                    return f"rolled back to backup {backup.id}: running config equals the backup", sent
                commands = remediation_lines(backup.platform, current, target)
                if not commands:
                    problem = f"{differing_lines(current, target)} line(s) differ but hier-config finds nothing to send"
                    break
                progress(f"rolling back: sending {len(commands)} lines")
                answers = session.configure(commands, chunk=chunk, timeout=timeout, stop_on_error=False)
                sent += len(commands)
                refused = rejected(answers)
                if refused:
                    problem = f"device refused '{refused[0].command.strip()}'"
            except (SessionDropped, DeviceTimeout) as exc:
                problem = str(exc)
                session.close()
                session = None
    finally:
        if session is not None:
            session.close()
    raise RollbackFailed(
        f"ROLLBACK NOT PROVEN: {problem or 'running config still differs from the backup'}; "
        f"restore {backup.path} by hand"
    )
