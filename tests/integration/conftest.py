"""Fixtures shared by the integration tests that put a fault proxy between the client and moto server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from faultproxy import FaultProxy

from migrate_cli.aws.session import client
from migrate_cli.lab.aws_endpoint import LocalAwsEndpoint


@pytest.fixture
def proxy(endpoint: LocalAwsEndpoint, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    """A fault proxy in front of `endpoint`. The environment points at the proxy alone (so copies, and the
    children they start, go through it), with no MIGRATE_* setting from outside and short retry pauses."""
    fp = FaultProxy(endpoint.url)
    url = fp.start()
    for key in list(os.environ):
        if key.startswith(("AWS_", "MIGRATE_")):
            monkeypatch.delenv(key)
    for key, value in endpoint.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    monkeypatch.setenv("MIGRATE_TRANSFER_BACKOFF", "0.01")
    yield fp
    fp.stop()


@pytest.fixture
def direct(endpoint: LocalAwsEndpoint) -> Any:
    """An S3 client straight to the endpoint, bypassing the proxy: for setting up and checking."""
    return client("s3", endpoint_url=endpoint.url, region_name=endpoint.region)
