"""`migrate iam plan|apply` as a user runs it: a subprocess pointed at moto server over HTTP with
AWS_ENDPOINT_URL, asserting exit codes, output, what exists in IAM, and that no secret is printed."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path
from typing import Any

import boto3
import pytest

from migrate_cli.core.lock import StateLock
from migrate_cli.lab.aws_endpoint import LocalAwsEndpoint
from tests.conftest import REPO, write
from tests.e2e.cli import migrate

BACKUP = "backup_writer:\n  assumed_by: [ec2, runner]\n  destination: s3://acme-backups/hq/\n"
RUN_ID = re.compile(r"\d{8}-\d{6}-[0-9a-f]{4}")


ENDPOINT_REGION = "eu-west-1"  # the shared `endpoint` fixture (tests/conftest.py) starts there


@pytest.fixture
def lab(endpoint: LocalAwsEndpoint, tmp_path: Path) -> tuple[dict[str, str], Any]:
    """A clean account; the environment a user would have after `source .migrate/lab/env`."""
    endpoint.reset()
    (tmp_path / "aws-empty").write_text("")
    env = endpoint.env() | {
        "AWS_CONFIG_FILE": str(tmp_path / "aws-empty"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-empty"),
        "MIGRATE_STATE_DIR": str(tmp_path / "state"),
    }
    iam = boto3.client(
        "iam",
        region_name="eu-west-1",
        endpoint_url=endpoint.url,
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    return env, iam


def _iam(tmp_path: Path, env: dict[str, str], *args: str) -> Any:
    return migrate("iam", *args, cwd=tmp_path, env=env)


@pytest.mark.slow
def test_plan_apply_and_apply_again(tmp_path: Path, lab: tuple[dict[str, str], Any]) -> None:
    env, iam = lab
    (tmp_path / "iam.yaml").write_text((REPO / "examples" / "iam.yaml").read_text())

    plan = _iam(tmp_path, env, "plan")
    assert plan.returncode == 0, plan.stderr
    out = plan.stdout
    assert out.startswith("IAM plan: account 123456789012, region eu-west-1, config iam.yaml\n")
    assert "role/migrate-backup-writer" in out and "create" in out
    assert "Policy documents:" in out and '"s3:prefix": [' in out
    assert "+++ b/role/migrate-etl-workflow/trust-policy" in out
    assert "Granted on Resource '*'" in out and "states:SendTaskFailure" in out
    assert "+ role/migrate-network-reader: create role" in out
    assert iam.list_roles()["Roles"] == []

    check = _iam(tmp_path, env, "apply", "--check")
    assert check.returncode == 0
    assert RUN_ID.sub("RUN", check.stdout) == RUN_ID.sub("RUN", out)  # --check is exactly plan

    apply = _iam(tmp_path, env, "apply")
    assert apply.returncode == 0, apply.stderr
    assert "done: role/migrate-backup-writer: create role" in apply.stdout
    assert re.search(r"IAM apply: 17 change\(s\) made and verified \(run " + RUN_ID.pattern, apply.stdout)
    assert len(iam.list_roles(PathPrefix="/migrate-cli/")["Roles"]) == 5

    again = _iam(tmp_path, env, "apply")
    assert again.returncode == 0
    assert "No changes: IAM matches the configuration." in again.stdout
    assert "IAM apply: no changes" in again.stdout

    as_json = migrate("--json", "iam", "plan", cwd=tmp_path, env=env)
    assert as_json.returncode == 0
    data = json.loads(as_json.stdout)
    assert data["changes"] == [] and data["diff"] == "" and data["account"] == "123456789012"
    assert set(data["principals"].values()) == {"unchanged"}
    assert "policy/migrate-backup-writer" in data["documents"]

    runs = migrate("runs", "list", "--last", "5", cwd=tmp_path, env=env | {"COLUMNS": "200"})
    assert runs.stdout.count("iam apply") == 2 and runs.stdout.count("iam plan") == 3  # plan, --check, --json plan


def test_bad_config_is_one_line_exit_2_and_changes_nothing(tmp_path: Path, lab: tuple[dict[str, str], Any]) -> None:
    env, iam = lab
    write(tmp_path / "iam.yaml", "backup_writer:\n  destination: s3://acme-*/hq/\n")
    result = _iam(tmp_path, env, "apply", "--yes")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "migrate: error: iam.yaml:2: backup_writer.destination: location 's3://acme-*/hq/' contains a wildcard "
        "('*' or '?'); name the exact resource"
    ]
    assert result.stdout == ""
    assert iam.list_roles()["Roles"] == []
    missing = _iam(tmp_path, env, "plan", "--config", "nope.yaml")
    assert missing.returncode == 2 and "nope.yaml: no IAM configuration here" in missing.stderr


def test_principal_not_owned_is_refused_exit_3(tmp_path: Path, lab: tuple[dict[str, str], Any]) -> None:
    env, iam = lab
    write(tmp_path / "iam.yaml", BACKUP)
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    iam.create_role(RoleName="migrate-backup-writer", AssumeRolePolicyDocument=json.dumps(trust))
    plan = _iam(tmp_path, env, "plan")
    assert plan.returncode == 3
    assert "conflict: role migrate-backup-writer exists and is not managed by migrate-cli" in plan.stdout
    assert "migrate: error: IAM apply refused: role migrate-backup-writer" in plan.stderr
    apply = _iam(tmp_path, env, "apply", "--yes")
    assert apply.returncode == 3
    role = iam.get_role(RoleName="migrate-backup-writer")["Role"]
    assert role["Path"] == "/" and "Tags" not in role or not role.get("Tags")
    assert iam.list_attached_role_policies(RoleName="migrate-backup-writer")["AttachedPolicies"] == []


@pytest.mark.slow
def test_replacing_permissions_needs_yes_without_a_terminal(tmp_path: Path, lab: tuple[dict[str, str], Any]) -> None:
    env, iam = lab
    write(tmp_path / "iam.yaml", BACKUP)
    assert _iam(tmp_path, env, "apply").returncode == 0  # creating needs no confirmation
    write(tmp_path / "iam.yaml", BACKUP + "  delete_for_retention: true\n")
    arn = "arn:aws:iam::123456789012:policy/migrate-cli/migrate-backup-writer"

    refused = _iam(tmp_path, env, "apply")
    assert refused.returncode == 3
    assert "! policy/migrate-backup-writer: new default version replacing v1" in refused.stdout
    assert '+        "s3:DeleteObject"' in refused.stdout
    assert "refused: 1 change(s) marked ! replace or remove existing permissions" in refused.stdout
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v1"

    confirmed = _iam(tmp_path, env, "apply", "--yes")
    assert confirmed.returncode == 0, confirmed.stderr
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v2"
    assert "No changes" in _iam(tmp_path, env, "plan", "--no-documents").stdout


@pytest.mark.slow
def test_access_key_goes_to_a_private_file_never_to_output(tmp_path: Path, lab: tuple[dict[str, str], Any]) -> None:
    env, iam = lab
    write(tmp_path / "iam.yaml", BACKUP)
    result = _iam(tmp_path, env, "apply", "--with-access-key")
    assert result.returncode == 0, result.stderr
    key_file = tmp_path / "state" / "iam" / "migrate-onprem-runner.credentials"
    assert f"written to {key_file} (mode 0600); the secret is not shown" in result.stdout
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    secret = key_file.read_text().split("aws_secret_access_key = ", 1)[1].strip()
    assert (
        iam.list_access_keys(UserName="migrate-onprem-runner")["AccessKeyMetadata"][0]["AccessKeyId"] in result.stdout
    )
    report = migrate("report", "last", cwd=tmp_path, env=env)
    as_json = migrate("--json", "iam", "apply", "--with-access-key", cwd=tmp_path, env=env)
    assert as_json.returncode == 0 and json.loads(as_json.stdout)["changes"] == []
    for text in (result.stdout, result.stderr, report.stdout, as_json.stdout):
        assert secret not in text
    for path in (tmp_path / "state").glob("journal.sqlite*"):
        assert secret.encode() not in path.read_bytes()


def test_another_apply_running_is_refused(tmp_path: Path, lab: tuple[dict[str, str], Any]) -> None:
    env, iam = lab
    write(tmp_path / "iam.yaml", BACKUP)
    with StateLock(tmp_path / "state", "iam", purpose="migrate iam apply (test)"):
        result = _iam(tmp_path, env, "apply")
    assert result.returncode == 3
    assert "lock 'iam' is held by pid" in result.stderr
    assert iam.list_roles()["Roles"] == []
