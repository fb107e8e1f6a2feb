"""`migrate data copy` as a user runs it (a subprocess) against moto server over HTTP: exit codes and one-line
errors for bad input, dry runs, JSON, the journal, the lock, progress output with and without a TTY,
unreadable files, and a copy killed with SIGKILL mid-run then run again."""

from __future__ import annotations

import ctypes
import json
import os
import pty
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from migrate_cli.aws.session import client
from migrate_cli.lab.aws_endpoint import LocalAwsEndpoint
from migrate_cli.transfer.location import parse_location
from migrate_cli.transfer.state import transfer_lock
from tests.conftest import REPO
from tests.integration.faultproxy import FaultProxy, Request, Rule

MiB = 1024 * 1024


@pytest.fixture
def s3(endpoint: LocalAwsEndpoint) -> Any:
    return client(
        "s3",
        endpoint_url=endpoint.url,
        region_name=endpoint.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"e2e-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def _env(endpoint: LocalAwsEndpoint, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MIGRATE_", "CI"))}
    env.update({"NO_COLOR": "1", "COLUMNS": "200", "PYTHONPATH": str(REPO), "MIGRATE_TRANSFER_BACKOFF": "0.01"})
    env.update(endpoint.env())
    env.update(extra)
    return env


def run(
    *args: str, env: dict[str, str], cwd: Path, interpreter: tuple[str, ...] = (), **kw: Any
) -> subprocess.CompletedProcess[str]:
    """`migrate ARGS`, the interpreter started with the options in `interpreter`."""
    return subprocess.run(
        [sys.executable, *interpreter, "-m", "migrate_cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        **kw,
    )


def _site(root: Path, n: int = 6) -> dict[str, bytes]:
    content = {f"pages/p{i}.html": os.urandom(200 + i) for i in range(n)}
    content["img/logo ü.png"] = os.urandom(1000)
    content["empty"] = b""
    for key, data in content.items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(data)
    return content


def _objects(s3: Any, bucket: str, prefix: str) -> dict[str, bytes]:
    out = {}
    for obj in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
        out[obj["Key"][len(prefix) :]] = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
    return out


# --- bad input -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["./missing", "s3://{bucket}/p"], "source './missing' does not exist"),
        (["site", "s3:/{bucket}/p"], "malformed URL"),
        (["site", "s3://no-such-bucket-e2e/p"], "bucket 'no-such-bucket-e2e' does not exist"),
        (["site", "s3://{bucket}/p", "--storage-class", "FROZEN"], "--storage-class: 'FROZEN' is not one of"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    endpoint: LocalAwsEndpoint, s3: Any, bucket: str, tmp_path: Path, args: list[str], message: str
) -> None:
    _site(tmp_path / "site")
    proc = run("data", "copy", *[a.format(bucket=bucket) for a in args], env=_env(endpoint), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert proc.stdout == ""
    assert not (tmp_path / ".migrate").exists()
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_no_credentials_exits_2(endpoint: LocalAwsEndpoint, tmp_path: Path) -> None:
    _site(tmp_path / "site")
    env = _env(endpoint)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        env.pop(key)
    env.update({"AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")})
    proc = run("data", "copy", "site", "s3://any-bucket/p", env=env, cwd=tmp_path)
    assert proc.returncode == 2 and "no AWS credentials found" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / ".migrate").exists()


def test_workers_out_of_range_is_a_usage_error(endpoint: LocalAwsEndpoint, tmp_path: Path) -> None:
    proc = run("data", "copy", "a", "b", "--workers", "0", env=_env(endpoint), cwd=tmp_path)
    assert proc.returncode == 2 and "--workers" in proc.stderr


# --- plan, copy, journal ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_check_shows_the_plan_and_changes_nothing(
    endpoint: LocalAwsEndpoint, s3: Any, bucket: str, tmp_path: Path
) -> None:
    content = _site(tmp_path / "site")
    dest = f"s3://{bucket}/site"
    proc = run("data", "copy", "site", dest, "--check", env=_env(endpoint), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"dry run, nothing changed: plan: upload {len(content)} (" in proc.stdout
    assert "pages/p0.html" not in proc.stdout
    verbose = run("data", "copy", "site", dest, "--dry-run", "-v", env=_env(endpoint), cwd=tmp_path)
    assert "upload   img/logo ü.png  (1000 B, new)" in verbose.stdout
    as_json = run("--json", "data", "copy", "site", dest, "--check", "-v", env=_env(endpoint), cwd=tmp_path)
    summary = json.loads(as_json.stdout)
    assert summary["plan"]["copy"] == {"files": len(content), "bytes": sum(map(len, content.values()))}
    assert sorted(f["key"] for f in summary["files"]["copy"]) == sorted(content)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


@pytest.mark.slow
def test_copy_resync_json_and_report(endpoint: LocalAwsEndpoint, s3: Any, bucket: str, tmp_path: Path) -> None:
    content = _site(tmp_path / "site")
    dest = f"s3://{bucket}/site"
    first = run("data", "copy", "site", dest, env=_env(endpoint), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"uploaded {len(content)} file(s)" in first.stdout and "failed 0" in first.stdout
    assert _objects(s3, bucket, "site/") == content
    again = run("data", "copy", "site", dest, env=_env(endpoint), cwd=tmp_path)
    assert again.returncode == 0 and "nothing to do: destination is up to date" in again.stdout
    (tmp_path / "site" / "pages" / "p1.html").write_bytes(b"changed")
    (tmp_path / "site" / "empty").unlink()
    third = run("data", "copy", "site", dest, "--delete", "--json", env=_env(endpoint), cwd=tmp_path)
    summary = json.loads(third.stdout)
    assert summary["status"] == "ok" and summary["result"]["copied"]["files"] == 1
    assert summary["result"]["deleted"] == 1 and summary["result"]["verified"] == 1
    report = run("report", "last", env=_env(endpoint), cwd=tmp_path)
    assert "data.copy" in report.stdout and "pages/p1.html" in report.stdout
    runs = json.loads(run("--json", "runs", "list", env=_env(endpoint), cwd=tmp_path).stdout)
    assert len(runs) == 3 and all(r["name"].startswith("data copy") for r in runs)


def _imported(stderr: str) -> set[str]:
    return {line.rsplit("|", 1)[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def test_plain_credentials_need_no_boto3_and_a_named_profile_copies_alike(
    endpoint: LocalAwsEndpoint, s3: Any, bucket: str, tmp_path: Path
) -> None:
    """With keys in the environment or in the default profile of ~/.aws/credentials, the S3 endpoint is
    worked out without boto3 (s3endpoint.py: importing it and building a client cost 0.2 s before the first
    byte); with a named profile, boto3 resolves it. All three copy, multipart included, and verify alike."""
    content = _site(tmp_path / "site") | {"big.bin": os.urandom(11 * MiB)}
    (tmp_path / "site" / "big.bin").write_bytes(content["big.bin"])
    env = _env(endpoint, AWS_CONFIG_FILE=str(tmp_path / "no-config"))
    in_env = {name: env.pop(name) for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    keys = "".join(f"{name.lower()} = {value}\n" for name, value in in_env.items())
    runs = {
        "env": (in_env, "", False),
        "default": ({}, f"[default]\n{keys}", False),
        "profile": ({"AWS_PROFILE": "site"}, f"[site]\n{keys}", True),
    }  # fmt: skip
    for name, (extra, credentials, boto3_loaded) in runs.items():
        (tmp_path / f"{name}.credentials").write_text(credentials)
        env_now = env | extra | {"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / f"{name}.credentials")}
        done = run("data", "copy", "site", f"s3://{bucket}/{name}", "--part-size", "5M",
                   env=env_now, cwd=tmp_path, interpreter=("-X", "importtime"))  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        assert ("botocore.client" in _imported(done.stderr)) is boto3_loaded, name
        assert f"uploaded {len(content)} file(s)" in done.stdout and "failed 0" in done.stdout
        assert _objects(s3, bucket, f"{name}/") == content


def test_a_second_copy_of_the_same_pair_is_refused_with_exit_3(
    endpoint: LocalAwsEndpoint, bucket: str, tmp_path: Path
) -> None:
    _site(tmp_path / "site")
    dest = f"s3://{bucket}/site"
    with transfer_lock(tmp_path / ".migrate", parse_location(str(tmp_path / "site")), parse_location(dest)):
        proc = run("data", "copy", "site", dest, env=_env(endpoint), cwd=tmp_path)
    assert proc.returncode == 3 and "is held by pid" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_plain_progress_lines_without_a_tty(endpoint: LocalAwsEndpoint, bucket: str, tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    for i in range(12):
        (tmp_path / "site" / f"f{i}.bin").write_bytes(os.urandom(100 * 1024))
    env = _env(endpoint, MIGRATE_PROGRESS_INTERVAL="0.2")
    proc = run("data", "copy", "site", f"s3://{bucket}/x", "--bwlimit", "1M", "--workers", "2", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if " progress: " in line]
    assert len(lines) >= 2 and "/12 files" in lines[0] and "ETA" in lines[0], proc.stdout
    assert "\x1b[" not in proc.stdout


def test_rich_progress_on_a_terminal(endpoint: LocalAwsEndpoint, bucket: str, tmp_path: Path) -> None:
    _site(tmp_path / "site", n=30)
    master, slave = pty.openpty()
    env = _env(endpoint, TERM="xterm-256color")
    env.pop("NO_COLOR")
    proc = subprocess.Popen(
        [sys.executable, "-m", "migrate_cli", "data", "copy", "site", f"s3://{bucket}/t"],
        cwd=tmp_path,
        env=env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
    )
    os.close(slave)
    output = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    os.close(master)
    assert proc.wait(timeout=60) == 0
    text = output.decode(errors="replace")
    assert "uploading" in text and "32/32 files" in text and "\x1b[" in text  # a live, coloured bar
    assert "uploaded 32 file(s)" in text


def _without_dac_override() -> None:
    """Run the child without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH: file modes bind it even as root."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH; dropped from the bounding set
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_unreadable_files_and_directories_are_reported_and_the_rest_copied(
    endpoint: LocalAwsEndpoint, s3: Any, bucket: str, tmp_path: Path
) -> None:
    content = _site(tmp_path / "site")
    (tmp_path / "site" / "secret.key").write_text("nope")
    (tmp_path / "site" / "private").mkdir()
    (tmp_path / "site" / "private" / "a.txt").write_text("hidden")
    s3.put_object(Bucket=bucket, Key="u/private/old.txt", Body=b"keep me")
    os.chmod(tmp_path / "site" / "secret.key", 0)
    os.chmod(tmp_path / "site" / "private", 0)
    try:
        proc = run(
            "data", "copy", "site", f"s3://{bucket}/u", "--delete",
            env=_env(endpoint), cwd=tmp_path, preexec_fn=_without_dac_override,
        )  # fmt: skip
    finally:
        os.chmod(tmp_path / "site" / "private", 0o755)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "failed: secret.key: cannot read" in proc.stderr and "Permission denied" in proc.stderr
    assert "cannot list directory: Permission denied" in proc.stderr
    landed = _objects(s3, bucket, "u/")
    assert landed == {**content, "private/old.txt": b"keep me"}  # nothing under private/ deleted


def test_ctrl_c_exits_130_and_the_next_run_finishes(
    endpoint: LocalAwsEndpoint, s3: Any, bucket: str, tmp_path: Path
) -> None:
    src = tmp_path / "site"
    src.mkdir()
    content = {f"f{i:02d}.bin": os.urandom(64 * 1024) for i in range(24)}
    for key, data in content.items():
        (src / key).write_bytes(data)
    args = [sys.executable, "-m", "migrate_cli", "data", "copy", "site", f"s3://{bucket}/i", "--workers", "2"]
    proc = subprocess.Popen(
        [*args, "--bwlimit", "256K"], cwd=tmp_path, env=_env(endpoint), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline().startswith("plan: upload 24")
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert 0 < len(_objects(s3, bucket, "i/")) < len(content)
    again = subprocess.run(args, cwd=tmp_path, env=_env(endpoint), capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "skipped" in again.stdout
    assert _objects(s3, bucket, "i/") == content


# --- killed and resumed --------------------------------------------------------------------------------------


def _is_part(request: Request) -> bool:
    return "partNumber" in request.query


@pytest.mark.slow
def test_sigkill_mid_copy_then_rerun_finishes_without_resending(
    endpoint: LocalAwsEndpoint, s3: Any, bucket: str, tmp_path: Path
) -> None:
    src = tmp_path / "site"
    content = {f"a-small/f{i:02d}.txt": os.urandom(20_000 + i) for i in range(40)}
    content["z-big/one.bin"] = os.urandom(16 * MiB)
    content["z-big/two.bin"] = os.urandom(16 * MiB + 1)
    for key, data in content.items():
        (src / key).parent.mkdir(parents=True, exist_ok=True)
        (src / key).write_bytes(data)
    proxy = FaultProxy(endpoint.url)
    proxy.start()
    try:
        proxy.add(Rule("delay", when=_is_part, delay=0.3))
        proxy.add(Rule("delay", method="PUT", delay=0.03))
        env = _env(endpoint, AWS_ENDPOINT_URL=proxy.url)
        args = [sys.executable, "-m", "migrate_cli", "data", "copy", "site", f"s3://{bucket}/p"]
        args += ["--part-size", "5M", "--workers", "2"]
        victim = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while len([r for r in proxy.records("PUT", ok=True) if "partNumber" in r.query]) < 6:
            assert victim.poll() is None and time.monotonic() < deadline, "the copy ended before it could be killed"
            time.sleep(0.01)
        time.sleep(0.1)
        victim.send_signal(signal.SIGKILL)
        assert victim.wait() == -signal.SIGKILL
        in_flight = {u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])}
        assert in_flight and in_flight <= {"p/z-big/one.bin", "p/z-big/two.bin"}  # killed mid multipart upload
        completed = {r.path.rsplit("/", 1)[1] for r in proxy.records("POST", ok=True) if "uploadId" in r.query}
        time.sleep(0.8)  # let the proxy finish forwarding what the dead client had sent
        proxy.clear()
        first_run = len(proxy.log)
        again = subprocess.run(
            [*args[:3], "--json", *args[3:]], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert again.returncode == 0, again.stderr
        summary = json.loads(again.stdout)
        assert summary["result"]["resumed_parts"] >= 1
        assert _objects(s3, bucket, "p/") == content
        assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
        # nothing that had completed was sent again
        object_puts = Counter(r.path for r in proxy.records("PUT", ok=True) if not r.query)
        assert set(object_puts) == {f"/{bucket}/p/{k}" for k in content if k.startswith("a-small/")}
        assert set(object_puts.values()) == {1}
        parts = Counter(
            (r.path.rsplit("/", 1)[1], r.query["partNumber"][0]) for r in proxy.records("PUT", ok=True) if r.query
        )
        assert all(n <= 2 for n in parts.values()) and sum(parts.values()) <= 8 + 4
        for name in completed:
            assert [n for (key, _), n in parts.items() if key == name] == [1, 1, 1, 1]
            assert not any(r.path.endswith(name) for r in proxy.log[first_run:] if r.method in ("PUT", "POST"))
        assert run("data", "copy", "site", f"s3://{bucket}/p", env=env, cwd=tmp_path).stdout.startswith(
            "plan: upload 0"
        )
    finally:
        proxy.stop()
