"""Option validation for `migrate data copy` / `data.copy`: every bad combination is one ConfigError, found
before anything is opened; the playbook action reports the same problems as parameter errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from migrate_cli.core.errors import ConfigError
from migrate_cli.transfer.actions import CopyParams
from migrate_cli.transfer.service import CopyRequest, validate


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"storage_class": "FROZEN"}, "--storage-class: 'FROZEN' is not one of STANDARD, STANDARD_IA"),
        ({"dest": "/tmp/out", "storage_class": "GLACIER"}, "--storage-class applies only to an s3:// destination"),
        ({"sse": "rot13"}, "--sse: 'rot13' is not one of AES256, aws:kms"),
        ({"dest": "/tmp/out", "sse": "AES256"}, "--sse applies only to an s3:// destination"),
        ({"kms_key_id": "k1"}, "--kms-key-id needs --sse aws:kms"),
        ({"sse": "AES256", "kms_key_id": "k1"}, "--kms-key-id needs --sse aws:kms"),
        ({"workers": 0}, "--workers: 0 is not between 1 and 256"),
        ({"bwlimit": "fast"}, "--bwlimit: 'fast' is not a rate"),
        ({"part_size": "1M"}, "--part-size: 1M is not between 5M and 5G"),
        ({"part_size": "big"}, "--part-size: 'big' is not a size"),
        ({"exclude": ("",)}, "--exclude: empty pattern"),
        ({"dest": "s3://src-bucket/a/b"}, "overlap in bucket"),
        ({"dest": "ftp://x/y"}, "unsupported URL scheme"),
    ],
)
def test_bad_options(changes: dict[str, object], message: str) -> None:
    base: dict[str, object] = {"source": "s3://src-bucket/a", "dest": "s3://dst-bucket/b"}
    if "dest" in changes and not str(changes["dest"]).startswith("s3://"):
        base["source"] = "/srv/site"
    with pytest.raises(ConfigError) as err:
        validate(CopyRequest(**{**base, **changes}))  # type: ignore[arg-type]
    assert message in str(err.value)


def test_good_options_are_normalised() -> None:
    valid = validate(CopyRequest("/srv/site", "s3://bkt-1/x", storage_class="glacier_ir", sse="aes256", bwlimit="2M"))
    assert (valid.storage_class, valid.sse, valid.rate) == ("GLACIER_IR", "AES256", 2 * 1024 * 1024)
    assert valid.public()["dest"] == "s3://bkt-1/x/"


def test_playbook_parameters_fail_at_load_time_with_the_same_words(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as err:
        CopyParams(src="/srv/site", dest="s3://bkt-1/x", sse="aws:kms", storage_class="FROZEN")
    assert "storage_class: 'FROZEN' is not one of" in str(err.value)
    with pytest.raises(ValidationError, match="extra"):
        CopyParams(src="/srv/site", dest="s3://bkt-1/x", unknown=1)  # type: ignore[call-arg]
