"""`migrate aws check` as a user runs it: a subprocess pointed at the lab's moto endpoint (or at nothing)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from migrate_cli.aws.check import DEFAULT_SERVICES, PROBES
from migrate_cli.lab.aws_endpoint import LocalAwsEndpoint
from tests.conftest import write


@pytest.fixture(scope="module")
def endpoint() -> Iterator[LocalAwsEndpoint]:
    ep = LocalAwsEndpoint()
    ep.start()
    warm_up(ep)
    yield ep
    ep.stop()


def warm_up(ep: LocalAwsEndpoint) -> None:
    """moto loads each service's backend on first use, which can take seconds on a busy machine: do it
    here, so the CLI under test measures the check, not moto's start-up."""
    env = ep.env()
    session = boto3.Session(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], region_name=env["AWS_REGION"])
    for service in DEFAULT_SERVICES:
        PROBES[service][1](session.client(service, endpoint_url=ep.url))


def base_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MIGRATE_"))}
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        MIGRATE_STATE_DIR=str(tmp_path / "state"),
    )
    return env


def migrate(tmp_path: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "migrate_cli", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_check_against_the_lab(tmp_path: Path, endpoint: LocalAwsEndpoint) -> None:
    out = migrate(tmp_path, "aws", "check", env=base_env(tmp_path) | endpoint.env())
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert lines[:3] == ["account: 123456789012", "arn: arn:aws:sts::123456789012:user/moto", "region: us-east-1"]
    assert "credentials: from env" in lines and f"endpoint: {endpoint.url}" in lines
    assert any(line.startswith("service route53 ListHostedZones: ok (") for line in lines)
    assert lines[-1] == "aws check: ok, account 123456789012 answers, 8 services answer"
    assert "testing" not in out.stdout  # the lab's (dummy) secret key is never shown


def test_check_json_for_chosen_services(tmp_path: Path, endpoint: LocalAwsEndpoint) -> None:
    env = base_env(tmp_path) | endpoint.env()
    out = migrate(tmp_path, "--json", "aws", "check", "--service", "sts", "--service", "route53", env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    doc = json.loads(out.stdout)
    assert doc["ok"] and doc["account"] == "123456789012"
    assert [s["service"] for s in doc["services"]] == ["sts", "route53"]


def test_check_services_of_a_playbook(tmp_path: Path, endpoint: LocalAwsEndpoint) -> None:
    book = write(tmp_path / "book.yml", "name: b\nsteps:\n  - {name: p, action: domain.publish}\n")
    out = migrate(tmp_path, "--json", "aws", "check", "--playbook", str(book), env=base_env(tmp_path) | endpoint.env())
    assert out.returncode == 0, out.stdout + out.stderr
    assert [s["service"] for s in json.loads(out.stdout)["services"]] == ["sts", "route53"]


def test_no_credentials_exit_1(tmp_path: Path, endpoint: LocalAwsEndpoint) -> None:
    env = base_env(tmp_path) | {"AWS_ENDPOINT_URL": endpoint.url, "AWS_REGION": "us-east-1"}
    out = migrate(tmp_path, "aws", "check", env=env)
    assert out.returncode == 1
    assert out.stdout.splitlines()[0].startswith("problem: no AWS credentials found (set AWS_PROFILE")
    assert out.stdout.splitlines()[-1].startswith("aws check: 1 problem: no AWS credentials found")


def test_unreachable_endpoint_exit_1(tmp_path: Path, endpoint: LocalAwsEndpoint) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    env = base_env(tmp_path) | endpoint.env() | {"AWS_ENDPOINT_URL": dead}
    out = migrate(tmp_path, "aws", "check", "--service", "sts", env=env)
    assert out.returncode == 1
    assert f"service sts GetCallerIdentity: FAILED: cannot reach sts endpoint {dead}" in out.stdout


def test_unknown_service_exit_2(tmp_path: Path, endpoint: LocalAwsEndpoint) -> None:
    out = migrate(tmp_path, "aws", "check", "--service", "rout53", env=base_env(tmp_path) | endpoint.env())
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("migrate: error: --service 'rout53': not a service migrate can check (did you mean")
    assert out.stderr.count("\n") == 1
