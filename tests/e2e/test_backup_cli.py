"""`migrate backup` as cron and a person run it: a subprocess without a TTY, against moto server over HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from migrate_cli.core.lock import StateLock
from migrate_cli.lab.aws_endpoint import LocalAwsEndpoint
from tests.conftest import REPO, write
from tests.e2e.cli import migrate

TODAY = date.today().isoformat()


@pytest.fixture
def env(endpoint: LocalAwsEndpoint) -> dict[str, str]:
    return endpoint.env()


@pytest.fixture
def s3(endpoint: LocalAwsEndpoint) -> Any:
    return endpoint.client("s3")


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"be-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def site(tmp_path: Path, bucket: str) -> Path:
    """A working directory with a site tree and backup.yaml, as the README's crontab line expects."""
    root = tmp_path / "srv"
    write(root / "site" / "index.html", "<h1>hello</h1>")
    write(root / "site" / "docs" / "guide.md", "# guide")
    (root / "site" / "empty").mkdir()
    os.symlink("index.html", root / "site" / "home.html")
    write(
        root / "backup.yaml",
        f"""
        source: site
        destination: s3://{bucket}/hq
        retention: {{daily: 7, weekly: 4, monthly: 6}}
        """,
    )
    return root


def tree(root: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        st = path.lstat()
        if path.is_symlink():
            out[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            out[rel] = ("dir", st.st_mode & 0o7777, st.st_mtime_ns)
        else:
            out[rel] = ("file", path.read_bytes(), st.st_mode & 0o7777, st.st_mtime_ns)
    return out


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


@pytest.mark.slow
def test_cron_run_list_and_restore(site: Path, env: dict[str, str], s3: Any, bucket: str) -> None:
    first = migrate("backup", "run", cwd=site, env=env)
    assert first.returncode == 0, first.stderr
    assert f"backup {TODAY}: 2 files (" in first.stdout and "2 new objects" in first.stdout
    assert "run_started" in first.stdout and "\x1b[" not in first.stdout  # plain lines for the log, no colour
    state_today = tree(site / "site")

    write(site / "site" / "docs" / "guide.md", "# guide, v2")
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    quiet = migrate("--quiet", "backup", "run", "--as-of", tomorrow, cwd=site, env=env)
    assert quiet.returncode == 0, quiet.stderr
    lines = quiet.stdout.strip().splitlines()
    assert lines[-1].startswith(f"backup {tomorrow}: 2 files (") and "1 new object (" in lines[-1]
    assert len(lines) == 2 and "run_finished" in lines[0]  # --quiet: the run's end and the summary only

    listing = migrate("--json", "backup", "list", cwd=site, env=env)
    assert listing.returncode == 0, listing.stderr
    rows = json.loads(listing.stdout)
    assert [r["date"] for r in rows] == [TODAY, tomorrow] and rows[1]["new_bytes"] == len("# guide, v2")
    table = migrate("backup", "list", cwd=site, env=env)
    assert TODAY in table.stdout and "complete" in table.stdout

    for day, expected in ((TODAY, state_today), (tomorrow, tree(site / "site"))):
        dest = site / f"restore-{day}"
        out = migrate("backup", "restore", day, str(dest), cwd=site, env=env)
        assert out.returncode == 0, out.stderr
        assert "verified 2/2 files by SHA-256" in out.stdout
        assert tree(dest) == expected

    again = migrate("backup", "restore", "latest", str(site / f"restore-{tomorrow}"), cwd=site, env=env)
    assert again.returncode == 3
    assert one_line(again.stderr).endswith("is not empty; restore into an empty directory, or pass --force")
    forced = migrate("backup", "restore", "latest", str(site / f"restore-{tomorrow}"), "--force", cwd=site, env=env)
    assert forced.returncode == 0, forced.stderr
    missing = migrate("backup", "restore", "2001-01-01", str(site / "x"), cwd=site, env=env)
    assert missing.returncode == 2 and "no snapshot dated 2001-01-01" in one_line(missing.stderr)

    runs = migrate("--json", "runs", "list", cwd=site, env=env)
    names = [r["name"] for r in json.loads(runs.stdout)]
    assert names.count("backup") == 2  # one journal entry per backup run


@pytest.mark.slow
def test_same_day_again_and_check(site: Path, env: dict[str, str], s3: Any, bucket: str) -> None:
    check = migrate("backup", "run", "--check", cwd=site, env=env)
    assert check.returncode == 0, check.stderr
    assert f"would write snapshot {TODAY}" in check.stdout and "would upload 2 new objects" in check.stdout
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    assert migrate("backup", "run", cwd=site, env=env).returncode == 0
    again = migrate("backup", "run", cwd=site, env=env)
    assert again.returncode == 0
    assert f"backup {TODAY}: nothing changed since today's snapshot; nothing written" in again.stdout
    write(site / "site" / "new.txt", "afternoon")
    replaced = migrate("backup", "run", cwd=site, env=env)
    assert replaced.returncode == 0 and "3 files" in replaced.stdout
    assert "replace snapshot" in replaced.stdout
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="hq/snapshots/")["Contents"]]
    assert keys == [f"hq/snapshots/{TODAY}.json.gz"]


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (None, "backup.yaml: backup config not found"),
        ("source: site\ndestination: s3://BUCKET/hq\nretention:\n  daily: 0\n", "backup.yaml:4: retention.daily"),
        ("source: site\ndestination: ftp://BUCKET/hq\n", "backup.yaml:2: destination: 'ftp://"),
        ("source: site\ndestination: s3://BUCKET/hq\nstorage_class: DEEP_ARCHIVE\n", "backup.yaml:3: storage_class"),
        ("source: nowhere\ndestination: s3://BUCKET/hq\n", "source: "),
        ("source: site\ndestination: s3://no-such-bucket-e2e/hq\n", "bucket 'no-such-bucket-e2e' does not exist"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_changes_nothing(
    site: Path, env: dict[str, str], s3: Any, bucket: str, config: str | None, expected: str
) -> None:
    path = site / "backup.yaml"
    if config is None:
        path.unlink()
    else:
        path.write_text(config.replace("BUCKET", bucket))
    out = migrate("backup", "run", cwd=site, env=env)
    assert out.returncode == 2, out.stdout + out.stderr
    line = one_line(out.stderr)
    assert line.startswith("migrate: error: ") and expected in line, line
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_overlapping_run_exits_3(site: Path, env: dict[str, str], s3: Any, bucket: str) -> None:
    state = site / ".migrate"
    with StateLock(state, "backup", purpose="migrate backup run (the 02:15 cron job)"):
        out = migrate("backup", "run", cwd=site, env=env)
    assert out.returncode == 3
    line = one_line(out.stderr)
    assert "lock 'backup' is held by pid" in line and "02:15 cron job" in line
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    assert migrate("backup", "run", cwd=site, env=env).returncode == 0  # and the next night it runs


def test_restore_while_a_run_holds_the_lock_exits_3(site: Path, env: dict[str, str]) -> None:
    assert migrate("backup", "run", cwd=site, env=env).returncode == 0
    dest = site / "restored"
    with StateLock(site / ".migrate", "backup", purpose="migrate backup run (the 02:15 cron job)"):
        out = migrate("backup", "restore", "latest", str(dest), cwd=site, env=env)
        listing = migrate("--json", "backup", "list", cwd=site, env=env)  # read-only: takes no lock
    assert out.returncode == 3
    line = one_line(out.stderr)
    assert "lock 'backup' is held by pid" in line and "02:15 cron job" in line
    assert not dest.exists()
    assert listing.returncode == 0 and [r["date"] for r in json.loads(listing.stdout)] == [TODAY]
    assert migrate("backup", "restore", "latest", str(dest), cwd=site, env=env).returncode == 0


@pytest.mark.slow
def test_a_run_while_a_restore_holds_the_lock_exits_3(site: Path, env: dict[str, str], s3: Any, bucket: str) -> None:
    big = os.urandom(3 * 1024 * 1024)
    (site / "site" / "big.bin").write_bytes(big)
    assert migrate("backup", "run", cwd=site, env=env).returncode == 0
    with open(site / "backup.yaml", "a") as fh:
        fh.write("bwlimit: 512K\n")  # the restore then takes about 6 s
    stored = s3.list_objects_v2(Bucket=bucket)["KeyCount"]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MIGRATE_"))}
    full_env |= env | {"PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    dest = site / "restored"
    restore = subprocess.Popen(
        [sys.executable, "-m", "migrate_cli", "backup", "restore", "latest", str(dest)],
        cwd=site, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        lock = site / ".migrate" / "locks" / "backup.lock"
        deadline = time.monotonic() + 30
        while not (lock.exists() and f'"pid": {restore.pid},' in lock.read_text()):
            assert restore.poll() is None, restore.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        run = migrate("backup", "run", cwd=site, env=env)
        still_restoring = restore.poll() is None
    finally:
        out, err = restore.communicate(timeout=60)
    assert still_restoring, "the restore finished before the run was tried"
    assert run.returncode == 3
    line = one_line(run.stderr)
    assert f"lock 'backup' is held by pid {restore.pid}" in line and "migrate backup restore latest" in line
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == stored  # the refused run wrote nothing
    assert restore.returncode == 0, err
    assert "verified 3/3 files by SHA-256" in out and tree(dest) == tree(site / "site")


def test_json_output_is_json_lines(site: Path, env: dict[str, str]) -> None:
    out = migrate("--json", "backup", "run", cwd=site, env=env)
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    assert events[0]["kind"] == "run_started" and events[-1]["kind"] == "run_finished"
    finished = next(e for e in events if e["kind"] == "host_finished")
    assert finished["data"]["result"]["new_objects"] == 2


@pytest.mark.slow
def test_sigkill_mid_upload_then_the_next_run_finishes(site: Path, env: dict[str, str], s3: Any, bucket: str) -> None:
    big = os.urandom(48 * 1024 * 1024)
    (site / "site" / "video.bin").write_bytes(big)
    with open(site / "backup.yaml", "a") as fh:
        fh.write("part_size_mib: 5\nworkers: 1\n")
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MIGRATE_"))}
    full_env |= env | {"PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "migrate_cli", "backup", "run"],
        cwd=site, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not s3.list_multipart_uploads(Bucket=bucket).get("Uploads"):
            assert proc.poll() is None, "the run finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="hq/snapshots/")  # no snapshot claimed
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads")

    out = migrate("backup", "run", cwd=site, env=env)
    assert out.returncode == 0, out.stderr
    assert "aborted 1 unfinished upload of an interrupted run" in out.stdout
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")
    dest = site / "restored"
    assert migrate("backup", "restore", "latest", str(dest), cwd=site, env=env).returncode == 0
    assert (dest / "video.bin").read_bytes() == big
    assert tree(dest) == tree(site / "site")
