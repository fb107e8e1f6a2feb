"""--include / --exclude: which keys take part in a copy (both in what is sent and in what --delete removes).

Patterns are shell globs matched against the key relative to SRC/DEST, '/'-separated (as `aws s3 sync`):
`*` and `?` also match '/', so `*.log` matches `a/b/c.log`; a pattern ending in '/' matches everything
under that directory (`cache/` = `cache/*`). Rules:
  1. a key matching any --include is in;
  2. otherwise a key matching any --exclude is out;
  3. otherwise it is in, unless only --include patterns were given (then only what they match is in).
So `--exclude '*' --include '*.jpg'` and `--include '*.jpg'` both copy only .jpg files, and
`--exclude 'tmp/' --include 'tmp/keep.txt'` copies everything but tmp/, except tmp/keep.txt.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

from migrate_cli.core.errors import ConfigError


def _compile(patterns: tuple[str, ...], option: str) -> re.Pattern[str] | None:
    parts = []
    for pattern in patterns:
        if not pattern.strip():
            raise ConfigError(f"{option}: empty pattern")
        text = pattern.lstrip("/")
        if text.endswith("/"):
            text += "*"
        parts.append(fnmatch.translate(text))
    return re.compile("|".join(parts)) if parts else None


@dataclass(frozen=True)
class KeyFilter:
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "_inc", _compile(self.include, "--include"))
        object.__setattr__(self, "_exc", _compile(self.exclude, "--exclude"))

    @property
    def active(self) -> bool:
        return bool(self.include or self.exclude)

    def __call__(self, key: str) -> bool:
        inc: re.Pattern[str] | None = self._inc  # type: ignore[attr-defined]
        exc: re.Pattern[str] | None = self._exc  # type: ignore[attr-defined]
        if inc is not None and inc.match(key):
            return True
        if exc is not None and exc.match(key):
            return False
        return not (inc is not None and exc is None)
