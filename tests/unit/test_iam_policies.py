"""The generated policy documents: least privilege, scoped to the configured names, and all valid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from migrate_cli.iam import reference
from migrate_cli.iam.config import IamConfig, load_config
from migrate_cli.iam.desired import DesiredState, build
from migrate_cli.iam.target import Target, partition_of
from migrate_cli.iam.validate import action_exists, all_problems, unscoped_exceptions
from tests.conftest import REPO, write

T = Target(account="123456789012", region="eu-west-1")


def _example(**kw: Any) -> DesiredState:
    return build(load_config(REPO / "examples" / "iam.yaml"), T, with_user=kw.get("with_user", True))


def _role(state: DesiredState, key: str) -> Any:
    return next(r for r in state.roles if r.key == key)


def _by_sid(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {st["Sid"]: st for st in doc["Statement"]}


def _actions(doc: dict[str, Any]) -> set[str]:
    return {a for st in doc["Statement"] for a in st["Action"]}


def _config(tmp_path: Path, text: str) -> IamConfig:
    return load_config(write(tmp_path / "iam.yaml", text))


def test_every_generated_document_passes_validation() -> None:
    for with_user in (True, False):
        assert all_problems(_example(with_user=with_user).documents()) == []


@pytest.mark.parametrize("region", ["eu-west-1", "cn-north-1", "us-gov-west-1"])
def test_partitions(region: str) -> None:
    target = Target("123456789012", region, partition_of(region))
    state = build(load_config(REPO / "examples" / "iam.yaml"), target, with_user=True)
    assert all_problems(state.documents()) == []
    text = str(state.documents())
    assert f"arn:{target.partition}:s3:::acme-site-backups" in text
    assert target.partition != "aws" or "arn:aws-" not in text


def test_star_resources_only_where_aws_has_no_resource_level_permissions() -> None:
    for label, kind, doc in _example().documents():
        if kind == "trust":
            continue
        for action, reason in unscoped_exceptions(doc):
            ref = reference.lookup(action)
            assert ref is not None and not ref.scopable, (label, action)
            assert reason, (label, action)
        for st in doc["Statement"]:
            assert not any("*" in a for a in st["Action"]), (label, st)


def test_the_shipped_reference_names_real_actions_and_resource_types() -> None:
    for action, ref in reference.ACTIONS.items():
        assert action_exists(action), action
        assert all(t in reference.RESOURCE_TYPES for t in ref.resources), action
        assert ref.scopable or ref.unscoped_reason, action


def test_backup_writer_is_scoped_to_its_prefix_and_cannot_delete_by_default(tmp_path: Path) -> None:
    config = _config(tmp_path, "backup_writer:\n  destination: s3://acme-backups/hq\n")
    doc = _role(build(config, T, with_user=False), "backup-writer").policy.document
    sids = _by_sid(doc)
    assert sids["ListBackupPrefix"] == {
        "Sid": "ListBackupPrefix",
        "Effect": "Allow",
        "Action": ["s3:ListBucket"],
        "Resource": ["arn:aws:s3:::acme-backups"],
        "Condition": {"StringLike": {"s3:prefix": ["hq/", "hq/*"]}},
    }
    assert sids["WriteBackupObjects"]["Action"] == [
        "s3:AbortMultipartUpload",
        "s3:GetObject",
        "s3:ListMultipartUploadParts",
        "s3:PutObject",
    ]
    assert sids["WriteBackupObjects"]["Resource"] == ["arn:aws:s3:::acme-backups/hq/*"]
    assert not any("Delete" in a for a in _actions(doc))
    assert "kms:Decrypt" not in _actions(doc)


def test_backup_writer_delete_for_retention_and_kms_stay_scoped(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        "backup_writer:\n  destination: s3://acme-backups/hq/\n  delete_for_retention: true\n"
        "  kms_key: 1234abcd-12ab-34cd-56ef-1234567890ab\n",
    )
    sids = _by_sid(_role(build(config, T, with_user=False), "backup-writer").policy.document)
    assert sids["PruneForRetention"]["Action"] == ["s3:DeleteObject"]
    assert sids["PruneForRetention"]["Resource"] == ["arn:aws:s3:::acme-backups/hq/*"]
    assert sids["UseBackupKey"]["Resource"] == [
        "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    ]


def test_whole_bucket_destination_has_no_prefix_condition(tmp_path: Path) -> None:
    config = _config(tmp_path, "backup_writer:\n  destination: s3://acme-backups\n")
    sids = _by_sid(_role(build(config, T, with_user=False), "backup-writer").policy.document)
    assert "Condition" not in sids["ListBackupPrefix"]
    assert sids["WriteBackupObjects"]["Resource"] == ["arn:aws:s3:::acme-backups/*"]


def test_network_reader_is_describe_only_and_names_listed_ids() -> None:
    doc = _role(_example(), "network-reader").policy.document
    assert all(a.split(":")[1].startswith("Describe") for a in _actions(doc))
    sids = _by_sid(doc)
    assert sids["DescribeDirectConnect"]["Resource"] == [
        "arn:aws:directconnect:eu-west-1:123456789012:dxcon/dxcon-ffdef456",
        "arn:aws:directconnect:eu-west-1:123456789012:dxlag/*",  # none listed: all LAGs of this account/region
        "arn:aws:directconnect:eu-west-1:123456789012:dxvif/dxvif-ffabc123",
    ]
    assert sids["DescribeDirectConnectGateways"]["Resource"] == ["arn:aws:directconnect::123456789012:dx-gateway/*"]
    assert sids["DescribeVpn"]["Resource"] == ["*"]
    assert sids["DescribeVpn"]["Condition"] == {"StringEquals": {"ec2:Region": ["eu-west-1"]}}


def test_glacier_restore_can_restore_and_read_but_not_write() -> None:
    doc = _role(_example(), "glacier-restore").policy.document
    assert _actions(doc) == {"s3:ListBucket", "s3:RestoreObject", "s3:GetObject"}
    assert _by_sid(doc)["RestoreArchivedObjects"]["Resource"] == ["arn:aws:s3:::acme-site-archive/hq/*"]


def test_etl_runner_names_its_state_machine_activities_and_table() -> None:
    doc = _role(_example(), "etl-runner").policy.document
    sids = _by_sid(doc)
    assert sids["StartPipeline"]["Resource"] == ["arn:aws:states:eu-west-1:123456789012:stateMachine:migrate-etl"]
    assert sids["WatchPipelineExecutions"]["Resource"] == [
        "arn:aws:states:eu-west-1:123456789012:execution:migrate-etl:*"
    ]
    assert sids["PollActivities"]["Resource"] == [
        "arn:aws:states:eu-west-1:123456789012:activity:migrate-etl-transform"
    ]
    assert sids["ReportActivityResults"]["Resource"] == ["*"]
    assert sids["PipelineJobTable"]["Resource"] == ["arn:aws:dynamodb:eu-west-1:123456789012:table/migrate-etl-jobs"]
    assert not any(a.startswith(("glue:", "athena:")) for a in _actions(doc))  # the state machine runs those


def test_etl_workflow_trusts_only_its_state_machine() -> None:
    role = _role(_example(), "etl-workflow")
    (st,) = role.trust["Statement"]
    assert st["Principal"] == {"Service": ["states.amazonaws.com"]}
    assert st["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ["123456789012"]},
        "ArnLike": {"aws:SourceArn": ["arn:aws:states:eu-west-1:123456789012:stateMachine:migrate-etl"]},
    }
    sids = _by_sid(role.policy.document)
    assert sids["RunGlueJobs"]["Resource"] == ["arn:aws:glue:eu-west-1:123456789012:job/migrate-etl-clean"]
    assert sids["RunAthenaQueries"]["Resource"] == ["arn:aws:athena:eu-west-1:123456789012:workgroup/migrate-etl"]
    assert not role.instance_profile and not role.runner


def test_trust_and_runner_user() -> None:
    with_user = _example(with_user=True)
    user = with_user.user
    assert user is not None and user.arn == "arn:aws:iam::123456789012:user/migrate-cli/migrate-onprem-runner"
    backup = _role(with_user, "backup-writer")
    principals = {k: v for st in backup.trust["Statement"] for k, v in st["Principal"].items()}
    assert principals == {"AWS": [user.arn], "Service": ["ec2.amazonaws.com"]}
    assert backup.instance_profile
    (assume,) = user.policy["Statement"]
    assert sorted(assume["Resource"]) == sorted(r.arn for r in with_user.roles if r.runner)
    assert "etl-workflow" not in str(assume["Resource"])
    # no user and no principals configured: the account itself is trusted (its IAM decides who may assume)
    without = _role(_example(with_user=False), "network-reader")
    assert without.trust["Statement"][0]["Principal"] == {"AWS": ["arn:aws:iam::123456789012:root"]}


def test_everything_is_tagged_as_owned() -> None:
    state = _example()
    for role in state.roles:
        assert role.tags["managed-by"] == "migrate-cli"
        assert role.tags["migrate-cli:service-account"] == role.key
        assert role.tags["project"] == "dc-exit"
    assert state.user is not None and state.user.tags["managed-by"] == "migrate-cli"
