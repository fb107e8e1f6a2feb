"""The lab's local AWS endpoint (moto server in-process) and the boto3 helpers, against each other."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from migrate_cli import __version__
from migrate_cli.aws.identity import CallerIdentity, caller_identity
from migrate_cli.aws.session import aws_call, aws_errors, client, make_session
from migrate_cli.core.errors import EXIT_BAD_INPUT, EXIT_FAILED, ConfigError, OperationFailed
from migrate_cli.lab.aws_endpoint import LocalAwsEndpoint
from tests.conftest import closed_port

MOTO_ACCOUNT = "123456789012"


ENDPOINT_REGION = "eu-west-1"  # the shared `endpoint` fixture (tests/conftest.py) starts there


def test_endpoint_start_stop_and_env() -> None:
    before = os.environ.get("MOTO_PORT")
    t0 = time.monotonic()
    ep = LocalAwsEndpoint()
    url = ep.start()
    assert time.monotonic() - t0 < 2
    assert url == f"http://127.0.0.1:{ep.port}" == ep.url and ep.port > 0 and ep.running
    assert ep.start() == url  # idempotent
    assert os.environ["MOTO_PORT"] == str(ep.port)
    with urllib.request.urlopen(url + "/moto-api/config", timeout=2) as resp:
        assert resp.status in (200, 201)
    assert ep.env() == {
        "AWS_ENDPOINT_URL": url,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    ep.stop()
    ep.stop()  # idempotent
    assert not ep.running
    assert os.environ.get("MOTO_PORT") == before
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/moto-api/config", timeout=1)


def test_port_in_use_fails_cleanly(endpoint: LocalAwsEndpoint) -> None:
    with pytest.raises(OperationFailed, match="cannot start local AWS endpoint"):
        LocalAwsEndpoint(port=endpoint.port).start()


def test_sts_through_aws_endpoint_url_env(lab_env: LocalAwsEndpoint) -> None:
    sts = boto3.client("sts")  # plain boto3, configured only by the environment
    assert sts.meta.endpoint_url == lab_env.url
    assert sts.meta.region_name == "eu-west-1"
    assert sts.get_caller_identity()["Account"] == MOTO_ACCOUNT


def test_service_specific_endpoint_env_wins(clean_env: pytest.MonkeyPatch, lab_env: LocalAwsEndpoint) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    clean_env.setenv("AWS_ENDPOINT_URL", dead)
    clean_env.setenv("AWS_ENDPOINT_URL_STS", lab_env.url)
    fast = Config(retries={"total_max_attempts": 1}, connect_timeout=1)
    assert aws_call(client("sts", config=fast).get_caller_identity)["Account"] == MOTO_ACCOUNT
    s3 = client("s3", config=fast)
    assert s3.meta.endpoint_url == dead
    with pytest.raises(OperationFailed, match=f"cannot reach s3 endpoint {dead}"):
        aws_call(s3.list_buckets)


def test_s3_bucket_put_get(lab_env: LocalAwsEndpoint) -> None:
    s3 = client("s3")
    aws_call(s3.create_bucket, Bucket="lab-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    aws_call(s3.put_object, Bucket="lab-bucket", Key="dir/hello.txt", Body=b"hello lab")
    body = aws_call(s3.get_object, Bucket="lab-bucket", Key="dir/hello.txt")["Body"].read()
    assert body == b"hello lab"
    assert "lab-bucket" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    with pytest.raises(ClientError) as err:  # non-auth client errors are left for callers to handle
        aws_call(s3.get_object, Bucket="lab-bucket", Key="missing")
    assert err.value.response["Error"]["Code"] == "NoSuchKey"


def test_step_functions_execute_state_machines(lab_env: LocalAwsEndpoint) -> None:
    sfn = client("stepfunctions")
    definition = {"StartAt": "Hello", "States": {"Hello": {"Type": "Pass", "Result": {"ok": 1}, "End": True}}}
    arn = sfn.create_state_machine(
        name="lab-pass",
        definition=json.dumps(definition),
        roleArn=f"arn:aws:iam::{MOTO_ACCOUNT}:role/lab-sfn",
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, name="run-1", input="{}")["executionArn"]
    deadline = time.monotonic() + 5
    while (desc := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "execution never finished: execute_state_machine not enabled?"
        time.sleep(0.05)
    assert desc["status"] == "SUCCEEDED"
    assert json.loads(desc["output"]) == {"ok": 1}


def test_caller_identity_against_the_lab(lab_env: LocalAwsEndpoint) -> None:
    ident = caller_identity()
    assert isinstance(ident, CallerIdentity)
    assert ident.account == MOTO_ACCOUNT
    assert ident.arn.startswith(f"arn:aws:sts::{MOTO_ACCOUNT}:")
    assert ident.user_id
    assert ident.region == "eu-west-1"
    assert ident.endpoint_url == lab_env.url


def test_caller_identity_without_override_reports_no_endpoint(clean_env: pytest.MonkeyPatch) -> None:
    # no network call: just check the endpoint detection on a client aimed at real AWS
    from migrate_cli.aws.session import configured_endpoint_url

    clean_env.setenv("AWS_REGION", "eu-west-1")
    sts = client("sts")
    assert "amazonaws.com" in sts.meta.endpoint_url
    assert configured_endpoint_url(sts) is None


def test_session_region_and_profile(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("AWS_REGION", "ap-southeast-2")
    assert make_session().region_name == "ap-southeast-2"
    assert make_session(region="us-west-2").region_name == "us-west-2"
    clean_env.delenv("AWS_REGION")
    clean_env.setenv("AWS_DEFAULT_REGION", "ca-central-1")
    assert make_session().region_name == "ca-central-1"
    (tmp_path / "config").write_text("[profile lab]\nregion = sa-east-1\n")
    assert make_session(profile="lab").region_name == "ca-central-1"  # botocore: env beats the profile
    clean_env.delenv("AWS_DEFAULT_REGION")
    assert make_session(profile="lab").region_name == "sa-east-1"
    clean_env.setenv("AWS_PROFILE", "lab")
    assert make_session().profile_name == "lab"
    with pytest.raises(ConfigError, match="AWS profile 'nope' not found") as err:
        make_session(profile="nope")
    assert err.value.exit_code == EXIT_BAD_INPUT


def test_client_config_defaults_and_merge(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("AWS_REGION", "us-east-1")
    c = client("sts")
    assert c.meta.config.user_agent_extra == f"migrate-cli/{__version__}"
    assert c.meta.config.retries == {"mode": "standard", "total_max_attempts": 3}
    assert c.meta.config.connect_timeout == 5 and c.meta.config.read_timeout == 60
    merged = client("sts", config=Config(read_timeout=7))
    assert merged.meta.config.read_timeout == 7 and merged.meta.config.connect_timeout == 5
    clean_env.setenv("AWS_RETRY_MODE", "adaptive")  # the user's environment wins over our default mode
    assert client("sts").meta.config.retries == {"mode": "adaptive", "total_max_attempts": 3}
    clean_env.delenv("AWS_RETRY_MODE")
    (tmp_path / "config").write_text("[profile slow]\nretry_mode = adaptive\nmax_attempts = 9\n")
    from_profile = client("sts", make_session(profile="slow"))
    assert from_profile.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 9}


def test_user_agent_reaches_the_endpoint(lab_env: LocalAwsEndpoint) -> None:
    sts = client("sts")
    seen: list[str] = []
    sts.meta.events.register("before-send", lambda request, **_: seen.append(request.headers["User-Agent"]))
    sts.get_caller_identity()
    assert any(f"migrate-cli/{__version__}" in str(ua) for ua in seen)


def test_no_credentials_is_a_config_error(clean_env: pytest.MonkeyPatch, endpoint: LocalAwsEndpoint) -> None:
    clean_env.setenv("AWS_ENDPOINT_URL", endpoint.url)
    clean_env.setenv("AWS_REGION", "us-east-1")
    start = time.monotonic()
    with pytest.raises(ConfigError, match="no AWS credentials found") as err:
        caller_identity()
    assert err.value.exit_code == EXIT_BAD_INPUT
    assert "AWS_PROFILE" in str(err.value)
    assert time.monotonic() - start < 3


def test_partial_credentials_is_a_config_error(clean_env: pytest.MonkeyPatch, endpoint: LocalAwsEndpoint) -> None:
    clean_env.setenv("AWS_ENDPOINT_URL", endpoint.url)
    clean_env.setenv("AWS_REGION", "us-east-1")
    clean_env.setenv("AWS_ACCESS_KEY_ID", "AKIDONLY")
    with pytest.raises(ConfigError, match="incomplete AWS credentials from env: missing AWS_SECRET_ACCESS_KEY"):
        caller_identity()


def test_unreachable_endpoint_fails_fast_without_leaking_secrets(clean_env: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    secret = "s3cr3t-do-not-print"
    clean_env.setenv("AWS_ENDPOINT_URL", url)
    clean_env.setenv("AWS_REGION", "us-east-1")
    clean_env.setenv("AWS_ACCESS_KEY_ID", "AKIDLAB")
    clean_env.setenv("AWS_SECRET_ACCESS_KEY", secret)
    sts = client("sts", config=Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=1))
    start = time.monotonic()
    with pytest.raises(OperationFailed) as err:
        aws_call(sts.get_caller_identity)
    assert time.monotonic() - start < 3
    assert str(err.value) == f"cannot reach sts endpoint {url}"
    assert err.value.exit_code == EXIT_FAILED
    assert secret not in str(err.value) and "\n" not in str(err.value)


def test_rejected_credentials_map_to_operation_failed(lab_env: LocalAwsEndpoint) -> None:
    sts = client("sts")
    s3 = client("s3")
    lab_env._post("/moto-api/reset-auth", b"0")  # moto: enforce IAM auth from now on (process-global)
    try:
        with pytest.raises(OperationFailed, match="^sts: InvalidClientTokenId") as err:
            aws_call(sts.get_caller_identity)
        with pytest.raises(OperationFailed, match="^s3: InvalidAccessKeyId"), aws_errors("s3"):
            s3.list_buckets()
    finally:
        lab_env._post("/moto-api/reset-auth", b"inf")
    assert "testing" not in str(err.value)
    assert aws_call(sts.get_caller_identity)["Account"] == MOTO_ACCOUNT  # auth back off


def test_reset_wipes_moto_state(lab_env: LocalAwsEndpoint) -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket="to-be-reset", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    lab_env.reset()
    assert "to-be-reset" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
