"""The CLI surface as a user meets it: help, version, exit codes, inventory, init, bad playbooks, locks."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from migrate_cli import __version__
from migrate_cli.core.lock import StateLock
from tests.conftest import write
from tests.e2e.cli import migrate


def test_version_and_help() -> None:
    out = migrate("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"migrate {__version__}"
    top = migrate("--help")
    assert top.returncode == 0
    for command in ("inventory", "run", "runs", "report", "lab", "demo", "init"):
        assert command in top.stdout
    for sub in (("run", "--help"), ("inventory", "list", "--help"), ("lab", "up", "--help"), ("report", "--help")):
        result = migrate(*sub)
        assert result.returncode == 0, sub
        assert "Usage" in result.stdout


def test_unknown_command_and_option_exit_2() -> None:
    assert migrate("frobnicate").returncode == 2
    assert migrate("run", "--no-such-flag", "x.yml").returncode == 2


def test_init_writes_a_valid_site_and_refuses_to_overwrite(tmp_path: Path) -> None:
    out = migrate("init", str(tmp_path / "site"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    check = migrate("-i", str(tmp_path / "site" / "inventory"), "inventory", "check", cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert "2 hosts" in check.stdout
    again = migrate("init", str(tmp_path / "site"), cwd=tmp_path)
    assert again.returncode == 2 and "exists" in again.stderr
    plan = migrate(
        "-i", str(tmp_path / "site" / "inventory"), "run", str(tmp_path / "site/playbooks/site.yml"), "--check",
        "--tags", "nothing-has-this-tag", cwd=tmp_path,
    )  # fmt: skip
    assert plan.returncode == 0, plan.stderr


def test_inventory_check_reports_every_error_with_file_and_line(tmp_path: Path) -> None:
    inv = tmp_path / "inv"
    write(inv / "hosts.yaml", "r1:\n  hostnme: 10.0.0.1\nr2:\n  port: 99999\n  groups: [nosuch]\n")
    out = migrate("-i", str(inv), "inventory", "check", cwd=tmp_path)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert any(line.startswith(f"{inv / 'hosts.yaml'}:2:") and "hostnme" in line for line in lines)
    assert any(line.startswith(f"{inv / 'hosts.yaml'}:4:") for line in lines)
    assert any(":5:" in line and "nosuch" in line for line in lines)


def test_inventory_list_limit_and_json_never_reveal_secrets(tmp_path: Path, small_inventory: Path) -> None:
    write(small_inventory / "defaults.yaml", "password: ${env:ROUTER_PW}\n")
    env = {"ROUTER_PW": "s3cret-router-pw"}
    out = migrate("-i", str(small_inventory), "--json", "inventory", "list", "--limit", "@edge,!r2", env=env)
    assert out.returncode == 0, out.stderr
    hosts = json.loads(out.stdout)
    assert [h["name"] for h in hosts] == ["r1"]
    assert "s3cret" not in out.stdout and "${env:ROUTER_PW}" in out.stdout
    after = migrate("-i", str(small_inventory), "inventory", "list", "--limit", "@edge,!r2", "--json", env=env)
    assert after.returncode == 0 and json.loads(after.stdout) == hosts  # global flags after the command too
    bad = migrate("-i", str(small_inventory), "inventory", "list", "--limit", "nosuchhost")
    assert bad.returncode == 2 and "nosuchhost" in bad.stderr


def test_broken_playbook_exits_2_and_changes_nothing(tmp_path: Path, small_inventory: Path) -> None:
    pb = write(
        tmp_path / "broken.yml",
        """
        name: broken
        steps:
          - name: facts
            action: network.facts
          - name: typo
            action: dns.reslove
        """,
    )
    state = tmp_path / "state"
    out = migrate("-i", str(small_inventory), "--state-dir", str(state), "run", str(pb), cwd=tmp_path)
    assert out.returncode == 2
    assert f"{pb}:6: steps[1].action: unknown action 'dns.reslove'" in out.stderr
    assert "did you mean 'dns.resolve'" in out.stderr
    journal = state / "journal.sqlite"
    if journal.exists():
        assert sqlite3.connect(journal).execute("SELECT COUNT(*) FROM runs").fetchone() == (0,)
    missing = migrate("-i", str(small_inventory), "run", str(tmp_path / "nope.yml"), cwd=tmp_path)
    assert missing.returncode == 2 and "nope.yml" in missing.stderr


def test_concurrent_run_is_refused_with_exit_3(tmp_path: Path, small_inventory: Path) -> None:
    pb = write(tmp_path / "pb.yml", "name: p\nsteps:\n  - name: who\n    action: aws.identity\n")
    state = tmp_path / "state"
    with StateLock(state, "run", purpose="migrate run other.yml"):
        out = migrate("-i", str(small_inventory), "--state-dir", str(state), "run", str(pb), cwd=tmp_path)
    assert out.returncode == 3
    assert "held by pid" in out.stderr and "migrate run other.yml" in out.stderr


def test_disruptive_step_without_terminal_needs_yes(tmp_path: Path, small_inventory: Path) -> None:
    pb = write(
        tmp_path / "pb.yml",
        "name: p\nsteps:\n  - name: cut over\n    action: aws.identity\n    disruptive: true\n",
    )
    out = migrate("-i", str(small_inventory), "--state-dir", str(tmp_path / "s"), "run", str(pb), cwd=tmp_path)
    assert out.returncode == 3 and "--yes" in out.stderr


def test_report_of_unknown_run_and_bad_format(tmp_path: Path) -> None:
    out = migrate("--state-dir", str(tmp_path / "s"), "report", "nope", cwd=tmp_path)
    assert out.returncode == 2 and "no single run matches 'nope'" in out.stderr
    out = migrate("--state-dir", str(tmp_path / "s"), "report", "--format", "pdf", cwd=tmp_path)
    assert out.returncode == 2 and "--format" in out.stderr
