"""The embedded lab: a local AWS endpoint, simulated SSH devices and authoritative DNS, on 127.0.0.1."""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

import yaml

from migrate_cli.core.errors import ConfigError
from migrate_cli.core.inventory import load_inventory
from migrate_cli.core.yamlio import load_yaml
from migrate_cli.dns.route53_source import LabDns
from migrate_cli.failover.service import WatcherProcess
from migrate_cli.lab.aws_endpoint import LocalAwsEndpoint
from migrate_cli.lab.devices import DeviceFleet, DeviceSpec
from migrate_cli.lab.devices.base_config import lab_connectivity_secrets, lab_initial_config
from migrate_cli.lab.dns_server import AuthoritativeServer, Zone
from migrate_cli.lab.info import LabInfo
from migrate_cli.lab.netns import IspLab
from migrate_cli.lab.netns import available as netns_unavailable_reason
from migrate_cli.transfer.sample import write_sample_site

PASSWORD_ENV = "MIGRATE_LAB_PASSWORD"
ENABLE_ENV = "MIGRATE_LAB_ENABLE"
INVENTORY_FILES = ("hosts.yaml", "groups.yaml", "defaults.yaml")
SITE_BUCKET = "lab-site"  # the bucket the demo copies the sample site into


class Lab:
    """Start and stop every lab service; write a runtime inventory that points at them."""

    def __init__(self, source_inventory: Path, state_dir: Path) -> None:
        self.source = source_inventory
        self.dir = state_dir / "lab"
        self.runtime_inventory = self.dir / "inventory"
        self.known_hosts = self.dir / "known_hosts"
        self.env_file = self.dir / "env.sh"
        self.info_file = self.dir / "lab.json"
        self.sample_site = self.dir / "sample-site"
        self.config = self._load_config()
        self.aws: LocalAwsEndpoint | None = None
        self.dns_servers: list[AuthoritativeServer] = []
        self.zone: Zone | None = None
        self.lab_dns: LabDns | None = None
        self.isp: IspLab | None = None
        self.failover_watch: WatcherProcess | None = None
        self.fleet: DeviceFleet | None = None
        self.info: LabInfo | None = None
        self._secrets: dict[str, str] = {}

    def _load_config(self) -> dict[str, Any]:
        if not (self.source / "hosts.yaml").is_file():
            raise ConfigError(f"no lab inventory here (expected {self.source / 'hosts.yaml'}); use --lab-inventory")
        path = self.source / "lab.yaml"
        config = load_yaml(path) if path.is_file() else {}
        if not isinstance(config, dict):
            raise ConfigError("the lab description must be a mapping", file=path, line=1)
        return config

    def start(self) -> LabInfo:
        """Start AWS, DNS and devices; on any failure stop what started and re-raise."""
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> LabInfo:
        self._secrets = {
            PASSWORD_ENV: os.environ.get(PASSWORD_ENV) or secrets.token_urlsafe(12),
            ENABLE_ENV: os.environ.get(ENABLE_ENV) or secrets.token_urlsafe(12),
            **{k: os.environ.get(k) or v for k, v in lab_connectivity_secrets().items()},
        }
        region = str(self.config.get("aws", {}).get("region", "us-east-1"))
        self.aws = LocalAwsEndpoint(region=region)
        aws_url = self.aws.start()
        write_sample_site(self.sample_site)
        self.aws.client("s3").create_bucket(Bucket=SITE_BUCKET)

        dns_conf = self.config.get("dns", {})
        origin = str(dns_conf.get("zone", "lab.migrate.test."))
        self.lab_dns = LabDns.from_config(dns_conf, control_file=self.dir / "dns-faults.json")
        self.dns_servers = self.lab_dns.start(self.aws.env())  # seeds the moto hosted zone, mirrors it live
        self.zone = self.lab_dns.zone

        if netns_unavailable_reason() is None:  # root and iproute2: real ISP links in namespaces
            self.isp = IspLab().start()

        inventory = load_inventory(self.source)
        specs = [
            DeviceSpec(
                name=host.name,
                username=host.username or "admin",
                password=self._secrets[PASSWORD_ENV],
                enable_secret=self._secrets[ENABLE_ENV],
                platform=host.platform or "cisco_ios",
                initial_config=lab_initial_config(host.data),
            )
            for host in inventory.hosts.values()
        ]
        self.fleet = DeviceFleet(specs, self.dir / "keys")
        self.fleet.start()
        self.fleet.write_known_hosts(self.known_hosts)

        nameservers = [f"{s.address}:{s.port}" for s in self.dns_servers]
        self._write_runtime_inventory(aws_url, region, origin, nameservers)
        if self.isp is not None:
            self.failover_watch = WatcherProcess(
                self.dir.parent, self.runtime_inventory, log=self.dir / "failover-watch.log"
            ).start()
        self.info = LabInfo(
            pid=os.getpid(),
            started=time.time(),
            aws_url=aws_url,
            region=region,
            dns_zone=origin,
            dns_servers=nameservers,
            devices={name: dev.port for name, dev in self.fleet.devices.items()},
            inventory=str(self.runtime_inventory.resolve()),
            env_file=str(self.env_file.resolve()),
            extra={
                "dns_hosted_zone": self.lab_dns.hosted_zone_id,
                "dns_faults_file": str(self.dir / "dns-faults.json"),
            },
        )
        self._write_env_file()
        self.info_file.write_text(json.dumps(self.info.__dict__, indent=2))
        return self.info

    def env(self) -> dict[str, str]:
        """Environment for tools pointed at the lab: AWS endpoint, dummy credentials, device secrets."""
        assert self.aws is not None
        return {
            **self.aws.env(),
            **self._secrets,
            "MIGRATE_INVENTORY": str(self.runtime_inventory.resolve()),
        }

    def _write_env_file(self) -> None:
        lines = ["# Source this file to point migrate, aws and boto3 at the running lab."]
        lines += [f"export {k}={v}" for k, v in sorted(self.env().items())]
        fd = os.open(self.env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("\n".join(lines) + "\n")

    def _write_runtime_inventory(self, aws_url: str, region: str, zone: str, nameservers: list[str]) -> None:
        assert self.fleet is not None
        self.runtime_inventory.mkdir(parents=True, exist_ok=True)
        hosts = yaml.safe_load((self.source / "hosts.yaml").read_text()) or {}
        for name, dev in self.fleet.devices.items():
            entry = hosts.get(name) or {}
            entry["hostname"] = "127.0.0.1"
            entry["port"] = dev.port
            if self.isp is not None and (entry.get("data") or {}).get("uplinks"):
                entry["data"].setdefault("failover", {}).update(self.isp.inventory_data())
            hosts[name] = entry
        groups_path = self.source / "groups.yaml"
        groups = yaml.safe_load(groups_path.read_text()) if groups_path.is_file() else {}
        defaults_path = self.source / "defaults.yaml"
        defaults = (yaml.safe_load(defaults_path.read_text()) if defaults_path.is_file() else {}) or {}
        netmiko = defaults.setdefault("connection_options", {}).setdefault("netmiko", {})
        netmiko.setdefault("extras", {})["known_hosts"] = str(self.known_hosts.resolve())
        defaults.setdefault("data", {})["lab"] = {
            "aws": {"endpoint_url": aws_url, "region": region},
            "dns": {"zone": zone, "nameservers": nameservers},
            "data": {"bucket": SITE_BUCKET, "sample_site": str(self.sample_site.resolve())},
        }
        header = "# Written by `migrate lab up`: the lab inventory with the ports of this lab run.\n"
        for file_name, content in zip(INVENTORY_FILES, (hosts, groups or {}, defaults), strict=True):
            (self.runtime_inventory / file_name).write_text(header + yaml.safe_dump(content, sort_keys=False))

    def stop(self) -> None:
        """Stop everything that was started (idempotent) and forget the running lab."""
        if self.failover_watch is not None:
            self.failover_watch.stop()
            self.failover_watch = None
        if self.fleet is not None:
            self.fleet.stop()
            self.fleet = None
        if self.lab_dns is not None:
            self.lab_dns.stop()
            self.lab_dns = None
        for server in self.dns_servers:
            server.stop()
        self.dns_servers = []
        if self.aws is not None:
            self.aws.stop()
            self.aws = None
        if self.isp is not None:
            self.isp.stop()
            self.isp = None
        if self.info_file.is_file():
            try:
                recorded = json.loads(self.info_file.read_text())
            except ValueError:
                recorded = {}
            if recorded.get("pid") == os.getpid():
                self.info_file.unlink()

    def __enter__(self) -> Lab:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
