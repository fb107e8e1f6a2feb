"""--include / --exclude semantics (documented in transfer/filters.py)."""

from __future__ import annotations

import pytest

from migrate_cli.core.errors import ConfigError
from migrate_cli.transfer.filters import KeyFilter


def test_no_patterns_take_everything() -> None:
    assert KeyFilter()("a/b.txt") and not KeyFilter().active


def test_exclude_matches_across_directories() -> None:
    f = KeyFilter(exclude=("*.log",))
    assert not f("app/logs/x.log") and not f("x.log") and f("x.txt")


def test_trailing_slash_means_the_whole_directory() -> None:
    f = KeyFilter(exclude=("cache/",))
    assert not f("cache/a") and not f("cache/b/c") and f("cached.txt")


def test_include_overrides_exclude() -> None:
    f = KeyFilter(include=("tmp/keep.txt",), exclude=("tmp/",))
    assert f("tmp/keep.txt") and not f("tmp/other") and f("site/index.html")
    only_jpg = KeyFilter(include=("*.jpg",), exclude=("*",))
    assert only_jpg("a/b.jpg") and not only_jpg("a/b.png")


def test_include_alone_selects_only_matches() -> None:
    f = KeyFilter(include=("*.jpg",))
    assert f("x/y.jpg") and not f("x/y.png")


def test_empty_pattern_is_rejected() -> None:
    with pytest.raises(ConfigError, match="--exclude: empty pattern"):
        KeyFilter(exclude=(" ",))
