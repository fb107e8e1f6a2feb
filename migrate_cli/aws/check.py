"""`migrate aws check`: do the configured credentials reach the account, and do the services answer?

Credentials come from the standard boto3 chain (env, profile, SSO, instance/container roles). Each
failure gets its own plain message: no credentials, expired token, rejected key, no or unknown region,
endpoint unreachable, access denied. Nothing secret (keys, tokens) is ever part of the report.
"""

from __future__ import annotations

import difflib
import functools
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
    SSOTokenLoadError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from migrate_cli.aws.session import NO_CREDENTIALS, USER_AGENT_EXTRA, configured_endpoint_url, make_session
from migrate_cli.core.errors import ConfigError
from migrate_cli.core.yamlio import load_yaml

Probe = Callable[[Any], Any]

# service -> (the read-only call made, how): cheap calls every principal that uses the service may make
PROBES: dict[str, tuple[str, Probe]] = {
    "sts": ("GetCallerIdentity", lambda c: c.get_caller_identity()),
    "s3": ("ListBuckets", lambda c: c.list_buckets()),
    "ec2": ("DescribeAvailabilityZones", lambda c: c.describe_availability_zones()),
    "route53": ("ListHostedZones", lambda c: c.list_hosted_zones(MaxItems="1")),
    "acm": ("ListCertificates", lambda c: c.list_certificates(MaxItems=1)),
    "ses": ("GetSendQuota", lambda c: c.get_send_quota()),
    "directconnect": ("DescribeConnections", lambda c: c.describe_connections()),
    "stepfunctions": ("ListStateMachines", lambda c: c.list_state_machines(maxResults=1)),
    "lambda": ("ListFunctions", lambda c: c.list_functions(MaxItems=1)),
    "events": ("ListRules", lambda c: c.list_rules(Limit=1)),
    "logs": ("DescribeLogGroups", lambda c: c.describe_log_groups(limit=1)),
    "iam": ("ListRoles", lambda c: c.list_roles(MaxItems=1)),
}
# what the migration runbook uses: prerequisites, connectivity (EC2 VPN, Direct Connect), data (S3), ETL
DEFAULT_SERVICES = ("sts", "route53", "acm", "ses", "s3", "ec2", "directconnect", "stepfunctions")
# playbook action prefix -> services its actions call
ACTION_SERVICES: dict[str, tuple[str, ...]] = {
    "aws.": ("sts",),
    "domain.": ("route53",),
    "transfer.": ("s3",),
    "backup.": ("s3",),
    "etl.": ("stepfunctions", "s3", "lambda", "events"),
    "network.": ("ec2", "directconnect"),
    "failover.": ("ec2", "route53"),
}
EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"})
REJECTED_CODES = frozenset(
    {"InvalidClientTokenId", "UnrecognizedClientException", "InvalidAccessKeyId", "SignatureDoesNotMatch"}
)
DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"})
# fail fast on a dead endpoint, but give a slow (or busy local) one time to answer a list call
CHECK_CONFIG = Config(
    connect_timeout=3,
    read_timeout=20,
    retries={"mode": "standard", "total_max_attempts": 2},
    user_agent_extra=USER_AGENT_EXTRA,
)


@dataclass(frozen=True)
class Problem:
    """What is missing, in words; `kind` is one of: profile, no_credentials, expired, rejected, no_region,
    wrong_region, unreachable, timeout, denied, error."""

    kind: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message}


@dataclass
class ServiceCheck:
    service: str
    operation: str
    ok: bool = False
    endpoint: str = ""
    elapsed_ms: int = 0
    problem: Problem | None = None
    skipped: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "operation": self.operation,
            "ok": self.ok,
            "skipped": self.skipped,
            "endpoint": self.endpoint,
            "elapsed_ms": self.elapsed_ms,
            "problem": self.problem.to_dict() if self.problem else None,
        }


@dataclass
class AwsCheckReport:
    credential_source: str | None = None
    credential_expiry: str | None = None
    region: str | None = None
    account: str | None = None
    arn: str | None = None
    user_id: str | None = None
    endpoint_url: str | None = None  # set when an endpoint override (AWS_ENDPOINT_URL...) is in use
    services: list[ServiceCheck] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(s.ok for s in self.services)

    def all_problems(self) -> list[Problem]:
        """Account-level problems, then each failing service's (repeats left out)."""
        found = list(self.problems) + [s.problem for s in self.services if s.problem is not None]
        return list(dict.fromkeys(found))

    def summary(self) -> str:
        if self.ok:
            return f"aws check: ok, account {self.account} answers, {len(self.services)} services answer"
        problems = self.all_problems()
        return f"aws check: {len(problems)} problem{'s' if len(problems) != 1 else ''}: {problems[0].message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "summary": self.summary(),
            "account": self.account,
            "arn": self.arn,
            "user_id": self.user_id,
            "region": self.region,
            "credential_source": self.credential_source,
            "credential_expiry": self.credential_expiry,
            "endpoint_url": self.endpoint_url,
            "services": [s.to_dict() for s in self.services],
            "problems": [p.to_dict() for p in self.all_problems()],
        }


# ------------------------------------------------------------------------------------------- helpers


def _site(url: str | None) -> str:
    if not url:
        return ""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else url


@functools.cache
def known_regions() -> frozenset[str]:
    """Every region botocore knows, across partitions (aws, aws-cn, aws-us-gov, ...)."""
    session = boto3.Session()
    regions: set[str] = set()
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions("sts", partition))
        regions.update(session.get_available_regions("ec2", partition))
    return frozenset(regions)


def region_problem(region: str | None) -> Problem | None:
    """No region, or one botocore does not know (a typo such as 'eu-wset-1')."""
    if not region:
        return Problem(
            "no_region", "no AWS region configured (set AWS_REGION or AWS_DEFAULT_REGION, or region in the profile)"
        )
    known = known_regions()
    if region in known:
        return None
    close = difflib.get_close_matches(region, sorted(known), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return Problem(
        "wrong_region",
        f"region '{region}' is not an AWS region{hint}; if it is a region newer than this botocore, upgrade boto3",
    )


def classify(exc: BaseException, service: str, source: str | None, region: str | None, endpoint: str) -> Problem:
    """One exception from a check, as the problem it means for the user."""
    src = f" from {source}" if source else ""
    if isinstance(exc, NoCredentialsError):
        return Problem("no_credentials", NO_CREDENTIALS)
    if isinstance(exc, PartialCredentialsError):
        return Problem(
            "no_credentials",
            f"incomplete AWS credentials from {exc.kwargs.get('provider', '?')}: missing "
            f"{exc.kwargs.get('cred_var', '?')}",
        )
    if isinstance(exc, SSOTokenLoadError | UnauthorizedSSOTokenError | TokenRetrievalError):
        return Problem("expired", "the AWS SSO session is missing or expired: run 'aws sso login'")
    if isinstance(exc, CredentialRetrievalError):
        return Problem("no_credentials", f"cannot load AWS credentials from {exc.kwargs.get('provider', '?')}")
    if isinstance(exc, NoRegionError):
        return region_problem(None) or Problem("no_region", str(exc))
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        message = " ".join(str(err.get("Message", "")).split())
        if code in EXPIRED_CODES:
            return Problem(
                "expired",
                f"the credentials{src} have expired ({code}): refresh them ('aws sso login', assume the role "
                "again, or new keys)",
            )
        if code in REJECTED_CODES:
            return Problem(
                "rejected",
                f"AWS rejected the credentials{src} ({code}): the access key is unknown or deleted, the secret "
                f"is wrong, or region {region} is not enabled for the account",
            )
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in DENIED_CODES or (not code and status == 403):
            detail = f"{code or 'HTTP 403'}" + (f": {message}" if message else "")
            return Problem("denied", f"{service}: these credentials may not call it ({detail})")
        return Problem("error", f"{service}: {code or f'HTTP {status}'}" + (f": {message}" if message else ""))
    if isinstance(exc, ConnectTimeoutError | EndpointConnectionError | BotoConnectionError):
        problem = region_problem(region)
        if problem is not None and problem.kind == "wrong_region":
            return Problem("wrong_region", f"cannot reach {service} endpoint {endpoint}: {problem.message}")
        return Problem(
            "unreachable",
            f"cannot reach {service} endpoint {endpoint} (network, proxy, firewall, or AWS_ENDPOINT_URL)",
        )
    if isinstance(exc, ReadTimeoutError):
        return Problem("timeout", f"{service} endpoint {endpoint} accepted the connection but did not answer")
    if isinstance(exc, BotoCoreError):
        return Problem("error", f"{service}: {exc}")
    return Problem("error", f"{service}: {type(exc).__name__}: {exc}")


def services_for_actions(actions: Iterable[str]) -> list[str]:
    """The AWS services a playbook's actions use (sts always: it is how the account is checked)."""
    found = ["sts"]
    for action in actions:
        for prefix, services in ACTION_SERVICES.items():
            if action.startswith(prefix):
                found.extend(services)
    return list(dict.fromkeys(found))


def check_services_names(services: Iterable[str]) -> list[str]:
    """Validate service names against the probes we know; ConfigError naming the bad one."""
    out = []
    for name in services:
        key = name.strip().lower()
        if key == "states":
            key = "stepfunctions"
        if key not in PROBES:
            close = difflib.get_close_matches(key, sorted(PROBES), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"--service '{name}': not a service migrate can check{hint}; known: {', '.join(PROBES)}")
        out.append(key)
    return list(dict.fromkeys(out))


# ------------------------------------------------------------------------------------------- service


def _probe(service: str, aws_client: Any, source: str | None, region: str | None) -> ServiceCheck:
    return _probe_with_result(service, aws_client, source, region)[0]


def _probe_with_result(
    service: str, aws_client: Any, source: str | None, region: str | None
) -> tuple[ServiceCheck, Any]:
    operation, call = PROBES[service]
    check = ServiceCheck(service, operation, endpoint=_site(aws_client.meta.endpoint_url))
    start = time.monotonic()
    result = None
    try:
        result = call(aws_client)
        check.ok = True
    except Exception as e:  # every failure is a result here, classified for the user
        check.problem = classify(e, service, source, region, check.endpoint)
    check.elapsed_ms = int((time.monotonic() - start) * 1000)
    return check, result


def check_aws(
    services: Iterable[str] | None = None, *, profile: str | None = None, region: str | None = None
) -> AwsCheckReport:
    """Check credentials, identity (STS GetCallerIdentity) and that each service answers."""
    wanted = check_services_names(services or DEFAULT_SERVICES)
    wanted = ["sts", *[s for s in wanted if s != "sts"]]
    report = AwsCheckReport()
    try:
        session = make_session(profile, region)
    except ConfigError as e:
        report.problems.append(Problem("profile", e.message))
        return report
    try:
        creds = session.get_credentials()
    except Exception as e:  # the chain raises assorted errors (SSO, process, container providers)
        report.problems.append(classify(e, "aws", None, None, ""))
        return report
    if creds is None:
        report.problems.append(Problem("no_credentials", NO_CREDENTIALS))
        return report
    report.credential_source = creds.method
    expiry = getattr(creds, "_expiry_time", None)
    if isinstance(expiry, datetime):
        report.credential_expiry = expiry.astimezone(UTC).isoformat(timespec="seconds")
    report.region = session.region_name
    problem = region_problem(report.region)
    if problem is not None:
        report.problems.append(problem)
        if problem.kind == "no_region":
            return report
    clients = {name: session.client(name, config=CHECK_CONFIG) for name in wanted}
    sts = clients["sts"]
    report.endpoint_url = configured_endpoint_url(sts, session)
    first, ident = _probe_with_result("sts", sts, report.credential_source, report.region)
    report.services.append(first)
    if first.ok:
        report.account, report.arn, report.user_id = ident["Account"], ident["Arn"], ident["UserId"]
    elif first.problem is not None and first.problem.kind in ("expired", "rejected", "no_credentials"):
        for name in wanted[1:]:  # every call would fail the same way: say so once
            report.services.append(ServiceCheck(name, PROBES[name][0], skipped=True, problem=first.problem))
        return report
    rest = wanted[1:]
    if rest:
        with ThreadPoolExecutor(max_workers=min(8, len(rest))) as pool:
            report.services.extend(
                pool.map(lambda n: _probe(n, clients[n], report.credential_source, report.region), rest)
            )
    return report


def services_for_playbook(path: Path) -> list[str]:
    """The services a playbook's steps use, from their `action:` names (ConfigError when unreadable)."""
    data = load_yaml(path)
    steps = data.get("steps") if isinstance(data, dict) else None
    if not isinstance(steps, list):
        raise ConfigError("a playbook is a mapping with 'steps'", file=path, line=1)
    return services_for_actions(str(s.get("action", "")) for s in steps if isinstance(s, dict))
