"""Hide secret values in configuration text: the masker's registered values, and any value that sits where
a device configuration keeps a secret (BGP passwords, pre-shared keys, enable/user secrets, SNMP communities),
whether or not this process ever saw it (a device's backup holds secrets nobody typed in this run)."""

from __future__ import annotations

import re

from migrate_cli.core.secrets import MASK, mask

_SECRET_SPOTS = re.compile(
    r"(?P<lead>\b(?:neighbor \S+ password|pre-shared-key(?: local| remote| ascii-text| hexadecimal)?"
    r"|(?:enable )?secret|password|snmp-server community|authentication-key|shared-key|key-string"
    r"|tacacs-server key|radius-server key)"
    r"(?: [0-9])?(?= \S) )(?P<value>\"[^\"]*\"|\S+)"
)


def redact(text: str) -> str:
    """`text` with registered secrets and values in secret positions replaced by ********."""
    return _SECRET_SPOTS.sub(lambda m: m["lead"] + MASK, mask(text))
