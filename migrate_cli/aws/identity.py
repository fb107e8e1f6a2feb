"""Who am I talking to AWS as: STS GetCallerIdentity through the standard session helpers."""

from __future__ import annotations

from dataclasses import dataclass

import boto3

from migrate_cli.aws.session import aws_call, client, configured_endpoint_url, make_session


@dataclass(frozen=True)
class CallerIdentity:
    account: str
    arn: str
    user_id: str
    region: str | None
    endpoint_url: str | None  # None when talking to the real AWS endpoint


def caller_identity(session: boto3.Session | None = None) -> CallerIdentity:
    """The caller's account/ARN via STS; raises ConfigError (no credentials) or OperationFailed."""
    session = session or make_session()
    sts = client("sts", session)
    resp = aws_call(sts.get_caller_identity)
    return CallerIdentity(
        account=resp["Account"],
        arn=resp["Arn"],
        user_id=resp["UserId"],
        region=sts.meta.region_name,
        endpoint_url=configured_endpoint_url(sts, session),
    )
