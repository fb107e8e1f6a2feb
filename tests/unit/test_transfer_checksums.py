"""Digests: S3's composite SHA-256 and multipart ETag formulas, part cutting of a stream, sizes."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migrate_cli.core.errors import ConfigError
from migrate_cli.transfer.checksums import (
    MiB,
    StreamDigest,
    b64,
    choose_part_size,
    composite_sha256,
    etag_is_md5,
    etag_parts,
    guess_part_size,
    multipart_etag,
    parse_size,
    part_count,
)
from migrate_cli.transfer.retry import IntegrityError
from migrate_cli.transfer.s3 import expected_from, format_mtime, parse_mtime, verify_digest


def _composite_by_hand(data: bytes, part: int) -> str:
    digests = [hashlib.sha256(data[i : i + part]).digest() for i in range(0, len(data), part)] or [
        hashlib.sha256(b"").digest()
    ]
    return base64.b64encode(hashlib.sha256(b"".join(digests)).digest()).decode()


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=5000), part=st.integers(min_value=1, max_value=700), cut=st.integers(1, 900))
def test_stream_digest_cuts_parts_wherever_the_chunks_fall(data: bytes, part: int, cut: int) -> None:
    digest = StreamDigest(part)
    for i in range(0, len(data), cut):
        digest.update(data[i : i + cut])
    digest.finish()
    assert composite_sha256(digest.part_sha256) == _composite_by_hand(data, part)
    assert digest.sha256.digest() == hashlib.sha256(data).digest()
    assert len(digest.part_sha256) == part_count(len(data), part)


def test_multipart_etag_is_md5_of_part_md5s() -> None:
    parts = [b"a" * 10, b"b" * 3]
    md5s = [hashlib.md5(p).digest() for p in parts]
    assert multipart_etag(md5s) == hashlib.md5(b"".join(md5s)).hexdigest() + "-2"
    assert etag_parts('"' + multipart_etag(md5s) + '"') == 2
    assert etag_is_md5('"' + hashlib.md5(b"x").hexdigest() + '"')
    assert not etag_is_md5(multipart_etag(md5s))


def test_part_size_grows_to_stay_under_10000_parts() -> None:
    assert choose_part_size(10 * MiB) == 16 * MiB
    assert choose_part_size(1, 1) == 5 * MiB
    huge = 200 * 1024 * MiB
    size = choose_part_size(huge)
    assert part_count(huge, size) <= 10_000 and size % MiB == 0


def test_parse_size() -> None:
    assert parse_size("16M", "x") == 16 * MiB
    assert parse_size("1GiB", "x") == 1024 * MiB
    assert parse_size("512k", "x") == 512 * 1024
    with pytest.raises(ConfigError, match="not a size"):
        parse_size("lots", "--part-size")


def test_guess_part_size() -> None:
    assert guess_part_size(20 * MiB, 3) == 8 * MiB
    assert guess_part_size(100, 1) is None


def test_expected_from_headers_full_composite_and_moto_style() -> None:
    data = b"x" * 100
    full = b64(hashlib.sha256(data).digest())
    exp = expected_from({"x-amz-checksum-sha256": full, "etag": '"abc"'}, 100)
    assert (exp.sha256, exp.parts, exp.md5_etag) == (full, 0, None)
    comp = _composite_by_hand(data, 40)
    # real S3 reports "-N"; moto reports the composite without it: both read the same.
    for value in (f"{comp}-3", comp):
        exp = expected_from(
            {"x-amz-checksum-sha256": value, "etag": f'"{"0" * 32}-3"', "x-amz-meta-migrate-part-size": "40"}, 100
        )
        assert (exp.sha256, exp.parts, exp.part_size) == (comp, 3, 40)
        digest = StreamDigest(40)
        digest.update(data)
        assert verify_digest(digest.finish(), exp, declared=True) is True
    kms = expected_from({"etag": '"' + "1" * 32 + '"', "x-amz-server-side-encryption": "aws:kms"}, 1)
    assert kms.md5_etag is None and not kms.verifiable


def test_a_guessed_part_size_never_fails_a_download() -> None:
    data = b"y" * 50
    md5s = [hashlib.md5(data[i : i + 20]).digest() for i in range(0, 50, 20)]
    exp = expected_from({"etag": f'"{multipart_etag(md5s)}"'}, 50)  # no declared part size: guessed
    digest = StreamDigest(exp.part_size or 0)
    digest.update(b"z" * 50)
    assert verify_digest(digest.finish(), exp, declared=False) is None
    wrong = expected_from({"x-amz-checksum-sha256": b64(hashlib.sha256(b"other").digest())}, 50)
    digest = StreamDigest(0)
    digest.update(data)
    with pytest.raises(IntegrityError):
        verify_digest(digest.finish(), wrong, declared=False)


def test_mtime_round_trips_at_nanosecond_precision() -> None:
    ns = 1_700_000_000_123_456_789
    assert format_mtime(ns) == "1700000000.123456789"
    assert parse_mtime(format_mtime(ns)) == ns
    assert parse_mtime("1700000000.5") == 1_700_000_000_500_000_000
    assert parse_mtime("garbage") is None and parse_mtime(None) is None


def test_only_amazon_s3_endpoints_are_trusted_to_check_the_sha256() -> None:
    from migrate_cli.transfer.s3 import validates_checksums

    assert validates_checksums("https://s3.us-east-1.amazonaws.com")
    assert validates_checksums("https://bkt-1.s3.eu-west-1.amazonaws.com")
    assert validates_checksums("https://s3-fips.us-gov-west-1.amazonaws.com")
    assert not validates_checksums("http://127.0.0.1:5000")  # moto, rclone serve s3, MinIO...
    assert not validates_checksums("https://storage.example.com")
