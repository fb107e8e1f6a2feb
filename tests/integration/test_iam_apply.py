"""`iam` plan and apply against the local AWS endpoint (moto server over HTTP).

moto has no IAM policy simulation (MOTO-NOTES.md): what the policies allow is tested in
tests/unit/test_iam_evaluate.py; here we test what exists in IAM before and after.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import boto3
import pytest

from migrate_cli.core.errors import ConfigError, OperationFailed, SafetyRefusal
from migrate_cli.iam.apply import apply_plan
from migrate_cli.iam.config import IamConfig, load_config
from migrate_cli.iam.planner import IamPlan, plan_iam
from migrate_cli.lab.aws_endpoint import LocalAwsEndpoint
from tests.conftest import REPO, point_at, write

ACCOUNT = "123456789012"
TRUST_EC2 = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
BACKUP = """
backup_writer:
  assumed_by: [ec2, runner]
  destination: s3://acme-backups/hq/
"""


ENDPOINT_REGION = "eu-west-1"  # the shared `endpoint` fixture (tests/conftest.py) starts there


@pytest.fixture
def aws(endpoint: LocalAwsEndpoint, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """A clean moto account, the process pointed at it; returns an IAM client for arranging and checking."""
    endpoint.reset()
    point_at(endpoint, monkeypatch)
    (tmp_path / "aws-empty").write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-empty"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-empty"))
    return boto3.client("iam", region_name="eu-west-1", endpoint_url=endpoint.url)


def _config(tmp_path: Path, text: str = BACKUP) -> IamConfig:
    return load_config(write(tmp_path / "iam.yaml", text))


def _plan(config: IamConfig, tmp_path: Path, **kw: Any) -> IamPlan:
    return plan_iam(config, key_dir=tmp_path / "state" / "iam", **kw)


def _calls(plan: IamPlan) -> list[str]:
    return [op.call for op in plan.ops]


def _tags(items: list[dict[str, str]]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items}


def test_example_config_from_nothing_then_idempotent(aws: Any, tmp_path: Path) -> None:
    config = load_config(REPO / "examples" / "iam.yaml")
    first = _plan(config, tmp_path)
    assert set(first.statuses.values()) == {"create"}
    assert first.conflicts == [] and first.disruptive == []
    assert "+++ b/policy/migrate-backup-writer/document" in first.diff
    assert aws.list_roles()["Roles"] == []  # planning changed nothing

    result = apply_plan(first)
    assert len(result["applied"]) == len(first.ops)

    again = _plan(config, tmp_path)
    assert again.ops == [] and again.diff == ""
    assert set(again.statuses.values()) == {"unchanged"}

    for role in first.desired.roles:
        got = aws.get_role(RoleName=role.name)["Role"]
        assert got["Path"] == "/migrate-cli/"
        assert _tags(got["Tags"])["managed-by"] == "migrate-cli"
        assert got["AssumeRolePolicyDocument"] == role.trust
        attached = aws.list_attached_role_policies(RoleName=role.name)["AttachedPolicies"]
        assert [p["PolicyArn"] for p in attached] == [role.policy.arn]
        policy = aws.get_policy(PolicyArn=role.policy.arn)["Policy"]
        assert _tags(policy["Tags"])["managed-by"] == "migrate-cli"
        version = aws.get_policy_version(PolicyArn=role.policy.arn, VersionId=policy["DefaultVersionId"])
        assert version["PolicyVersion"]["Document"] == role.policy.document
    profile = aws.get_instance_profile(InstanceProfileName="migrate-backup-writer")["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == ["migrate-backup-writer"]
    assert _tags(profile["Tags"])["managed-by"] == "migrate-cli"
    assert aws.list_users()["Users"] == []  # no user unless asked


def test_drift_on_owned_role_is_shown_and_repaired(aws: Any, tmp_path: Path) -> None:
    config = _config(tmp_path)
    apply_plan(_plan(config, tmp_path))
    arn = f"arn:aws:iam::{ACCOUNT}:policy/migrate-cli/migrate-backup-writer"
    # someone widens the role by hand: another policy, an inline policy, a cross-account trust, a new version
    extra = aws.create_policy(
        PolicyName="admin-ish",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        ),
    )["Policy"]["Arn"]
    aws.attach_role_policy(RoleName="migrate-backup-writer", PolicyArn=extra)
    aws.put_role_policy(
        RoleName="migrate-backup-writer",
        PolicyName="hotfix",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:DeleteObject", "Resource": "*"}]}
        ),
    )
    aws.update_assume_role_policy(
        RoleName="migrate-backup-writer",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    aws.create_policy_version(
        PolicyArn=arn,
        SetAsDefault=True,
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::acme-backups/*"}],
            }
        ),
    )

    plan = _plan(config, tmp_path)
    assert plan.statuses["role/migrate-backup-writer"] == "update"
    assert sorted(_calls(plan)) == sorted(
        ["create_policy_version", "update_assume_role_policy", "detach_role_policy", "delete_role_policy"]
    )
    assert all(op.disruptive for op in plan.ops)
    assert '-        "arn:aws:s3:::acme-backups/*"' in plan.diff  # the hand-made version, going away
    assert '-          "arn:aws:iam::999999999999:root"' in plan.diff  # another account's trust, going away
    assert f'-    "{extra}"' in plan.diff and '-    "hotfix"' in plan.diff  # role summary diff
    assert "--- a/role/migrate-backup-writer/inline-policy/hotfix\n+++ /dev/null\n" in plan.diff

    apply_plan(plan)
    assert _plan(config, tmp_path).ops == []
    assert aws.list_role_policies(RoleName="migrate-backup-writer")["PolicyNames"] == []
    # the detached policy is not ours: detached from our role, otherwise untouched
    assert aws.get_policy(PolicyArn=extra)["Policy"]["Arn"] == extra


def test_policy_update_at_the_version_limit_deletes_the_oldest(aws: Any, tmp_path: Path) -> None:
    apply_plan(_plan(_config(tmp_path), tmp_path))
    arn = f"arn:aws:iam::{ACCOUNT}:policy/migrate-cli/migrate-backup-writer"
    for i in range(4):  # five versions, v5 the default
        doc = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::x{i}/*"}],
        }
        aws.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(doc), SetAsDefault=True)
    plan = _plan(_config(tmp_path, BACKUP + "  delete_for_retention: true\n"), tmp_path)
    assert _calls(plan) == ["delete_policy_version", "create_policy_version"]
    assert plan.ops[0].kwargs["VersionId"] == "v1"
    apply_plan(plan)
    versions = aws.list_policy_versions(PolicyArn=arn)["Versions"]
    assert len(versions) == 5 and "v1" not in {v["VersionId"] for v in versions}
    assert _plan(_config(tmp_path, BACKUP + "  delete_for_retention: true\n"), tmp_path).ops == []


def test_principals_not_owned_are_never_touched(aws: Any, tmp_path: Path) -> None:
    aws.create_role(
        RoleName="migrate-backup-writer", AssumeRolePolicyDocument=json.dumps(TRUST_EC2), Path="/migrate-cli/"
    )
    aws.put_role_policy(
        RoleName="migrate-backup-writer",
        PolicyName="theirs",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
        ),
    )
    config = _config(tmp_path, BACKUP + "glacier_restore:\n  locations: [s3://acme-archive/hq/]\n")
    plan = _plan(config, tmp_path)
    assert plan.statuses["role/migrate-backup-writer"] == "conflict"
    assert "role migrate-backup-writer exists and is not managed by migrate-cli" in plan.conflicts[0]
    assert not any(op.principal.endswith("migrate-backup-writer") for op in plan.ops)
    with pytest.raises(SafetyRefusal):
        apply_plan(plan)
    # nothing at all was done: not even the other, unconflicted role
    assert [r["RoleName"] for r in aws.list_roles()["Roles"]] == ["migrate-backup-writer"]
    assert aws.list_role_policies(RoleName="migrate-backup-writer")["PolicyNames"] == ["theirs"]
    assert aws.list_attached_role_policies(RoleName="migrate-backup-writer")["AttachedPolicies"] == []


def test_owned_role_dropped_from_config_is_reported_and_kept(aws: Any, tmp_path: Path) -> None:
    both = BACKUP + "glacier_restore:\n  locations: [s3://acme-archive/hq/]\n"
    apply_plan(_plan(_config(tmp_path, both), tmp_path))
    plan = _plan(_config(tmp_path, BACKUP), tmp_path)
    assert plan.ops == []
    assert any(
        "migrate-glacier-restore is managed by migrate-cli but not in the configuration" in n for n in plan.notes
    )
    assert aws.get_role(RoleName="migrate-glacier-restore")["Role"]["RoleName"] == "migrate-glacier-restore"


def test_ec2_dropped_from_assumed_by_takes_the_role_out_of_the_instance_profile(aws: Any, tmp_path: Path) -> None:
    apply_plan(_plan(_config(tmp_path), tmp_path))
    plan = _plan(_config(tmp_path, BACKUP.replace("[ec2, runner]", "[runner]")), tmp_path)
    assert _calls(plan) == ["update_assume_role_policy", "remove_role_from_instance_profile"]
    assert all(op.disruptive for op in plan.ops)
    apply_plan(plan)
    assert aws.get_instance_profile(InstanceProfileName="migrate-backup-writer")["InstanceProfile"]["Roles"] == []


def test_account_id_that_is_not_the_credentials_account_is_refused(aws: Any, tmp_path: Path) -> None:
    config = _config(tmp_path, 'account_id: "999999999999"\n' + BACKUP)
    with pytest.raises(
        ConfigError, match=f"account_id 999999999999 is not the account of the credentials in use \\({ACCOUNT}"
    ):
        _plan(config, tmp_path)


def test_access_key_only_when_asked_written_0600_and_never_twice(aws: Any, tmp_path: Path) -> None:
    config = _config(tmp_path)
    plain = _plan(config, tmp_path)
    assert "create_user" not in _calls(plain)
    plan = _plan(config, tmp_path, with_access_key=True)
    assert _calls(plan)[:2] == ["create_user", "put_user_policy"]
    assert _calls(plan)[-1] == "create_access_key"  # only once everything else exists
    result = apply_plan(plan)
    key_file = Path(result["access_key_file"])
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    text = key_file.read_text()
    secret = text.split("aws_secret_access_key = ", 1)[1].strip()
    assert len(secret) >= 20 and result["access_key_id"] in text
    assert secret not in json.dumps(result) and secret not in json.dumps(plan.to_dict())
    # the user is trusted by the runner roles; it may assume them (and nothing else)
    user_arn = f"arn:aws:iam::{ACCOUNT}:user/migrate-cli/migrate-onprem-runner"
    trust = aws.get_role(RoleName="migrate-backup-writer")["Role"]["AssumeRolePolicyDocument"]
    assert user_arn in json.dumps(trust)
    # again with the flag: no second key; without it: the user stays (no changes either way)
    again = _plan(config, tmp_path, with_access_key=True)
    assert again.ops == [] and "already has access key" in again.notes[0]
    assert _plan(config, tmp_path).ops == []
    assert len(aws.list_access_keys(UserName="migrate-onprem-runner")["AccessKeyMetadata"]) == 1


def test_access_key_needs_a_runner_role(aws: Any, tmp_path: Path) -> None:
    config = _config(tmp_path, BACKUP.replace("[ec2, runner]", "[ec2]"))
    with pytest.raises(ConfigError, match="no role is `assumed_by: \\[runner\\]`"):
        _plan(config, tmp_path, with_access_key=True)


def test_a_change_behind_the_plans_back_fails_apply_clearly(aws: Any, tmp_path: Path) -> None:
    plan = _plan(_config(tmp_path), tmp_path)
    aws.create_role(RoleName="migrate-backup-writer", AssumeRolePolicyDocument=json.dumps(TRUST_EC2))
    with pytest.raises(OperationFailed) as err:
        apply_plan(plan)
    message = str(err.value)
    assert message.startswith("role/migrate-backup-writer: create role")
    assert "EntityAlreadyExists" in message
    assert "1 of 5 changes were made before it; run apply again to finish" in message
    again = _plan(_config(tmp_path), tmp_path)  # and the next plan sees the role as not ours
    assert again.statuses["role/migrate-backup-writer"] == "conflict"


def test_runner_user_not_owned_is_a_conflict(aws: Any, tmp_path: Path) -> None:
    aws.create_user(UserName="migrate-onprem-runner")
    plan = _plan(_config(tmp_path), tmp_path, with_access_key=True)
    assert plan.statuses["user/migrate-onprem-runner"] == "conflict"
    assert "user migrate-onprem-runner exists and is not managed by migrate-cli" in plan.conflicts[0]
    assert "migrate-onprem-runner" not in json.dumps(plan.desired.roles[0].trust)  # not trusted either
    with pytest.raises(SafetyRefusal):
        apply_plan(plan)
    assert aws.list_access_keys(UserName="migrate-onprem-runner")["AccessKeyMetadata"] == []
