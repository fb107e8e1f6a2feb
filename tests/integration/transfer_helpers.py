"""Shared pieces of the transfer integration tests: run the copy service, read objects back."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from migrate_cli.core.settings import Settings
from migrate_cli.transfer.engine import EngineResult
from migrate_cli.transfer.plan import SyncPlan
from migrate_cli.transfer.service import CopyRequest, apply_copy, open_endpoints, plan_copy, validate

MiB = 1024 * 1024


def sync(
    src: str | Path, dst: str | Path, state: Path, inventory: Any = None, **options: Any
) -> tuple[SyncPlan, EngineResult | None]:
    """Plan and (when there is anything to do) apply one copy, as the CLI does."""
    settings = Settings(state_dir=state)
    endpoints = open_endpoints(validate(CopyRequest(str(src), str(dst), **options)), inventory)
    try:
        plan = plan_copy(endpoints, settings)
        result = apply_copy(endpoints, plan, settings, None) if plan.changed else None
    finally:
        endpoints.close()
    return plan, result


def make_tree(root: Path, files: int = 12, big: int = 0) -> dict[str, bytes]:
    """A small site: nested dirs, an empty file, unicode and spaces in names, optional big files."""
    content: dict[str, bytes] = {}
    for i in range(files):
        key = f"dir{i % 3}/sub {i % 2}/file-{i}.txt"
        content[key] = os.urandom(100 * i)
    content["ünï cödé/spaced name.txt"] = b"unicode"
    content["empty.txt"] = b""
    for i in range(big):
        content[f"big/blob-{i}.bin"] = os.urandom(12 * MiB + i * 1000)
    for key, data in content.items():
        path = root.joinpath(*key.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return content


def objects(s3: Any, bucket: str, prefix: str = "") -> dict[str, bytes]:
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            out[obj["Key"][len(prefix) :]] = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
    return out


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def sha256_b64(data: bytes) -> str:
    import base64

    return base64.b64encode(hashlib.sha256(data).digest()).decode()
