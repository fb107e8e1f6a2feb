"""Copy/sync between local directories through the whole service (validate, open, plan, apply):
sync semantics, parts, odd names, symlinks, files vanishing mid-copy. (Unreadable files and directories:
tests/e2e/test_data_copy_cli.py, as a non-root user, since root reads everything.)"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from migrate_cli.core.errors import ConfigError
from migrate_cli.core.settings import Settings
from migrate_cli.transfer.engine import EngineResult
from migrate_cli.transfer.plan import SyncPlan
from migrate_cli.transfer.service import CopyRequest, apply_copy, open_endpoints, plan_copy, validate
from migrate_cli.transfer.sources import PARTIAL_SUFFIX

MiB = 1024 * 1024


def sync(src: Path, dst: Path, state: Path, **options: Any) -> tuple[SyncPlan, EngineResult | None]:
    settings = Settings(state_dir=state)
    endpoints = open_endpoints(validate(CopyRequest(str(src), str(dst), **options)), None)
    plan = plan_copy(endpoints, settings)
    result = apply_copy(endpoints, plan, settings, None) if plan.changed else None
    endpoints.close()
    return plan, result


def tree(root: Path) -> dict[str, tuple[bytes, int]]:
    out = {}
    for path in root.rglob("*"):
        if path.is_file():
            out[path.relative_to(root).as_posix()] = (path.read_bytes(), path.stat().st_mtime_ns)
    return out


@pytest.fixture
def site(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "a" / "b").mkdir(parents=True)
    (src / "a" / "b" / "page.html").write_bytes(b"<html>" * 100)
    (src / "empty.txt").write_bytes(b"")
    (src / "sp ace ünï.txt").write_text("unicode and spaces")
    deep = src.joinpath(*[f"d{i}" for i in range(40)])
    deep.mkdir(parents=True)
    (deep / "deep.txt").write_text("deep")
    (src / "big.bin").write_bytes(os.urandom(11 * MiB + 123))
    return src


def test_copy_then_nothing_to_do(site: Path, tmp_path: Path) -> None:
    dst, state = tmp_path / "dst", tmp_path / "state"
    plan, result = sync(site, dst, state, part_size="5M", workers=3)
    assert len(plan.copies) == 5 and result is not None and not result.failed
    assert tree(dst) == tree(site)  # bytes and mtimes (nanoseconds)
    assert not list(dst.rglob(f"*{PARTIAL_SUFFIX}"))
    plan, result = sync(site, dst, state)
    assert (len(plan.copies), len(plan.skips), result) == (0, 5, None)


def test_changes_are_detected_by_size_then_mtime(site: Path, tmp_path: Path) -> None:
    dst, state = tmp_path / "dst", tmp_path / "state"
    sync(site, dst, state)
    page = site / "a" / "b" / "page.html"
    page.write_bytes(b"<html>" * 101)
    st = (site / "empty.txt").stat()
    os.utime(site / "empty.txt", ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    plan, _ = sync(site, dst, state)
    assert {(i.key, i.reason) for i in plan.copies} == {
        ("a/b/page.html", "changed: size"),
        ("empty.txt", "changed: mtime"),
    }
    assert tree(dst) == tree(site)


def test_without_state_identical_files_are_still_skipped(site: Path, tmp_path: Path) -> None:
    dst = tmp_path / "dst"
    sync(site, dst, tmp_path / "state-1")
    plan, _ = sync(site, dst, tmp_path / "state-2")  # a fresh state: mtimes decide, nothing moves
    assert not plan.copies and len(plan.skips) == 5


def test_checksum_mode_sees_a_same_size_same_mtime_edit(site: Path, tmp_path: Path) -> None:
    dst, state = tmp_path / "dst", tmp_path / "state"
    sync(site, dst, state)
    target = dst / "sp ace ünï.txt"
    st = target.stat()
    target.write_text("UNICODE AND SPACES")  # same size
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert not sync(site, dst, tmp_path / "state-2")[0].copies  # size+mtime cannot see it
    plan, _ = sync(site, dst, state, checksum=True)
    assert [(i.key, i.reason) for i in plan.copies] == [("sp ace ünï.txt", "changed: content")]
    assert target.read_text() == "unicode and spaces"


def test_delete_respects_filters(site: Path, tmp_path: Path) -> None:
    dst, state = tmp_path / "dst", tmp_path / "state"
    sync(site, dst, state)
    (dst / "stale.txt").write_text("x")
    (dst / "keep.log").write_text("x")
    plan, result = sync(site, dst, state, delete=True, exclude=("*.log",))
    assert [e.key for e in plan.deletes] == ["stale.txt"] and result is not None and result.deleted == 1
    assert not (dst / "stale.txt").exists() and (dst / "keep.log").exists()


def test_include_exclude_select_what_is_copied(site: Path, tmp_path: Path) -> None:
    plan, _ = sync(site, tmp_path / "dst", tmp_path / "state", exclude=("*",), include=("*.html", "d0/"))
    assert sorted(i.key for i in plan.copies) == ["a/b/page.html", "/".join(f"d{i}" for i in range(40)) + "/deep.txt"]


def test_symlinks_followed_by_default_loops_and_broken_links_reported(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "real").mkdir(parents=True)
    (src / "real" / "f.txt").write_text("f")
    (src / "link-to-file").symlink_to(src / "real" / "f.txt")
    (src / "link-to-dir").symlink_to(src / "real")
    (src / "real" / "loop").symlink_to(src)
    (src / "broken").symlink_to(tmp_path / "nowhere")
    plan, _ = sync(src, tmp_path / "dst", tmp_path / "state")
    assert sorted(i.key for i in plan.copies) == ["link-to-dir/f.txt", "link-to-file", "real/f.txt"]
    assert any("broken symlink" in w for w in plan.warnings)
    assert any("symlink loop" in w for w in plan.warnings)
    assert not (tmp_path / "dst" / "link-to-file").is_symlink()
    plan, _ = sync(src, tmp_path / "dst2", tmp_path / "state", follow_symlinks=False)
    assert [i.key for i in plan.copies] == ["real/f.txt"]
    assert sum("symlinks are not followed" in w for w in plan.warnings) == 4


def test_a_file_vanishing_mid_copy_fails_alone(site: Path, tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "state")
    endpoints = open_endpoints(validate(CopyRequest(str(site), str(tmp_path / "dst"))), None)
    plan = plan_copy(endpoints, settings)
    (site / "empty.txt").unlink()
    result = apply_copy(endpoints, plan, settings, None)
    assert [k for k, _ in result.failed] == ["empty.txt"] and "No such file" in result.failed[0][1]
    assert result.copied == 4


def test_overlapping_or_identical_locations_are_refused(tmp_path: Path) -> None:
    for src, dst in [(tmp_path, tmp_path / "sub"), (tmp_path / "sub", tmp_path), (tmp_path, tmp_path)]:
        with pytest.raises(ConfigError):
            validate(CopyRequest(str(src), str(dst)))


def test_missing_source_and_file_as_destination(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "src").mkdir()
    with pytest.raises(ConfigError, match="does not exist"):
        open_endpoints(validate(CopyRequest(str(tmp_path / "nope"), str(tmp_path / "d"))), None)
    with pytest.raises(ConfigError, match="not a directory"):
        open_endpoints(validate(CopyRequest(str(tmp_path / "src"), str(tmp_path / "file"))), None)
