"""Serve a lab `Zone` from a Route 53 hosted zone (moto), so `domain publish` -> `domain verify` works
end to end on one machine.

`seed_hosted_zone` copies a zone into Route 53 once; `Route53ZoneSource` then mirrors the hosted zone back
into the `Zone` every `interval` seconds through the Zone's public `set_records`/`delete_records` (no change
to `dns_server.py` needed). The apex SOA and NS stay the lab's own: they name the lab's servers, not
Route 53's. `LabDns` wraps it all for the lab manager: the zone, N authoritative servers, the mirror, and
faults (from lab.yaml, or live from a small JSON control file).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from migrate_cli.core.errors import ConfigError
from migrate_cli.dns.route53 import (
    iter_rrsets,
    logical_values,
    name_from_route53,
    record_value,
    route53_call,
)
from migrate_cli.lab.aws_endpoint import client_for
from migrate_cli.lab.dns_server import SUPPORTED_TYPES, AuthoritativeServer, Fault, Zone, normalize_value

DEFAULT_INTERVAL = 0.5
Key = tuple[str, str]  # (absolute name, type)


def _zone_rrsets(zone: Zone) -> dict[Key, tuple[int, list[str]]]:
    """The zone's record sets except the apex SOA/NS, as {(name, type): (ttl, values)}."""
    out: dict[Key, tuple[int, list[str]]] = {}
    for rr in zone.records():
        if rr.name == zone.origin and rr.rtype in ("SOA", "NS"):
            continue
        ttl, values = out.get((rr.name, rr.rtype), (rr.ttl, []))
        values.append(rr.value)
        out[(rr.name, rr.rtype)] = (ttl, values)
    return out


def find_or_create_hosted_zone(r53: Any, origin: str) -> str:
    """The Id of the public hosted zone named `origin`, created when there is none."""
    resp = route53_call(r53.list_hosted_zones_by_name, DNSName=origin, MaxItems="20")
    for hz in resp.get("HostedZones", []):
        if name_from_route53(hz["Name"]) == origin and not hz.get("Config", {}).get("PrivateZone"):
            return hz["Id"]
    created = route53_call(
        r53.create_hosted_zone,
        Name=origin,
        CallerReference=f"migrate-lab-{origin}-{time.time_ns()}",
        HostedZoneConfig={"Comment": "migrate lab zone", "PrivateZone": False},
    )
    return created["HostedZone"]["Id"]


def seed_hosted_zone(r53: Any, zone: Zone) -> str:
    """Create (or reuse) the hosted zone for `zone.origin` and UPSERT every record of the zone into it
    (except the apex SOA/NS, which Route 53 owns). Returns the hosted zone Id."""
    zone_id = find_or_create_hosted_zone(r53, zone.origin)
    changes = [
        {
            "Action": "UPSERT",
            "ResourceRecordSet": {
                "Name": name,
                "Type": rtype,
                "TTL": ttl,
                "ResourceRecords": [{"Value": record_value(rtype, v)} for v in values],
            },
        }
        for (name, rtype), (ttl, values) in _zone_rrsets(zone).items()
    ]
    if changes:
        route53_call(
            r53.change_resource_record_sets,
            HostedZoneId=zone_id,
            ChangeBatch={"Comment": "migrate lab: seed", "Changes": changes},
        )
    return zone_id


class Route53ZoneSource:
    """Mirrors a Route 53 hosted zone into a live `Zone` (all record sets except the apex SOA/NS)."""

    def __init__(self, zone: Zone, r53: Any, zone_id: str, interval: float = DEFAULT_INTERVAL) -> None:
        self.zone = zone
        self.r53 = r53
        self.zone_id = zone_id
        self.interval = interval
        self.last_error: str | None = None
        self.syncs = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._hooks: list[Any] = []

    def desired(self) -> dict[Key, tuple[int, list[str]]]:
        """What the hosted zone holds, in Zone terms (alias and unsupported types left out)."""
        out: dict[Key, tuple[int, list[str]]] = {}
        for rrset in iter_rrsets(self.r53, self.zone_id):
            name, rtype = name_from_route53(rrset["Name"]), rrset["Type"]
            if rtype not in SUPPORTED_TYPES or "AliasTarget" in rrset or "SetIdentifier" in rrset:
                continue
            if name == self.zone.origin and rtype in ("SOA", "NS"):
                continue
            out[(name, rtype)] = (int(rrset.get("TTL", 300)), logical_values(rrset))
        return out

    def sync_once(self) -> int:
        """Bring the Zone in line with the hosted zone now; returns how many record sets changed."""
        want = self.desired()
        have = _zone_rrsets(self.zone)
        changed = 0
        for key in sorted(set(have) - set(want)):  # deletions first: a new CNAME may replace old data
            with contextlib.suppress(ValueError):
                self.zone.delete_records(*key)
                changed += 1
        for key, (ttl, values) in sorted(want.items()):
            current = have.get(key)
            same = current is not None and current[0] == ttl
            if same and sorted(current[1]) == sorted(_normal(self.zone, key, values)):
                continue
            try:
                self.zone.set_records(key[0], key[1], values, ttl)
                changed += 1
            except ValueError as e:  # data the lab zone cannot hold (e.g. CNAME beside other data)
                self.last_error = f"{key[0]} {key[1]}: {e}"
        self.syncs += 1
        for hook in self._hooks:
            hook()
        return changed

    def add_hook(self, hook: Any) -> None:
        """Call `hook()` after every sync (the lab uses it to apply live fault requests)."""
        self._hooks.append(hook)

    def start(self) -> None:
        """Sync now, then keep syncing in a daemon thread until `stop()`."""
        self.sync_once()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=f"r53-zone-{self.zone.origin}", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sync_once()
                self.last_error = None
            except Exception as e:  # keep serving the last good copy when the endpoint hiccups
                self.last_error = str(e)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


def _normal(zone: Zone, key: Key, values: list[str]) -> list[str]:
    """Values as the Zone stores them (so an unchanged record set is not rewritten every sync)."""
    try:
        return [normalize_value(key[1], v, zone.origin) for v in values]
    except ValueError:
        return values


class LabDns:
    """The lab's authoritative DNS: one Zone mirrored from a Route 53 hosted zone, served by N servers.

    Faults come from lab.yaml (`dns.faults: {ns2: lag}`) and can be changed while the lab runs by writing
    `{"ns2": "lag"}` (or "none", "servfail", "refused", "timeout") to the control file.
    """

    def __init__(
        self,
        origin: str,
        records: list[dict[str, Any]],
        *,
        servers: int = 2,
        faults: Mapping[str, str] | None = None,
        control_file: Path | None = None,
        interval: float = DEFAULT_INTERVAL,
    ) -> None:
        if servers < 1:
            raise ConfigError(f"dns.servers: {servers}: the lab needs at least one DNS server")
        self.zone = Zone.from_records(origin, records, ns=[f"ns{i + 1}" for i in range(servers)])
        self.count = servers
        self.faults = {str(k): _fault(str(k), str(v)) for k, v in (faults or {}).items()}
        self.control_file = control_file
        self.interval = interval
        self.servers: list[AuthoritativeServer] = []
        self.source: Route53ZoneSource | None = None
        self.hosted_zone_id: str | None = None
        self._control_mtime: float | None = None
        unknown = sorted(set(self.faults) - {f"ns{i + 1}" for i in range(servers)})
        if unknown:
            raise ConfigError(f"dns.faults: no server named {', '.join(unknown)} (the lab has ns1..ns{servers})")

    @classmethod
    def from_config(cls, dns_conf: Mapping[str, Any], control_file: Path | None = None) -> LabDns:
        """From lab.yaml's `dns:` mapping (zone, servers, records, faults)."""
        return cls(
            str(dns_conf.get("zone", "lab.migrate.test.")),
            list(dns_conf.get("records", [])),
            servers=int(dns_conf.get("servers", 2)),
            faults=dns_conf.get("faults") or {},
            control_file=control_file,
        )

    def start(self, aws_env: Mapping[str, str], address: str = "127.0.0.1") -> list[AuthoritativeServer]:
        """Seed the hosted zone, start the mirror and the servers; returns the servers (ns1, ns2, ...)."""
        r53 = client_for(aws_env, "route53")  # the lab endpoint in `aws_env`, not the process environment
        self.hosted_zone_id = seed_hosted_zone(r53, self.zone)
        self.source = Route53ZoneSource(self.zone, r53, self.hosted_zone_id, self.interval)
        self.source.sync_once()
        for index in range(self.count):
            server = AuthoritativeServer(self.zone, name=f"ns{index + 1}", address=address)
            server.start()
            self.servers.append(server)
        for name, fault in self.faults.items():
            self.set_fault(name, fault)
        self.source.add_hook(self.apply_control_file)
        self.source.start()
        return self.servers

    @property
    def nameservers(self) -> list[str]:
        return [f"{s.address}:{s.port}" for s in self.servers]

    def set_fault(self, name: str, fault: Fault | str) -> None:
        for server in self.servers:
            if server.name == name:
                server.set_fault(fault)
                return
        raise ConfigError(f"no lab DNS server named {name}")

    def apply_control_file(self) -> None:
        """Apply `{"ns2": "lag"}` from the control file when it changed since last time."""
        path = self.control_file
        if path is None or not path.is_file():
            return
        mtime = path.stat().st_mtime
        if mtime == self._control_mtime:
            return
        self._control_mtime = mtime
        try:
            wanted = json.loads(path.read_text() or "{}")
            for name, fault in dict(wanted).items():
                self.set_fault(str(name), _fault(str(name), str(fault)))
        except (ValueError, TypeError, ConfigError) as e:
            if self.source is not None:
                self.source.last_error = f"{path}: {e}"

    def stop(self) -> None:
        if self.source is not None:
            self.source.stop()
            self.source = None
        for server in self.servers:
            server.stop()
        self.servers = []


def _fault(name: str, value: str) -> Fault:
    try:
        return Fault(value.lower())
    except ValueError:
        choices = ", ".join(f.value for f in Fault)
        raise ConfigError(f"dns.faults.{name}: '{value}' is not one of {choices}") from None


def request_fault(control_file: Path, server: str, fault: str) -> None:
    """Ask a running lab to switch one DNS server's fault (merged into the control file)."""
    _fault(server, fault)
    current: dict[str, str] = {}
    if control_file.is_file():
        with contextlib.suppress(ValueError):
            current = dict(json.loads(control_file.read_text() or "{}"))
    current[server] = fault.lower()
    control_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = control_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(current))
    tmp.replace(control_file)
