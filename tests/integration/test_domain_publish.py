"""Route 53 publishing (UPSERT, merge, idempotency, conflicts, rollback) on the lab's moto endpoint, and
the lab DNS that serves a hosted zone, so publish -> verify runs end to end over real DNS.

moto notes (5.2.x): changes are INSYNC at once, and it accepts a TXT beside a CNAME (real Route 53
rejects that), so the CNAME conflict check here is our own, made before calling Route 53.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import boto3
import pytest

from migrate_cli.core.errors import EXIT_FAILED, OperationFailed
from migrate_cli.dns.names import Expected
from migrate_cli.dns.publish import Route53Publisher
from migrate_cli.dns.route53 import txt_to_route53
from migrate_cli.dns.route53_source import LabDns, Route53ZoneSource, request_fault, seed_hosted_zone
from migrate_cli.dns.servers import Server
from migrate_cli.dns.verify import Status, verify_domain
from migrate_cli.lab.aws_endpoint import LocalAwsEndpoint
from migrate_cli.lab.dns_server import Fault, Record, Zone


@pytest.fixture
def r53(lab_env: LocalAwsEndpoint):
    return boto3.client("route53")


@pytest.fixture
def zone_name(r53) -> tuple[str, str]:
    """A fresh hosted zone (unique name: moto state is shared by the whole test process)."""
    name = f"z{uuid.uuid4().hex[:8]}.example."
    zid = r53.create_hosted_zone(Name=name, CallerReference=name)["HostedZone"]["Id"]
    return name, zid


def values_at(r53, zid: str, name: str, rtype: str) -> list[str]:
    for rrset in r53.list_resource_record_sets(HostedZoneId=zid)["ResourceRecordSets"]:
        if rrset["Name"] == name and rrset["Type"] == rtype:
            return [r["Value"] for r in rrset["ResourceRecords"]]
    return []


def put(r53, zid: str, name: str, rtype: str, values: list[str], ttl: int = 60) -> None:
    r53.change_resource_record_sets(
        HostedZoneId=zid,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": name,
                        "Type": rtype,
                        "TTL": ttl,
                        "ResourceRecords": [{"Value": v} for v in values],
                    },
                }
            ]
        },
    )


def test_publish_new_record_then_nothing_to_do(r53, zone_name) -> None:
    name, zid = zone_name
    pub = Route53Publisher()
    token = Expected(f"_verify.{name}", "TXT", "token-1")
    plan = pub.plan(name, [token])
    assert plan.zone == name and plan.zone_id == zid and plan.changed
    assert plan.lines() == [f'UPSERT TXT _verify.{name.rstrip(".")}: add "token-1"']
    applied = pub.apply(plan)
    assert applied["status"] == "INSYNC" and applied["change_id"]
    assert values_at(r53, zid, f"_verify.{name}", "TXT") == ['"token-1"']
    again = pub.plan(name, [token])
    assert not again.changed
    assert again.lines() == [f'TXT _verify.{name.rstrip(".")} already has "token-1": nothing to do']
    assert pub.apply(again) == {"change_id": None, "status": "unchanged", "waited_s": 0.0}


def test_publish_keeps_other_values_and_ttl(r53, zone_name) -> None:
    name, zid = zone_name
    put(r53, zid, name, "TXT", ['"v=spf1 -all"', '"google-site-verification=abc"'], ttl=3600)
    pub = Route53Publisher()
    plan = pub.plan(name, [Expected(name, "TXT", "amazonses:tok")])
    assert plan.lines() == [f'UPSERT TXT {name.rstrip(".")}: add "amazonses:tok" (keeping 2 other values)']
    pub.apply(plan)
    assert values_at(r53, zid, name, "TXT") == ['"v=spf1 -all"', '"google-site-verification=abc"', '"amazonses:tok"']
    ttl = next(r["TTL"] for r in r53.list_resource_record_sets(HostedZoneId=zid)["ResourceRecordSets"]
               if r["Name"] == name and r["Type"] == "TXT")  # fmt: skip
    assert ttl == 3600
    ttl_only = pub.plan(name, [Expected(name, "TXT", "amazonses:tok")], ttl=300)
    assert ttl_only.changed and ttl_only.lines() == [f"UPSERT TXT {name.rstrip('.')}: TTL 3600 -> 300"]


def test_long_txt_is_stored_as_255_byte_strings(r53, zone_name) -> None:
    name, zid = zone_name
    dkim = "v=DKIM1; p=" + "Q" * 600
    Route53Publisher().apply(Route53Publisher().plan(name, [Expected(f"s1._domainkey.{name}", "TXT", dkim)]))
    (stored,) = values_at(r53, zid, f"s1._domainkey.{name}", "TXT")
    assert stored == txt_to_route53(dkim) and stored.count('" "') == 2
    assert not Route53Publisher().plan(name, [Expected(f"s1._domainkey.{name}", "TXT", dkim)]).changed


def test_cname_publish_replace_and_conflicts(r53, zone_name) -> None:
    name, zid = zone_name
    pub = Route53Publisher()
    acm = f"_abc.{name}"
    pub.apply(pub.plan(name, [Expected(acm, "CNAME", "_x1.acm-validations.aws.")]))
    assert values_at(r53, zid, acm, "CNAME") == ["_x1.acm-validations.aws."]
    same = pub.plan(name, [Expected(acm, "CNAME", "_X1.acm-validations.aws.")])
    assert not same.changed
    new = pub.plan(name, [Expected(acm, "CNAME", "_x2.acm-validations.aws.")])
    assert new.lines() == [f"UPSERT CNAME {acm.rstrip('.')}: _x1.acm-validations.aws -> _x2.acm-validations.aws"]
    with pytest.raises(OperationFailed, match="cannot add TXT at .*: it is a CNAME to _x1.acm-validations.aws") as e:
        pub.plan(name, [Expected(acm, "TXT", "x")])
    assert e.value.exit_code == EXIT_FAILED
    put(r53, zid, f"www.{name}", "A", ["192.0.2.1"])
    with pytest.raises(OperationFailed, match="already has A records"):
        pub.plan(name, [Expected(f"www.{name}", "CNAME", "lb.example.net.")])
    with pytest.raises(OperationFailed, match="zone apex"):
        pub.plan(name, [Expected(name, "CNAME", "lb.example.net.")])


def test_zone_found_from_a_subdomain_or_not_at_all(r53, zone_name) -> None:
    name, zid = zone_name
    plan = Route53Publisher().plan(f"shop.{name}", [Expected(f"_v.shop.{name}", "TXT", "t")])
    assert plan.zone_id == zid and plan.zone == name
    with pytest.raises(OperationFailed, match="no public Route 53 hosted zone for nowhere-"):
        Route53Publisher().plan(f"nowhere-{uuid.uuid4().hex[:6]}.test.", [Expected("_v.nowhere.test.", "TXT", "t")])
    with pytest.raises(OperationFailed, match="is not in the hosted zone"):
        Route53Publisher().plan(name, [Expected("_v.elsewhere.test.", "TXT", "t")], zone_id=zid)


def test_restore_puts_record_sets_back(r53, zone_name) -> None:
    name, zid = zone_name
    put(r53, zid, f"_old.{name}", "TXT", ['"keep-me"'])
    pub = Route53Publisher()
    plan = pub.plan(name, [Expected(f"_old.{name}", "TXT", "new"), Expected(f"_new.{name}", "TXT", "n")])
    pub.apply(plan)
    assert values_at(r53, zid, f"_old.{name}", "TXT") == ['"keep-me"', '"new"']
    assert pub.restore(plan) == f"restored 2 record set(s) in {name.rstrip('.')}"
    assert values_at(r53, zid, f"_old.{name}", "TXT") == ['"keep-me"']
    assert values_at(r53, zid, f"_new.{name}", "TXT") == []


def test_wait_insync_polls_get_change_and_times_out(r53, zone_name) -> None:
    name, zid = zone_name
    pub = Route53Publisher()
    plan = pub.plan(name, [Expected(f"_p.{name}", "TXT", "p")])
    info = r53.change_resource_record_sets(
        HostedZoneId=zid,
        ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
            "Name": f"_p.{name}", "Type": "TXT", "TTL": 60, "ResourceRecords": [{"Value": '"p"'}]}}]},
    )["ChangeInfo"]  # fmt: skip
    pending = {"Id": info["Id"], "Status": "PENDING"}  # as real Route 53 reports a fresh change
    slept: list[float] = []
    assert pub.wait_insync(pending, timeout=30, sleep=slept.append)["status"] == "INSYNC"
    assert slept == [0.5]  # one poll of GetChange found it INSYNC
    with pytest.raises(OperationFailed, match="is still PENDING after 0 s"):
        pub.wait_insync(pending, timeout=0)
    assert plan.changed


# ------------------------------------------------------------------------------- lab DNS from Route 53


def test_seed_and_mirror_a_hosted_zone_into_the_lab_zone(r53) -> None:
    origin = f"lab{uuid.uuid4().hex[:6]}.test."
    zone = Zone(origin, [Record("www", "A", "192.0.2.10"), Record("@", "TXT", "x" * 300)])
    zid = seed_hosted_zone(r53, zone)
    assert seed_hosted_zone(r53, zone) == zid  # reused, not duplicated
    assert values_at(r53, zid, f"ns1.{origin}", "A") == ["127.0.0.1"]  # lab glue lives in Route 53 too
    source = Route53ZoneSource(zone, r53, zid)
    assert source.sync_once() == 0  # already identical
    put(r53, zid, f"_v.{origin}", "TXT", ['"a"', '"b"'])
    put(r53, zid, f"www.{origin}", "A", ["192.0.2.99"], ttl=30)
    serial = zone.serial
    assert source.sync_once() == 2
    assert zone.rrset("_v", "TXT").values == ("a", "b")
    assert zone.rrset("www", "A").values == ("192.0.2.99",) and zone.rrset("www", "A").ttl == 30
    assert zone.serial == serial + 2
    gone = {"Name": f"_v.{origin}", "Type": "TXT", "TTL": 60, "ResourceRecords": [{"Value": '"a"'}, {"Value": '"b"'}]}
    r53.change_resource_record_sets(
        HostedZoneId=zid, ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": gone}]}
    )
    assert source.sync_once() == 1 and zone.rrset("_v", "TXT") is None
    assert zone.rrset("@", "NS").values == (f"ns1.{origin}", f"ns2.{origin}")  # the lab's own, not awsdns


def test_lab_dns_publish_then_verify_end_to_end_with_a_lagging_server(
    lab_env: LocalAwsEndpoint, tmp_path: Path
) -> None:
    origin = f"lab{uuid.uuid4().hex[:6]}.test."
    control = tmp_path / "dns-faults.json"
    lab = LabDns(origin, [{"name": "www", "type": "A", "value": "192.0.2.10"}], servers=3,
                 faults={"ns3": "lag"}, control_file=control, interval=0.1)  # fmt: skip
    lab.start(lab_env.env())
    try:
        assert [s.fault for s in lab.servers] == [Fault.NONE, Fault.NONE, Fault.LAG]
        servers = [Server("127.0.0.1", s.port, s.name) for s in lab.servers]
        token = Expected(f"_verify.{origin}", "TXT", "lab-token")
        pub = Route53Publisher()
        pub.apply(pub.plan(origin, [token]))
        report = verify_domain(origin, [token], nameservers=servers, resolvers=[], wait=1, timeout=0.5)
        assert [r.status for r in report.records[0].authoritative] == [Status.PRESENT, Status.PRESENT, Status.ABSENT]
        assert {f.kind for f in report.findings} == {"stale_serial", "partial"}

        request_fault(control, "ns3", "none")  # the running lab picks it up on its next sync
        report = verify_domain(origin, [token], nameservers=servers, resolvers=[], wait=5, timeout=0.5)
        assert report.ok, report.findings
        assert lab.servers[2].fault is Fault.NONE and lab.source is not None and lab.source.last_error is None
    finally:
        lab.stop()


def test_lab_dns_config_errors(lab_env: LocalAwsEndpoint, tmp_path: Path) -> None:
    from migrate_cli.core.errors import ConfigError

    with pytest.raises(ConfigError, match="no server named ns5"):
        LabDns("a.test.", [], servers=2, faults={"ns5": "lag"})
    with pytest.raises(ConfigError, match="'slow' is not one of"):
        LabDns("a.test.", [], faults={"ns1": "slow"})
    with pytest.raises(ConfigError, match="'slow' is not one of"):
        request_fault(tmp_path / "f.json", "ns1", "slow")
    lab = LabDns.from_config({"zone": "b.test.", "servers": 1, "records": []})
    assert lab.count == 1 and lab.zone.origin == "b.test."
