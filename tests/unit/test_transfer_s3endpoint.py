"""Without boto3, the S3 endpoint, region and addressing are boto3's own; anything else is left to boto3."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from migrate_cli.transfer.s3 import s3_client
from migrate_cli.transfer.s3endpoint import botocore_endpoint, lean_endpoint

BUCKETS = ("bench", "a-b", "my.bucket", "Upper_Bucket", "x1y")
SECRET = "wJalrXUtnFEMI-K7MDENG-EXAMPLEKEY"


def _plain(env: pytest.MonkeyPatch, **values: str) -> None:
    """Credentials in the environment, no proxy from the machine running the tests, then `values`."""
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            env.delenv(name)
    env.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    env.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    for name, value in values.items():
        env.setenv(name, value)


def _boto3_answer(bucket: str) -> tuple[str, str, tuple[str, str]]:
    """(endpoint URL, region, (site, path prefix)) as boto3 resolves them from the same environment: the
    client migrate builds when the environment is not plain, and its presigned URL for the bucket."""
    _, client = s3_client()
    url = client.generate_presigned_url("head_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=60)
    parts = urlsplit(url)
    return client.meta.endpoint_url, client.meta.region_name, (f"{parts.scheme}://{parts.netloc}", parts.path[:-1])


@pytest.mark.parametrize(
    ("settings"),
    [
        {"AWS_REGION": "us-east-1"},
        {"AWS_REGION": "eu-west-1"},
        {"AWS_DEFAULT_REGION": "ap-southeast-2"},
        {},
        {"AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_REGION": "us-east-1"},
        {"AWS_ENDPOINT_URL": "http://localhost:9000", "AWS_REGION": "eu-west-1"},
        {"AWS_ENDPOINT_URL": "https://minio.example.com/", "AWS_DEFAULT_REGION": "eu-central-1"},
        {"AWS_ENDPOINT_URL": "https://minio.example.com/base", "AWS_REGION": "us-east-1"},
        {"AWS_ENDPOINT_URL": "https://minio.example.com:8443"},
        {"AWS_ENDPOINT_URL": "http://[::1]:9000", "AWS_REGION": "us-east-1"},
        {"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000"},
        {"AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:1"},
        {"AWS_ENDPOINT_URL": "https://s3.eu-west-1.amazonaws.com", "AWS_REGION": "eu-west-1"},
        {"AWS_REGION": "eu-west-1", "AWS_SESSION_TOKEN": "token", "AWS_CA_BUNDLE": "/etc/ssl/certs/ca.pem"},
    ],
)
@pytest.mark.parametrize("bucket", BUCKETS)
def test_the_same_answer_as_boto3(clean_env: pytest.MonkeyPatch, settings: dict[str, str], bucket: str) -> None:
    _plain(clean_env, **settings)
    lean = lean_endpoint(bucket)
    assert lean is not None
    url, region, address = _boto3_answer(bucket)
    assert (lean.url, lean.region, lean.address(bucket)) == (url, region, address)
    frozen = lean.credentials.get_frozen_credentials()
    token = settings.get("AWS_SESSION_TOKEN")
    assert (frozen.access_key, frozen.secret_key, frozen.token) == ("AKIDEXAMPLE", SECRET, token)
    shown = f"{lean!r} {lean.credentials!r} {frozen!r}"  # whatever prints one of these never shows the secret
    assert SECRET not in shown and "AKIDEXAMPLE" in shown and (token is None or f"'{token}'" not in shown)
    assert lean.verify == settings.get("AWS_CA_BUNDLE", True)


def test_the_region_of_the_default_profile_and_a_bucket_elsewhere(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _plain(clean_env)
    (tmp_path / "config").write_text("[default]\nregion = eu-north-1\noutput = json\ncli_pager =\n")
    lean = lean_endpoint("bench")
    assert lean is not None and (lean.url, lean.region) == _boto3_answer("bench")[:2]
    moved = lean_endpoint("bench", region="ap-south-1")  # HeadBucket said the bucket lives there
    assert moved is not None and (moved.url, moved.region) == ("https://s3.ap-south-1.amazonaws.com", "ap-south-1")


@pytest.mark.parametrize(
    ("settings", "config"),
    [
        ({"AWS_PROFILE": "site"}, ""),  # a profile may bring its own credentials, role or endpoint
        ({"AWS_USE_FIPS_ENDPOINT": "true"}, ""),
        ({"AWS_USE_DUALSTACK_ENDPOINT": "true"}, ""),
        ({"AWS_S3_US_EAST_1_REGIONAL_ENDPOINT": "regional"}, ""),
        ({"AWS_CREDENTIAL_EXPIRATION": "2030-01-01T00:00:00Z"}, ""),
        ({"AWS_SECRET_ACCESS_KEY": ""}, ""),
        ({}, "[default]\ns3 =\n  addressing_style = virtual\n"),
        ({}, "[default]\nendpoint_url = http://127.0.0.1:9\n"),
        ({}, "[default]\nservices = local\n[services local]\ns3 =\n  endpoint_url = http://127.0.0.1:9\n"),
        ({}, "[default]\nca_bundle = /tmp/ca.pem\n"),
        ({}, "[profile default]\ns3 =\n  addressing_style = virtual\n"),
        ({}, "this is not an ini file\n"),
        ({"AWS_REGION": "cn-north-1"}, ""),  # other partitions: boto3 knows their names
        ({"AWS_REGION": "us-gov-west-1"}, ""),
        ({"AWS_REGION": "EU_WEST_1"}, ""),
        ({"AWS_ENDPOINT_URL": "ftp://127.0.0.1:9000"}, ""),
        ({"AWS_ENDPOINT_URL": "http://127.0.0.1:port"}, ""),
        ({"AWS_ENDPOINT_URL": "http://user:pw@127.0.0.1:9000"}, ""),
        ({"MIGRATE_S3_TRANSPORT": "botocore"}, ""),
        ({"HTTPS_PROXY": "http://127.0.0.1:3128"}, ""),  # requests must go through botocore's proxy support
        ({"AWS_ENDPOINT_URL": "http://10.0.0.1:9000", "http_proxy": "http://127.0.0.1:3128"}, ""),
    ],
)
def test_anything_else_is_left_to_boto3(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, settings: dict[str, str], config: str
) -> None:
    _plain(clean_env, **settings)
    (tmp_path / "config").write_text(config)
    assert lean_endpoint("bench") is None


@pytest.mark.parametrize("bucket", ["dir--x-s3", "arn:aws:s3:us-east-1:123456789012:accesspoint/ap", "a", "b/c"])
def test_special_bucket_names_are_left_to_boto3(clean_env: pytest.MonkeyPatch, bucket: str) -> None:
    _plain(clean_env, AWS_REGION="us-west-2")
    assert lean_endpoint(bucket) is None


def test_a_proxy_the_endpoint_bypasses_does_not_matter(clean_env: pytest.MonkeyPatch) -> None:
    _plain(clean_env, AWS_ENDPOINT_URL="http://127.0.0.1:9000", http_proxy="http://10.9.9.9:3128", no_proxy="127.0.0.1")
    lean = lean_endpoint("bench")
    assert lean is not None and lean.address("bench") == ("http://127.0.0.1:9000", "/bench/")


@pytest.mark.parametrize("token", [None, "file-token"])
def test_keys_in_the_default_profile_of_the_credentials_file(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, token: str | None
) -> None:
    _plain(clean_env, AWS_ENDPOINT_URL="http://127.0.0.1:9000", AWS_REGION="eu-west-1")
    clean_env.delenv("AWS_ACCESS_KEY_ID")
    clean_env.delenv("AWS_SECRET_ACCESS_KEY")
    lines = ["[default]", "aws_access_key_id = AKIDFILE", f"aws_secret_access_key = {SECRET}"]
    lines += [f"aws_session_token = {token}"] if token else []
    (tmp_path / "credentials").write_text("\n".join(lines + ["[other]", "role_arn = arn:aws:iam::1:role/x", ""]))
    lean = lean_endpoint("bench")
    assert lean is not None
    boto = botocore_endpoint()
    assert (lean.url, lean.region, lean.address("bench")) == (boto.url, boto.region, boto.address("bench"))
    assert lean.credentials.get_frozen_credentials() == tuple(boto.credentials.get_frozen_credentials())[:3]
    assert lean.credentials.get_frozen_credentials().access_key == "AKIDFILE"


@pytest.mark.parametrize(
    ("credentials", "settings"),
    [
        ("[default]\nrole_arn = arn:aws:iam::123456789012:role/r\nsource_profile = base\n", {}),
        ("[default]\ncredential_process = /bin/echo\n", {}),
        ("[default]\naws_access_key_id = AKIDFILE\n", {}),  # no secret: boto3 says what is missing
        ("[default]\naws_access_key_id = A\naws_secret_access_key = B\nregion = eu-west-1\n", {}),
        ("[default]\naws_access_key_id = A\naws_secret_access_key = B\n", {"AWS_SECRET_ACCESS_KEY": SECRET}),
        ("", {}),  # nothing: instance metadata, containers... boto3's chain goes on
    ],
)
def test_credentials_boto3_must_find(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, credentials: str, settings: dict[str, str]
) -> None:
    _plain(clean_env, AWS_ENDPOINT_URL="http://127.0.0.1:9000")
    clean_env.delenv("AWS_ACCESS_KEY_ID")
    clean_env.delenv("AWS_SECRET_ACCESS_KEY")
    for name, value in settings.items():
        clean_env.setenv(name, value)
    (tmp_path / "credentials").write_text(credentials)
    assert lean_endpoint("bench") is None
