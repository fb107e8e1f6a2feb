"""`check_aws` against the lab's moto endpoint: each way the account check can fail has its own message.

moto does not model expired session tokens, so the expired-token case runs against a tiny local HTTP
server that answers every call the way STS does for an expired token (403, ExpiredToken): a stand-in,
used only there.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest

from migrate_cli.aws.check import (
    DEFAULT_SERVICES,
    check_aws,
    check_services_names,
    services_for_actions,
    services_for_playbook,
)
from migrate_cli.core.errors import ConfigError
from migrate_cli.lab.aws_endpoint import LocalAwsEndpoint
from tests.conftest import closed_port, write

MOTO_ACCOUNT = "123456789012"
EXPIRED_XML = (
    b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
    b"<Code>ExpiredToken</Code><Message>The security token included in the request is expired</Message>"
    b"</Error><RequestId>0</RequestId></ErrorResponse>"
)


def test_all_services_answer(lab_env: LocalAwsEndpoint) -> None:
    report = check_aws()
    assert report.ok, report.all_problems()
    assert report.account == MOTO_ACCOUNT and report.arn.startswith(f"arn:aws:sts::{MOTO_ACCOUNT}:")
    assert report.region == "us-east-1" and report.credential_source == "env"
    assert report.endpoint_url == lab_env.url
    assert [s.service for s in report.services] == list(DEFAULT_SERVICES)
    assert all(s.ok and s.endpoint == lab_env.url for s in report.services)
    doc = report.to_dict()
    assert doc["ok"] and doc["problems"] == [] and "testing" not in json.dumps(doc)  # no secrets
    assert report.summary() == f"aws check: ok, account {MOTO_ACCOUNT} answers, 8 services answer"


def test_credentials_from_a_profile_file(clean_env: pytest.MonkeyPatch, endpoint: LocalAwsEndpoint, tmp_path) -> None:
    (tmp_path / "credentials").write_text("[site]\naws_access_key_id = AKIDSITE\naws_secret_access_key = s3cr3t\n")
    (tmp_path / "config").write_text(f"[profile site]\nregion = eu-west-1\nendpoint_url = {endpoint.url}\n")
    clean_env.setenv("AWS_PROFILE", "site")
    report = check_aws(["sts", "route53"])
    assert report.ok and report.credential_source == "shared-credentials-file" and report.region == "eu-west-1"
    assert "s3cr3t" not in json.dumps(report.to_dict())


def test_no_credentials(clean_env: pytest.MonkeyPatch, endpoint: LocalAwsEndpoint) -> None:
    clean_env.setenv("AWS_ENDPOINT_URL", endpoint.url)
    clean_env.setenv("AWS_REGION", "us-east-1")
    report = check_aws()
    assert not report.ok and report.services == []
    assert [p.kind for p in report.all_problems()] == ["no_credentials"]
    assert report.summary().startswith("aws check: 1 problem: no AWS credentials found (set AWS_PROFILE")


def test_missing_profile(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("AWS_PROFILE", "nope")
    report = check_aws()
    assert [(p.kind, p.message) for p in report.problems] == [
        ("profile", "AWS profile 'nope' not found (check AWS_PROFILE and ~/.aws/config)")
    ]


def test_no_region_and_wrong_region(lab_env: LocalAwsEndpoint, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.delenv("AWS_REGION")
    clean_env.delenv("AWS_DEFAULT_REGION")
    report = check_aws()
    assert [p.kind for p in report.problems] == ["no_region"] and report.services == []
    clean_env.setenv("AWS_REGION", "eu-wset-1")
    report = check_aws(["sts"])
    assert [p.kind for p in report.problems] == ["wrong_region"]
    assert "region 'eu-wset-1' is not an AWS region (did you mean eu-west-1?)" in report.problems[0].message
    assert not report.ok and report.services[0].ok  # the lab endpoint answers any region; still a problem


def test_wrong_region_without_an_endpoint_override_names_the_endpoint(clean_env: pytest.MonkeyPatch) -> None:
    # no network needed: an unknown region has no endpoint host that resolves; we point it at a closed port
    clean_env.setenv("AWS_ACCESS_KEY_ID", "AKIDX")
    clean_env.setenv("AWS_SECRET_ACCESS_KEY", "x")
    clean_env.setenv("AWS_REGION", "us-east-9")
    clean_env.setenv("AWS_ENDPOINT_URL_STS", f"http://127.0.0.1:{closed_port()}")
    report = check_aws(["sts"])
    (problem, *_), sts = report.all_problems(), report.services[0]
    assert problem.kind == "wrong_region"
    assert sts.problem is not None and sts.problem.kind == "wrong_region"
    assert sts.problem.message.startswith("cannot reach sts endpoint http://127.0.0.1:")
    assert "'us-east-9' is not an AWS region" in sts.problem.message


def test_unreachable_endpoint(clean_env: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    clean_env.setenv("AWS_ENDPOINT_URL", url)
    clean_env.setenv("AWS_REGION", "us-east-1")
    clean_env.setenv("AWS_ACCESS_KEY_ID", "AKIDX")
    clean_env.setenv("AWS_SECRET_ACCESS_KEY", "hush-hush")
    report = check_aws(["sts", "s3", "route53"])
    assert [s.problem.kind for s in report.services if s.problem] == ["unreachable"] * 3
    assert report.services[0].problem.message == (
        f"cannot reach sts endpoint {url} (network, proxy, firewall, or AWS_ENDPOINT_URL)"
    )
    assert "hush-hush" not in json.dumps(report.to_dict())


@pytest.fixture
def expired_sts(clean_env: pytest.MonkeyPatch) -> Iterator[str]:
    """A local HTTP server answering every request like STS does for an expired session token."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(403)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(EXPIRED_XML)))
            self.end_headers()
            self.wfile.write(EXPIRED_XML)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_expired_token(clean_env: pytest.MonkeyPatch, expired_sts: str) -> None:
    clean_env.setenv("AWS_ENDPOINT_URL", expired_sts)
    clean_env.setenv("AWS_REGION", "us-east-1")
    clean_env.setenv("AWS_ACCESS_KEY_ID", "ASIAEXPIRED")
    clean_env.setenv("AWS_SECRET_ACCESS_KEY", "x")
    clean_env.setenv("AWS_SESSION_TOKEN", "old-session-token")
    report = check_aws(["sts", "s3"])
    (problem,) = report.all_problems()
    assert problem.kind == "expired"
    assert problem.message == (
        "the credentials from env have expired (ExpiredToken): refresh them ('aws sso login', assume the role "
        "again, or new keys)"
    )
    assert report.services[1].skipped  # every call would fail the same way
    assert "old-session-token" not in json.dumps(report.to_dict())


def test_rejected_and_denied_with_iam_enforced(lab_env: LocalAwsEndpoint, clean_env: pytest.MonkeyPatch) -> None:
    iam = boto3.client("iam")
    user = f"checker-{os.getpid()}"
    iam.create_user(UserName=user)
    iam.put_user_policy(
        UserName=user,
        PolicyName="ses-only",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": ["sts:GetCallerIdentity", "ses:*"], "Resource": "*"}],
            }
        ),
    )
    key = iam.create_access_key(UserName=user)["AccessKey"]
    lab_env._post("/moto-api/reset-auth", b"0")  # moto: enforce IAM from now on (process-global)
    try:
        rejected = check_aws(["sts", "s3"])  # the lab's dummy keys are unknown to IAM
        clean_env.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        clean_env.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        denied = check_aws(["sts", "ses", "s3"])
    finally:
        lab_env._post("/moto-api/reset-auth", b"inf")
    (problem,) = rejected.all_problems()
    assert problem.kind == "rejected" and "(InvalidClientTokenId)" in problem.message
    assert denied.account == MOTO_ACCOUNT and denied.arn.endswith(f":user/{user}")
    assert [(s.service, s.ok) for s in denied.services] == [("sts", True), ("ses", True), ("s3", False)]
    assert denied.services[2].problem.kind == "denied"
    assert denied.services[2].problem.message.startswith("s3: these credentials may not call it (AccessDenied")
    assert key["SecretAccessKey"] not in json.dumps(denied.to_dict())


def test_service_names_and_playbook_services(tmp_path: Path) -> None:
    assert check_services_names(["STS", "states", "s3", "s3"]) == ["sts", "stepfunctions", "s3"]
    with pytest.raises(ConfigError, match="--service 'rout53': not a service migrate can check .did you mean route53"):
        check_services_names(["rout53"])
    assert services_for_actions(["domain.publish", "network.facts", "dns.resolve"]) == [
        "sts",
        "route53",
        "ec2",
        "directconnect",
    ]
    book = write(tmp_path / "p.yml", "name: x\nsteps:\n  - {name: a, action: domain.verify}\n")
    assert services_for_playbook(book) == ["sts", "route53"]
    with pytest.raises(ConfigError, match="cannot read file"):
        services_for_playbook(tmp_path / "missing.yml")
