"""`archive restore`: request temporary copies of archived objects and follow their status.

Status comes from HeadObject's `Restore` header: absent (not requested), `ongoing-request="true"` (in
progress), or `ongoing-request="false", expiry-date="..."` (readable until that date). GLACIER_IR objects
are readable at once and need no restore; Expedited retrieval does not exist for DEEP_ARCHIVE.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from migrate_cli.core.errors import ConfigError
from migrate_cli.transfer.backup.s3util import RESTORE_NEEDED, S3Location, check_bucket, error_code, s3_errors

TIERS = ("Bulk", "Standard", "Expedited")
_ONGOING = re.compile(r'ongoing-request="(true|false)"')
_EXPIRY = re.compile(r'expiry-date="([^"]+)"')


@dataclass(frozen=True)
class RestoreState:
    state: str  # not-requested | in-progress | restored
    expiry: str | None = None

    def text(self) -> str:
        if self.state == "restored":
            return f"restored until {self.expiry}" if self.expiry else "restored"
        return self.state.replace("-", " ")


def parse_restore(header: str | None) -> RestoreState:
    """The state described by a HeadObject `Restore` header."""
    if not header:
        return RestoreState("not-requested")
    ongoing = _ONGOING.search(header)
    expiry = _EXPIRY.search(header)
    if ongoing and ongoing.group(1) == "true":
        return RestoreState("in-progress")
    return RestoreState("restored", expiry.group(1) if expiry else None)


def check_tier(tier: str, what: str = "tier") -> str:
    for t in TIERS:
        if t.lower() == str(tier).lower():
            return t
    raise ConfigError(f"{what}: '{tier}' is not one of {', '.join(TIERS)}")


@dataclass
class Archived:
    key: str
    size: int
    storage_class: str


@dataclass
class RestoreSelection:
    location: S3Location
    single: bool  # the URL named one object
    archived: list[Archived] = field(default_factory=list)
    not_archived: list[Archived] = field(default_factory=list)  # readable already (incl. GLACIER_IR)


def select_archived(s3: Any, location: S3Location) -> RestoreSelection:
    """The object named by the URL if it exists, else every object under the prefix; ConfigError if none."""
    bucket = location.bucket
    check_bucket(s3, bucket)
    found: list[Archived] = []
    single = False
    if location.prefix and not location.prefix.endswith("/"):
        try:
            head = s3.head_object(Bucket=bucket, Key=location.prefix)
            found = [Archived(location.prefix, int(head["ContentLength"]), head.get("StorageClass") or "STANDARD")]
            single = True
        except ClientError as exc:
            if error_code(exc) not in ("404", "NoSuchKey", "NotFound"):
                with s3_errors(bucket):
                    raise
    if not single:
        with s3_errors(bucket):
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=location.prefix):
                for item in page.get("Contents", []):
                    found.append(Archived(item["Key"], int(item["Size"]), item.get("StorageClass") or "STANDARD"))
    if not found:
        raise ConfigError(f"no objects at {location.url}")
    sel = RestoreSelection(location=location, single=single)
    for obj in found:
        (sel.archived if obj.storage_class in RESTORE_NEEDED else sel.not_archived).append(obj)
    return sel


@dataclass
class RestoreRequest:
    key: str
    storage_class: str
    requested: str  # requested | already restored | already in progress | failed
    state: RestoreState = field(default_factory=lambda: RestoreState("not-requested"))
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "storage_class": self.storage_class,
            "request": self.requested,
            "status": self.state.state,
            "expiry": self.state.expiry,
            "detail": self.detail,
        }


def request_restore(s3: Any, bucket: str, obj: Archived, days: int, tier: str) -> RestoreRequest:
    """RestoreObject for one object, then its status; failures are recorded, not raised."""
    req = RestoreRequest(obj.key, obj.storage_class, "requested")
    try:
        resp = s3.restore_object(
            Bucket=bucket, Key=obj.key, RestoreRequest={"Days": days, "GlacierJobParameters": {"Tier": tier}}
        )
        if resp.get("ResponseMetadata", {}).get("HTTPStatusCode") == 200:
            req.requested = "already restored (days extended)"
    except ClientError as exc:
        code = error_code(exc)
        if code == "RestoreAlreadyInProgress":
            req.requested = "already in progress"
        else:
            req.requested, req.detail = "failed", f"{code}: {exc.response.get('Error', {}).get('Message', '')}"
            return req
    req.state = object_state(s3, bucket, obj.key)
    return req


def object_state(s3: Any, bucket: str, key: str) -> RestoreState:
    with s3_errors(bucket):
        head = s3.head_object(Bucket=bucket, Key=key)
    return parse_restore(head.get("Restore"))


def wait_for_restores(
    poll: Callable[[str], RestoreState],
    keys: list[str],
    timeout: float,
    interval: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    on_poll: Callable[[dict[str, RestoreState]], None] | None = None,
) -> dict[str, RestoreState]:
    """Poll every key until all are restored or `timeout` seconds pass; returns the last state of each."""
    deadline = clock() + timeout
    states: dict[str, RestoreState] = {}
    pending = list(keys)
    while True:
        for key in pending:
            states[key] = poll(key)
        pending = [k for k in pending if states[k].state != "restored"]
        if on_poll:
            on_poll(states)
        if not pending or clock() >= deadline:
            return states
        sleep(max(0.0, min(interval, deadline - clock())))
