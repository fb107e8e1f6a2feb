"""SRC/DEST parsing: every accepted form, and one clear error for each malformed one."""

from __future__ import annotations

import os

import pytest

from migrate_cli.core.errors import ConfigError
from migrate_cli.transfer.location import pair_id, parse_location


def test_s3_url_normalises_the_prefix_to_a_directory() -> None:
    for text, prefix in [
        ("s3://bkt-1", ""),
        ("s3://bkt-1/", ""),
        ("s3://bkt-1/a/b", "a/b/"),
        ("s3://bkt-1/a/b/", "a/b/"),
    ]:
        loc = parse_location(text)
        assert (loc.kind, loc.bucket, loc.prefix) == ("s3", "bkt-1", prefix)
    assert parse_location("s3://bkt-1/a").url == "s3://bkt-1/a/"


def test_sftp_url_with_user_port_and_path() -> None:
    loc = parse_location("sftp://deploy@web1.example.com:2222/var/www")
    assert (loc.kind, loc.user, loc.host, loc.port, loc.path) == (
        "sftp",
        "deploy",
        "web1.example.com",
        2222,
        "/var/www",
    )
    assert not loc.from_inventory
    assert loc.url == "sftp://deploy@web1.example.com:2222/var/www"


def test_inventory_host_form() -> None:
    loc = parse_location("web1:/var/www")
    assert (loc.kind, loc.host, loc.path, loc.from_inventory) == ("sftp", "web1", "/var/www", True)
    assert parse_location("ops@web1:site").user == "ops"


def test_local_paths_are_absolute(tmp_path: object) -> None:
    assert parse_location("./site").path == os.path.abspath("site")
    assert parse_location("/srv/site").kind == "local"
    assert parse_location("file:///srv/site").path == "/srv/site"
    assert parse_location("./a:b").kind == "local"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("s3://", "no bucket"),
        ("s3:/bucket/x", "malformed URL"),
        ("s3:bucket", "malformed URL"),
        ("s3://Bad_Bucket/x", "not a valid bucket name"),
        ("s3://ab/x", "not a valid bucket name"),
        ("s3://192.168.1.1/x", "not a valid bucket name"),
        ("s3://bucket-1/a/../b", "'..'"),
        ("ftp://host/x", "unsupported URL scheme 'ftp'"),
        ("sftp://host", "no remote path"),
        ("sftp:///path", "no host"),
        ("sftp://host:99999/p", "port"),
        ("sftp://u:pw@host/p", "do not put passwords"),
    ],
)
def test_malformed_locations_are_config_errors(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_location(text, "source")
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


def test_pair_id_is_stable_and_direction_sensitive() -> None:
    a, b = parse_location("/srv/a"), parse_location("s3://bkt-1/x")
    assert pair_id(a, b) == pair_id(parse_location("/srv/a"), parse_location("s3://bkt-1/x/"))
    assert pair_id(a, b) != pair_id(b, a)
