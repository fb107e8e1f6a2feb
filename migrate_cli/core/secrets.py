"""Secrets in inventory: references (``${env:NAME}``, ``${keyring:SERVICE/USER}``) and a process-wide masker.

A :class:`Secret` never shows its value: ``str()``, ``repr()`` and ``format()`` all give ``********``.
The value is only produced by :meth:`Secret.reveal`, and every value revealed is registered with the
masker, so that :func:`mask` can scrub it from any text (log lines, journal entries, device output,
reports) before it is stored or printed.

Reference syntax (the whole string must be one reference):

- ``${env:NAME}``: the environment variable ``NAME`` (``[A-Za-z_][A-Za-z0-9_]*``).
- ``${keyring:SERVICE/USER}``: ``keyring.get_password(SERVICE, USER)``. The last ``/`` separates the user, so
  the service name may itself contain ``/``. ``keyring`` is an optional dependency (``pip install keyring``).

A plain string is a literal secret: allowed, but :attr:`Secret.is_literal` is true so ``inventory check``
can warn. A string that contains ``${`` but is not exactly one well-formed reference (``${env:}``,
``${vault:x}``, ``pre${env:X}``) is rejected rather than silently used as a literal password.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from migrate_cli.core.errors import ConfigError

MASK = "********"
"""What a secret looks like wherever it is shown."""

MIN_MASK_LENGTH = 4
"""Values shorter than this are not registered with the masker (masking 'ab' everywhere would shred text)."""

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REFERENCE = re.compile(r"\$\{(?P<scheme>[^:}]*):(?P<body>[^}]*)\}")
_REFERENCE_HELP = "expected ${env:NAME} or ${keyring:SERVICE/USER}"


class Secret:
    """A secret value or a reference to one. ``str()``/``repr()``/``format()`` always give ``********``.

    Build one with :meth:`parse` (inventory text) or :meth:`from_literal` (a value already in hand, e.g.
    from a prompt). Two secrets are equal when they hold the same reference or the same literal.
    """

    __slots__ = ("_reference", "_literal")

    _reference: str | None
    _literal: str | None

    def __init__(self, *, reference: str | None = None, literal: str | None = None) -> None:
        if (reference is None) == (literal is None):
            raise ValueError("a Secret is either a reference or a literal")
        object.__setattr__(self, "_reference", reference)
        object.__setattr__(self, "_literal", literal)

    # -- construction -------------------------------------------------------------------------------------
    @classmethod
    def parse(cls, raw: str) -> Secret:
        """``${env:NAME}`` / ``${keyring:SERVICE/USER}`` -> a reference; a plain string -> a literal.

        Raises ConfigError (no file/line: the caller knows them) for a malformed reference. The message
        quotes the reference text, which is not a secret; it never quotes a string that has no ``${``.
        """
        if not isinstance(raw, str):
            raise TypeError(f"Secret.parse expects a string, got {type(raw).__name__}")
        if "${" not in raw:
            return cls(literal=raw)
        match = _REFERENCE.fullmatch(raw)
        if match is None:
            if raw.startswith("${"):
                raise ConfigError(f"malformed secret reference {raw!r}: {_REFERENCE_HELP}")
            # Text around a reference: never quote it, it may be a real password.
            raise ConfigError(
                f"malformed secret reference: a value containing '${{' must be exactly one reference; {_REFERENCE_HELP}"
            )
        scheme, body = match.group("scheme"), match.group("body")
        if scheme == "env":
            if not _ENV_NAME.fullmatch(body):
                raise ConfigError(
                    f"malformed secret reference {raw!r}: ${{env:NAME}} needs an environment variable name "
                    f"(letters, digits, '_'; not starting with a digit)"
                )
        elif scheme == "keyring":
            service, _, user = body.rpartition("/")
            if not service or not user:
                raise ConfigError(
                    f"malformed secret reference {raw!r}: ${{keyring:SERVICE/USER}} needs both a service and a user"
                )
        else:
            raise ConfigError(f"malformed secret reference {raw!r}: unknown source {scheme!r}; {_REFERENCE_HELP}")
        return cls(reference=raw)

    @classmethod
    def from_literal(cls, value: str) -> Secret:
        """A literal secret (e.g. typed at a prompt); it is registered with the masker right away."""
        register_secret(value)
        return cls(literal=value)

    # -- inspection ---------------------------------------------------------------------------------------
    @property
    def reference(self) -> str | None:
        """The reference text (``${env:X}``), or None for a literal."""
        return self._reference

    @property
    def is_literal(self) -> bool:
        return self._reference is None

    @property
    def scheme(self) -> str | None:
        """``env`` or ``keyring`` for a reference, None for a literal."""
        if self._reference is None:
            return None
        return self._reference[2:].split(":", 1)[0]

    @property
    def env_name(self) -> str | None:
        """The environment variable of an ``${env:NAME}`` reference, else None."""
        if self.scheme != "env":
            return None
        assert self._reference is not None
        return self._reference[len("${env:") : -1]

    def describe(self) -> str:
        """Safe text for display: the reference itself, or ``<literal>``."""
        return self._reference if self._reference is not None else "<literal>"

    # -- resolution ---------------------------------------------------------------------------------------
    def reveal(self) -> str:
        """Resolve now and return the value; the value is registered with the masker first.

        Raises ConfigError naming the reference (never a value) when it cannot be resolved.
        """
        if self._literal is not None:
            value = self._literal
        elif self.scheme == "env":
            value = _reveal_env(self)
        else:
            value = _reveal_keyring(self)
        register_secret(value)
        return value

    # -- never show the value -----------------------------------------------------------------------------
    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        try:
            return format(MASK, spec)
        except (TypeError, ValueError):
            return MASK

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Secret is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return (self._reference, self._literal) == (other._reference, other._literal)

    def __hash__(self) -> int:
        return hash((Secret, self._reference, self._literal))

    def __copy__(self) -> Secret:
        return self  # immutable

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_secret, (self._reference, self._literal))


def _rebuild_secret(reference: str | None, literal: str | None) -> Secret:
    return Secret(reference=reference, literal=literal)


def _reveal_env(secret: Secret) -> str:
    name = secret.env_name
    assert name is not None
    value = os.environ.get(name)
    if value is None:
        raise ConfigError(f"secret {secret.describe()}: environment variable {name} is not set")
    if value == "":
        raise ConfigError(f"secret {secret.describe()}: environment variable {name} is empty")
    return value


def _reveal_keyring(secret: Secret) -> str:
    ref = secret.describe()
    try:
        import keyring  # optional dependency
    except ImportError as exc:
        raise ConfigError(f"secret {ref}: keyring support needs `pip install keyring`") from exc
    service, _, user = ref[len("${keyring:") : -1].rpartition("/")
    try:
        value = keyring.get_password(service, user)
    except Exception as exc:  # keyring backends raise many types (no backend, locked, D-Bus errors)
        # The exception text comes from the backend, not from the stored value.
        raise ConfigError(f"secret {ref}: keyring lookup failed: {type(exc).__name__}: {exc}") from exc
    if value is None:
        raise ConfigError(f"secret {ref}: no keyring entry for service {service!r}, user {user!r}")
    return value


# -- masker -----------------------------------------------------------------------------------------------
_lock = threading.Lock()
_registered: set[str] = set()
_pattern: re.Pattern[str] | None = None


def register_secret(value: str) -> None:
    """Add a value to the process-wide mask set (thread-safe).

    Ignored: values shorter than MIN_MASK_LENGTH, and values made only of ``*`` (they cannot be told apart
    from the mask itself).
    """
    if not isinstance(value, str) or len(value) < MIN_MASK_LENGTH or not value.strip("*"):
        return
    global _pattern
    with _lock:
        if value not in _registered:
            _registered.add(value)
            _pattern = None


def _current_pattern() -> re.Pattern[str] | None:
    global _pattern
    with _lock:
        if _pattern is None and _registered:
            alternatives = sorted(_registered, key=lambda v: (-len(v), v))
            # A lookahead finds the longest secret starting at *every* position, overlapping ones included.
            _pattern = re.compile("(?=(" + "|".join(re.escape(v) for v in alternatives) + "))", re.DOTALL)
        return _pattern


def mask(text: str) -> str:
    """Replace every registered secret value in ``text`` with ``********``.

    Every character covered by any occurrence of any registered value (overlapping occurrences included)
    is hidden; each run of hidden characters becomes one ``********``. Because the mask is made of ``*``, a
    value containing ``*`` could reappear across a mask boundary (``a***`` in ``a`` + MASK), so the pass
    repeats until no registered value remains; each pass removes at least one non-``*`` character, so it
    terminates.
    """
    if not text:
        return text
    pattern = _current_pattern()
    if pattern is None:
        return text
    while True:
        covered_until = -1
        spans: list[list[int]] = []
        for match in pattern.finditer(text):
            start, end = match.start(), match.start() + len(match.group(1))
            if spans and start <= covered_until:
                if end > covered_until:
                    spans[-1][1] = covered_until = end
            else:
                spans.append([start, end])
                covered_until = end
        if not spans:
            return text
        pieces: list[str] = []
        last = 0
        for start, end in spans:
            pieces.append(text[last:start])
            pieces.append(MASK)
            last = end
        pieces.append(text[last:])
        text = "".join(pieces)


def reveal_all(value: Any) -> Any:
    """A copy of ``value`` with every Secret inside (mappings, lists, tuples) revealed.

    For handing resolved options to a library (e.g. netmiko ``extras`` holding an enable ``secret``).
    """
    if isinstance(value, Secret):
        return value.reveal()
    if isinstance(value, Mapping):
        return {k: reveal_all(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal_all(v) for v in value]
    if isinstance(value, tuple):
        return tuple(reveal_all(v) for v in value)
    return value


# -- which data keys hold secrets ----------------------------------------------------------------------------
SECRET_KEY_MARKERS: tuple[str, ...] = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "psk",
    "preshared",
    "pre_shared",
    "md5",
    "auth_key",
    "authkey",
    "api_key",
    "apikey",
    "private_key",
    "shared_key",
    "community",
    "credential",
)
"""looks_secret(key) is true when the key, lower-cased with '-', '.' and spaces turned into '_', contains any
of these substrings. Examples: ``password``, ``enable_password``, ``secret``, ``tunnel1_psk``,
``pre-shared-key``, ``bgp_md5``, ``ospf_auth_key``, ``api_token``, ``snmp_community``."""


def looks_secret(key: Any) -> bool:
    """True when a data key names a secret (see SECRET_KEY_MARKERS for the substring rules)."""
    if not isinstance(key, str):
        return False
    normalized = re.sub(r"[-.\s]+", "_", key.lower())
    return any(marker in normalized for marker in SECRET_KEY_MARKERS)


def is_reference_text(value: Any) -> bool:
    """True when a string is meant as a reference: it is ``${...}`` as a whole (well-formed or not)."""
    return isinstance(value, str) and value.startswith("${") and value.endswith("}")


def registered_secrets_snapshot() -> frozenset[str]:
    """The registered values (for tests that must restore the masker's state)."""
    with _lock:
        return frozenset(_registered)


def restore_registered_secrets(values: Iterable[str]) -> None:
    """Replace the registered set (for tests; production code only ever adds)."""
    global _pattern
    with _lock:
        _registered.clear()
        _registered.update(values)
        _pattern = None
