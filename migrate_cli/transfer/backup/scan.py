"""Walk a source tree into manifest entries: files, directories and symlinks (never followed).

Exclude patterns (shell globs, `fnmatch`):
- a pattern without `/` matches the name of a file or directory at any depth (`*.tmp`, `node_modules`);
- a pattern with `/` matches the whole path relative to the source (`cache/**`, `logs/*.gz`); `*` also
  crosses `/`; a leading `/` is ignored; a trailing `/` matches directories only (`build/`).
An excluded directory is not descended into. Sockets, FIFOs and device files are skipped and reported.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any


@dataclass(slots=True)
class Entry:
    """One item of a snapshot. `path` is relative, `/`-separated (non-UTF-8 names kept via surrogateescape)."""

    path: str
    kind: str  # file | dir | symlink
    mode: int  # permission bits (stat.S_IMODE)
    mtime_ns: int
    size: int = 0
    sha256: str | None = None
    target: str | None = None  # symlinks

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "type": self.kind, "mode": self.mode, "mtime_ns": self.mtime_ns}
        if self.kind == "file":
            out |= {"size": self.size, "sha256": self.sha256}
        elif self.kind == "symlink":
            out["target"] = self.target
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Entry:
        return cls(
            path=d["path"],
            kind=d["type"],
            mode=int(d.get("mode", 0o644)),
            mtime_ns=int(d.get("mtime_ns", 0)),
            size=int(d.get("size", 0)),
            sha256=d.get("sha256"),
            target=d.get("target"),
        )

    def key(self) -> tuple[Any, ...]:
        """What makes two entries the same item in the same state."""
        return (self.path, self.kind, self.mode, self.mtime_ns, self.size, self.sha256, self.target)


@dataclass
class Scan:
    entries: list[Entry] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # unreadable directories
    skipped: list[str] = field(default_factory=list)  # special files, excluded state dir

    @property
    def files(self) -> list[Entry]:
        return [e for e in self.entries if e.kind == "file"]


class Excluder:
    """Compiled exclude rules (see the module docstring)."""

    def __init__(self, patterns: list[str]) -> None:
        self.names: list[str] = []
        self.paths: list[tuple[str, bool]] = []  # (pattern, dirs only)
        for raw in patterns:
            pattern = raw.strip()
            dir_only = pattern.endswith("/")
            pattern = pattern.strip("/")
            if "/" in pattern:
                self.paths.append((pattern, dir_only))
            elif dir_only:
                self.paths.append(("*/" + pattern, True))
                self.paths.append((pattern, True))
            else:
                self.names.append(pattern)

    def excluded(self, rel: str, is_dir: bool) -> bool:
        name = rel.rsplit("/", 1)[-1]
        if any(fnmatchcase(name, p) for p in self.names):
            return True
        return any(fnmatchcase(rel, p) and (is_dir or not dir_only) for p, dir_only in self.paths)


def scan_tree(root: Path, exclude: list[str] | None = None, skip_dirs: tuple[Path, ...] = ()) -> Scan:
    """Every entry under `root` (not `root` itself), sorted by path. `skip_dirs` (absolute) are left out."""
    excluder = Excluder(exclude or [])
    skip = {os.path.realpath(p) for p in skip_dirs}
    scan = Scan()
    stack: list[tuple[str, str]] = [(str(root), "")]
    while stack:
        directory, rel_dir = stack.pop()
        try:
            with os.scandir(directory) as it:
                items = list(it)
        except OSError as exc:
            scan.errors.append(f"{rel_dir or '.'}: cannot read directory: {exc.strerror or exc}")
            continue
        for item in items:
            rel = f"{rel_dir}/{item.name}" if rel_dir else item.name
            try:
                st = item.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # vanished while scanning
            except OSError as exc:
                scan.errors.append(f"{rel}: cannot stat: {exc.strerror or exc}")
                continue
            mode = st.st_mode
            is_dir = stat.S_ISDIR(mode)
            if excluder.excluded(rel, is_dir):
                continue
            if is_dir:
                if os.path.realpath(item.path) in skip:
                    scan.skipped.append(f"{rel}/ (the migrate state directory)")
                    continue
                scan.entries.append(Entry(rel, "dir", stat.S_IMODE(mode), st.st_mtime_ns))
                stack.append((item.path, rel))
            elif stat.S_ISREG(mode):
                scan.entries.append(Entry(rel, "file", stat.S_IMODE(mode), st.st_mtime_ns, size=st.st_size))
            elif stat.S_ISLNK(mode):
                try:
                    target = os.readlink(item.path)
                except OSError as exc:
                    scan.errors.append(f"{rel}: cannot read symlink: {exc.strerror or exc}")
                    continue
                scan.entries.append(Entry(rel, "symlink", stat.S_IMODE(mode), st.st_mtime_ns, target=target))
            else:
                scan.skipped.append(f"{rel} (special file)")
    scan.entries.sort(key=lambda e: e.path)
    return scan
