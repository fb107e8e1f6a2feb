"""Push one device's plan safely: backup, send, re-read, converge, verify, save; roll back on any failure.

1. Read the running config; it must be the one the plan was made from (else nothing is sent).
2. Save it as the backup (STATE/network/backups/<run id>/<host>.cfg).
3. Send the remediation; a line the device answers with an error (`% Invalid input`...) fails the push.
4. Read the running config again: the remediation from it to the intended config must be empty.
5. Wait for the BGP sessions (and DX BFD) to come up (ntc-templates parse the show commands).
6. `write memory`, which must answer [OK]. Saving last means a change that failed verification never
   reaches the startup config, even if the device reloads during the window.

If any of 3-6 fails (including a dropped session or a device that stops answering), the device is rolled
back to the backup and the running config is proven equal to it (`rollback.restore`); the push still
fails, with both the cause and the rollback in its message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from migrate_cli.core.errors import MigrateError, OperationFailed
from migrate_cli.network.backups import BackupStore
from migrate_cli.network.device import DEFAULT_CHUNK, DeviceSession, DeviceTimeout
from migrate_cli.network.intent import EdgeIntent
from migrate_cli.network.plan import DevicePlan, differing_lines, normalize, remediation_lines
from migrate_cli.network.rollback import Opener, RollbackFailed, restore
from migrate_cli.network.verify import verify_sessions

Progress = Callable[[str], None]


@dataclass(frozen=True)
class PushSettings:
    """Timeouts (seconds) and pacing of a push."""

    timeout: float = 30.0  # for the device to answer one command or one chunk of lines
    verify_timeout: float = 60.0
    verify_interval: float = 2.0
    rollback_timeout: float = 120.0
    chunk: int = DEFAULT_CHUNK


def _describe(exc: BaseException) -> str:
    if isinstance(exc, MigrateError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def push_device(
    plan: DevicePlan,
    intent: EdgeIntent,
    opener: Opener,
    store: BackupStore,
    backup_id: str,
    settings: PushSettings = PushSettings(),
    session: DeviceSession | None = None,
    progress: Progress = lambda _: None,
) -> dict[str, Any]:
    """Apply `plan` to its device (see the module docstring); result facts for the report."""
    if session is None or not session.alive:
        if session is not None:
            session.close()
        session = opener(settings.timeout)
    try:
        current = session.show("show running-config")
    except BaseException:
        session.close()
        raise
    if normalize(current) != normalize(plan.running):
        session.close()
        raise OperationFailed(
            f"the running config changed since it was planned ({differing_lines(current, plan.running)} "
            "line(s) differ); nothing was sent: plan again"
        )
    backup = store.save(backup_id, plan.host, plan.platform, current)
    phase = "send"
    try:
        session.configure(plan.commands, chunk=settings.chunk, timeout=settings.timeout)
        phase = "re-read"
        after = session.show("show running-config")
        left = remediation_lines(plan.platform, after, plan.intended)
        if left:
            raise OperationFailed(f"the device did not converge: {len(left)} line(s) still to send, first '{left[0]}'")
        phase = "verify"
        facts = verify_sessions(session, intent, settings.verify_timeout, settings.verify_interval, progress)
        phase = "write memory"
        session.save()
    except Exception as exc:
        cause = f"{phase} failed: {_describe(exc)}"
        progress(f"{cause}; rolling back to backup {backup.id}")
        if isinstance(exc, DeviceTimeout):  # the device may still be working through what was sent
            session.close()
        try:
            note, _ = restore(backup, opener, session, settings.rollback_timeout, settings.chunk, progress)
        except RollbackFailed as failed:
            raise OperationFailed(f"{cause}; {failed}") from exc
        except Exception as failed:
            raise OperationFailed(
                f"{cause}; ROLLBACK FAILED: {_describe(failed)}; restore {backup.path} by hand"
            ) from exc
        raise OperationFailed(f"{cause}; {note}") from exc
    session.close()
    return {"backup": backup.id, "sent": len(plan.commands), **facts, "saved": "yes"}
