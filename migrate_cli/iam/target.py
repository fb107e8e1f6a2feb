"""Where the policies apply: the account (from STS), the region and the partition."""

from __future__ import annotations

from dataclasses import dataclass

import boto3
from botocore.exceptions import UnknownRegionError

from migrate_cli.aws.identity import caller_identity
from migrate_cli.aws.session import make_session
from migrate_cli.core.errors import ConfigError
from migrate_cli.iam.config import IamConfig


@dataclass(frozen=True)
class Target:
    account: str
    region: str
    partition: str = "aws"

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        """`arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE` (region/account left empty when not used)."""
        return (
            f"arn:{self.partition}:{service}:{self.region if region else ''}:"
            f"{self.account if account else ''}:{resource}"
        )


def partition_of(region: str) -> str:
    try:
        return boto3.session.Session().get_partition_for_region(region)
    except UnknownRegionError:
        return "aws"


def resolve_target(config: IamConfig, session: boto3.Session | None = None) -> tuple[Target, boto3.Session]:
    """The account of the credentials in use (STS) and the configured region; checks a pinned account_id."""
    session = session or make_session(region=config.region)
    region = config.region or session.region_name
    if not region:
        raise ConfigError(
            "no AWS region: set region in the IAM configuration, or AWS_REGION / the profile's region",
            file=config.source,
        )
    ident = caller_identity(session)
    if config.account_id and config.account_id != ident.account:
        raise ConfigError(
            f"account_id {config.account_id} is not the account of the credentials in use ({ident.account}, "
            f"{ident.arn}): refusing to plan IAM for the wrong account",
            file=config.source,
            line=config.line("account_id"),
        )
    return Target(account=ident.account, region=region, partition=partition_of(region)), session
