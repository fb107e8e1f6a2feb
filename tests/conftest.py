"""Shared fixtures: small inventories and playbooks written to tmp_path."""

from __future__ import annotations

import os
import signal
import socket
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from migrate_cli.core.secrets import registered_secrets_snapshot, restore_registered_secrets
from migrate_cli.lab.aws_endpoint import LocalAwsEndpoint

REPO = Path(__file__).resolve().parent.parent

if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    # Started in the background by a shell without job control (`make test &`, nohup): SIGINT is ignored and
    # every child would inherit that, so the Ctrl-C tests could not interrupt the commands they start.
    signal.signal(signal.SIGINT, signal.default_int_handler)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


@pytest.fixture
def small_inventory(tmp_path: Path) -> Path:
    """Three hosts in two groups, no secrets needed."""
    inv = tmp_path / "inventory"
    write(
        inv / "hosts.yaml",
        """
        r1:
          groups: [edge]
        r2:
          groups: [edge]
        c1:
          groups: [core]
        """,
    )
    write(
        inv / "groups.yaml",
        """
        edge:
          platform: cisco_ios
        core:
          platform: cisco_ios
        """,
    )
    write(inv / "defaults.yaml", "data:\n  site: hq\n")
    return inv


@pytest.fixture(autouse=True)
def _isolated_secret_masker() -> Iterator[None]:
    """Secrets registered by one test do not leak into the masker of the next."""
    saved = registered_secrets_snapshot()
    yield
    restore_registered_secrets(saved)


@pytest.fixture(scope="module")
def endpoint(request: pytest.FixtureRequest) -> Iterator[LocalAwsEndpoint]:
    """A local AWS endpoint (moto server over real HTTP) shared by the tests of one module; in the region a
    module names in ENDPOINT_REGION (default us-east-1)."""
    ep = LocalAwsEndpoint(region=getattr(request.module, "ENDPOINT_REGION", "us-east-1"))
    ep.start()
    yield ep
    ep.stop()


def _drop_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)


def point_at(endpoint: LocalAwsEndpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point boto3 at `endpoint` alone: no AWS_* variable of the caller's environment leaks in."""
    _drop_aws_env(monkeypatch)
    for key, value in endpoint.env().items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No AWS_* settings from the outside world; empty credentials/config files; no IMDS."""
    _drop_aws_env(monkeypatch)
    for name in ("credentials", "config"):
        (tmp_path / name).write_text("")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


@pytest.fixture
def lab_env(clean_env: pytest.MonkeyPatch, endpoint: LocalAwsEndpoint) -> LocalAwsEndpoint:
    """The process environment pointing at `endpoint` and nothing else."""
    for key, value in endpoint.env().items():
        clean_env.setenv(key, value)
    return endpoint


def closed_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
