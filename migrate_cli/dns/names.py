"""Domain and record names as users type them, checked and made absolute; the records they expect."""

from __future__ import annotations

import re
from dataclasses import dataclass

import dns.exception
import dns.name

from migrate_cli.core.errors import ConfigError
from migrate_cli.dns.servers import is_ip

_LABEL = re.compile(r"^(?:_?[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?|_[a-z0-9_-]{0,62}|\*)$")
RECORD_TYPES = ("TXT", "CNAME")


def _to_ascii(text: str, what: str) -> str:
    """Lower-case absolute name in ASCII (IDNA for Unicode); ConfigError when it cannot be a DNS name."""
    raw = text.strip()
    if not raw or raw == ".":
        raise ConfigError(f"{what} '{text}' is empty")
    if any(c.isspace() for c in raw) or "/" in raw or ".." in raw or raw.startswith("."):
        raise ConfigError(f"{what} '{text}' is not a valid DNS name")
    try:
        name = dns.name.from_unicode(raw) if not raw.isascii() else dns.name.from_text(raw)
    except (dns.exception.DNSException, UnicodeError, ValueError) as e:
        raise ConfigError(f"{what} '{text}' is not a valid DNS name: {e}") from e
    result = name.to_text().lower()
    for label in result.rstrip(".").split("."):
        if not _LABEL.match(label):
            raise ConfigError(f"{what} '{text}' is not a valid DNS name: bad label '{label}'")
    return result


def check_domain(text: str) -> str:
    """A domain as typed ('example.com', 'Example.COM.') -> 'example.com.'; ConfigError when invalid."""
    if is_ip(text.strip().strip("[]")):
        raise ConfigError(f"domain '{text}' is an IP address, not a domain name")
    name = _to_ascii(text, "domain")
    labels = name.rstrip(".").split(".")
    if len(labels) < 2:
        raise ConfigError(f"domain '{text}' has a single label; give the full domain (e.g. example.com)")
    if "*" in labels or any(label.startswith("_") for label in labels):
        raise ConfigError(f"domain '{text}' is not a host name (no '*' or '_' labels in a domain)")
    return name


def qualify(name: str, domain: str) -> str:
    """A record name relative to `domain` made absolute.

    '@' is the domain itself; a trailing dot means absolute; a name that already ends with the domain
    ('_x.example.com') is taken as absolute too, so it is never doubled to '_x.example.com.example.com.'.
    """
    text = name.strip()
    if text in ("", "@"):
        return domain
    if text.endswith("."):
        return _to_ascii(text, "record name")
    bare = domain.rstrip(".")
    lowered = text.lower()
    if lowered == bare or lowered.endswith("." + bare):
        return _to_ascii(text + ".", "record name")
    return _to_ascii(f"{text}.{domain}", "record name")


def parse_assignment(text: str, option: str) -> tuple[str, str]:
    """'NAME=VALUE' -> (NAME, VALUE), split at the first '=' (values may contain '='); ConfigError otherwise."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise ConfigError(f"{option} '{text}': expected NAME=VALUE (e.g. {option} _verify=token123)")
    if not value:
        raise ConfigError(f"{option} '{text}': the value after '=' is empty")
    return name.strip(), value


def short(value: str, limit: int = 60) -> str:
    """A long value cut for display, saying how long it really is."""
    return value if len(value) <= limit else f"{value[: limit - 12]}…({len(value.encode())} bytes)"


@dataclass(frozen=True)
class Expected:
    """A record that should exist: absolute owner name, type (TXT or CNAME), and its value.

    TXT values are the logical string (any length; split into 255-byte strings only on the wire);
    CNAME targets are absolute lower-case names.
    """

    name: str
    rtype: str
    value: str

    def matches(self, got: str) -> bool:
        if self.rtype == "CNAME":
            return got.rstrip(".").lower() == self.value.rstrip(".").lower()
        return got == self.value

    @property
    def shown_value(self) -> str:
        return f'"{short(self.value)}"' if self.rtype == "TXT" else self.value.rstrip(".")

    def describe(self) -> str:
        return f"{self.rtype} {self.name.rstrip('.')} {self.shown_value}"

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "type": self.rtype, "value": self.value}


def expected_record(domain: str, name: str, rtype: str, value: str, option: str | None = None) -> Expected:
    """An `Expected` from user input (name relative to `domain`); ConfigError naming `option` when invalid."""
    rtype = rtype.upper()
    if rtype not in RECORD_TYPES:
        raise ConfigError(f"record type {rtype} is not supported here (use {' or '.join(RECORD_TYPES)})")
    where = f"{option} " if option else ""
    try:
        owner = qualify(name, domain)
        target = _to_ascii(value, "CNAME target") if rtype == "CNAME" else value
    except ConfigError as e:
        raise ConfigError(f"{where}{e.message}") from e
    if rtype == "TXT" and len(value.encode()) > 4000:
        raise ConfigError(f"{where}TXT value is {len(value.encode())} bytes; at most 4000 are supported")
    return Expected(owner, rtype, target)


def expectations_from_options(domain: str, txt: list[str] | None, cname: list[str] | None) -> list[Expected]:
    """`--txt NAME=VALUE` and `--cname NAME=TARGET` options as `Expected` records (ConfigError when malformed)."""
    out: list[Expected] = []
    for option, rtype, values in (("--txt", "TXT", txt), ("--cname", "CNAME", cname)):
        for item in values or []:
            name, value = parse_assignment(item, option)
            out.append(expected_record(domain, name, rtype, value, option))
    return list(dict.fromkeys(out))


def expectations_from_mapping(domain: str, mapping: dict[str, str | list[str]] | None, rtype: str) -> list[Expected]:
    """Playbook form `{NAME: VALUE or [VALUES]}` as `Expected` records."""
    out: list[Expected] = []
    for name, values in (mapping or {}).items():
        for value in [values] if isinstance(values, str) else values:
            out.append(expected_record(domain, str(name), rtype, str(value), f"{rtype.lower()}.{name}"))
    return out
