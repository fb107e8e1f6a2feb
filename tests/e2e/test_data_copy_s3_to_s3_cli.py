"""`migrate data copy s3://... s3://...` as a user runs it against moto server: copied inside S3 (the JSON
summary's `server_side`, the plain summary's "(N server-side)"), an unchanged dry run, a no-op re-sync."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from migrate_cli.aws.session import client
from migrate_cli.lab.aws_endpoint import LocalAwsEndpoint
from tests.e2e.cli import migrate


def _objects(s3: Any, bucket: str, prefix: str) -> dict[str, bytes]:
    out = {}
    for obj in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
        out[obj["Key"][len(prefix) :]] = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
    return out


@pytest.mark.slow
def test_s3_to_s3_copy_is_server_side(lab_env: LocalAwsEndpoint, tmp_path: Path) -> None:
    endpoint = lab_env
    s3 = client("s3")
    src, dst = f"e2e-{uuid.uuid4().hex[:10]}", f"e2e-{uuid.uuid4().hex[:10]}"
    for name in (src, dst):
        s3.create_bucket(Bucket=name)
    content = {f"pages/p{i}.html": os.urandom(300 + i) for i in range(5)} | {"img/logo ü.png": os.urandom(900)}
    for key, data in content.items():
        s3.put_object(Bucket=src, Key=f"site/{key}", Body=data, ChecksumAlgorithm="SHA256")
    env = {**endpoint.env(), "MIGRATE_TRANSFER_BACKOFF": "0.01"}

    check = migrate("data", "copy", f"s3://{src}/site", f"s3://{dst}/copy", "--check", cwd=tmp_path, env=env)
    assert check.returncode == 0, check.stderr
    assert check.stdout.startswith(f"dry run, nothing changed: plan: copy {len(content)} (")
    assert "server-side" not in check.stdout and "Contents" not in s3.list_objects_v2(Bucket=dst)

    args = ("data", "copy", f"s3://{src}/site", f"s3://{dst}/copy", "--storage-class", "STANDARD_IA")
    proc = migrate("--json", *args, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)["result"]
    assert result["copied"]["files"] == result["server_side"] == result["verified"] == len(content)
    assert _objects(s3, dst, "copy/") == content
    head = s3.head_object(Bucket=dst, Key="copy/pages/p0.html")
    assert head["StorageClass"] == "STANDARD_IA" and "mtime" in head["Metadata"]

    s3.put_object(Bucket=src, Key="site/pages/p0.html", Body=b"changed")
    again = migrate(*args, cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    assert "copied 1 file(s) (1 server-side) (7 B)" in again.stdout, again.stdout
    assert _objects(s3, dst, "copy/")["pages/p0.html"] == b"changed"
    noop = migrate(*args, cwd=tmp_path, env=env)
    assert noop.returncode == 0 and "nothing to do: destination is up to date" in noop.stdout, noop.stdout
