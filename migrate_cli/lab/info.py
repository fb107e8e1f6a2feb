"""What a running lab recorded about itself (STATE_DIR/lab/lab.json): light, for `lab status` and `lab down`."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class LabInfo:
    """What is running, where: written to STATE_DIR/lab/lab.json for `lab status` and `lab down`."""

    pid: int
    started: float
    aws_url: str
    region: str
    dns_zone: str
    dns_servers: list[str]
    devices: dict[str, int]
    inventory: str
    env_file: str
    extra: dict[str, Any] = field(default_factory=dict)


def read_info(state_dir: Path) -> LabInfo | None:
    """The running lab recorded in STATE_DIR/lab/lab.json, if its process is alive."""
    path = state_dir / "lab" / "lab.json"
    if not path.is_file():
        return None
    try:
        info = LabInfo(**json.loads(path.read_text()))
    except (ValueError, TypeError):
        return None
    try:
        os.kill(info.pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return info
