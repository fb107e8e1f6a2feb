"""The playbook actions aws.check, domain.publish and domain.verify, run by the real runner against the
lab's moto endpoint and a Route 53-backed lab DNS (two name servers on 127.0.0.1)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from migrate_cli.core.actions import TaskContext, get_action
from migrate_cli.core.errors import ConfigErrors
from migrate_cli.core.events import Emitter, EventBus
from migrate_cli.core.execute import execute_playbook
from migrate_cli.core.inventory import load_inventory
from migrate_cli.core.runner import RunOptions
from migrate_cli.core.settings import Settings
from migrate_cli.dns.domain_actions import DomainPublishAction, PublishParams
from migrate_cli.dns.route53_source import LabDns
from migrate_cli.lab.aws_endpoint import LocalAwsEndpoint
from tests.conftest import point_at, write


@pytest.fixture
def lab(lab_env: LocalAwsEndpoint) -> Iterator[LabDns]:
    dns = LabDns(f"pb{uuid.uuid4().hex[:6]}.test.", [{"name": "www", "type": "A", "value": "192.0.2.10"}],
                 interval=0.1)  # fmt: skip
    dns.start(lab_env.env())
    yield dns
    dns.stop()


PLAYBOOK = """
name: Prerequisites
vars:
  zone: {zone}
  ns: {ns}
steps:
  - name: AWS answers
    action: aws.check
    with:
      services: [sts, route53, acm, ses]
  - name: Publish the token
    action: domain.publish
    with:
      domain: "{{{{ zone }}}}"
      txt:
        _migrate-verify: demo-token
  - name: Every name server has it
    action: domain.verify
    with:
      domain: "{{{{ zone }}}}"
      txt:
        _migrate-verify: demo-token
      nameservers: "{{{{ ns }}}}"
      resolvers: []
      wait: 5
      timeout: 0.5
"""


def txt_values(zone: str) -> list[str]:
    r53 = boto3.client("route53")
    (hz,) = [z for z in r53.list_hosted_zones()["HostedZones"] if z["Name"] == zone]
    for rrset in r53.list_resource_record_sets(HostedZoneId=hz["Id"])["ResourceRecordSets"]:
        if rrset["Name"] == f"_migrate-verify.{zone}":
            return [r["Value"] for r in rrset["ResourceRecords"]]
    return []


def test_check_then_apply_then_idempotent(lab: LabDns, small_inventory: Path, tmp_path: Path) -> None:
    zone = lab.zone.origin
    book = write(tmp_path / "prereq.yml", PLAYBOOK.format(zone=zone, ns=json.dumps(lab.nameservers)))
    settings = Settings(inventory_dir=small_inventory, state_dir=tmp_path / "state")

    dry = execute_playbook(settings, book, RunOptions(check=True))
    assert dry.ok, [(s.name, [h.error for h in s.hosts]) for s in dry.steps]
    aws_step, publish_step, verify_step = dry.steps
    assert aws_step.hosts[0].data["account"] == "123456789012"
    assert aws_step.hosts[0].data["services"] == "sts, route53, acm, ses"
    assert publish_step.hosts[0].status == "changed"
    assert publish_step.hosts[0].plan.changes == [f'UPSERT TXT _migrate-verify.{zone.rstrip(".")}: add "demo-token"']
    assert verify_step.hosts[0].data["now"].startswith("not verified")
    assert txt_values(zone) == []  # nothing changed in the dry run

    real = execute_playbook(settings, book, RunOptions(yes=True))
    assert real.ok, [(s.name, [h.error for h in s.hosts]) for s in real.steps]
    assert real.steps[1].hosts[0].data["status"] == "INSYNC"
    assert real.steps[2].hosts[0].data["servers"] == 2
    assert txt_values(zone) == ['"demo-token"']

    again = execute_playbook(settings, book, RunOptions(yes=True))
    assert again.ok and again.steps[1].hosts[0].status == "ok"
    assert again.steps[1].hosts[0].data["note"] == "already published"


def test_verify_step_fails_with_the_diagnosis(lab: LabDns, small_inventory: Path, tmp_path: Path) -> None:
    lab.set_fault("ns2", "refused")
    book = write(
        tmp_path / "verify.yml",
        f"""
        name: Verify only
        steps:
          - name: Every name server has it
            action: domain.verify
            with:
              domain: {lab.zone.origin}
              txt: {{www: not-there}}
              nameservers: {json.dumps(lab.nameservers)}
              resolvers: []
              timeout: 0.5
        """,
    )
    settings = Settings(inventory_dir=small_inventory, state_dir=tmp_path / "state")
    result = execute_playbook(settings, book, RunOptions())
    assert result.status == "failed"
    error = result.steps[0].hosts[0].error or ""
    assert error.startswith(f"plan: not verified: TXT www.{lab.zone.origin} on 0/2")
    assert "REFUSED the query" in error


def test_bad_parameters_name_the_file_and_line(small_inventory: Path, tmp_path: Path) -> None:
    book = write(
        tmp_path / "bad.yml",
        """
        name: Bad
        steps:
          - name: publish
            action: domain.publish
            with:
              domain: "not a domain"
              txt: {_v: x}
          - name: verify
            action: domain.verify
            with:
              domain: example.com
              nameservers: ["127.0.0.1:5353"]
          - name: verify bad server
            action: domain.verify
            with:
              domain: example.com
              txt: {_v: x}
              nameservers: ["127.0.0.1:99999"]
          - name: aws
            action: aws.check
            with:
              services: [sts, nope]
        """,
    )
    settings = Settings(inventory_dir=small_inventory, state_dir=tmp_path / "state")
    with pytest.raises(ConfigErrors) as err:
        execute_playbook(settings, book, RunOptions(check=True))
    text = err.value.location_message()
    assert f"{book}:6: steps[0].with.domain: Value error, domain 'not a domain' is not a valid DNS name" in text
    assert "steps[1].with: Value error, give at least one record in txt or cname" in text
    assert "steps[2].with.nameservers: Value error, '127.0.0.1:99999': port must be 1-65535" in text
    assert "steps[3].with.services: Value error, 'nope': not a service migrate can check" in text


def test_publish_rollback_restores_route53(lab: LabDns, small_inventory: Path) -> None:
    action = get_action("domain.publish")()
    assert isinstance(action, DomainPublishAction)
    params = PublishParams(domain=lab.zone.origin, txt={"_rb": ["one", "two"]})
    ctx = TaskContext(
        "t", None, params, False, Settings(), load_inventory(small_inventory), Emitter(EventBus(), 0, "s", None)
    )
    plan = action.plan(ctx)
    applied = action.apply(ctx, plan)
    action.verify(ctx, plan, applied)
    assert action.rollback(ctx, plan, applied) == f"restored 1 record set(s) in {lab.zone.origin.rstrip('.')}"
    assert action.plan(ctx).changes == [f'UPSERT TXT _rb.{lab.zone.origin.rstrip(".")}: add "one", "two"']


DEMO_STEPS = """
name: Lab demo prerequisites (the steps proposed for playbooks/demo.yml)
vars:
  zone: lab.migrate.test
  verify_token: migrate-demo-token
steps:
  - name: AWS account and the services the runbook uses answer
    action: aws.check
  - name: Publish the domain ownership token in Route 53
    action: domain.publish
    with:
      domain: "{{ zone }}"
      txt:
        _migrate-verify: "{{ verify_token }}"
  - name: Every authoritative name server has the token
    action: domain.verify
    with:
      domain: "{{ zone }}"
      txt:
        _migrate-verify: "{{ verify_token }}"
      nameservers: "{{ defaults.lab.dns.nameservers }}"
      resolvers: []
      wait: 15
  - name: The site's zone resolves at every name server
    action: dns.resolve
    with:
      name: "www.{{ zone }}"
      type: A
      nameservers: "{{ defaults.lab.dns.nameservers }}"
      expect: [192.0.2.10]
"""


def test_lab_yaml_zone_from_route53_with_the_demo_steps(
    endpoint: LocalAwsEndpoint, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """What the lab manager will do (LabDns.from_config on inventory/lab/lab.yaml) and the demo steps."""
    import yaml

    from tests.conftest import REPO

    point_at(endpoint, monkeypatch)
    conf = yaml.safe_load((REPO / "inventory" / "lab" / "lab.yaml").read_text())["dns"]
    lab = LabDns.from_config(conf, control_file=tmp_path / "dns-faults.json")
    lab.start(endpoint.env())
    try:
        inv = tmp_path / "inventory"
        write(inv / "hosts.yaml", "r1: {}\n")
        write(inv / "defaults.yaml", f"data:\n  lab:\n    dns:\n      nameservers: {json.dumps(lab.nameservers)}\n")
        book = write(tmp_path / "demo.yml", DEMO_STEPS)
        settings = Settings(inventory_dir=inv, state_dir=tmp_path / "state")
        result = execute_playbook(settings, book, RunOptions(yes=True))
        assert result.ok, [(s.name, [h.error for h in s.hosts]) for s in result.steps]
        assert [s.hosts[0].status for s in result.steps] in (
            ["ok", "changed", "ok", "ok"],
            ["ok", "ok", "ok", "ok"],  # the token is already there when this moto state saw an earlier run
        )
        assert lab.zone.rrset("_migrate-verify", "TXT").values == ("migrate-demo-token",)
        assert lab.zone.rrset("@", "MX").values == ("10 mail.lab.migrate.test.",)
    finally:
        lab.stop()
