"""The lean S3 data path signs exactly as botocore does, and classifies error replies for retrying."""

from __future__ import annotations

import datetime
import hashlib
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from migrate_cli.transfer.retry import IntegrityError, TransientError
from migrate_cli.transfer.s3endpoint import S3Endpoint, _presigned_style
from migrate_cli.transfer.s3http import Reply, S3Http, S3HttpError, raise_for_reply
from migrate_cli.transfer.sigv4 import sign

FROZEN = datetime.datetime(2026, 1, 2, 3, 4, 5)


@pytest.fixture
def http(monkeypatch: pytest.MonkeyPatch) -> S3Http:
    """Addressed by boto3 itself (botocore_endpoint): its presigned URL for the bucket."""
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: FROZEN)
    client = boto3.client(
        "s3",
        region_name="eu-west-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(s3={"addressing_style": "path"}),
    )
    credentials = Credentials("AKIDEXAMPLE", "secret", "session-token")
    return S3Http(S3Endpoint(client.meta.endpoint_url, "eu-west-1", credentials, _presigned_style(client)))


@pytest.mark.parametrize(
    ("method", "key", "query", "token"),
    [
        ("PUT", "dir/ünï cödé+x.txt", "partNumber=3&uploadId=abc%2Bdef", "session-token"),
        ("GET", "", "prefix=a%2Fb%2F&list-type=2&max-keys=1000", None),
        ("HEAD", "a b/c~d(e)'f", "", None),
    ],
)
def test_signature_matches_botocore(http: S3Http, method: str, key: str, query: str, token: str | None) -> None:
    body = b"hello world\n" * 100 if method == "PUT" else b""
    url = http.url("bkt-1", key, query)
    creds = Credentials("AKIDEXAMPLE", "secret", token)
    headers = {"x-amz-checksum-sha256": "abc=", "x-amz-meta-mtime": "1.000000000", "content-type": "text/plain"}
    parts = urlsplit(url)
    ours = sign(
        method, parts.netloc, parts.path, parts.query, dict(headers), hashlib.sha256(body).hexdigest(), creds,
        "eu-west-1", now=FROZEN.replace(tzinfo=datetime.UTC).timestamp(),
    )  # fmt: skip
    reference = AWSRequest(method=method, url=url, headers=dict(headers), data=body)
    S3SigV4Auth(creds, "s3", "eu-west-1").add_auth(reference)
    assert ours["authorization"] == reference.headers["Authorization"]
    assert ours.get("x-amz-security-token") == reference.headers.get("X-Amz-Security-Token")
    assert url.startswith("http://127.0.0.1:9/bkt-1/" if key else "http://127.0.0.1:9/bkt-1?")
    assert "%C3%BCn%C3%AF%20c%C3%B6d%C3%A9%2Bx.txt" in url or method != "PUT"


def test_error_replies_are_classified() -> None:
    def reply(status: int, code: str = "") -> Reply:
        body = f"<Error><Code>{code}</Code><Message>m</Message></Error>".encode() if code else b""
        return Reply(status, {}, body)

    with pytest.raises(TransientError) as slow:
        raise_for_reply(reply(503, "SlowDown"), "PUT x")
    assert slow.value.throttled
    for status, code in [(500, "InternalError"), (400, "RequestTimeout"), (502, ""), (429, "")]:
        with pytest.raises(TransientError):
            raise_for_reply(reply(status, code), "PUT x")
    with pytest.raises(IntegrityError):
        raise_for_reply(reply(400, "BadDigest"), "PUT x")
    with pytest.raises(S3HttpError) as denied:
        raise_for_reply(reply(403, "AccessDenied"), "PUT x")
    assert not denied.value.retryable and denied.value.code == "AccessDenied"
    with pytest.raises(S3HttpError) as missing:
        raise_for_reply(reply(404), "HEAD x")
    assert missing.value.code == "NotFound"
