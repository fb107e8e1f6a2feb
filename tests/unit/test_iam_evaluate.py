"""Allowed/denied checks of sample requests against the generated documents.

moto does not implement IAM policy simulation (MOTO-NOTES.md), so `migrate_cli.iam.evaluate` stands in for
IAM's SimulatePrincipalPolicy here: each request below is what SimulatePrincipalPolicy would be asked with
the role's policies (action, resource ARN, context keys such as s3:prefix or ec2:Region). The evaluator's
own semantics are tested at the end against IAM's documented evaluation logic.
"""

from __future__ import annotations

from typing import Any

import pytest

from migrate_cli.iam.config import load_config
from migrate_cli.iam.desired import DesiredState, build
from migrate_cli.iam.evaluate import Decision, Request, evaluate, glob_match
from migrate_cli.iam.target import Target
from tests.conftest import REPO

T = Target(account="123456789012", region="eu-west-1")
STATE: DesiredState = build(load_config(REPO / "examples" / "iam.yaml"), T, with_user=True)
ROLES = {r.key: r for r in STATE.roles}


def _decide(role: str, action: str, resource: str = "*", **context: Any) -> Decision:
    return evaluate([ROLES[role].policy.document], Request(action, resource, context)).decision


ALLOW, DENY = Decision.ALLOWED, Decision.IMPLICIT_DENY
B = "arn:aws:s3:::acme-site-backups"
A = "arn:aws:s3:::acme-site-archive"


@pytest.mark.parametrize(
    ("action", "resource", "context", "expected"),
    [
        ("s3:PutObject", f"{B}/hq/snapshots/2026-11-26.json.gz", {}, ALLOW),
        ("s3:GetObject", f"{B}/hq/objects/sha256/ab/abcd", {}, ALLOW),
        ("s3:AbortMultipartUpload", f"{B}/hq/objects/x", {}, ALLOW),
        ("s3:ListMultipartUploadParts", f"{B}/hq/objects/x", {}, ALLOW),
        ("s3:DeleteObject", f"{B}/hq/objects/x", {}, ALLOW),  # the example prunes for retention
        ("s3:ListBucket", B, {"s3:prefix": "hq/snapshots/"}, ALLOW),
        ("s3:ListBucket", B, {"s3:prefix": "hq/"}, ALLOW),
        ("s3:ListBucketMultipartUploads", B, {}, ALLOW),
        # outside the prefix, the bucket, or the job
        ("s3:PutObject", f"{B}/hq2/x", {}, DENY),
        ("s3:PutObject", f"{B}/other/x", {}, DENY),
        ("s3:DeleteObject", f"{B}/other/x", {}, DENY),
        ("s3:PutObject", f"{A}/hq/x", {}, DENY),
        ("s3:ListBucket", B, {"s3:prefix": "other/"}, DENY),
        ("s3:ListBucket", B, {}, DENY),  # listing the whole bucket
        ("s3:DeleteBucket", B, {}, DENY),
        ("s3:PutBucketPolicy", B, {}, DENY),
        ("s3:RestoreObject", f"{B}/hq/x", {}, DENY),
        ("iam:PassRole", "arn:aws:iam::123456789012:role/x", {}, DENY),
    ],
)
def test_backup_writer(action: str, resource: str, context: dict[str, str], expected: Decision) -> None:
    assert _decide("backup-writer", action, resource, **context) == expected


@pytest.mark.parametrize(
    ("action", "resource", "context", "expected"),
    [
        (
            "directconnect:DescribeVirtualInterfaces",
            "arn:aws:directconnect:eu-west-1:123456789012:dxvif/dxvif-ffabc123",
            {},
            ALLOW,
        ),
        (
            "directconnect:DescribeConnections",
            "arn:aws:directconnect:eu-west-1:123456789012:dxcon/dxcon-ffdef456",
            {},
            ALLOW,
        ),
        ("directconnect:DescribeLags", "arn:aws:directconnect:eu-west-1:123456789012:dxlag/dxlag-any1", {}, ALLOW),
        ("ec2:DescribeVpnConnections", "*", {"ec2:Region": "eu-west-1"}, ALLOW),
        ("ec2:describevpngateways", "*", {"ec2:Region": "eu-west-1"}, ALLOW),  # action names are case-insensitive
        (
            "directconnect:DescribeVirtualInterfaces",
            "arn:aws:directconnect:eu-west-1:123456789012:dxvif/dxvif-other1",
            {},
            DENY,
        ),
        (
            "directconnect:DescribeConnections",
            "arn:aws:directconnect:us-east-1:123456789012:dxcon/dxcon-ffdef456",
            {},
            DENY,
        ),
        (
            "directconnect:DescribeConnections",
            "arn:aws:directconnect:eu-west-1:999999999999:dxcon/dxcon-ffdef456",
            {},
            DENY,
        ),
        ("ec2:DescribeVpnConnections", "*", {"ec2:Region": "us-east-1"}, DENY),
        ("ec2:CreateVpnConnection", "*", {"ec2:Region": "eu-west-1"}, DENY),
        ("ec2:DescribeInstances", "*", {"ec2:Region": "eu-west-1"}, DENY),
        (
            "directconnect:DeleteVirtualInterface",
            "arn:aws:directconnect:eu-west-1:123456789012:dxvif/dxvif-ffabc123",
            {},
            DENY,
        ),
    ],
)
def test_network_reader(action: str, resource: str, context: dict[str, str], expected: Decision) -> None:
    assert _decide("network-reader", action, resource, **context) == expected


def test_glacier_restore() -> None:
    assert _decide("glacier-restore", "s3:RestoreObject", f"{A}/hq/2019/x.tar") == ALLOW
    assert _decide("glacier-restore", "s3:GetObject", f"{A}/hq/2019/x.tar") == ALLOW
    assert _decide("glacier-restore", "s3:ListBucket", A, **{"s3:prefix": "hq/2019/"}) == ALLOW
    assert _decide("glacier-restore", "s3:RestoreObject", f"{B}/hq/x") == DENY
    assert _decide("glacier-restore", "s3:PutObject", f"{A}/hq/x") == DENY
    assert _decide("glacier-restore", "s3:DeleteObject", f"{A}/hq/x") == DENY


SM = "arn:aws:states:eu-west-1:123456789012:stateMachine:migrate-etl"
TABLE = "arn:aws:dynamodb:eu-west-1:123456789012:table/migrate-etl-jobs"


def test_etl_runner() -> None:
    activity = "arn:aws:states:eu-west-1:123456789012:activity:migrate-etl-transform"
    assert _decide("etl-runner", "states:GetActivityTask", activity) == ALLOW
    assert _decide("etl-runner", "states:SendTaskSuccess") == ALLOW
    assert _decide("etl-runner", "states:StartExecution", SM) == ALLOW
    assert (
        _decide("etl-runner", "states:DescribeExecution", SM.replace("stateMachine", "execution") + ":run-1") == ALLOW
    )
    assert _decide("etl-runner", "dynamodb:UpdateItem", TABLE) == ALLOW
    assert _decide("etl-runner", "s3:GetObject", "arn:aws:s3:::acme-etl-raw/incoming/a.csv") == ALLOW
    assert _decide("etl-runner", "s3:PutObject", "arn:aws:s3:::acme-etl-curated/out/a.parquet") == ALLOW
    assert _decide("etl-runner", "states:GetActivityTask", activity.replace("transform", "other")) == DENY
    assert _decide("etl-runner", "states:StartExecution", SM + "-other") == DENY
    assert _decide("etl-runner", "states:DeleteStateMachine", SM) == DENY
    assert _decide("etl-runner", "dynamodb:DeleteTable", TABLE) == DENY
    assert _decide("etl-runner", "dynamodb:PutItem", TABLE + "-other") == DENY
    assert _decide("etl-runner", "s3:PutObject", "arn:aws:s3:::acme-etl-raw/incoming/a.csv") == DENY  # read-only input
    assert (
        _decide("etl-runner", "glue:StartJobRun", "arn:aws:glue:eu-west-1:123456789012:job/migrate-etl-clean") == DENY
    )


def test_etl_workflow() -> None:
    job = "arn:aws:glue:eu-west-1:123456789012:job/migrate-etl-clean"
    assert _decide("etl-workflow", "glue:StartJobRun", job) == ALLOW
    assert (
        _decide("etl-workflow", "glue:GetTable", "arn:aws:glue:eu-west-1:123456789012:table/migrate_etl/events")
        == ALLOW
    )
    assert (
        _decide(
            "etl-workflow", "athena:StartQueryExecution", "arn:aws:athena:eu-west-1:123456789012:workgroup/migrate-etl"
        )
        == ALLOW
    )
    assert _decide("etl-workflow", "s3:PutObject", "arn:aws:s3:::acme-etl-results/athena/q1.csv") == ALLOW
    assert _decide("etl-workflow", "glue:StartJobRun", job + "-other") == DENY
    assert _decide("etl-workflow", "glue:GetTable", "arn:aws:glue:eu-west-1:123456789012:table/other_db/events") == DENY
    assert (
        _decide("etl-workflow", "athena:StartQueryExecution", "arn:aws:athena:eu-west-1:123456789012:workgroup/primary")
        == DENY
    )
    assert _decide("etl-workflow", "states:StartExecution", SM) == DENY


def _assume(role: str, principal: dict[str, str], **context: str) -> Decision:
    request = Request("sts:AssumeRole", context=context, principal=principal)
    return evaluate([ROLES[role].trust], request).decision


def test_trust_policies() -> None:
    user = STATE.user
    assert user is not None
    assert (
        _assume(
            "etl-workflow", {"Service": "states.amazonaws.com"}, **{"aws:SourceAccount": T.account, "aws:SourceArn": SM}
        )
        == ALLOW
    )
    assert (
        _assume(
            "etl-workflow",
            {"Service": "states.amazonaws.com"},
            **{"aws:SourceAccount": T.account, "aws:SourceArn": SM + "-x"},
        )
        == DENY
    )
    assert (
        _assume(
            "etl-workflow",
            {"Service": "states.amazonaws.com"},
            **{"aws:SourceAccount": "999999999999", "aws:SourceArn": SM},
        )
        == DENY
    )
    assert _assume("etl-workflow", {"Service": "ec2.amazonaws.com"}) == DENY
    assert _assume("etl-workflow", {"AWS": user.arn}) == DENY
    assert _assume("backup-writer", {"Service": "ec2.amazonaws.com"}) == ALLOW
    assert _assume("backup-writer", {"AWS": user.arn}) == ALLOW
    assert _assume("network-reader", {"AWS": "arn:aws:iam::123456789012:user/someone-else"}) == DENY
    assumes = [user.policy]
    for role in STATE.roles:
        decision = evaluate(assumes, Request("sts:AssumeRole", role.arn)).decision
        assert decision == (ALLOW if role.runner else DENY), role.name


# --------------------------------------------------------------------------------- evaluator semantics


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def test_explicit_deny_wins_and_no_match_is_implicit_deny() -> None:
    allow = _doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    deny = _doc({"Sid": "NoDelete", "Effect": "Deny", "Action": "s3:Delete*", "Resource": "*"})
    assert evaluate([allow, deny], Request("s3:DeleteObject", "arn:aws:s3:::b/k")).decision == Decision.EXPLICIT_DENY
    assert evaluate([allow, deny], Request("s3:GetObject", "arn:aws:s3:::b/k")).allowed
    assert evaluate([deny], Request("s3:GetObject", "arn:aws:s3:::b/k")).decision == Decision.IMPLICIT_DENY


def test_not_action_not_resource_and_globs() -> None:
    doc = _doc({"Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws:s3:::secret/*"})
    assert evaluate([doc], Request("s3:GetObject", "arn:aws:s3:::public/k")).allowed
    assert not evaluate([doc], Request("iam:CreateUser", "*")).allowed
    assert not evaluate([doc], Request("s3:GetObject", "arn:aws:s3:::secret/k")).allowed
    assert glob_match("arn:aws:s3:::b/a?c", "arn:aws:s3:::b/abc")
    assert not glob_match("arn:aws:s3:::B/*", "arn:aws:s3:::b/x")  # resources are case-sensitive


def test_condition_operators() -> None:
    def allowed(condition: dict[str, Any], **context: Any) -> bool:
        doc = _doc({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*", "Condition": condition})
        return evaluate([doc], Request("s3:ListBucket", "arn:aws:s3:::b", context)).allowed

    assert allowed({"StringLike": {"s3:prefix": ["a/*", "b/*"]}}, **{"s3:prefix": "b/x"})
    assert not allowed({"StringLike": {"s3:prefix": "a/*"}})  # key missing: a positive operator fails
    assert allowed({"StringLikeIfExists": {"s3:prefix": "a/*"}})  # ...unless IfExists
    assert allowed({"StringNotEquals": {"aws:SourceAccount": "1"}})  # negated operators hold for a missing key
    assert not allowed({"StringNotEquals": {"aws:SourceAccount": "1"}}, **{"aws:SourceAccount": "1"})
    assert allowed({"StringEquals": {"AWS:SourceAccount": "1"}}, **{"aws:sourceaccount": "1"})  # keys ignore case
    assert not allowed({"StringEquals": {"a:x": "1"}, "StringLike": {"a:y": "2*"}}, **{"a:x": "1", "a:y": "3"})
    assert allowed({"Bool": {"aws:SecureTransport": "true"}}, **{"aws:SecureTransport": "True"})
    assert allowed(
        {"ArnLike": {"aws:SourceArn": "arn:aws:states:*:1:stateMachine:x"}},
        **{"aws:SourceArn": "arn:aws:states:r:1:stateMachine:x"},
    )
    with pytest.raises(ValueError, match="unsupported condition operator"):
        allowed({"NumericLessThan": {"s3:max-keys": "10"}}, **{"s3:max-keys": "5"})
    with pytest.raises(ValueError, match="unsupported set operator"):
        allowed({"ForAnyValue:StringEquals": {"aws:TagKeys": "a"}})


def test_account_principal_stands_for_the_account() -> None:
    trust = _doc(
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}
    )
    same = Request("sts:AssumeRole", principal={"AWS": "arn:aws:iam::123456789012:role/runner"})
    other = Request("sts:AssumeRole", principal={"AWS": "arn:aws:iam::999999999999:role/runner"})
    assert evaluate([trust], same).allowed
    assert not evaluate([trust], other).allowed
