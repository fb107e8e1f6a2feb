"""YAML loading that remembers line numbers, so errors can say FILE:LINE."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from migrate_cli.core.errors import ConfigError


class LineDict(dict):
    """A mapping from YAML that knows its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[Any, int]


class LineList(list):
    """A sequence from YAML that knows its own line and the line of each item (1-based)."""

    line: int = 0
    item_lines: list[int]


@functools.cache
def _line_loader() -> type:
    """The SafeLoader subclass that records lines; made on first use (PyYAML costs start-up time)."""
    import yaml

    class LineLoader(yaml.SafeLoader):
        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> LineDict:  # type: ignore[override]
            self.flatten_mapping(node)
            result = LineDict()
            result.line = node.start_mark.line + 1
            result.key_lines = {}
            for key_node, value_node in node.value:
                key = self.construct_object(key_node, deep=True)
                if key in result:
                    raise ConfigError(
                        f"duplicate key {key!r}", file=node.start_mark.name, line=key_node.start_mark.line + 1
                    )
                result[key] = self.construct_object(value_node, deep=True)
                result.key_lines[key] = key_node.start_mark.line + 1
            return result

        def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> LineList:  # type: ignore[override]
            result = LineList(self.construct_object(child, deep=True) for child in node.value)
            result.line = node.start_mark.line + 1
            result.item_lines = [child.start_mark.line + 1 for child in node.value]
            return result

    LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, LineLoader.construct_mapping)
    LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, LineLoader.construct_sequence)
    return LineLoader


def load_yaml(path: Path) -> Any:
    """Load one YAML file into LineDict/LineList values; syntax errors become ConfigError with a line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror}", file=path) from exc
    import yaml

    try:
        return yaml.load(text, Loader=_make_loader(path))  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(f"invalid YAML: {exc.problem or exc.context}", file=path, line=line) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", file=path) from exc


def _make_loader(path: Path) -> Any:
    loader_class = _line_loader()

    def factory(stream: str) -> Any:
        loader = loader_class(stream)
        loader.name = str(path)
        return loader

    return factory


def line_of(data: Any, loc: tuple[Any, ...]) -> int | None:
    """The line of the deepest node on the path `loc` (as pydantic reports it) that has one."""
    best = getattr(data, "line", None) or None
    node = data
    for part in loc:
        if isinstance(node, LineDict) and part in node:
            best = node.key_lines.get(part, best)
            node = node[part]
        elif isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node):
            best = node.item_lines[part]
            node = node[part]
        else:
            break
    return best
