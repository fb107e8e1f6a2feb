"""Fixtures shared by the integration tests against moto server: the process pointed at it (`s3`), a fresh
bucket, and a fault proxy between the client and the server (`proxy`, `direct`)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from faultproxy import FaultProxy

from migrate_cli.aws.session import client
from migrate_cli.lab.aws_endpoint import LocalAwsEndpoint


def _point_at(endpoint: LocalAwsEndpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment names `endpoint` alone: no AWS_* or MIGRATE_* setting from outside; short retry pauses."""
    for key in list(os.environ):
        if key.startswith(("AWS_", "MIGRATE_")):
            monkeypatch.delenv(key)
    for key, value in endpoint.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MIGRATE_TRANSFER_BACKOFF", "0.01")


@pytest.fixture
def s3(endpoint: LocalAwsEndpoint, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The process pointed at `endpoint`; an S3 client on it for arranging and checking."""
    _point_at(endpoint, monkeypatch)
    return client("s3")


@pytest.fixture
def bucket(s3: Any) -> str:
    """A new, empty bucket."""
    name = f"it-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def proxy(endpoint: LocalAwsEndpoint, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    """A fault proxy in front of `endpoint`. The environment points at the proxy alone (so copies, and the
    children they start, go through it), with no MIGRATE_* setting from outside and short retry pauses."""
    fp = FaultProxy(endpoint.url)
    url = fp.start()
    _point_at(endpoint, monkeypatch)
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    yield fp
    fp.stop()


@pytest.fixture
def direct(endpoint: LocalAwsEndpoint) -> Any:
    """An S3 client straight to the endpoint, bypassing the proxy: for setting up and checking."""
    return client("s3", endpoint_url=endpoint.url, region_name=endpoint.region)
