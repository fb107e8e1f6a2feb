"""Where S3 requests go and who signs them: endpoint, region, credentials and bucket addressing.

Two ways to the same answer:
- `lean_endpoint`: when the environment is plain (keys in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or in
  the [default] profile of ~/.aws/credentials, an endpoint from AWS_ENDPOINT_URL[_S3] or an Amazon S3
  region of the `aws` partition, no AWS_PROFILE, nothing in ~/.aws/config that changes how S3 is addressed
  or where credentials come from), the answer is computed here without importing boto3. Importing boto3
  and building its S3 client costs about 0.2 s of CPU before the first byte moves, which is as long as a
  whole small sync.
- `botocore_endpoint`: everything else (named profiles, SSO, roles, credential processes, instance
  metadata, FIPS or dual-stack endpoints, proxies...) asks boto3, as every other command does.
Both give the same endpoint, region, addressing and credentials: tests/unit/test_transfer_s3endpoint.py
compares them case by case with boto3's own answer.
"""

from __future__ import annotations

import configparser
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import urlsplit

# The environment the lean path understands; any other AWS_* variable may change what boto3 does.
_PLAIN_ENV = frozenset(
    {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_CA_BUNDLE",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_EC2_METADATA_DISABLED",
        "AWS_MAX_ATTEMPTS",
        "AWS_RETRY_MODE",
        "AWS_PAGER",
        "AWS_DEFAULT_OUTPUT",
    }
)
# Settings of the [default] profile in ~/.aws/config that do not change S3 requests.
_PLAIN_PROFILE_KEYS = frozenset({"region", "output", "max_attempts", "retry_mode"})
# The [default] profile of ~/.aws/credentials, when it holds only keys.
_PLAIN_CREDENTIAL_KEYS = frozenset({"aws_access_key_id", "aws_secret_access_key", "aws_session_token"})
_REGION = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_AWS_PARTITION_REGION = re.compile(r"^(us|eu|ap|sa|ca|me|af|il|mx)-[a-z]+-\d+$")
_VIRTUAL_HOSTABLE = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_PLAIN_BUCKET = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,253}$")
DEFAULT_REGION = "us-east-1"


class FrozenCredentials(NamedTuple):
    """The fields of botocore's ReadOnlyCredentials that signing uses."""

    access_key: str
    secret_key: str
    token: str | None

    def __repr__(self) -> str:  # never the secret, wherever an object holding these is printed
        token = "'***'" if self.token else None
        return f"FrozenCredentials(access_key={self.access_key!r}, secret_key='***', token={token})"


@dataclass(frozen=True)
class StaticCredentials:
    """Credentials from the environment, which do not expire (botocore's EnvProvider without expiry)."""

    frozen: FrozenCredentials

    def get_frozen_credentials(self) -> FrozenCredentials:
        return self.frozen


@dataclass
class S3Endpoint:
    """What S3Http needs to send a request: the endpoint, the signing region and credentials, and how a
    bucket is addressed (`address(bucket)` -> (scheme://host[:port], path prefix ending in '/'))."""

    url: str
    region: str
    credentials: Any = field(repr=False)  # has get_frozen_credentials() -> access_key, secret_key, token
    address: Callable[[str], tuple[str, str]]
    verify: bool | str = True  # TLS: True, False, or a CA bundle path
    botocore_http: Any = None  # botocore's HTTP session, for requests that must go through it (proxies)


def lean_endpoint(bucket: str, region: str | None = None) -> S3Endpoint | None:
    """The endpoint for `bucket` from a plain environment, without boto3; None when boto3 must decide."""
    env = os.environ
    for name in env:
        if name.startswith("AWS_") and name not in _PLAIN_ENV and not _other_service_endpoint(name):
            return None
    if env.get("MIGRATE_S3_TRANSPORT", "").lower() == "botocore":
        return None  # requests through botocore's HTTP session: it needs the client
    if not _PLAIN_BUCKET.match(bucket) or "--" in bucket:
        return None  # "--" marks S3 Express directory buckets and other special names
    profile = _default_profile()
    frozen = _static_credentials()
    if profile is None or frozen is None:
        return None
    region = region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or profile.get("region") or None
    if region is not None and not _REGION.match(region):
        return None
    credentials = StaticCredentials(frozen)
    custom = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if custom:
        base = _plain_endpoint(custom)
        if base is None:
            return None
        found = S3Endpoint(custom.strip(), region or DEFAULT_REGION, credentials, _path_style(base))
    else:
        region = region or DEFAULT_REGION
        if not _AWS_PARTITION_REGION.match(region):
            return None
        regional = "https://s3.amazonaws.com" if region == DEFAULT_REGION else f"https://s3.{region}.amazonaws.com"
        found = S3Endpoint(regional, region, credentials, _amazon_style(regional))
    found.verify = env.get("AWS_CA_BUNDLE") or True
    return None if proxied(found.address(bucket)[0]) else found


def botocore_endpoint(region: str | None = None) -> S3Endpoint:
    """The endpoint as boto3 resolves it (its credential chain, profile and addressing rules)."""
    from migrate_cli.aws.session import NO_CREDENTIALS, aws_errors
    from migrate_cli.core.errors import ConfigError
    from migrate_cli.transfer.s3 import s3_client

    session, client = s3_client(region)
    with aws_errors("s3"):
        credentials = session.get_credentials()
    if credentials is None:
        raise ConfigError(NO_CREDENTIALS)
    http_session = client._endpoint.http_session
    return S3Endpoint(
        client.meta.endpoint_url,
        client.meta.region_name or DEFAULT_REGION,
        credentials,
        _presigned_style(client),
        verify=http_session._verify if http_session._verify is not None else True,
        botocore_http=http_session,
    )


def proxied(url: str) -> bool:
    """Whether an HTTP proxy from the environment applies to `url` (then botocore's session sends)."""
    if not any(name.lower().endswith("_proxy") for name in os.environ):
        return False  # the common case, without importing urllib.request
    import urllib.request

    parts = urlsplit(url)
    if parts.scheme not in urllib.request.getproxies():
        return False
    return not urllib.request.proxy_bypass(parts.hostname or "")


def _other_service_endpoint(name: str) -> bool:
    """AWS_ENDPOINT_URL_<SERVICE> for a service other than S3 (the lab sets them for IAM, STS...)."""
    return name.startswith("AWS_ENDPOINT_URL_") and name != "AWS_ENDPOINT_URL_S3"


def _static_credentials() -> FrozenCredentials | None:
    """Keys that do not expire, from where botocore's chain would take them first: the environment, else
    the [default] profile of the shared credentials file when it holds nothing but keys. None otherwise
    (roles, SSO, processes, instance metadata: boto3 decides)."""
    env = os.environ
    access, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if access or secret:
        return FrozenCredentials(access, secret, env.get("AWS_SESSION_TOKEN") or None) if access and secret else None
    path = env.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials"
    values = _ini_values(path, ("default",))
    if not values or any(key not in _PLAIN_CREDENTIAL_KEYS for key in values):
        return None
    access, secret = values.get("aws_access_key_id"), values.get("aws_secret_access_key")
    return FrozenCredentials(access, secret, values.get("aws_session_token") or None) if access and secret else None


def _default_profile() -> dict[str, str] | None:
    """The default profile of the shared config file ({} when there is none); None when it holds anything
    that changes S3 requests or credentials (or cannot be read), so that boto3 decides."""
    path = os.environ.get("AWS_CONFIG_FILE") or "~/.aws/config"
    values = _ini_values(path, ("default", "profile default"))  # botocore reads it under either name
    if values is None or any(key not in _PLAIN_PROFILE_KEYS and not key.startswith("cli_") for key in values):
        return None
    return values


def _ini_values(path: str, sections: tuple[str, ...]) -> dict[str, str] | None:
    """The settings of `sections` of an AWS ini file, merged; {} when the file or the sections are absent;
    None when the file cannot be read."""
    path = os.path.expanduser(path)
    if not os.path.exists(path):
        return {}
    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return None
    values: dict[str, str] = {}
    for section in sections:
        if parser.has_section(section):
            values |= {key: value.strip() for key, value in parser.items(section)}
    return values


def _plain_endpoint(url: str) -> str | None:
    """scheme://host[:port][/path] without a trailing slash, for a well-formed http(s) URL."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        return None
    if parts.username or parts.password:
        return None
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def _path_style(base: str) -> Callable[[str], tuple[str, str]]:
    """A custom endpoint: path-style, as boto3 addresses any endpoint_url by default."""
    parts = urlsplit(base)

    def address(bucket: str) -> tuple[str, str]:
        return f"{parts.scheme}://{parts.netloc}", f"{parts.path}/{bucket}/"

    return address


def _amazon_style(regional: str) -> Callable[[str], tuple[str, str]]:
    """Amazon S3: virtual-hosted on the global name for DNS-compatible names without dots, else path-style
    on the regional endpoint, as boto3's presigned URLs address them."""

    def address(bucket: str) -> tuple[str, str]:
        if _VIRTUAL_HOSTABLE.match(bucket):
            return f"https://{bucket}.s3.amazonaws.com", "/"
        return regional, f"/{bucket}/"

    return address


def _presigned_style(client: Any) -> Callable[[str], tuple[str, str]]:
    """Whatever boto3 does: read off a presigned URL for the bucket."""

    def address(bucket: str) -> tuple[str, str]:
        url = client.generate_presigned_url("head_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=60)
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}", parts.path[:-1]

    return address
