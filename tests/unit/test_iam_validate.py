"""The policy linter rejects what least privilege forbids, using botocore's models and the shipped reference."""

from __future__ import annotations

from typing import Any

import pytest

from migrate_cli.iam.validate import action_exists, check_permissions, check_trust, service_operations


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _st(actions: list[str], resources: list[str], condition: dict | None = None) -> dict[str, Any]:
    st: dict[str, Any] = {"Sid": "S", "Effect": "Allow", "Action": actions, "Resource": resources}
    if condition:
        st["Condition"] = condition
    return st


def _problems(*statements: dict[str, Any], limit: int = 6144) -> str:
    return "\n".join(str(p) for p in check_permissions("doc", _doc(*statements), limit))


BUCKET = "arn:aws:s3:::acme"
OBJECTS = "arn:aws:s3:::acme/hq/*"


def test_botocore_action_lookup() -> None:
    assert action_exists("s3:PutObject")
    assert action_exists("s3:ListBucket")  # an IAM-only name (ListObjectsV2, HeadBucket)
    assert action_exists("states:SendTaskSuccess")  # the IAM prefix of botocore's stepfunctions
    assert action_exists("ec2:DescribeVpnConnections")
    assert not action_exists("s3:PutObjekt")
    assert not action_exists("states:Nope")
    assert not action_exists("nosuchservice:Describe")
    assert not action_exists("s3")
    ops = service_operations("directconnect")
    assert ops is not None and "DescribeVirtualInterfaces" in ops


def test_a_valid_document_has_no_problems() -> None:
    assert (
        _problems(
            _st(["s3:ListBucket"], [BUCKET], {"StringLike": {"s3:prefix": ["hq/", "hq/*"]}}),
            _st(["s3:GetObject", "s3:PutObject"], [OBJECTS]),
            _st(["states:SendTaskSuccess"], ["*"]),
            _st(["ec2:DescribeVpnConnections"], ["*"], {"StringEquals": {"ec2:Region": ["eu-west-1"]}}),
        )
        == ""
    )


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (_st(["s3:PutObjekt"], [OBJECTS]), "'s3:PutObjekt' is not an action of any botocore service model"),
        (_st(["s3:*"], [OBJECTS]), "wildcard action 's3:*'"),
        (_st(["s3:Get*"], [OBJECTS]), "wildcard action 's3:Get*'"),
        (_st(["s3:DeleteBucket"], [BUCKET]), "no entry in migrate_cli/iam/reference.py"),
        (_st(["s3:GetObject"], ["*"]), "'*' resource for actions that can be scoped: s3:GetObject"),
        (_st(["s3:ListBucket"], [OBJECTS]), "s3:ListBucket has no resource of a type it supports (bucket)"),
        (_st(["s3:GetObject"], [BUCKET]), "fits none of the statement's actions"),
        (
            _st(["ec2:DescribeVpnConnections"], ["arn:aws:ec2:eu-west-1:123456789012:vpn-connection/vpn-1"]),
            "only match Resource '*'",
        ),
        (_st(["ec2:DescribeVpnConnections", "s3:GetObject"], ["*"]), "mixes actions without resource-level"),
        (
            _st(["s3:GetObject"], [OBJECTS], {"StringLike": {"s3:prefix": ["hq/"]}}),
            "condition key 's3:prefix' is not supported by s3:GetObject",
        ),
        (_st(["dynamodb:GetItem"], ["arn:aws:dynamodb:eu-west-1:*:table/jobs"]), "no wildcard allowed in the account"),
        (
            _st(["dynamodb:GetItem"], ["arn:aws:dynamodb:*:123456789012:table/jobs"]),
            "no wildcard allowed in the region",
        ),
        (_st(["dynamodb:GetItem"], ["table/jobs"]), "is not an ARN"),
        (
            {"Sid": "S", "Effect": "Allow", "NotAction": ["s3:GetObject"], "Resource": [OBJECTS]},
            "NotAction is not used",
        ),
    ],
)
def test_violations_are_reported(statement: dict[str, Any], expected: str) -> None:
    assert expected in _problems(statement)


def test_size_quota() -> None:
    resources = [f"arn:aws:s3:::acme/prefix-{i:04d}/*" for i in range(200)]
    assert "over IAM's 6144" in _problems(_st(["s3:GetObject"], resources))


def test_trust_policy_rules() -> None:
    good = _doc({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"})
    assert check_trust("t", good) == []
    anyone = _doc({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"})
    assert "wildcard principal '*'" in str(check_trust("t", anyone)[0])
    star = _doc({"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"})
    assert "Principal must name" in str(check_trust("t", star)[0])
    other = _doc({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:TagSession"})
    assert "allows only sts:AssumeRole" in str(check_trust("t", other)[0])
