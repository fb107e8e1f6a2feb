"""The backup config file: defaults, paths relative to the file, and every error as FILE:LINE."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrate_cli.core.errors import ConfigError, ConfigErrors
from migrate_cli.transfer.backup.config import BackupParams, load_backup_config
from tests.conftest import write


def test_minimal_config_defaults_and_relative_source(tmp_path: Path) -> None:
    path = write(tmp_path / "etc" / "backup.yaml", "source: ../site\ndestination: s3://site-backups/hq\n")
    cfg = load_backup_config(path)
    assert cfg.source_path == (tmp_path / "etc" / ".." / "site").absolute()
    assert cfg.location.bucket == "site-backups" and cfg.location.prefix == "hq"
    assert (cfg.retention.daily, cfg.retention.weekly, cfg.retention.monthly, cfg.retention.yearly) == (7, 4, 12, 0)
    assert cfg.storage_class == "STANDARD" and cfg.verify == "checksum" and cfg.workers == 8
    assert cfg.bwlimit is None and cfg.bwlimit_bytes == 0
    assert cfg.public()["destination"] == "s3://site-backups/hq"


def test_full_config(tmp_path: Path) -> None:
    path = write(
        tmp_path / "backup.yaml",
        """
        source: /srv/site
        destination: s3://site-backups/
        exclude: ["*.tmp", "cache/"]
        retention: {daily: 3, weekly: 2, monthly: 1, yearly: 5}
        storage_class: standard_ia
        sse: aws:kms
        kms_key_id: alias/backups
        workers: 4
        rehash: true
        verify: readback
        part_size_mib: 8
        bwlimit: 2M
        """,
    )
    cfg = load_backup_config(path)
    assert cfg.bwlimit_bytes == 2 * 1024 * 1024
    assert cfg.source_path == Path("/srv/site")
    assert cfg.storage_class == "STANDARD_IA" and cfg.sse == "aws:kms" and cfg.kms_key_id == "alias/backups"
    assert cfg.retention.yearly == 5 and cfg.rehash and cfg.verify == "readback" and cfg.part_size_mib == 8


@pytest.mark.parametrize(
    ("body", "line", "fragment"),
    [
        ("source: /x\ndestination: s3://ok-bucket/p\nretention:\n  daily: 0\n", 4, "retention.daily"),
        ("source: /x\ndestination: http://nope/p\n", 2, "is not an s3://bucket/prefix URL"),
        ("source: /x\ndestination: s3://Bad_Bucket/p\n", 2, "not a valid bucket name"),
        ("source: /x\ndestination: s3://ok-bucket/p\nstorage_class: GLACIER\n", 3, "GLACIER and DEEP_ARCHIVE"),
        ("source: /x\ndestination: s3://ok-bucket/p\nstorage_class: FAST\n", 3, "'FAST' is not one of"),
        ("source: /x\ndestination: s3://ok-bucket/p\nretension: {}\n", 3, "retension: unknown key"),
        ("source: /x\ndestination: s3://ok-bucket/p\nworkers: -1\n", 3, "workers"),
        ("source: /x\ndestination: s3://ok-bucket/p\npart_size_mib: 1\n", 3, "part_size_mib"),
        ("source: /x\ndestination: s3://ok-bucket/p\nexclude: ['']\n", 3, "empty exclude pattern"),
        ("source: /x\ndestination: s3://ok-bucket/p\nbwlimit: fast\n", 3, "bwlimit: 'fast' is not a rate"),
        ("source: /x\ndestination: s3://ok-bucket/p\nbwlimit: 100\n", 3, "below the minimum of 1K"),
        ("destination: s3://ok-bucket/p\n", 1, "source: Field required"),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, body: str, line: int, fragment: str) -> None:
    path = write(tmp_path / "backup.yaml", body)
    with pytest.raises(ConfigError) as err:
        load_backup_config(path)
    text = err.value.location_message()
    assert text.startswith(f"{path}:{line}: "), text
    assert fragment in text


def test_kms_key_needs_kms(tmp_path: Path) -> None:
    path = write(tmp_path / "b.yaml", "source: /x\ndestination: s3://ok-bucket/p\nsse: AES256\nkms_key_id: k\n")
    with pytest.raises(ConfigErrors, match="kms_key_id needs sse: aws:kms"):
        load_backup_config(path)


def test_missing_file_and_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="backup config not found") as err:
        load_backup_config(tmp_path / "nope.yaml")
    assert str(tmp_path / "nope.yaml") in err.value.location_message()
    path = write(tmp_path / "list.yaml", "- a\n- b\n")
    with pytest.raises(ConfigError, match=r"list.yaml:1: a backup config is a mapping"):
        load_backup_config(path)
    path = write(tmp_path / "broken.yaml", "source: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_backup_config(path)


def test_action_params_either_config_or_inline(tmp_path: Path) -> None:
    assert BackupParams(config="backup.yaml").config == "backup.yaml"
    inline = BackupParams(source="site", destination="s3://ok-bucket/p", exclude=["*.tmp"])
    cfg = inline.resolve(tmp_path)
    assert cfg.source_path == tmp_path / "site" and cfg.exclude == ["*.tmp"]
    with pytest.raises(ValueError, match="either config or inline settings"):
        BackupParams(config="b.yaml", source="x")
    with pytest.raises(ValueError, match="needs config: FILE, or source and destination"):
        BackupParams(source="x")
    with pytest.raises(ValueError, match="unknown|extra"):
        BackupParams(config="b.yaml", bogus=1)
