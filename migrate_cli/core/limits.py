"""Ansible-style ``--limit`` expressions over inventory hosts.

Syntax (as Ansible's ``--limit``):

- Patterns are separated by commas. When the expression has no comma, ``:`` separates patterns too (outside
  ``[...]``), unless the whole expression is the exact name of a host or group (an IPv6 address used as a host
  name, say). To combine names that contain ``:``, use commas.
- ``all`` or ``*``: every host.
- ``name``: the host of that name; if no host has that name but a group does, the hosts of that group.
- ``@group``: the hosts of that group, including hosts that are in it through a child group. ``@glob`` matches
  group names (``@edge-*``).
- ``glob``: host names matching ``*``, ``?``, ``[...]`` (case-sensitive, fnmatch rules).
- ``!pattern`` excludes, ``&pattern`` intersects.

Evaluation: the union of the plain patterns (all hosts when there is none), then each ``&`` intersection,
then each ``!`` exclusion. The result is in inventory order. Every pattern must match something: a typo in
an exclusion (``!core-rtr1`` for ``core-rtr01``) would otherwise silently touch the device you meant to
protect. A limit whose patterns all match but whose result is empty (``r1,!r1``) is not an error: it selects
no host.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from migrate_cli.core.errors import ConfigError, ConfigErrors

if TYPE_CHECKING:
    from migrate_cli.core.inventory import Host

Op = Literal["union", "intersect", "exclude"]
Kind = Literal["all", "name", "glob", "group"]

_GLOB_CHARS = frozenset("*?[")
ALL_NAMES = frozenset({"all", "*"})


@dataclass(frozen=True)
class LimitPattern:
    """One pattern of a limit expression."""

    text: str  # as written (stripped), prefix included: "!@core"
    op: Op
    kind: Kind
    target: str  # without the !/& prefix and without '@': "core"

    @property
    def is_glob(self) -> bool:
        return any(c in _GLOB_CHARS for c in self.target)


@dataclass(frozen=True)
class LimitExpr:
    """A parsed limit. No patterns means every host."""

    text: str
    patterns: tuple[LimitPattern, ...]

    @property
    def selects_all(self) -> bool:
        return not self.patterns

    def of(self, op: Op) -> tuple[LimitPattern, ...]:
        return tuple(p for p in self.patterns if p.op == op)


def _split_colons(expr: str) -> list[str]:
    """Split on ':' outside [...] brackets (Ansible's rule for comma-less limits)."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in expr:
        if char == "[":
            depth += 1
        elif char == "]" and depth:
            depth -= 1
        if char == ":" and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _bare(text: str) -> str:
    text = text.strip()
    if text[:1] in ("!", "&"):
        text = text[1:].strip()
    if text[:1] == "@":
        text = text[1:].strip()
    return text


def parse_limit(expr: str | None, known_names: Collection[str] = ()) -> LimitExpr:
    """Parse a limit expression; raises ConfigError (exit 2) naming the limit for an empty pattern.

    ``known_names`` (host and group names) lets a comma-less expression that is exactly a name containing ':'
    stay one pattern.
    """
    text = (expr or "").strip()
    if not text:
        return LimitExpr(text=expr or "", patterns=())
    if "," in text:
        raw_parts = text.split(",")
    elif ":" in text and _bare(text) not in known_names:
        raw_parts = _split_colons(text)
    else:
        raw_parts = [text]

    patterns: list[LimitPattern] = []
    for index, raw in enumerate(raw_parts, start=1):
        part = raw.strip()
        if not part:
            raise ConfigError(f"empty pattern (#{index}) in limit {text!r}")
        op: Op = "union"
        body = part
        if body[0] == "!":
            op, body = "exclude", body[1:].strip()
        elif body[0] == "&":
            op, body = "intersect", body[1:].strip()
        if not body:
            raise ConfigError(f"empty pattern {part!r} in limit {text!r}")
        if body[0] in "!&":
            raise ConfigError(f"pattern {part!r} in limit {text!r} has more than one of '!' and '&'")
        kind: Kind
        if body[0] == "@":
            target = body[1:].strip()
            if not target:
                raise ConfigError(f"empty group pattern {part!r} in limit {text!r}")
            kind = "all" if target == "all" else "group"
        else:
            target = body
            if target in ALL_NAMES:
                kind = "all"
            elif any(c in _GLOB_CHARS for c in target):
                kind = "glob"
            else:
                kind = "name"
        patterns.append(LimitPattern(text=part, op=op, kind=kind, target=target))
    return LimitExpr(text=text, patterns=tuple(patterns))


def _suggest(word: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def select_hosts(
    inventory_hosts: Mapping[str, Host],
    limit: str | None,
    groups: Collection[str] | None = None,
) -> list[Host]:
    """The hosts a limit selects, in inventory order. None or "" selects every host.

    ``groups`` (all group names of the inventory) is optional: it lets a group with no hosts be told apart
    from a name that is nothing at all. Raises ConfigError (ConfigErrors when several patterns fail).
    """
    known_groups: set[str] = set(groups or ())
    members: dict[str, set[str]] = {}
    for name, host in inventory_hosts.items():
        for group in host.all_groups:
            members.setdefault(group, set()).add(name)
            known_groups.add(group)

    expr = parse_limit(limit, known_names=set(inventory_hosts) | known_groups)
    if expr.selects_all:
        return list(inventory_hosts.values())

    where = "" if len(expr.patterns) == 1 else f" (in {expr.text!r})"

    def no_hosts(pattern: LimitPattern, matched: list[str]) -> ConfigError:
        listed = ", ".join(map(repr, matched))
        noun, verb = ("group", "has") if len(matched) == 1 else ("groups", "have")
        return ConfigError(f"limit {pattern.text!r}{where}: {noun} {listed} {verb} no hosts")

    errors: list[ConfigError] = []

    def evaluate(pattern: LimitPattern) -> set[str]:
        target = pattern.target
        if pattern.kind == "all":
            return set(inventory_hosts)
        if pattern.kind == "glob":
            found = {n for n in inventory_hosts if fnmatch.fnmatchcase(n, target)}
            if not found:
                errors.append(ConfigError(f"limit {pattern.text!r}{where} matches no host"))
            return found
        if pattern.kind == "group":
            if pattern.is_glob:
                matched = [g for g in sorted(known_groups) if fnmatch.fnmatchcase(g, target)]
            else:
                matched = [target] if target in known_groups else []
            if not matched:
                errors.append(
                    ConfigError(f"limit {pattern.text!r}{where} matches no group{_suggest(target, known_groups)}")
                )
                return set()
            found = set().union(*(members.get(g, set()) for g in matched))
            if not found:
                errors.append(no_hosts(pattern, matched))
            return found
        # a plain name: a host, else a group (as Ansible)
        if target in inventory_hosts:
            return {target}
        if target in known_groups:
            found = set(members.get(target, set()))
            if not found:
                errors.append(no_hosts(pattern, [target]))
            return found
        suggestion = _suggest(target, list(inventory_hosts) + sorted(known_groups))
        errors.append(ConfigError(f"limit {pattern.text!r}{where} matches no host or group{suggestion}"))
        return set()

    # Evaluate in written order, so errors come out in the order the user typed the patterns.
    results = [(pattern.op, evaluate(pattern)) for pattern in expr.patterns]
    if errors:
        raise errors[0] if len(errors) == 1 else ConfigErrors(errors)

    positives = [found for op, found in results if op == "union"]
    selected = set().union(*positives) if positives else set(inventory_hosts)
    for op, found in results:
        if op == "intersect":
            selected &= found
    for op, found in results:
        if op == "exclude":
            selected -= found
    return [host for name, host in inventory_hosts.items() if name in selected]
