"""A least-privilege role scoped to a prefix may not HeadBucket (see migrate_cli/iam): backup, archive and copy
must not refuse a bucket for that alone. Real moto server with IAM enforcement switched on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from migrate_cli.core.errors import ConfigError
from migrate_cli.lab.aws_endpoint import LocalAwsEndpoint
from migrate_cli.transfer.backup.s3util import check_bucket
from tests.conftest import point_at


@pytest.fixture
def admin(endpoint: LocalAwsEndpoint, monkeypatch: pytest.MonkeyPatch) -> Any:
    point_at(endpoint, monkeypatch)
    return boto3.session.Session()


@pytest.fixture
def prefix_writer(endpoint: LocalAwsEndpoint, admin: Any) -> Iterator[Any]:
    """An IAM user allowed objects under site/ of one bucket, nothing on the bucket itself."""
    s3 = admin.client("s3")
    s3.create_bucket(Bucket="scoped-bucket")
    iam = admin.client("iam")
    iam.create_user(UserName="prefix-writer")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": "arn:aws:s3:::scoped-bucket/site/*",
            }
        ],
    }
    iam.put_user_policy(UserName="prefix-writer", PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="prefix-writer")["AccessKey"]
    scoped = boto3.session.Session(
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], region_name="us-east-1"
    ).client("s3")
    endpoint._post("/moto-api/reset-auth", b"0")  # moto enforces IAM from now on (process-global)
    try:
        yield scoped
    finally:
        endpoint._post("/moto-api/reset-auth", b"inf")


def test_head_bucket_denied_to_a_prefix_role_does_not_stop_it(prefix_writer: Any) -> None:
    with pytest.raises(ClientError) as denied:
        prefix_writer.head_bucket(Bucket="scoped-bucket")
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    check_bucket(prefix_writer, "scoped-bucket")  # passes: the prefix calls that follow decide
    prefix_writer.put_object(Bucket="scoped-bucket", Key="site/a.txt", Body=b"ok")


def test_a_missing_bucket_is_still_bad_input(admin: Any) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        check_bucket(admin.client("s3"), "no-such-bucket-here")
