"""The lab's sample site: the tree the demo copies into the lab endpoint."""

from __future__ import annotations

from pathlib import Path

from migrate_cli.transfer.sample import write_sample_site


def test_sample_site_is_deterministic(tmp_path: Path) -> None:
    first = write_sample_site(tmp_path / "a", big_mib=1)
    write_sample_site(tmp_path / "b", big_mib=1)
    for rel, size in first.items():
        a, b = tmp_path / "a" / rel, tmp_path / "b" / rel
        assert a.stat().st_size == size and a.read_bytes() == b.read_bytes()
        assert a.stat().st_mtime_ns == b.stat().st_mtime_ns
    assert (tmp_path / "a" / "downloads" / "empty.txt").stat().st_size == 0
    assert any("ü" in rel for rel in first) and any(" " in rel for rel in first)
