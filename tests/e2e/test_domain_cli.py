"""`migrate domain verify | publish | token` as a user runs them: a subprocess, real DNS servers on
127.0.0.1 started by the test, and the lab's moto endpoint for Route 53, SES and ACM."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from migrate_cli.dns.lab_peers import LabResolver, start_on_shared_port
from migrate_cli.dns.route53_source import LabDns
from migrate_cli.dns.servers import Server
from migrate_cli.lab.aws_endpoint import LocalAwsEndpoint
from migrate_cli.lab.dns_server import AuthoritativeServer, Fault, Record, Zone

ZONE = "example.test"


def base_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MIGRATE_"))}
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        MIGRATE_STATE_DIR=str(tmp_path / "state"),
        NO_COLOR="1",
    )
    return env


def migrate(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "migrate_cli", *args],
        env=env or base_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def zone() -> Zone:
    return Zone(f"{ZONE}.", [Record("_verify", "TXT", "token-123"), Record("www", "A", "192.0.2.10")])


@pytest.fixture
def servers(zone: Zone) -> Iterator[list[AuthoritativeServer]]:
    started = [AuthoritativeServer(zone, name=f"ns{i}") for i in (1, 2)]
    for s in started:
        s.start()
    yield started
    for s in started:
        s.stop()


def ns_args(servers: list[AuthoritativeServer]) -> list[str]:
    return [arg for s in servers for arg in ("--nameserver", f"127.0.0.1:{s.port}")]


def test_verify_exit_0_when_every_server_has_it(tmp_path: Path, servers) -> None:
    out = migrate(tmp_path, "domain", "verify", ZONE, "--txt", "_verify=token-123", *ns_args(servers), "--no-resolvers")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "example.test: 2 authoritative server(s) (given with --nameserver)"
    assert lines[1] == 'TXT _verify.example.test "token-123"'
    assert lines[2] == f'  authoritative 127.0.0.1:{servers[0].port}: present ("token-123")'
    assert lines[-1] == "verified: all 2 authoritative servers of example.test. serve the expected records"
    assert out.stderr == ""


def test_verify_exit_1_explains_a_stale_server(tmp_path: Path, servers, zone: Zone) -> None:
    servers[1].set_fault(Fault.LAG)
    zone.set_records("_verify", "TXT", ["token-456"])
    out = migrate(tmp_path, "domain", "verify", ZONE, "--txt", "_verify=token-456", *ns_args(servers), "--no-resolvers")
    assert out.returncode == 1
    assert f'  authoritative 127.0.0.1:{servers[1].port}: wrong value ("token-123")' in out.stdout
    assert "diagnosis: The servers do not serve the same version of example.test" in out.stdout
    assert out.stdout.splitlines()[-1] == "not verified: TXT _verify.example.test. on 1/2"


def test_verify_json(tmp_path: Path, servers) -> None:
    servers[0].set_fault(Fault.REFUSED)
    out = migrate(tmp_path, "--json", "domain", "verify", ZONE, "--txt", "_verify=token-123", *ns_args(servers),
                  "--no-resolvers")  # fmt: skip
    assert out.returncode == 1
    doc = json.loads(out.stdout)
    assert doc["ok"] is False and doc["zone"] == "example.test."
    assert [r["status"] for r in doc["records"][0]["authoritative"]] == ["REFUSED", "present"]
    assert [f["kind"] for f in doc["findings"]] == ["server_refused", "partial"]


def test_verify_quiet_prints_only_the_verdict(tmp_path: Path, servers) -> None:
    out = migrate(tmp_path, "-q", "domain", "verify", ZONE, "--txt", "_verify=token-123", *ns_args(servers),
                  "--no-resolvers")  # fmt: skip
    assert out.returncode == 0 and out.stdout.splitlines() == [
        "verified: all 2 authoritative servers of example.test. serve the expected records"
    ]


def test_verify_follows_the_delegation_and_asks_a_resolver(tmp_path: Path) -> None:
    child = Zone(f"{ZONE}.", [Record("@", "NS", "ns1"), Record("@", "NS", "ns2"), Record("ns1", "A", "127.0.0.2"),
                              Record("ns2", "A", "127.0.0.3"), Record("_verify", "TXT", "token-123")])  # fmt: skip
    parent = Zone("test.", [Record("example", "NS", "ns1.example.test."), Record("example", "NS", "ns2.example.test."),
                            Record("ns1.example", "A", "127.0.0.2"), Record("ns2.example", "A", "127.0.0.3")],
                  ns=["a.nic"])  # fmt: skip
    port, peers = start_on_shared_port([(parent, "parent", "127.0.0.1"), (child, "ns1", "127.0.0.2"),
                                        (child, "ns2", "127.0.0.3")])  # fmt: skip
    resolver = LabResolver([Server("127.0.0.2", port)])
    resolver.start()
    try:
        where = ["--parent-nameserver", f"127.0.0.1:{port}", "--resolver", f"127.0.0.1:{resolver.port}"]
        out = migrate(tmp_path, "domain", "verify", ZONE, "--txt", "_verify=token-123", *where)
    finally:
        resolver.stop()
        for p in peers:
            p.stop()
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.splitlines()[0] == (
        "example.test: 2 authoritative server(s), delegated by test to ns1.example.test, ns2.example.test"
    )
    assert f"  authoritative ns1.example.test (127.0.0.2:{port}): present" in out.stdout
    assert f"  resolver 127.0.0.1:{resolver.port}: present" in out.stdout


def test_wait_polls_until_published(tmp_path: Path, servers, zone: Zone) -> None:
    timer = threading.Timer(1.5, lambda: zone.set_records("_later", "TXT", ["v"]))
    timer.start()
    out = migrate(tmp_path, "domain", "verify", ZONE, "--txt", "_later=v", *ns_args(servers), "--no-resolvers",
                  "--wait", "20")  # fmt: skip
    timer.join()
    assert out.returncode == 0, out.stdout
    assert "waiting: 0/2 present on the authoritative servers (attempt 1); next check in 1 s" in out.stdout
    assert out.stdout.splitlines()[-1].startswith("verified:")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["domain", "verify", "exa mple.com", "--txt", "_v=x"], "domain 'exa mple.com' is not a valid DNS name"),
        (["domain", "verify", "localhost", "--txt", "_v=x"], "has a single label"),
        (["domain", "verify", "example.com", "--txt", "_v"], "--txt '_v': expected NAME=VALUE"),
        (["domain", "verify", "example.com", "--txt", "=x"], "--txt '=x': expected NAME=VALUE"),
        (["domain", "verify", "example.com", "--cname", "_a=not a name"], "--cname CNAME target 'not a name'"),
        (["domain", "verify", "example.com"], "give at least one --txt NAME=VALUE or --cname NAME=TARGET"),
        (["domain", "verify", "example.com", "--txt", "_v=x", "--nameserver", "1.2.3.4:99999"],
         "--nameserver: '1.2.3.4:99999': port must be 1-65535"),
        (["domain", "publish", "example.com", "--txt", "_v=x", "--provider", "cloudflare"],
         "--provider 'cloudflare': only route53 is supported"),
        (["domain", "publish", "bad..name", "--txt", "_v=x"], "domain 'bad..name' is not a valid DNS name"),
        (["domain", "token", "example.com", "--service", "dkim"], "--service 'dkim': choose one of ses, acm"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    out = migrate(tmp_path, *args)
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("migrate: error: ")
    assert message in out.stderr


# ------------------------------------------------------------------------------------- Route 53 (moto)


@pytest.fixture
def aws_env(endpoint: LocalAwsEndpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = base_env(tmp_path) | endpoint.env()
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)  # boto3 in this process (test setup) talks to the same endpoint
    return env


def test_publish_check_apply_idempotent(tmp_path: Path, aws_env: dict[str, str]) -> None:
    name = f"pub{uuid.uuid4().hex[:6]}.test"
    r53 = boto3.client("route53")
    zid = r53.create_hosted_zone(Name=name, CallerReference=name)["HostedZone"]["Id"]

    dry = migrate(tmp_path, "domain", "publish", name, "--txt", "_v=tok", "--check", env=aws_env)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [
        f"Route 53 hosted zone {name} ({zid.rsplit('/', 1)[-1]})",
        f'  would UPSERT TXT _v.{name}: add "tok"',
        "dry run: 1 record set(s) would change; nothing was changed",
    ]
    names = [r["Name"] for r in r53.list_resource_record_sets(HostedZoneId=zid)["ResourceRecordSets"]]
    assert f"_v.{name}." not in names

    real = migrate(tmp_path, "domain", "publish", name, "--txt", "_v=tok", env=aws_env)
    assert real.returncode == 0 and real.stdout.splitlines()[-1].startswith("published: change ")
    assert real.stdout.splitlines()[-1].endswith(" INSYNC after 0.0 s")

    again = migrate(tmp_path, "--json", "domain", "publish", name, "--txt", "_v=tok", env=aws_env)
    doc = json.loads(again.stdout)
    assert again.returncode == 0 and doc["changed"] is False and doc["applied"] is None
    assert doc["changes"][0]["after"] == ["tok"]


def test_publish_without_a_hosted_zone_fails(tmp_path: Path, aws_env: dict[str, str]) -> None:
    out = migrate(tmp_path, "domain", "publish", "no-zone-here.test", "--txt", "_v=tok", env=aws_env)
    assert out.returncode == 1
    assert out.stderr == "migrate: error: no public Route 53 hosted zone for no-zone-here.test or any parent of it\n"


def test_token_ses_publish_and_verify(tmp_path: Path, aws_env: dict[str, str], endpoint: LocalAwsEndpoint) -> None:
    lab = LabDns(f"ses{uuid.uuid4().hex[:6]}.test.", [], servers=2, interval=0.1)
    lab.start(endpoint.env())
    try:
        args = [arg for ns in lab.nameservers for arg in ("--nameserver", ns)]
        out = migrate(tmp_path, "domain", "token", lab.zone.origin, "--service", "ses", "--publish", *args,
                      "--no-resolvers", "--wait", "10", env=aws_env)  # fmt: skip
    finally:
        lab.stop()
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("SES domain: status ") and lines[0].endswith("; publish this in DNS:")
    assert lines[1].startswith(f'  TXT _amazonses.{lab.zone.origin.rstrip(".")} "')
    assert any(line.startswith(f'  UPSERT TXT _amazonses.{lab.zone.origin.rstrip(".")}: add "') for line in lines)
    assert lines[-1].startswith("verified: all 2 authoritative servers")


def test_token_acm_json_without_verify(tmp_path: Path, aws_env: dict[str, str]) -> None:
    name = f"acm{uuid.uuid4().hex[:6]}.test"
    out = migrate(tmp_path, "--json", "domain", "token", name, "--service", "acm", "--alt-name", f"www.{name}",
                  "--no-verify", env=aws_env)  # fmt: skip
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["ok"] and doc["verify"] is None and doc["publish"] is None
    token = doc["token"]
    assert token["service"] == "acm" and token["certificate_arn"].startswith("arn:aws:acm:")
    assert [r["type"] for r in token["records"]] == ["CNAME", "CNAME"]
    assert all(r["value"].endswith(".acm-validations.aws.") for r in token["records"])
