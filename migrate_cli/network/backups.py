"""Running-config backups taken before every push, in the state directory.

Layout: `STATE/network/backups/<backup id>/<host>.cfg` (the config as `show running-config` printed it)
and `<host>.json` (when, sha256, platform). A backup id is the id of the run that took it (the journal's
run id, time-ordered), so `migrate runs list`, the report and `migrate network backups` name the same
thing. Backups hold the device's secrets as the device keeps them: files are 0600 in 0700 directories.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from migrate_cli.core.errors import ConfigError, OperationFailed

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,80}")


@dataclass(frozen=True)
class Backup:
    """One device's saved running config."""

    id: str
    host: str
    taken: float
    sha256: str
    platform: str
    size: int
    path: Path

    def text(self) -> str:
        """The saved config; OperationFailed when the file no longer matches its checksum."""
        data = self.path.read_bytes()
        if hashlib.sha256(data).hexdigest() != self.sha256:
            raise OperationFailed(f"backup {self.id} of {self.host} is damaged (checksum mismatch): {self.path}")
        return data.decode("utf-8")


class BackupStore:
    """Backups under STATE/network/backups."""

    def __init__(self, state_dir: Path) -> None:
        self.root = Path(state_dir) / "network" / "backups"

    def save(self, backup_id: str, host: str, platform: str, config: str) -> Backup:
        """Write the backup atomically (0600); returns its record."""
        if not _ID.fullmatch(backup_id) or not _ID.fullmatch(host):
            raise ConfigError(f"invalid backup id or host name: {backup_id!r} {host!r}")
        folder = self.root / backup_id
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)
        data = config.encode("utf-8")
        path = folder / f"{host}.cfg"
        _write_private(path, data)
        record = Backup(backup_id, host, time.time(), hashlib.sha256(data).hexdigest(), platform, len(data), path)
        meta = {k: v for k, v in asdict(record).items() if k != "path"}
        _write_private(folder / f"{host}.json", json.dumps(meta, indent=2).encode())
        return record

    def list(self, host: str | None = None) -> list[Backup]:
        """Every backup (of `host`), oldest first."""
        out = []
        if not self.root.is_dir():
            return out
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir()):
            for meta_path in sorted(folder.glob("*.json")):
                try:
                    meta = json.loads(meta_path.read_text())
                except (OSError, ValueError):
                    continue
                if host is not None and meta.get("host") != host:
                    continue
                cfg = meta_path.with_suffix(".cfg")
                if cfg.is_file():
                    out.append(Backup(path=cfg, **meta))
        return sorted(out, key=lambda b: (b.taken, b.id))

    def find(self, host: str, backup_id: str | None = None) -> Backup:
        """The host's backup with that id (or unique id prefix), or its latest; ConfigError if none."""
        backups = self.list(host)
        if backup_id is None:
            if not backups:
                raise ConfigError(f"no backup of {host} in {self.root}; a push takes one first")
            return backups[-1]
        matches = [b for b in backups if b.id == backup_id] or [b for b in backups if b.id.startswith(backup_id)]
        if len({b.id for b in matches}) != 1:
            known = ", ".join(b.id for b in backups[-5:]) or "none"
            raise ConfigError(f"--to {backup_id}: no single backup of {host} matches (latest: {known})")
        return matches[-1]


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
