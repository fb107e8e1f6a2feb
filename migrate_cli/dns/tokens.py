"""Verification records from AWS: SES domain identity tokens and ACM DNS-validation CNAMEs."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from migrate_cli.aws.session import aws_call, client
from migrate_cli.core.errors import ConfigError, OperationFailed
from migrate_cli.dns.names import Expected, expected_record
from migrate_cli.dns.verify import backoff

SERVICES = ("ses", "acm")
ACM_RECORD_TIMEOUT = 60.0


@dataclass
class TokenResult:
    """The records a service wants to see in DNS before it trusts the domain."""

    service: str
    domain: str
    records: list[Expected]
    status: str  # the service's own view: Pending, Success, PENDING_VALIDATION, ISSUED, ...
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "domain": self.domain,
            "status": self.status,
            "records": [r.to_dict() for r in self.records],
            **self.details,
        }


def _call(fn: Callable[..., Any], **kw: Any) -> Any:
    try:
        return aws_call(fn, **kw)
    except ClientError as e:
        err = e.response.get("Error", {})
        service = fn.__self__.meta.service_model.service_name  # type: ignore[attr-defined]
        raise OperationFailed(f"{service}: {err.get('Code', 'error')}: {err.get('Message', '')}".rstrip(": ")) from e


def ses_token(domain: str, ses: Any | None = None) -> TokenResult:
    """SES VerifyDomainIdentity: the TXT value to publish at _amazonses.DOMAIN (asking again is harmless)."""
    ses = ses if ses is not None else client("ses")
    bare = domain.rstrip(".")
    token = _call(ses.verify_domain_identity, Domain=bare)["VerificationToken"]
    attrs = _call(ses.get_identity_verification_attributes, Identities=[bare])["VerificationAttributes"]
    status = attrs.get(bare, {}).get("VerificationStatus", "Pending")
    record = expected_record(domain, f"_amazonses.{bare}.", "TXT", token)
    return TokenResult("ses", domain, [record], status, {"region": ses.meta.region_name})


def _pending_certificate(acm: Any, bare: str) -> str | None:
    """The newest certificate for `bare` still waiting for DNS validation, if any."""
    resp = _call(acm.list_certificates, CertificateStatuses=["PENDING_VALIDATION"])
    for summary in resp.get("CertificateSummaryList", []):
        if summary.get("DomainName", "").lower() == bare:
            return summary["CertificateArn"]
    return None


def acm_tokens(
    domain: str,
    acm: Any | None = None,
    *,
    alternative_names: list[str] | None = None,
    timeout: float = ACM_RECORD_TIMEOUT,
    sleep: Callable[[float], None] = time.sleep,
) -> TokenResult:
    """The CNAMEs ACM checks for a DNS-validated certificate of DOMAIN (and any alternative names).

    Reuses a certificate already pending validation for the domain; otherwise requests one with an
    idempotency token, so running this twice does not request two certificates. ACM fills in the
    validation records a few seconds after the request: this polls DescribeCertificate until it has.
    """
    acm = acm if acm is not None else client("acm")
    bare = domain.rstrip(".")
    sans = [n.rstrip(".").lower() for n in alternative_names or [] if n.rstrip(".").lower() != bare]
    arn = _pending_certificate(acm, bare)
    requested = False
    if arn is None:
        token = hashlib.sha256(f"migrate:{bare}:{','.join(sans)}".encode()).hexdigest()[:32]
        kw: dict[str, Any] = {"DomainName": bare, "ValidationMethod": "DNS", "IdempotencyToken": token}
        if sans:
            kw["SubjectAlternativeNames"] = [bare, *sans]
        arn = _call(acm.request_certificate, **kw)["CertificateArn"]
        requested = True
    start = time.monotonic()
    delays = backoff(first=0.5, cap=5.0)
    while True:
        cert = _call(acm.describe_certificate, CertificateArn=arn)["Certificate"]
        options = cert.get("DomainValidationOptions", [])
        if options and all("ResourceRecord" in o for o in options):
            break
        if time.monotonic() - start > timeout:
            raise OperationFailed(f"ACM has not produced the validation records of {arn} after {timeout:g} s")
        sleep(next(delays))
    records: list[Expected] = []
    for option in options:
        rr = option["ResourceRecord"]
        if rr.get("Type", "CNAME") != "CNAME":
            continue
        rec = expected_record(domain, rr["Name"], "CNAME", rr["Value"])
        if rec not in records:
            records.append(rec)
    details = {
        "certificate_arn": arn,
        "requested": requested,
        "region": acm.meta.region_name,
        "validation": [{"domain": o["DomainName"], "status": o.get("ValidationStatus", "")} for o in options],
    }
    return TokenResult("acm", domain, records, cert.get("Status", ""), details)


def get_tokens(service: str, domain: str, alternative_names: list[str] | None = None) -> TokenResult:
    """The verification records `service` (ses or acm) wants for `domain`."""
    if service == "ses":
        return ses_token(domain)
    if service == "acm":
        return acm_tokens(domain, alternative_names=alternative_names)
    raise ConfigError(f"--service '{service}': choose one of {', '.join(SERVICES)}")
