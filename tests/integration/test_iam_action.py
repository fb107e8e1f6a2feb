"""The `iam.apply` playbook action against the local AWS endpoint: check mode plans, apply applies and
verifies, the run is journalled, and a second run changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from migrate_cli.core.actions import get_action
from migrate_cli.core.execute import execute_playbook
from migrate_cli.core.journal import Journal
from migrate_cli.core.runner import RunOptions
from migrate_cli.core.settings import Settings
from migrate_cli.iam.action import IamApplyAction
from migrate_cli.lab.aws_endpoint import LocalAwsEndpoint
from tests.conftest import point_at, write

ENDPOINT_REGION = "eu-west-1"  # the shared `endpoint` fixture (tests/conftest.py) starts there


@pytest.fixture
def site(endpoint: LocalAwsEndpoint, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[Settings, Path, Any]:
    endpoint.reset()
    point_at(endpoint, monkeypatch)
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "inventory" / "hosts.yaml", "r1: {}\n")
    write(
        tmp_path / "iam.yaml",
        "backup_writer:\n  assumed_by: [ec2, runner]\n  destination: s3://acme-backups/hq/\n",
    )
    playbook = write(
        tmp_path / "pb.yml",
        """
        name: service accounts
        steps:
          - name: IAM for the migration
            action: iam.apply
            with:
              config: iam.yaml
              with_access_key: true
        """,
    )
    settings = Settings(inventory_dir=tmp_path / "inventory", state_dir=tmp_path / "state")
    return settings, playbook, boto3.client("iam", region_name="eu-west-1", endpoint_url=endpoint.url)


def test_registered() -> None:
    assert get_action("iam.apply") is IamApplyAction


def test_check_then_apply_then_nothing(site: tuple[Settings, Path, Any]) -> None:
    settings, playbook, iam = site
    check = execute_playbook(settings, playbook, RunOptions(check=True))
    assert check.ok and check.check
    (host,) = check.steps[0].hosts
    assert host.status == "changed"
    assert "+++ b/policy/migrate-backup-writer/document" in host.diff
    assert host.data["principals"]["role/migrate-backup-writer"] == "create"
    with pytest.raises(ClientError):
        iam.get_role(RoleName="migrate-backup-writer")  # check mode changed nothing

    applied = execute_playbook(settings, playbook, RunOptions(yes=True))
    assert applied.ok, applied.steps[0].hosts[0].error
    (host,) = applied.steps[0].hosts
    assert host.status == "changed"
    assert iam.get_role(RoleName="migrate-backup-writer")["Role"]["Path"] == "/migrate-cli/"
    key_file = Path(host.data["access_key_file"])
    secret = key_file.read_text().split("aws_secret_access_key = ", 1)[1].strip()

    again = execute_playbook(settings, playbook, RunOptions(yes=True))
    assert again.ok and again.steps[0].hosts[0].status == "ok"

    journal = Journal.in_state_dir(settings.state_dir)
    try:
        runs = journal.list_runs(10)
        assert [r.status for r in runs] == ["ok", "ok", "ok"]
        record = journal.get_run(applied.run_id)
        assert record is not None and record.steps[0].hosts[0].changed
    finally:
        journal.close()
    assert secret.encode() not in settings.journal_path.read_bytes()
    for extra in settings.state_dir.glob("journal.sqlite*"):
        assert secret.encode() not in extra.read_bytes()


def test_conflict_refuses_the_step(site: tuple[Settings, Path, Any]) -> None:
    settings, playbook, iam = site
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
    )
    iam.create_role(RoleName="migrate-backup-writer", AssumeRolePolicyDocument=trust)
    result = execute_playbook(settings, playbook, RunOptions(yes=True))
    assert (result.status, result.exit_code) == ("refused", 3)  # a principal it does not own: refused for safety
    error = result.steps[0].hosts[0].error or ""
    assert "not managed by migrate-cli" in error
    assert iam.list_attached_role_policies(RoleName="migrate-backup-writer")["AttachedPolicies"] == []
