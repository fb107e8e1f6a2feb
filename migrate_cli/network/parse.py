"""Parse show-command output into rows: ntc-templates first, the project's own TextFSM templates where
ntc-templates has none (`show ip sla summary`, `show track` on cisco_ios).

Rows are lists of dicts with lower-case keys, as ntc-templates returns them. Consumers (this package's
verification, and the failover probes) call `parse_show(platform, command, output)`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import textfsm
from ntc_templates.parse import parse_output

from migrate_cli.core.errors import OperationFailed

_OWN = Path(__file__).with_name("textfsm")

# (platform, regex on the command as typed) -> template file in ./textfsm
_OWN_TEMPLATES: tuple[tuple[str, str, str], ...] = (
    ("cisco_ios", r"sh(?:o(?:w)?)?\s+ip\s+sla\s+sum(?:m(?:a(?:r(?:y)?)?)?)?", "cisco_ios_show_ip_sla_summary.textfsm"),
    ("cisco_ios", r"sh(?:o(?:w)?)?\s+track(?:\s+\d+)?", "cisco_ios_show_track.textfsm"),
)


def own_template(platform: str, command: str) -> Path | None:
    """The project's template for this command, if it ships one."""
    for plat, pattern, name in _OWN_TEMPLATES:
        if plat == platform and re.fullmatch(pattern, command.strip()):
            return _OWN / name
    return None


@lru_cache(maxsize=16)
def _template_text(path: Path) -> str:
    return path.read_text()


def parse_show(platform: str, command: str, output: str) -> list[dict[str, Any]]:
    """Structured rows for `command`'s `output`; OperationFailed when no template can parse it."""
    own = own_template(platform, command)
    try:
        if own is not None:
            import io

            fsm = textfsm.TextFSM(io.StringIO(_template_text(own)))
            header = [h.lower() for h in fsm.header]
            return [dict(zip(header, row, strict=True)) for row in fsm.ParseText(output)]
        rows = parse_output(platform=platform, command=command, data=output)
    except Exception as exc:  # textfsm raises its own error types, ntc-templates a generic Exception
        raise OperationFailed(f"cannot parse '{command}' output: {type(exc).__name__}: {exc}") from exc
    if not isinstance(rows, list):
        raise OperationFailed(f"no template parses '{command}' for {platform}")
    return rows
