"""Inventory: hosts, groups and defaults in Nornir's SimpleInventory layout, validated with FILE:LINE errors.

An inventory is a directory holding ``hosts.yaml`` (required), ``groups.yaml`` and ``defaults.yaml``
(optional); ``.yml`` is accepted too, but not both spellings of one file.

Each host and group may set ``hostname, port, username, password, platform, groups, data,
connection_options``; defaults the same without ``groups``. ``connection_options`` maps a connection name
(``netmiko``) to ``{hostname, port, username, password, platform, extras}``.

Resolution (Nornir's order): the host, then its groups in listed order, each group depth-first through its
own parent groups, then defaults.

- ``hostname``, ``port``, ``username``, ``password``, ``platform``: the first non-null value wins;
  ``hostname`` falls back to the host's name.
- ``data``: key by key, the first layer that has the key wins (as Nornir's ``host[key]``: an explicit
  ``null`` on the host hides a group's value). Nested mappings are not deep-merged.
- ``connection_options[name]``: each field is the first non-null value among the layers that define that
  connection (``extras`` as a whole, as Nornir); :meth:`Host.connection` then falls back to the host's own
  resolved fields.

Secrets: ``password`` fields, string values under secret-looking data/extras keys (see
:func:`~migrate_cli.core.secrets.looks_secret`; nested values under such a key too) and any ``${env:..}`` /
``${keyring:..}`` string in data or extras become :class:`~migrate_cli.core.secrets.Secret` objects.

Platforms are checked against netmiko's platform list for the top-level ``platform`` and for
``connection_options.netmiko.platform``; other connections (napalm, scrapli) use their own platform names
and are not checked.

Names: ``all`` is reserved (``--limit all``); host and group names cannot contain ``,``, whitespace or glob
characters (``*?[``) nor start with ``!``, ``&`` or ``@``, and group names cannot contain ``:``, since
limits could not select them reliably.
"""

from __future__ import annotations

import base64
import copy
import datetime as _dt
import difflib
import importlib.util
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from migrate_cli.core.errors import ConfigError, ConfigErrors
from migrate_cli.core.limits import select_hosts
from migrate_cli.core.secrets import Secret, is_reference_text, looks_secret
from migrate_cli.core.yamlio import LineDict, LineList, line_of, load_yaml

__all__ = [
    "ConnectionOptions",
    "Defaults",
    "Group",
    "Host",
    "Inventory",
    "load_inventory",
    "netmiko_platforms",
]

_EMPTY: Mapping[str, Any] = MappingProxyType({})

BASE_FIELDS = ("hostname", "port", "username", "password", "platform")
HOST_FIELDS = (*BASE_FIELDS, "groups", "data", "connection_options")
DEFAULTS_FIELDS = (*BASE_FIELDS, "data", "connection_options")
CONNECTION_FIELDS = (*BASE_FIELDS, "extras")

RESERVED_NAMES = frozenset({"all"})

# napalm / Ansible short names people carry over, mapped to the netmiko platform they usually mean.
_PLATFORM_ALIASES = {
    "ios": "cisco_ios",
    "iosxe": "cisco_xe",
    "ios-xe": "cisco_xe",
    "iosxr": "cisco_xr",
    "ios-xr": "cisco_xr",
    "nxos": "cisco_nxos",
    "nxos_ssh": "cisco_nxos",
    "asa": "cisco_asa",
    "eos": "arista_eos",
    "junos": "juniper_junos",
    "vyos": "vyos",
    "panos": "paloalto_panos",
    "fortios": "fortinet",
}


# ------------------------------------------------------------------------------------------------------------
# Public model
# ------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ConnectionOptions:
    """Options for one connection (``netmiko``...). On hosts from :meth:`Host.connection`, fully resolved."""

    hostname: str | None = None
    port: int | None = None
    username: str | None = None
    password: Secret | None = None
    platform: str | None = None
    extras: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    def to_public_dict(self) -> dict[str, Any]:
        """JSON-safe; secrets as their describe() text."""
        return {
            "hostname": self.hostname,
            "port": self.port,
            "username": self.username,
            "password": self.password.describe() if self.password is not None else None,
            "platform": self.platform,
            "extras": _public(self.extras),
        }

    def __hash__(self) -> int:
        return hash((self.hostname, self.port, self.username, self.password, self.platform))


@dataclass(frozen=True)
class Defaults:
    """``defaults.yaml`` as declared."""

    hostname: str | None = None
    port: int | None = None
    username: str | None = None
    password: Secret | None = None
    platform: str | None = None
    data: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    connection_options: Mapping[str, ConnectionOptions] = field(default_factory=lambda: _EMPTY)
    source: tuple[str, int] | None = None

    def __hash__(self) -> int:
        return hash(("defaults", self.source))


@dataclass(frozen=True)
class Group:
    """A group as declared in ``groups.yaml`` (its own values, not resolved through its parents)."""

    name: str
    hostname: str | None
    port: int | None
    username: str | None
    password: Secret | None
    platform: str | None
    groups: tuple[str, ...]  # direct parent groups, in order
    ancestors: tuple[str, ...]  # all parent groups, in resolution order
    data: Mapping[str, Any]
    connection_options: Mapping[str, ConnectionOptions]
    source: tuple[str, int]

    def __hash__(self) -> int:
        return hash(("group", self.name, self.source))


@dataclass(frozen=True)
class Host:
    """A host with every attribute resolved through its groups and the defaults."""

    name: str
    hostname: str | None  # the name when unset everywhere
    port: int | None
    username: str | None
    password: Secret | None
    platform: str | None
    groups: tuple[str, ...]  # direct groups, in order
    all_groups: tuple[str, ...]  # direct + ancestors, in resolution order
    data: Mapping[str, Any]  # merged view; secrets are Secret objects
    connection_options: Mapping[str, ConnectionOptions]  # merged per connection name, without host fallback
    source: tuple[str, int]  # (file, line) where the host is defined

    def connection(self, name: str = "netmiko") -> ConnectionOptions:
        """Options for connection ``name``, each unset field falling back to the host's resolved field."""
        own = self.connection_options.get(name) or ConnectionOptions()
        return ConnectionOptions(
            hostname=own.hostname if own.hostname is not None else self.hostname,
            port=own.port if own.port is not None else self.port,
            username=own.username if own.username is not None else self.username,
            password=own.password if own.password is not None else self.password,
            platform=own.platform if own.platform is not None else self.platform,
            extras=own.extras,
        )

    def to_public_dict(self) -> dict[str, Any]:
        """JSON-safe view; secrets are shown as their describe() text (``${env:X}`` or ``<literal>``)."""
        return {
            "name": self.name,
            "hostname": self.hostname,
            "port": self.port,
            "username": self.username,
            "password": self.password.describe() if self.password is not None else None,
            "platform": self.platform,
            "groups": list(self.groups),
            "all_groups": list(self.all_groups),
            "data": _public(self.data),
            "connection_options": {name: self.connection(name).to_public_dict() for name in self.connection_options},
            "source": {"file": self.source[0], "line": self.source[1]},
        }

    def __hash__(self) -> int:
        return hash(("host", self.name, self.source))


@dataclass(frozen=True)
class Inventory:
    directory: Path
    hosts: Mapping[str, Host]  # insertion order = file order
    groups: Mapping[str, Group]
    warnings: tuple[ConfigError, ...]  # non-fatal: literal secrets, ${env:X} with X unset here
    defaults: Defaults = field(default_factory=Defaults)

    def select(self, limit: str | None) -> list[Host]:
        """Hosts selected by an Ansible-style limit (see limits.py); None or "" selects every host."""
        return select_hosts(self.hosts, limit, groups=self.groups)

    def __hash__(self) -> int:
        return hash(("inventory", self.directory))


def _public(value: Any) -> Any:
    if isinstance(value, Secret):
        return value.describe()
    if isinstance(value, Mapping):
        return {str(k): _public(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_public(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, _dt.date | _dt.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return str(value)


# ------------------------------------------------------------------------------------------------------------
# Schema (types and unknown keys); semantic checks are done by the loader
# ------------------------------------------------------------------------------------------------------------
_Port = Annotated[StrictInt, Field(ge=1, le=65535)]


class _ConnectionModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hostname: StrictStr | None = None
    port: _Port | None = None
    username: StrictStr | None = None
    password: StrictStr | None = None
    platform: StrictStr | None = None
    extras: dict[StrictStr, Any] | None = None


class _DefaultsModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hostname: StrictStr | None = None
    port: _Port | None = None
    username: StrictStr | None = None
    password: StrictStr | None = None
    platform: StrictStr | None = None
    data: dict[StrictStr, Any] | None = None
    connection_options: dict[StrictStr, _ConnectionModel | None] | None = None


class _EntryModel(_DefaultsModel):
    groups: list[StrictStr] | None = None


# ------------------------------------------------------------------------------------------------------------
# Loader
# ------------------------------------------------------------------------------------------------------------
def netmiko_platforms() -> frozenset[str]:
    """The platform names netmiko accepts (``device_type``)."""
    from netmiko.ssh_dispatcher import CLASS_MAPPER

    return frozenset(CLASS_MAPPER)


def _keyring_available() -> bool:
    try:
        return importlib.util.find_spec("keyring") is not None
    except (ImportError, ValueError):  # ValueError: in sys.modules without a spec (a stand-in module)
        return "keyring" in sys.modules and sys.modules["keyring"] is not None


def _did_you_mean(word: str, candidates: list[str] | tuple[str, ...] | set[str] | frozenset[str]) -> str:
    close = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _loc_text(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


@dataclass
class _Layer:
    """One host, group or the defaults, as declared, with values converted (passwords as Secret)."""

    label: str  # "host 'r1'", "group 'core'", "defaults"
    file: str
    line: int
    values: dict[str, Any] = field(default_factory=dict)  # BASE_FIELDS -> value (None when unset)
    parents: list[tuple[str, int]] = field(default_factory=list)  # (group name, line)
    data: dict[str, Any] = field(default_factory=dict)
    connections: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> CONNECTION_FIELDS values


class _Loader:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.errors: list[ConfigError] = []
        self.warnings: list[ConfigError] = []
        self._platforms: frozenset[str] | None = None

    # -- reporting -------------------------------------------------------------------------------------------
    def error(self, message: str, file: str | Path | None, line: int | None = None) -> None:
        self.errors.append(ConfigError(message, file=file, line=line))

    def warn(self, message: str, file: str | Path | None, line: int | None = None) -> None:
        self.warnings.append(ConfigError(message, file=file, line=line))

    # -- files -----------------------------------------------------------------------------------------------
    def find(self, stem: str) -> Path | None:
        yaml_path, yml_path = self.directory / f"{stem}.yaml", self.directory / f"{stem}.yml"
        if yaml_path.is_file() and yml_path.is_file():
            self.error(f"both {yaml_path.name} and {yml_path.name} exist; keep only one", yml_path)
            return yaml_path
        if yaml_path.is_file():
            return yaml_path
        if yml_path.is_file():
            return yml_path
        for candidate in (yaml_path, yml_path):
            if candidate.exists():
                self.error("is not a regular file", candidate)
        return None

    def read(self, path: Path, what: str) -> LineDict | None:
        """The top-level mapping of a file ({} for an empty file); None when unusable (error recorded)."""
        try:
            doc = load_yaml(path)
        except ConfigError as exc:
            self.errors.append(exc)
            return None
        if doc is None:
            empty = LineDict()
            empty.line, empty.key_lines = 1, {}
            return empty
        if not isinstance(doc, LineDict):
            kind = "a list" if isinstance(doc, list) else f"a {type(doc).__name__}"
            self.error(f"top level must be a mapping of {what}, got {kind}", path, getattr(doc, "line", 1) or 1)
            return None
        return doc

    # -- names -----------------------------------------------------------------------------------------------
    def check_name(self, name: Any, kind: str, file: Path, line: int) -> bool:
        if not isinstance(name, str):
            self.error(f"{kind} name must be a string, got {type(name).__name__} {name!r}", file, line)
            return False
        if not name:
            self.error(f"{kind} name must not be empty", file, line)
            return False
        if name in RESERVED_NAMES:
            self.error(f"{kind} name {name!r} is reserved (--limit {name} selects every host)", file, line)
            return False
        bad = [c for c in ",*?[" if c in name]
        if kind == "group" and ":" in name:
            bad.append(":")
        if any(c.isspace() for c in name):
            bad.append("whitespace")
        if bad:
            self.error(f"{kind} name {name!r} cannot contain {', '.join(map(repr, bad))}", file, line)
            return False
        if name[0] in "!&@":
            self.error(f"{kind} name {name!r} cannot start with {name[0]!r}", file, line)
            return False
        return True

    # -- one entry -------------------------------------------------------------------------------------------
    def entry(
        self, raw: Any, label: str, file: Path, line: int, root: Any, prefix: tuple[Any, ...], kind: str
    ) -> _Layer:
        """Validate one host/group/defaults entry; returns its _Layer (meaningful only when no errors)."""
        layer = _Layer(label=label, file=str(file), line=line, values=dict.fromkeys(BASE_FIELDS))
        if raw is None:
            return layer
        if not isinstance(raw, LineDict):
            got = "a list" if isinstance(raw, list) else f"a {type(raw).__name__}"
            self.error(f"{label} must be a mapping of fields (or empty), got {got}", file, line)
            return layer

        model = _DefaultsModel if kind == "defaults" else _EntryModel
        try:
            model.model_validate(raw)
        except ValidationError as exc:
            for err in exc.errors():
                loc = tuple(err["loc"])
                self.error(f"{label}: {self.schema_message(err, loc, kind)}", file, line_of(root, prefix + loc))

        layer.values = self.scalars(raw, label, "", file, line, check_platform=True)

        groups = raw.get("groups")
        if kind != "defaults" and isinstance(groups, LineList):
            seen: set[str] = set()
            for item, item_line in zip(groups, groups.item_lines, strict=True):
                if not isinstance(item, str):
                    continue  # reported by the schema
                if item in seen:
                    self.error(f"{label}: group {item!r} is listed twice", file, item_line)
                    continue
                seen.add(item)
                layer.parents.append((item, item_line))

        data = raw.get("data")
        if isinstance(data, LineDict):
            layer.data = self.convert(data, False, label, "data", file, raw.key_lines.get("data", line))

        options = raw.get("connection_options")
        if isinstance(options, LineDict):
            for conn_name, conn in options.items():
                if not isinstance(conn_name, str):
                    continue  # reported by the schema
                conn_line = options.key_lines.get(conn_name, line)
                values: dict[str, Any] = dict.fromkeys(CONNECTION_FIELDS)
                layer.connections[conn_name] = values
                if not isinstance(conn, LineDict):
                    continue  # None (no options) or reported by the schema
                path = f"connection_options.{conn_name}"
                # netmiko's platform names are checked; other connections (napalm...) have their own
                values.update(self.scalars(conn, label, path, file, conn_line, conn_name == "netmiko"))
                extras = conn.get("extras")
                if isinstance(extras, LineDict):
                    extras_line = conn.key_lines.get("extras", conn_line)
                    values["extras"] = self.convert(extras, False, label, f"{path}.extras", file, extras_line)
        return layer

    def scalars(
        self, raw: LineDict, label: str, path: str, file: Path, line: int, check_platform: bool
    ) -> dict[str, Any]:
        """The BASE_FIELDS of one mapping (password as a Secret); None when unset or invalid."""
        values: dict[str, Any] = dict.fromkeys(BASE_FIELDS)
        for key in BASE_FIELDS:
            value = raw.get(key)
            at, name = raw.key_lines.get(key, line), f"{path}.{key}" if path else key
            if key == "port":
                if isinstance(value, int) and not isinstance(value, bool):
                    values[key] = value  # range checked by the schema
            elif not isinstance(value, str):
                continue  # unset, or a type error reported by the schema
            elif key == "password":
                values[key] = self.secret(value, label, name, file, at)
            else:
                if "${" in value:
                    self.error(
                        f"{label}: {name}: secret references are only supported in password, data and extras",
                        file,
                        at,
                    )
                if key == "platform" and check_platform:
                    self.check_platform(value, label, name, file, at)
                values[key] = value
        return values

    def schema_message(self, err: Any, loc: tuple[Any, ...], kind: str) -> str:
        etype = err["type"]
        if etype == "extra_forbidden":
            key = loc[-1]
            in_connection = len(loc) == 3 and loc[0] == "connection_options"
            allowed = CONNECTION_FIELDS if in_connection else (DEFAULTS_FIELDS if kind == "defaults" else HOST_FIELDS)
            where = f"{_loc_text(loc[:-1])}: " if len(loc) > 1 else ""
            if kind == "defaults" and key == "groups" and len(loc) == 1:
                return "unknown key 'groups' (defaults cannot belong to groups)"
            return f"{where}unknown key {key!r}{_did_you_mean(str(key), allowed)}"
        if loc and loc[-1] == "[key]":
            return f"{_loc_text(loc[:-2])}: key {loc[-2]!r} must be a string"
        path = _loc_text(loc)
        value = err.get("input")
        secret_path = any(isinstance(p, str) and looks_secret(p) for p in loc)
        got = ""
        if not secret_path and (value is None or isinstance(value, bool | int | float | str)):
            shown = repr(value)
            got = f" (got {shown[:40] + '...' if len(shown) > 40 else shown})"
        if etype == "string_type":
            hint = " (put it in quotes)" if isinstance(value, bool | int | float) else ""
            return f"{path}: must be a string{hint}{got if not hint else ''}"
        if etype == "int_type":
            return f"{path}: must be an integer{got}"
        if etype in ("less_than_equal", "greater_than_equal"):
            return f"{path}: must be between 1 and 65535{got}"
        if etype == "list_type":
            what = "a list of group names, e.g. [core, edge]" if loc == ("groups",) else "a list"
            return f"{path}: must be {what}{got}"
        if etype in ("dict_type", "model_type", "model_attributes_type"):
            return f"{path}: must be a mapping{got}"
        msg = str(err.get("msg", "invalid value"))
        return f"{path}: {msg[:1].lower() + msg[1:]}{got}"

    def check_platform(self, platform: str, label: str, path: str, file: Path, line: int) -> None:
        if self._platforms is None:
            self._platforms = netmiko_platforms()
        if platform in self._platforms:
            return
        suggestion = _PLATFORM_ALIASES.get(platform.lower())
        if suggestion not in self._platforms:
            close = difflib.get_close_matches(platform.lower(), sorted(self._platforms), n=1, cutoff=0.6)
            suggestion = close[0] if close else None
        hint = f" (did you mean {suggestion!r}?)" if suggestion else ""
        self.error(f"{label}: {path}: unknown netmiko platform {platform!r}{hint}", file, line)

    def secret(self, raw: str, label: str, path: str, file: Path, line: int) -> Secret | None:
        try:
            secret = Secret.parse(raw)
        except ConfigError as exc:
            self.error(f"{label}: {path}: {exc.message}", file, line)
            return None
        if secret.is_literal:
            self.warn(
                f"{label}: {path} is a literal secret; use ${{env:NAME}} or ${{keyring:SERVICE/USER}}",
                file,
                line,
            )
        elif secret.scheme == "keyring" and not _keyring_available():
            self.warn(f"{label}: {path}: {secret.describe()} needs `pip install keyring`", file, line)
        elif secret.env_name is not None:
            value = os.environ.get(secret.env_name)
            if value is None:
                self.warn(f"{label}: {path}: {secret.describe()} is not set in this environment", file, line)
            elif value == "":
                self.warn(f"{label}: {path}: {secret.describe()} is empty in this environment", file, line)
        return secret

    def convert(self, value: Any, secret_context: bool, label: str, path: str, file: Path, line: int) -> Any:
        """Plain dict/list copies of data, with secrets as Secret objects."""
        if isinstance(value, dict):
            result: dict[Any, Any] = {}
            for key, item in value.items():
                key_line = value.key_lines.get(key, line) if isinstance(value, LineDict) else line
                sub = f"{path}.{key}"
                result[key] = self.convert(item, secret_context or looks_secret(key), label, sub, file, key_line)
            return result
        if isinstance(value, list):
            lines = value.item_lines if isinstance(value, LineList) else [line] * len(value)
            return [
                self.convert(item, secret_context, label, f"{path}[{i}]", file, item_line)
                for i, (item, item_line) in enumerate(zip(value, lines, strict=True))
            ]
        if isinstance(value, str) and (
            secret_context or is_reference_text(value) or "${env:" in value or "${keyring:" in value
        ):
            return self.secret(value, label, path, file, line)
        return value


def _expand_groups(direct: list[str] | tuple[str, ...], parents: Mapping[str, list[str]]) -> tuple[str, ...]:
    """Direct groups and their ancestors, depth-first in listed order, each once (Nornir's order)."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        order.append(name)
        for parent in parents.get(name, []):
            visit(parent)

    for name in direct:
        visit(name)
    return tuple(order)


def _connection(values: Mapping[str, Any]) -> ConnectionOptions:
    extras = values.get("extras")
    return ConnectionOptions(
        hostname=values.get("hostname"),
        port=values.get("port"),
        username=values.get("username"),
        password=values.get("password"),
        platform=values.get("platform"),
        extras=MappingProxyType(dict(extras)) if extras is not None else _EMPTY,
    )


def _resolve_host(name: str, layer: _Layer, chain: list[_Layer], all_groups: tuple[str, ...]) -> Host:
    values: dict[str, Any] = {}
    for key in BASE_FIELDS:
        values[key] = next((lay.values[key] for lay in chain if lay.values.get(key) is not None), None)
    if values["hostname"] is None:
        values["hostname"] = name

    data: dict[str, Any] = {}
    for lay in chain:
        for key, value in lay.data.items():
            if key not in data:
                data[key] = copy.deepcopy(value)

    connections: dict[str, ConnectionOptions] = {}
    names = list(dict.fromkeys(conn for lay in chain for conn in lay.connections))
    for conn in names:
        merged: dict[str, Any] = {}
        for key in CONNECTION_FIELDS:
            merged[key] = next(
                (
                    lay.connections[conn][key]
                    for lay in chain
                    if conn in lay.connections and lay.connections[conn].get(key) is not None
                ),
                None,
            )
        if merged["extras"] is not None:
            merged["extras"] = copy.deepcopy(merged["extras"])
        connections[conn] = _connection(merged)

    return Host(
        name=name,
        hostname=values["hostname"],
        port=values["port"],
        username=values["username"],
        password=values["password"],
        platform=values["platform"],
        groups=tuple(p for p, _ in layer.parents),
        all_groups=all_groups,
        data=MappingProxyType(data),
        connection_options=MappingProxyType(connections),
        source=(layer.file, layer.line),
    )


def _sort_key(err: ConfigError) -> tuple[str, int]:
    return (err.file or "", err.line or 0)


def load_inventory(directory: Path) -> Inventory:
    """Load and validate an inventory directory.

    On any problem raises ConfigErrors holding every error found, each ``FILE:LINE: message``. Non-fatal
    findings (literal secrets, ``${env:X}`` with X unset here, no hosts) are in ``Inventory.warnings``.
    """
    directory = Path(directory)
    loader = _Loader(directory)
    if not directory.exists():
        raise ConfigErrors([ConfigError("inventory directory does not exist", file=directory)])
    if not directory.is_dir():
        raise ConfigErrors([ConfigError("inventory path is not a directory", file=directory)])

    hosts_path = loader.find("hosts")
    groups_path = loader.find("groups")
    defaults_path = loader.find("defaults")
    if hosts_path is None and not any(e.file and Path(e.file).stem == "hosts" for e in loader.errors):
        loader.error("no hosts.yaml (or hosts.yml) in the inventory directory", directory)

    # defaults
    defaults_layer = _Layer(label="defaults", file="", line=0, values=dict.fromkeys(BASE_FIELDS))
    if defaults_path is not None:
        doc = loader.read(defaults_path, "default fields")
        if doc is not None:
            defaults_layer = loader.entry(doc, "defaults", defaults_path, doc.line or 1, doc, (), "defaults")

    # groups
    group_layers: dict[str, _Layer] = {}
    group_names: set[str] = set()  # every name declared, valid entry or not (avoids knock-on errors)
    groups_usable = True
    if groups_path is not None:
        doc = loader.read(groups_path, "group name -> group fields")
        if doc is None:
            groups_usable = False
        else:
            for name, raw in doc.items():
                line = doc.key_lines.get(name, doc.line)
                if isinstance(name, str):
                    group_names.add(name)
                if not loader.check_name(name, "group", groups_path, line):
                    continue
                group_layers[name] = loader.entry(raw, f"group {name!r}", groups_path, line, doc, (name,), "group")

    # hosts
    host_layers: dict[str, _Layer] = {}
    if hosts_path is not None:
        doc = loader.read(hosts_path, "host name -> host fields")
        if doc is not None:
            for name, raw in doc.items():
                line = doc.key_lines.get(name, doc.line)
                if not loader.check_name(name, "host", hosts_path, line):
                    continue
                host_layers[name] = loader.entry(raw, f"host {name!r}", hosts_path, line, doc, (name,), "host")
            if not doc:
                loader.warn("no hosts defined", hosts_path)

    for name, layer in host_layers.items():
        if name in group_names:
            loader.warn(
                f"host {name!r} has the same name as a group: --limit {name} selects the host, "
                f"--limit @{name} the group",
                layer.file,
                layer.line,
            )

    # group references
    if groups_usable:
        missing_note = "" if groups_path is not None else " (there is no groups.yaml)"
        for layer in [*group_layers.values(), *host_layers.values()]:
            for parent, line in layer.parents:
                if parent not in group_names:
                    loader.error(
                        f"{layer.label} refers to unknown group {parent!r}"
                        f"{_did_you_mean(parent, group_names)}{missing_note}",
                        layer.file,
                        line,
                    )

    # group cycles
    parents = {name: [p for p, _ in lay.parents if p in group_layers] for name, lay in group_layers.items()}
    parent_lines = {name: {p: ln for p, ln in lay.parents} for name, lay in group_layers.items()}
    state: dict[str, int] = {}
    stack: list[str] = []
    reported: set[tuple[str, ...]] = set()

    def dfs(name: str) -> None:
        state[name] = 1
        stack.append(name)
        for parent in parents[name]:
            if state.get(parent) == 1:
                cycle = stack[stack.index(parent) :]
                start = cycle.index(min(cycle))
                canonical = tuple(cycle[start:] + cycle[:start])
                if canonical not in reported:
                    reported.add(canonical)
                    loader.error(
                        f"group cycle: {' -> '.join([*cycle, parent])}",
                        group_layers[name].file,
                        parent_lines[name][parent],
                    )
            elif parent not in state:
                dfs(parent)
        stack.pop()
        state[name] = 2

    for name in group_layers:
        if name not in state:
            dfs(name)

    loader.warnings.sort(key=_sort_key)
    if loader.errors:
        loader.errors.sort(key=_sort_key)
        raise ConfigErrors(loader.errors)

    # build
    groups: dict[str, Group] = {}
    for name, lay in group_layers.items():
        groups[name] = Group(
            name=name,
            hostname=lay.values["hostname"],
            port=lay.values["port"],
            username=lay.values["username"],
            password=lay.values["password"],
            platform=lay.values["platform"],
            groups=tuple(parents[name]),
            ancestors=_expand_groups(parents[name], parents),
            data=MappingProxyType(lay.data),
            connection_options=MappingProxyType({c: _connection(v) for c, v in lay.connections.items()}),
            source=(lay.file, lay.line),
        )
    hosts: dict[str, Host] = {}
    for name, lay in host_layers.items():
        all_groups = _expand_groups([p for p, _ in lay.parents], parents)
        chain = [lay, *(group_layers[g] for g in all_groups), defaults_layer]
        hosts[name] = _resolve_host(name, lay, chain, all_groups)

    defaults = Defaults(
        hostname=defaults_layer.values["hostname"],
        port=defaults_layer.values["port"],
        username=defaults_layer.values["username"],
        password=defaults_layer.values["password"],
        platform=defaults_layer.values["platform"],
        data=MappingProxyType(defaults_layer.data),
        connection_options=MappingProxyType({c: _connection(v) for c, v in defaults_layer.connections.items()}),
        source=(defaults_layer.file, defaults_layer.line) if defaults_path is not None else None,
    )
    return Inventory(
        directory=directory,
        hosts=MappingProxyType(hosts),
        groups=MappingProxyType(groups),
        warnings=tuple(loader.warnings),
        defaults=defaults,
    )
