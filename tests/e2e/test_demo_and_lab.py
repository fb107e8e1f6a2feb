"""The lab and the demo, as a new user runs them: exit codes, reports, background lab lifecycle."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.e2e.cli import migrate


def test_demo_exits_0_and_leaves_a_report(tmp_path: Path) -> None:
    state = tmp_path / "state"
    out = migrate("--state-dir", str(state), "demo", cwd=REPO)
    assert out.returncode == 0, out.stdout + out.stderr
    match = re.search(r"report: (\S+\.md)", out.stdout)
    assert match, out.stdout
    report = Path(match.group(1))
    report = report if report.is_absolute() else REPO / report
    text = report.read_text()
    assert "# Run report: Lab cutover demo" in text and "| Status | **ok** |" in text
    assert "version=17.9.4a" in text and "account=123456789012" in text
    assert report.with_suffix(".html").is_file()
    assert not (state / "lab" / "lab.json").exists(), "the demo stops its lab"
    runs = migrate("--state-dir", str(state), "--json", "runs", "list", cwd=REPO)
    assert json.loads(runs.stdout)[0]["status"] == "ok"
    # The lab's generated device passwords never reach the report or the journal.
    env_file = state / "lab" / "env.sh"
    secrets = [v for k, v in _exports(env_file).items() if k.startswith("MIGRATE_LAB_")]
    assert secrets
    journal = (state / "journal.sqlite").read_bytes()
    for secret in secrets:
        assert secret not in text and secret.encode() not in journal and secret not in out.stdout


def _exports(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export ") :].partition("=")
            env[key] = shlex.split(value)[0] if value else ""
    return env


@pytest.mark.slow
def test_lab_detached_lifecycle_and_running_against_it(tmp_path: Path) -> None:
    state = tmp_path / "state"
    up = migrate("--state-dir", str(state), "lab", "up", "--detach", cwd=REPO)
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        again = migrate("--state-dir", str(state), "lab", "up", "--detach", cwd=REPO)
        assert again.returncode == 3 and "already running" in again.stderr
        status = migrate("--state-dir", str(state), "--json", "lab", "status", cwd=REPO)
        assert status.returncode == 0, status.stdout + status.stderr
        info = json.loads(status.stdout)
        assert info["running"] and all(info["services"].values())
        env = _exports(state / "lab" / "env.sh")
        assert env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
        refused = migrate("--state-dir", str(state), "run", "playbooks/demo.yml", cwd=REPO, env=env)
        assert refused.returncode == 3 and "--yes" in refused.stderr  # disruptive steps, no terminal
        run = migrate("--state-dir", str(state), "run", "playbooks/demo.yml", "--yes", cwd=REPO, env=env)
        assert run.returncode == 0, run.stdout + run.stderr
        check = migrate(
            "--state-dir", str(state), "run", "playbooks/demo.yml", "--check", "-l", "edge1", cwd=REPO, env=env
        )
        assert check.returncode == 0 and "host=edge1" in check.stdout and "host=edge2" not in check.stdout
    finally:
        down = migrate("--state-dir", str(state), "lab", "down", cwd=REPO)
    assert down.returncode == 0, down.stdout + down.stderr
    after = migrate("--state-dir", str(state), "lab", "status", cwd=REPO)
    assert after.returncode == 1 and "No lab is running" in after.stdout
