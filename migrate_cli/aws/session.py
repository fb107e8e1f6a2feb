"""boto3 sessions and clients with migrate-cli defaults, and AWS errors mapped to CLI errors.

Endpoints come from boto3's own configuration (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`,
`endpoint_url` in the profile), which is how the lab points everything at its local endpoint.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    CredentialRetrievalError,
    HTTPClientError,
    InvalidConfigError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
    SSOTokenLoadError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from migrate_cli import __version__
from migrate_cli.core.errors import ConfigError, OperationFailed

T = TypeVar("T")

CONNECT_TIMEOUT = 5
READ_TIMEOUT = 60
MAX_ATTEMPTS = 3
USER_AGENT_EXTRA = f"migrate-cli/{__version__}"
AUTH_ERROR_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AccessDenied",
        "AccessDeniedException",
        "RequestExpired",
    }
)
NO_CREDENTIALS = (
    "no AWS credentials found (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run 'aws sso login')"
)


def make_session(profile: str | None = None, region: str | None = None) -> boto3.Session:
    """A boto3 session from the standard chain; AWS_REGION is honoured like AWS_DEFAULT_REGION (and first)."""
    region = region or os.environ.get("AWS_REGION") or None
    with aws_errors("aws"):
        return boto3.Session(profile_name=profile, region_name=region)  # a missing profile raises here


def default_config(session: boto3.Session | None = None) -> Config:
    """Client config: timeouts, user agent, standard retries (unless the env or the profile set them)."""
    scoped = session._session.get_scoped_config() if session is not None else {}
    retries: dict[str, Any] = {}
    if "AWS_RETRY_MODE" not in os.environ and "retry_mode" not in scoped:
        retries["mode"] = "standard"
    if "AWS_MAX_ATTEMPTS" not in os.environ and "max_attempts" not in scoped:
        retries["total_max_attempts"] = MAX_ATTEMPTS
    return Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        retries=retries or None,
        user_agent_extra=USER_AGENT_EXTRA,
    )


def client(service: str, session: boto3.Session | None = None, **kw: Any) -> Any:
    """A boto3 client with `default_config()` (a `config=` passed in is merged over it)."""
    session = session or make_session()
    with aws_errors(service):
        config = default_config(session)
    if kw.get("config") is not None:
        config = config.merge(kw.pop("config"))
    kw.pop("config", None)
    with aws_errors(service):
        return session.client(service, config=config, **kw)


def configured_endpoint_url(aws_client: Any, session: boto3.Session | None = None) -> str | None:
    """The client's endpoint URL when it was overridden (env, profile, argument), else None."""
    session = session or make_session()
    service = aws_client.meta.service_model.service_name
    plain = session.client(
        service,
        region_name=aws_client.meta.region_name,
        config=Config(ignore_configured_endpoint_urls=True),
    )
    url = aws_client.meta.endpoint_url
    return None if url == plain.meta.endpoint_url else url


def _site(url: str | None) -> str:
    """scheme://host:port of a URL (never the query string, which may carry signing data)."""
    if not url:
        return "(unknown)"
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else url.split("?", 1)[0]


@contextmanager
def aws_errors(service: str, endpoint_url: str | None = None) -> Iterator[None]:
    """Map botocore credential, connectivity and auth errors to ConfigError / OperationFailed."""
    try:
        yield
    except NoCredentialsError as e:
        raise ConfigError(NO_CREDENTIALS) from e
    except PartialCredentialsError as e:
        provider, missing = e.kwargs.get("provider", "?"), e.kwargs.get("cred_var", "?")
        raise ConfigError(f"incomplete AWS credentials from {provider}: missing {missing}") from e
    except ProfileNotFound as e:
        raise ConfigError(
            f"AWS profile '{e.kwargs.get('profile', '?')}' not found (check AWS_PROFILE and ~/.aws/config)"
        ) from e
    except NoRegionError as e:
        raise ConfigError(
            f"no AWS region for {service} (set AWS_REGION or AWS_DEFAULT_REGION, or region in the profile)"
        ) from e
    except (SSOTokenLoadError, UnauthorizedSSOTokenError, TokenRetrievalError) as e:
        raise ConfigError("AWS SSO session missing or expired (run 'aws sso login')") from e
    except CredentialRetrievalError as e:
        raise ConfigError(f"cannot load AWS credentials from {e.kwargs.get('provider', '?')}") from e
    except InvalidConfigError as e:
        raise ConfigError(f"invalid AWS configuration: {e}") from e
    except ReadTimeoutError as e:
        url = _site(e.kwargs.get("endpoint_url") or endpoint_url)
        raise OperationFailed(f"timed out waiting for {service} endpoint {url}") from e
    except (BotoConnectionError, ConnectionClosedError) as e:
        url = _site(e.kwargs.get("endpoint_url") or endpoint_url)
        raise OperationFailed(f"cannot reach {service} endpoint {url}") from e
    except HTTPClientError as e:
        url = _site(e.kwargs.get("endpoint_url") or endpoint_url)
        raise OperationFailed(f"HTTP error talking to {service} endpoint {url}") from e
    except ClientError as e:
        err = e.response.get("Error", {})
        code = err.get("Code", "")
        if code not in AUTH_ERROR_CODES:
            raise
        message = " ".join(str(err.get("Message", "")).split())
        raise OperationFailed(f"{service}: {code}" + (f": {message}" if message else "")) from e


def aws_call(fn: Callable[..., T], *args: Any, **kw: Any) -> T:
    """Call a client method (or any callable) under `aws_errors`, naming the service from the client."""
    owner = getattr(fn, "__self__", None)
    meta = getattr(owner, "meta", None)
    service = meta.service_model.service_name if meta is not None else "aws"
    with aws_errors(service, getattr(meta, "endpoint_url", None)):
        return fn(*args, **kw)
