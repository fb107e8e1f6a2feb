"""Archive building blocks without a network: S3 URLs, lifecycle rule merging and diffs, restore status
parsing and the --wait polling loop (driven by a scripted status function and a fake clock: the loop's
timing is what is under test; the real endpoint is exercised in tests/integration/test_archive_s3.py)."""

from __future__ import annotations

import pytest

from migrate_cli.core.errors import ConfigError
from migrate_cli.core.oneshot import params_from
from migrate_cli.transfer.archive.lifecycle import (
    build_rule,
    describe_rule,
    is_own,
    merge_rules,
    overlapping,
    risky_rules,
    rule_id,
    rules_diff,
    same_rules,
)
from migrate_cli.transfer.archive.status import RestoreState, check_tier, parse_restore, wait_for_restores
from migrate_cli.transfer.backup.s3util import S3Location, check_storage_class, parse_s3_url
from migrate_cli.transfer.backup_actions import ArchiveNowParams, ArchiveRestoreParams, ArchiveRuleParams

FOREIGN = {"ID": "tmp-cleanup", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 3}}
TAGGED = {
    "ID": "tagged",
    "Status": "Enabled",
    "Filter": {"And": {"Prefix": "logs/", "Tags": [{"Key": "a", "Value": "b"}]}},
    "NoncurrentVersionExpiration": {"NoncurrentDays": 5},
}


@pytest.mark.parametrize(
    ("url", "bucket", "prefix"),
    [("s3://my-bucket", "my-bucket", ""), ("s3://my-bucket/", "my-bucket", ""), ("s3://b.e-x/a/b/", "b.e-x", "a/b/")],
)
def test_parse_s3_url(url: str, bucket: str, prefix: str) -> None:
    loc = parse_s3_url(url)
    assert (loc.bucket, loc.prefix) == (bucket, prefix)
    assert loc.url == f"s3://{bucket}/{prefix}"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("my-bucket/x", "is not an s3://bucket/prefix URL"),
        ("s3://", "has no bucket name"),
        ("s3:///x", "has no bucket name"),
        ("s3://UPPER/x", "not a valid bucket name"),
        ("s3://ab/x", "not a valid bucket name"),
        ("s3://ok-bucket//x", "empty path segment"),
    ],
)
def test_bad_s3_urls(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_s3_url(url, "URL")


def test_location_keys_treat_prefix_as_folder() -> None:
    assert S3Location("b", "hq").key("snapshots/") == "hq/snapshots/"
    assert S3Location("b", "hq/").key("x") == "hq/x"
    assert S3Location("b", "").key("x") == "x"


def test_storage_class_and_tier_checks() -> None:
    assert check_storage_class("glacier_ir") == "GLACIER_IR"
    with pytest.raises(ConfigError, match="'COLD' is not one of STANDARD"):
        check_storage_class("COLD")
    assert check_tier("bulk") == "Bulk"
    with pytest.raises(ConfigError, match="--tier: 'Fast' is not one of Bulk, Standard, Expedited"):
        check_tier("Fast", "--tier")


def test_build_rule_and_its_checks() -> None:
    rule = build_rule("logs/", "GLACIER", 30, 365)
    assert rule == {
        "ID": "migrate-cli:archive:logs/",
        "Status": "Enabled",
        "Filter": {"Prefix": "logs/"},
        "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}],
        "Expiration": {"Days": 365},
    }
    assert describe_rule(rule) == "logs/ -> GLACIER after 30 days, expire after 365 days"
    assert build_rule("", "DEEP_ARCHIVE", 0, None)["ID"] == "migrate-cli:archive:*"
    assert is_own(rule) and not is_own(FOREIGN)
    with pytest.raises(ConfigError, match="--after: days must be 0 or more, got -1"):
        build_rule("x/", "GLACIER", -1, None)
    with pytest.raises(ConfigError, match=r"--expire: days \(30\) must be more than --after \(30\)"):
        build_rule("x/", "GLACIER", 30, 30)
    long_id = rule_id("p/" * 200)
    assert len(long_id) <= 255 and long_id.startswith("migrate-cli:archive:sha256:")


def test_merge_keeps_foreign_rules_in_place_and_replaces_our_own() -> None:
    ours_v1 = build_rule("logs/", "GLACIER", 30, None)
    ours_other = build_rule("data/", "DEEP_ARCHIVE", 90, None)
    current = [FOREIGN, ours_v1, TAGGED, ours_other]
    ours_v2 = build_rule("logs/", "DEEP_ARCHIVE", 60, 400)
    merged = merge_rules(current, ours_v2)
    assert merged == [FOREIGN, ours_v2, TAGGED, ours_other]
    assert merge_rules([FOREIGN], ours_v1) == [FOREIGN, ours_v1]
    assert merge_rules(current, None, remove_id=ours_v1["ID"]) == [FOREIGN, TAGGED, ours_other]
    # idempotent: merging the same rule again is "no change"
    assert same_rules(merge_rules(merged, ours_v2), merged)
    assert not same_rules(current, merged)


def test_same_rules_ignores_what_s3_adds_to_our_rules_but_not_to_others() -> None:
    ours = build_rule("logs/", "GLACIER", 30, None)
    as_read = dict(ours, Expiration=None, NoncurrentVersionTransitions=[])
    assert same_rules([FOREIGN, ours], [as_read, FOREIGN])
    assert not same_rules([FOREIGN], [dict(FOREIGN, Status="Disabled")])


def test_diff_and_overlaps() -> None:
    ours = build_rule("logs/", "GLACIER", 30, None)
    diff = rules_diff([FOREIGN, TAGGED], [FOREIGN, TAGGED, ours], "bkt")
    assert diff.startswith("--- s3://bkt lifecycle (current)\n+++ s3://bkt lifecycle (proposed)\n")
    added = [line for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert any('"ID": "migrate-cli:archive:logs/"' in line for line in added)
    assert not any("tmp-cleanup" in line for line in added)
    assert overlapping([FOREIGN, TAGGED, ours], "logs/") == ["tagged"]
    assert overlapping([FOREIGN], "") == ["tmp-cleanup"]  # a whole-bucket rule overlaps everything
    assert overlapping([dict(FOREIGN, Status="Disabled")], "") == []


def test_rules_that_endanger_a_backup_store() -> None:
    ours = build_rule("", "GLACIER_IR", 30, None)  # instant retrieval: still readable, not risky
    expiring = {"ID": "exp", "Status": "Enabled", "Filter": {"Prefix": "backups/"}, "Expiration": {"Days": 30}}
    deep = build_rule("backups/hq/objects/", "DEEP_ARCHIVE", 90, None)
    other = {"ID": "o", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 1}}
    assert risky_rules([ours, expiring, deep, other, FOREIGN], "backups/hq") == ["exp", deep["ID"]]
    assert risky_rules([dict(expiring, Status="Disabled")], "backups/hq") == []


def test_parse_restore_header() -> None:
    assert parse_restore(None) == RestoreState("not-requested")
    assert parse_restore('ongoing-request="true"') == RestoreState("in-progress")
    done = parse_restore('ongoing-request="false", expiry-date="Fri, 21 Dec 2026 00:00:00 GMT"')
    assert done == RestoreState("restored", "Fri, 21 Dec 2026 00:00:00 GMT")
    assert done.text() == "restored until Fri, 21 Dec 2026 00:00:00 GMT"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_wait_polls_until_every_object_is_restored() -> None:
    clock = FakeClock()
    ready_at = {"a": 0.0, "b": 120.0, "c": 250.0}
    polled: list[str] = []

    def poll(key: str) -> RestoreState:
        polled.append(key)
        return RestoreState("restored" if clock.now >= ready_at[key] else "in-progress")

    states = wait_for_restores(poll, list(ready_at), timeout=3600, interval=100, clock=clock, sleep=clock.sleep)
    assert all(s.state == "restored" for s in states.values())
    assert clock.sleeps == [100, 100, 100]
    assert polled.count("a") == 1  # a restored object is not polled again


def test_wait_gives_up_at_the_timeout() -> None:
    clock = FakeClock()
    states = wait_for_restores(
        lambda key: RestoreState("in-progress"), ["a"], timeout=250, interval=100, clock=clock, sleep=clock.sleep
    )
    assert states["a"].state == "in-progress"
    assert clock.sleeps == [100, 100, 50] and clock.now == 250


OK = "s3://ok-bucket/x"
NAMES = {"url": "S3_URL", "to": "--to", "after": "--after", "older_than": "--older-than", "days": "--days"}
BAD_VALUES = [
    (ArchiveRuleParams, {"url": "bucket/x", "to": "GLACIER", "after": 1}, "S3_URL: 'bucket/x' is not an s3://"),
    (ArchiveRuleParams, {"url": OK, "to": "STANDARD_IA", "after": 1}, "--to: 'STANDARD_IA' is not one of GLACIER_IR"),
    (ArchiveRuleParams, {"url": OK, "to": "GLACIER", "after": -5}, "--after: days must be 0 or more"),
    (ArchiveRuleParams, {"url": OK, "to": "GLACIER", "after": 9, "expire": 3}, "--expire: days (3)"),
    (ArchiveNowParams, {"url": OK, "to": "COLD", "older_than": 1}, "--to: 'COLD' is not one of"),
    (ArchiveNowParams, {"url": OK, "to": "GLACIER", "older_than": -1}, "--older-than: Input should be greater than"),
    (ArchiveRestoreParams, {"url": OK, "days": 0}, "--days: Input should be greater than or equal to 1"),
    (ArchiveRestoreParams, {"url": OK, "days": 1, "tier": "Now"}, "--tier: 'Now' is not one of"),
]


@pytest.mark.parametrize(("cls", "values", "message"), BAD_VALUES)
def test_cli_values_give_one_line_naming_the_option(cls: type, values: dict, message: str) -> None:
    names = NAMES | {"tier": "--tier"}
    with pytest.raises(ConfigError) as err:
        params_from(cls, values, names)
    text = str(err.value)
    assert text.startswith(message), text
    assert "\n" not in text
