"""Scanning a source tree into manifest entries, exclude rules, and the manifest format."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from migrate_cli.core.errors import OperationFailed
from migrate_cli.transfer.backup.manifest import Manifest, info_from_metadata
from migrate_cli.transfer.backup.scan import Entry, Excluder, scan_tree


def make_tree(root: Path) -> None:
    (root / "a" / "b").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "a" / "x.txt").write_text("x")
    (root / "a" / "b" / "y.log").write_text("yy")
    (root / "a" / "b" / "keep.txt").write_text("k")
    (root / "cache" / "deep").mkdir(parents=True)
    (root / "cache" / "deep" / "c.bin").write_bytes(b"c")
    (root / "z.tmp").write_text("tmp")
    os.symlink("a/x.txt", root / "link")
    os.symlink("/nonexistent/target", root / "dangling")
    os.mkfifo(root / "pipe")


def test_scan_records_files_dirs_symlinks_and_skips_special_files(tmp_path: Path) -> None:
    make_tree(tmp_path)
    os.chmod(tmp_path / "a" / "x.txt", 0o640)
    scan = scan_tree(tmp_path)
    by_path = {e.path: e for e in scan.entries}
    assert [e.path for e in scan.entries] == sorted(by_path)
    assert by_path["empty"].kind == "dir"
    assert by_path["a/x.txt"].kind == "file" and by_path["a/x.txt"].size == 1 and by_path["a/x.txt"].mode == 0o640
    assert by_path["a/x.txt"].mtime_ns == os.stat(tmp_path / "a" / "x.txt").st_mtime_ns
    assert by_path["link"].kind == "symlink" and by_path["link"].target == "a/x.txt"
    assert by_path["dangling"].target == "/nonexistent/target"  # links are recorded, never followed
    assert "pipe" not in by_path and scan.skipped == ["pipe (special file)"]
    assert scan.errors == []


@pytest.mark.parametrize(
    ("patterns", "gone", "kept"),
    [
        (["*.tmp"], {"z.tmp"}, {"a/x.txt", "cache/deep/c.bin"}),
        (["*.log"], {"a/b/y.log"}, {"a/b/keep.txt"}),
        (["cache"], {"cache", "cache/deep", "cache/deep/c.bin"}, {"a/x.txt"}),
        (["cache/**"], {"cache/deep", "cache/deep/c.bin"}, {"cache"}),
        (["/a/b/*.txt"], {"a/b/keep.txt"}, {"a/b/y.log", "a/x.txt"}),
        (["b/"], {"a/b", "a/b/y.log"}, {"a/x.txt"}),
        (["x.txt/"], set(), {"a/x.txt"}),  # trailing slash: directories only
    ],
)
def test_excludes(tmp_path: Path, patterns: list[str], gone: set[str], kept: set[str]) -> None:
    make_tree(tmp_path)
    paths = {e.path for e in scan_tree(tmp_path, patterns).entries}
    assert not gone & paths
    assert kept <= paths


def test_state_dir_inside_source_is_left_out(tmp_path: Path) -> None:
    make_tree(tmp_path)
    (tmp_path / ".migrate" / "locks").mkdir(parents=True)
    (tmp_path / ".migrate" / "journal.sqlite").write_bytes(b"db")
    scan = scan_tree(tmp_path, [], skip_dirs=(tmp_path / ".migrate",))
    assert not any(e.path.startswith(".migrate") for e in scan.entries)
    assert ".migrate/ (the migrate state directory)" in scan.skipped


def test_excluder_name_vs_path_patterns() -> None:
    ex = Excluder(["node_modules", "logs/*.gz", "build/"])
    assert ex.excluded("web/node_modules", True) and ex.excluded("node_modules", False)
    assert ex.excluded("logs/a.gz", False) and ex.excluded("logs/old/a.gz", False)  # * crosses /
    assert not ex.excluded("other/logs/a.gz", False)
    assert ex.excluded("build", True) and ex.excluded("src/build", True) and not ex.excluded("build", False)


def test_manifest_round_trip_with_odd_names(tmp_path: Path) -> None:
    odd = os.fsdecode(b"caf\xe9 \xff.txt")  # not UTF-8: kept through surrogateescape
    entries = [
        Entry("dir with space", "dir", 0o755, 1),
        Entry("dir with space/üñí.txt", "file", 0o600, 2, size=3, sha256="ab" * 32),
        Entry(odd, "file", 0o644, 3, size=0, sha256="cd" * 32),
        Entry("l", "symlink", 0o777, 4, target="dir with space"),
    ]
    m = Manifest(date(2026, 11, 3), "2026-11-03T02:15:00+00:00", "/srv", "host", entries, new_bytes=3, new_objects=1)
    raw = m.to_bytes()
    assert raw == m.to_bytes()  # deterministic (gzip mtime 0)
    back = Manifest.from_bytes(raw, "test")
    assert [e.key() for e in back.entries] == [e.key() for e in entries]
    assert os.fsencode(back.entries[2].path) == b"caf\xe9 \xff.txt"
    assert back.info().files == 2 and back.info().bytes == 3 and back.digests() == {"ab" * 32, "cd" * 32}
    info = info_from_metadata(m.date, m.metadata())
    assert (info.files, info.bytes, info.new_bytes, info.complete) == (2, 3, 3, True)


def test_corrupt_manifest_is_a_clear_failure() -> None:
    with pytest.raises(OperationFailed, match="where: unreadable snapshot manifest"):
        Manifest.from_bytes(b"not gzip", "where")
