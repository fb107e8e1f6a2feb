"""Global settings every command shares (from global CLI options and the environment)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    inventory_dir: Path = Path("inventory")
    state_dir: Path = Path(".migrate")
    json: bool = False
    quiet: bool = False
    verbose: bool = False

    @property
    def journal_path(self) -> Path:
        return self.state_dir / "journal.sqlite"

    @property
    def reports_dir(self) -> Path:
        return self.state_dir / "reports"
