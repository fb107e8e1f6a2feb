"""SES and ACM verification records from the lab's moto endpoint, published to Route 53 and verified over
real DNS from the lab's Route 53-backed name servers.

moto 5.2.x: SES VerifyDomainIdentity returns a token (and moto marks the identity verified at once);
ACM DescribeCertificate does return DomainValidationOptions[].ResourceRecord for DNS validation.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config

from migrate_cli.core.errors import ConfigError, OperationFailed
from migrate_cli.dns.publish import Route53Publisher
from migrate_cli.dns.route53_source import LabDns
from migrate_cli.dns.servers import Server
from migrate_cli.dns.tokens import acm_tokens, get_tokens, ses_token
from migrate_cli.dns.verify import verify_domain
from migrate_cli.lab.aws_endpoint import LocalAwsEndpoint


@pytest.fixture
def lab(lab_env: LocalAwsEndpoint) -> Iterator[LabDns]:
    """A lab zone served from its Route 53 hosted zone by two name servers."""
    dns = LabDns(f"site{uuid.uuid4().hex[:6]}.test.", [], servers=2, interval=0.1)
    dns.start(lab_env.env())
    yield dns
    dns.stop()


def servers_of(lab: LabDns) -> list[Server]:
    return [Server("127.0.0.1", s.port, s.name) for s in lab.servers]


def test_ses_token_published_and_verified(lab: LabDns) -> None:
    domain = lab.zone.origin
    result = ses_token(domain)
    (record,) = result.records
    assert record.name == f"_amazonses.{domain}" and record.rtype == "TXT" and len(record.value) >= 20
    assert result.service == "ses" and result.status in ("Pending", "Success") and result.details["region"]
    ses = boto3.client("ses")
    assert domain.rstrip(".") in ses.list_identities(IdentityType="Domain")["Identities"]

    pub = Route53Publisher()
    pub.apply(pub.plan(domain, result.records))
    report = verify_domain(domain, result.records, nameservers=servers_of(lab), resolvers=[], wait=3, timeout=0.5)
    assert report.ok, report.findings


def test_acm_validation_cnames_reused_published_and_verified(lab: LabDns) -> None:
    domain = lab.zone.origin
    bare = domain.rstrip(".")
    first = acm_tokens(domain, alternative_names=[f"www.{bare}"])
    arn = first.details["certificate_arn"]
    assert first.service == "acm" and first.details["requested"] and first.status == "PENDING_VALIDATION"
    assert {r.rtype for r in first.records} == {"CNAME"} and len(first.records) == 2
    assert all(r.name.endswith(domain) and r.value.endswith("acm-validations.aws.") for r in first.records)
    assert {v["domain"] for v in first.details["validation"]} == {bare, f"www.{bare}"}

    again = acm_tokens(domain, alternative_names=[f"www.{bare}"])
    assert again.details["certificate_arn"] == arn and not again.details["requested"]  # no second certificate
    acm = boto3.client("acm")
    mine = [c for c in acm.list_certificates()["CertificateSummaryList"] if c["DomainName"] == bare]
    assert len(mine) == 1

    pub = Route53Publisher()
    pub.apply(pub.plan(domain, first.records))
    report = verify_domain(domain, first.records, nameservers=servers_of(lab), resolvers=[], wait=3, timeout=0.5)
    assert report.ok, report.findings


def test_get_tokens_service_names(lab_env: LocalAwsEndpoint) -> None:
    with pytest.raises(ConfigError, match="--service 'dkim': choose one of ses, acm"):
        get_tokens("dkim", "example.com.")
    assert get_tokens("ses", f"t{uuid.uuid4().hex[:6]}.example.").service == "ses"


def test_aws_errors_are_operation_failed(lab_env: LocalAwsEndpoint) -> None:
    acm = boto3.client("acm", config=Config(retries={"total_max_attempts": 1}))
    too_many = [f"h{i}.example.com" for i in range(120)]  # ACM allows 100 names without a limit increase
    with pytest.raises(OperationFailed, match="^acm: LimitExceededException") as err:
        acm_tokens("example.com.", acm, alternative_names=too_many)
    assert err.value.exit_code == 1
