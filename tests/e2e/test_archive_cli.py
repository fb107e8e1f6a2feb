"""`migrate archive` as a user runs it: a subprocess without a TTY, against moto server over HTTP."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from migrate_cli.lab.aws_endpoint import LocalAwsEndpoint
from tests.e2e.cli import migrate

FOREIGN = {"ID": "tmp-cleanup", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 3}}


@pytest.fixture
def env(endpoint: LocalAwsEndpoint) -> dict[str, str]:
    return endpoint.env()


@pytest.fixture
def s3(endpoint: LocalAwsEndpoint) -> Any:
    return endpoint.client("s3")


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"ae-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": [FOREIGN]})
    return name


def rules(s3: Any, bucket: str) -> list[dict[str, Any]]:
    return s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


@pytest.mark.slow
def test_apply_check_apply_again_remove(s3: Any, bucket: str, env: dict[str, str], tmp_path: Any) -> None:
    url = f"s3://{bucket}/logs/"
    args = ("archive", "apply", url, "--to", "GLACIER", "--after", "30", "--expire", "365")
    check = migrate(*args, "--check", env=env, cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert f"would add lifecycle rule migrate-cli:archive:logs/ on s3://{bucket}: logs/ -> GLACIER" in check.stdout
    assert '+    "ID": "migrate-cli:archive:logs/",' in check.stdout  # the diff against the current rules
    assert "kept 1 rule(s) migrate-cli does not own: tmp-cleanup" in check.stdout
    assert rules(s3, bucket) == [FOREIGN]

    applied = migrate(*args, env=env, cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    assert "added lifecycle rule migrate-cli:archive:logs/" in applied.stdout
    now = rules(s3, bucket)
    assert now[0] == FOREIGN and now[1]["Transitions"] == [{"Days": 30, "StorageClass": "GLACIER"}]

    again = migrate(*args, env=env, cwd=tmp_path)
    assert again.returncode == 0 and "already as asked; nothing to do" in again.stdout

    changed = migrate("archive", "apply", url, "--to", "deep_archive", "--after", "90", env=env, cwd=tmp_path)
    assert changed.returncode == 0 and "changed lifecycle rule" in changed.stdout
    assert rules(s3, bucket)[1]["Transitions"] == [{"Days": 90, "StorageClass": "DEEP_ARCHIVE"}]

    removed = migrate("archive", "remove", url, env=env, cwd=tmp_path)
    assert removed.returncode == 0 and "removed lifecycle rule" in removed.stdout
    assert rules(s3, bucket) == [FOREIGN]
    runs = json.loads(migrate("--json", "runs", "list", env=env, cwd=tmp_path).stdout)
    assert [r["name"] for r in runs].count("archive apply") == 4  # every command is journalled


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("apply", "bucket/logs", "--to", "GLACIER", "--after", "1"), "S3_URL: 'bucket/logs' is not an s3://"),
        (("apply", "s3://BUCKET/x", "--to", "COLD", "--after", "1"), "--to: 'COLD' is not one of GLACIER_IR"),
        (("apply", "s3://BUCKET/x", "--to", "GLACIER", "--after", "-3"), "--after: days must be 0 or more"),
        (("apply", "s3://BUCKET/x", "--to", "GLACIER", "--after", "9", "--expire", "5"), "--expire: days (5)"),
        (("apply", "s3://no-such-bucket-ae/x", "--to", "GLACIER", "--after", "1"), "bucket 'no-such-bucket-ae'"),
        (("now", "s3://BUCKET/x", "--to", "FROZEN"), "--to: 'FROZEN' is not one of"),
        (("now", "s3://BUCKET/x", "--to", "GLACIER", "--older-than", "-1"), "--older-than: Input should be"),
        (("restore", "s3://BUCKET/x", "--days", "-2"), "--days: Input should be greater than or equal to 1"),
        (("restore", "s3://BUCKET/x", "--days", "2", "--tier", "Now"), "--tier: 'Now' is not one of"),
        (("restore", "s3://BUCKET/nothing/", "--days", "2"), "no objects at s3://"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    s3: Any, bucket: str, env: dict[str, str], tmp_path: Any, args: tuple[str, ...], expected: str
) -> None:
    out = migrate("archive", *[a.replace("BUCKET", bucket) for a in args], env=env, cwd=tmp_path)
    assert out.returncode == 2, out.stdout + out.stderr
    line = one_line(out.stderr)
    assert line.startswith("migrate: error: ") and expected in line, line
    assert rules(s3, bucket) == [FOREIGN]


def test_now_check_lists_then_moves(s3: Any, bucket: str, env: dict[str, str], tmp_path: Any) -> None:
    for key in ("media/a.jpg", "media/b.jpg", "media/sub/c.jpg"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    s3.put_object(Bucket=bucket, Key="media/done.jpg", Body=b"d", StorageClass="GLACIER")
    url = f"s3://{bucket}/media/"
    check = migrate("archive", "now", url, "--to", "GLACIER", "--check", env=env, cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    for key in ("media/a.jpg", "media/b.jpg", "media/sub/c.jpg"):
        assert key in check.stdout
    assert "would move 3 objects" in check.stdout and "1 already GLACIER" in check.stdout
    assert s3.head_object(Bucket=bucket, Key="media/a.jpg").get("StorageClass") is None

    young = migrate("archive", "now", url, "--to", "GLACIER", "--older-than", "30", env=env, cwd=tmp_path)
    assert young.returncode == 0 and "moved 0 objects" in young.stdout and "3 newer than 30 days" in young.stdout

    moved = migrate("archive", "now", url, "--to", "GLACIER", env=env, cwd=tmp_path)
    assert moved.returncode == 0, moved.stderr
    assert "moved 3 objects" in moved.stdout
    classes = {o["Key"]: o["StorageClass"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert set(classes.values()) == {"GLACIER"}


def test_restore_reports_status_and_waits(s3: Any, bucket: str, env: dict[str, str], tmp_path: Any) -> None:
    s3.put_object(Bucket=bucket, Key="cold/one.tar", Body=b"1", StorageClass="GLACIER")
    s3.put_object(Bucket=bucket, Key="cold/two.tar", Body=b"2", StorageClass="DEEP_ARCHIVE")
    s3.put_object(Bucket=bucket, Key="cold/warm.tar", Body=b"3")
    deep = migrate("archive", "restore", f"s3://{bucket}/cold/", "--days", "2", "--tier", "Expedited", env=env)
    assert deep.returncode == 2 and "not available for DEEP_ARCHIVE" in one_line(deep.stderr)

    single = migrate("archive", "restore", f"s3://{bucket}/cold/one.tar", "--days", "2", env=env, cwd=tmp_path)
    assert single.returncode == 0, single.stderr
    assert "cold/one.tar" in single.stdout and "cold/two.tar" not in single.stdout
    assert "1 restore(s) requested; 1 restored" in single.stdout

    args = (
        "archive",
        "restore",
        f"s3://{bucket}/cold/",
        "--days",
        "3",
        "--tier",
        "bulk",
        "--wait",
        "--interval",
        "0.2",
    )
    waited = migrate(*args, env=env, cwd=tmp_path)
    assert waited.returncode == 0, waited.stderr
    assert "restored until" in waited.stdout and "already restored (days extended)" in waited.stdout
    assert "2 restore(s) requested; 2 restored, 0 in progress, 0 failed" in waited.stdout
    assert "1 object(s) are not in GLACIER/DEEP_ARCHIVE" in waited.stdout
    assert 'ongoing-request="false"' in s3.head_object(Bucket=bucket, Key="cold/two.tar")["Restore"]
