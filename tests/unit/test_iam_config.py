"""The IAM configuration: defaults, S3 locations, and every bad value reported as FILE:LINE: field."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrate_cli.core.errors import ConfigError
from migrate_cli.iam.config import load_config, parse_s3
from tests.conftest import REPO, write

MINIMAL = """
backup_writer:
  destination: s3://acme-backups/hq
"""


def test_example_config_loads() -> None:
    config = load_config(REPO / "examples" / "iam.yaml")
    assert config.name_prefix == "migrate-"
    assert config.path == "/migrate-cli/"
    assert config.backup_writer is not None and config.backup_writer.delete_for_retention
    assert config.etl is not None and config.etl.athena is not None
    assert config.etl.athena.results.url == "s3://acme-etl-results/athena/"


def test_defaults_and_prefix_normalization(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / "iam.yaml", MINIMAL))
    assert config.backup_writer is not None
    assert config.backup_writer.destination.prefix == "hq/"  # a trailing / so hq never covers hq2
    assert config.backup_writer.assumed_by == ["ec2"]
    assert config.backup_writer.delete_for_retention is False
    assert config.account_id is None and config.region is None
    assert parse_s3("s3://acme-backups").prefix == ""
    assert parse_s3("s3://acme-backups/a/b/").prefix == "a/b/"


def test_account_id_given_as_a_number_is_accepted(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / "iam.yaml", "account_id: 123456789012\n" + MINIMAL))
    assert config.account_id == "123456789012"


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        (
            "backup_writer:\n  destination: s3://acme-*/hq\n",
            2,
            "backup_writer.destination: location 's3://acme-*/hq' contains a wildcard",
        ),
        ("backup_writer:\n  destination: s3://acme-backups/h?/\n", 2, "contains a wildcard"),
        ("backup_writer:\n  destination: /srv/backups\n", 2, "must be an s3://bucket/prefix URL"),
        ("backup_writer:\n  destination: s3://Acme_Backups/\n", 2, "not a valid S3 bucket name"),
        ("backup_writer:\n  destination: s3://acme-backups/\n  delete: true\n", 3, "backup_writer.delete: unknown key"),
        ("region: eu-wset-1\n" + MINIMAL, 1, "region 'eu-wset-1' is not an AWS region (did you mean eu-west-1?)"),
        ("account_id: '12345'\n" + MINIMAL, 1, "account_id '12345' is not 12 digits"),
        ("name_prefix: 'bad prefix'\n" + MINIMAL, 1, "name_prefix 'bad prefix'"),
        ("path: no-slashes\n" + MINIMAL, 1, "path 'no-slashes': must start and end with '/'"),
        ("tags: {managed-by: me}\n" + MINIMAL, 1, "tag 'managed-by' is reserved"),
        ("runner:\n  principals: ['arn:aws:iam::123456789012:role/*']\n" + MINIMAL, 2, "contains a wildcard"),
        ("runner:\n  principals: [onprem-runner]\n" + MINIMAL, 2, "principal 'onprem-runner' is not valid"),
        ("network_reader:\n  virtual_interfaces: [vif-1234]\n", 1, "virtual interface 'vif-1234' is not valid"),
        ("network_reader:\n  assumed_by: [lambda]\n", 2, "network_reader.assumed_by.0"),
        ("glacier_restore:\n  locations: []\n", 2, "glacier_restore.locations: List should have at least 1 item"),
        (
            "backup_writer:\n  destination: s3://acme-backups/\n  kms_key: alias/backups\n",
            3,
            "use the key ARN or key id",
        ),
        ("etl:\n  state_machine: 'etl*'\n  table: jobs\n", 2, "state_machine 'etl*' contains a wildcard"),
        ("etl:\n  state_machine: etl\n  table: jobs\n  glue_jobs: [clean/1]\n", 4, "glue job 'clean/1' is not valid"),
        ("etl:\n  state_machine: etl\n", 1, "etl.table: Field required"),
        ("name_prefix: migrate-\n", 1, "no service accounts"),
        ("source: elsewhere.yaml\n" + MINIMAL, 1, "source: unknown key"),
    ],
)
def test_bad_values_name_file_line_and_field(tmp_path: Path, text: str, line: int, expected: str) -> None:
    path = write(tmp_path / "iam.yaml", text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = err.value.location_message()
    assert message.startswith(f"{path}:{line}: "), message
    assert expected in message


def test_missing_file_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no IAM configuration here"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="is a mapping"):
        load_config(write(tmp_path / "list.yaml", "- a\n"))
