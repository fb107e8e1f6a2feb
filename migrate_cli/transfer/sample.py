"""A small sample site for the lab and the demo: nested directories, an empty file, unicode and spaces in
names, and one file large enough to go up in parts. Deterministic content, so re-creating it is a no-op
for a sync (same bytes, same mtimes)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

SAMPLE_MTIME = 1_700_000_000  # fixed, so a re-created sample is "unchanged" to size+mtime
PAGES = ("index.html", "about/index.html", "blog/2024/01/hello world.html", "blog/2024/02/ünïcödé.html")


def _bytes(name: str, size: int) -> bytes:
    seed = hashlib.sha256(name.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def write_sample_site(root: Path, big_mib: int = 20) -> dict[str, int]:
    """Write the sample tree under `root` (created if missing); return {relative path: size}."""
    files: dict[str, int] = {}
    for page in PAGES:
        files[page] = 2_000 + 100 * len(page)
    files["assets/css/site.css"] = 4_096
    files["assets/img/logo.png"] = 50_000
    files["downloads/empty.txt"] = 0
    files["downloads/brochure.pdf"] = big_mib * 1024 * 1024
    for rel, size in files.items():
        path = root.joinpath(*rel.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        data = _bytes(rel, size)
        if not path.exists() or path.stat().st_size != size or path.read_bytes() != data:
            path.write_bytes(data)
        os.utime(path, (SAMPLE_MTIME, SAMPLE_MTIME))
    return files
