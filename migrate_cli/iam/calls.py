"""IAM API calls with the project's error mapping: missing entities as None, failures as OperationFailed."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from migrate_cli.aws.session import aws_call
from migrate_cli.core.errors import OperationFailed

NOT_FOUND = frozenset({"NoSuchEntity", "NoSuchEntityException"})


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _failed(fn: Callable[..., Any], exc: ClientError) -> OperationFailed:
    err = exc.response.get("Error", {})
    message = " ".join(str(err.get("Message", "")).split())
    op = exc.operation_name if hasattr(exc, "operation_name") else getattr(fn, "__name__", "call")
    return OperationFailed(f"iam {op}: {_code(exc)}" + (f": {message}" if message else ""))


def call(fn: Callable[..., Any], **kw: Any) -> Any:
    """Call an IAM client method; any AWS error becomes OperationFailed (auth/connectivity as aws_call)."""
    try:
        return aws_call(fn, **kw)
    except ClientError as exc:
        raise _failed(fn, exc) from exc


def get_or_none(fn: Callable[..., Any], **kw: Any) -> Any:
    """Like `call`, but a missing entity (NoSuchEntity) is None."""
    try:
        return aws_call(fn, **kw)
    except ClientError as exc:
        if _code(exc) in NOT_FOUND:
            return None
        raise _failed(fn, exc) from exc


def paginate(client: Any, operation: str, key: str, **kw: Any) -> list[Any]:
    """All items under `key` of a paginated IAM list operation."""
    items: list[Any] = []

    def run() -> None:
        for page in client.get_paginator(operation).paginate(**kw):
            items.extend(page.get(key, []))

    try:
        aws_call(run)
    except ClientError as exc:
        if _code(exc) in NOT_FOUND:
            return []
        raise _failed(run, exc) from exc
    return items


def call_retrying_new_principal(fn: Callable[..., Any], timeout: float = 20.0, **kw: Any) -> Any:
    """`call`, retried while IAM rejects a trust policy naming a principal created moments ago.

    IAM is eventually consistent: a user created in this run can be an "Invalid principal" for a few
    seconds when a trust policy names it.
    """
    deadline = time.monotonic() + timeout
    delay = 0.5
    while True:
        try:
            return aws_call(fn, **kw)
        except ClientError as exc:
            invalid = _code(exc) == "MalformedPolicyDocument" and "principal" in str(exc).lower()
            if not invalid or time.monotonic() + delay > deadline:
                raise _failed(fn, exc) from exc
            time.sleep(delay)
            delay = min(delay * 2, 4.0)
