"""The IAM configuration (`iam.yaml`, see examples/iam.yaml): which service accounts, scoped to what.

Everything the policies name comes from this one file: bucket names and prefixes, the DynamoDB table,
the state machine and activities, Glue jobs, the Athena workgroup. The account comes from STS (the
credentials in use) and the region from the AWS configuration (AWS_REGION / the profile) unless the file
pins them; a pinned `account_id` that differs from the credentials' account is refused. Inventory data is
deliberately not consulted: IAM scope is reviewed as one file, and a change to it shows up in one diff.

Every name is checked for IAM wildcards (`*`, `?`): a wildcard in a bucket or table name would silently
widen the policy, so it is a configuration error, never a pattern.
"""

from __future__ import annotations

import difflib
import re
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import boto3
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from migrate_cli.core.errors import ConfigError, ConfigErrors
from migrate_cli.core.yamlio import LineDict, line_of, load_yaml

DEFAULT_CONFIG = Path("iam.yaml")
OWNER_TAG = ("managed-by", "migrate-cli")
ROLE_TAG = "migrate-cli:service-account"

_IAM_NAME = re.compile(r"[\w+=,.@-]+")
_PATH = re.compile(r"/([\x21-\x29\x2B-\x3E\x40-\x7E]+/)?")  # printable ASCII but '*' and '?'
_PRINCIPAL = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:(root|(role|user)/[\w+=,.@/-]+)")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_SFN_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
_DDB_TABLE = re.compile(r"[A-Za-z0-9_.-]{3,255}")
_GLUE_JOB = re.compile(r"[A-Za-z0-9_.-]{1,255}")
_WORKGROUP = re.compile(r"[A-Za-z0-9._-]{1,128}")
_DATABASE = re.compile(r"[a-z0-9_]{1,255}")
_KMS_ARN = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/(mrk-[0-9a-f]{32}|[0-9a-f-]{36})")
_KMS_ID = re.compile(r"mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_DX_IDS = {
    "connections": re.compile(r"dxcon-[a-z0-9]{4,}"),
    "lags": re.compile(r"dxlag-[a-z0-9]{4,}"),
    "virtual_interfaces": re.compile(r"dxvif-[a-z0-9]{4,}"),
    "gateways": re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
}


def _no_wildcards(value: str, what: str) -> str:
    if "*" in value or "?" in value:
        raise ValueError(f"{what} {value!r} contains a wildcard ('*' or '?'); name the exact resource")
    return value


def _matches(pattern: re.Pattern[str], value: str, what: str, rule: str) -> str:
    _no_wildcards(value, what)
    if not pattern.fullmatch(value):
        raise ValueError(f"{what} {value!r} is not valid ({rule})")
    return value


def _account(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and not re.fullmatch(r"\d{12}", value):
        raise ValueError(f"account_id {value!r} is not 12 digits (quote it if it starts with 0)")
    return value


class S3Location(BaseModel):
    """A bucket and a key prefix ('' = the whole bucket; otherwise it ends with '/')."""

    model_config = ConfigDict(frozen=True)
    bucket: str
    prefix: str = ""

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def parse_s3(value: Any, what: str = "location") -> S3Location:
    """`s3://bucket[/prefix]` -> S3Location; the prefix gets a trailing '/' so `a/` never matches `ab/`."""
    if isinstance(value, S3Location):
        return value
    if not isinstance(value, str) or not value.startswith("s3://"):
        raise ValueError(f"{what} must be an s3://bucket/prefix URL, got {value!r}")
    _no_wildcards(value, what)
    bucket, _, prefix = value[len("s3://") :].partition("/")
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise ValueError(f"{what}: {bucket!r} is not a valid S3 bucket name")
    prefix = prefix.strip("/")
    if "//" in prefix:
        raise ValueError(f"{what}: empty path segment in prefix {prefix!r}")
    return S3Location(bucket=bucket, prefix=f"{prefix}/" if prefix else "")


def _kms_key(value: str | None) -> str | None:
    if value is None:
        return None
    if value.startswith("alias/") or ":alias/" in value:
        raise ValueError(f"kms_key {value!r}: use the key ARN or key id (IAM matches keys, not aliases)")
    _no_wildcards(value, "kms_key")
    if not (_KMS_ARN.fullmatch(value) or _KMS_ID.fullmatch(value)):
        raise ValueError(f"kms_key {value!r}: not a KMS key ARN or key id")
    return value


S3Url = Annotated[S3Location, BeforeValidator(parse_s3)]
KmsKey = Annotated[str | None, AfterValidator(_kms_key)]
AssumedBy = Literal["runner", "ec2"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunnerConfig(_Section):
    """Who runs migrate on premises: the principals that may assume the roles marked `runner`."""

    principals: list[str] = Field(default_factory=list)
    user: str = "onprem-runner"

    @field_validator("principals")
    @classmethod
    def _principals(cls, values: list[str]) -> list[str]:
        for value in values:
            _matches(_PRINCIPAL, value, "principal", "arn:aws:iam::ACCOUNT:role/NAME, user/NAME or root")
        return values

    @field_validator("user")
    @classmethod
    def _user(cls, value: str) -> str:
        return _matches(_IAM_NAME, value, "user", "letters, digits and +=,.@_-")


class NetworkReader(_Section):
    """Read-only Direct Connect and VPN: what `migrate network` reads to render configurations."""

    assumed_by: list[AssumedBy] = Field(default_factory=lambda: ["runner"], min_length=1)
    connections: list[str] = Field(default_factory=list)
    lags: list[str] = Field(default_factory=list)
    virtual_interfaces: list[str] = Field(default_factory=list)
    gateways: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ids(self) -> NetworkReader:
        for field, pattern in _DX_IDS.items():
            for value in getattr(self, field):
                _matches(pattern, value, field.rstrip("s").replace("_", " "), f"like {pattern.pattern}")
        return self


class BackupWriter(_Section):
    """The nightly backup: writes (and, for retention, prunes) one bucket prefix."""

    assumed_by: list[AssumedBy] = Field(default_factory=lambda: ["ec2"], min_length=1)
    destination: S3Url
    delete_for_retention: bool = False
    kms_key: KmsKey = None


class GlacierRestore(_Section):
    """Restores archived objects (S3 RestoreObject) under the given prefixes, and reads them back."""

    assumed_by: list[AssumedBy] = Field(default_factory=lambda: ["runner"], min_length=1)
    locations: list[S3Url] = Field(min_length=1)
    kms_key: KmsKey = None


class Athena(_Section):
    workgroup: str
    database: str
    results: S3Url

    @field_validator("workgroup")
    @classmethod
    def _workgroup(cls, value: str) -> str:
        return _matches(_WORKGROUP, value, "workgroup", "letters, digits and ._-")

    @field_validator("database")
    @classmethod
    def _database(cls, value: str) -> str:
        return _matches(_DATABASE, value, "database", "lower-case letters, digits and _")


class Etl(_Section):
    """The ETL pipeline: its state machine's execution role and the on-prem activity runner's role."""

    state_machine: str
    activities: list[str] = Field(default_factory=list)
    table: str
    glue_jobs: list[str] = Field(default_factory=list)
    athena: Athena | None = None
    read: list[S3Url] = Field(default_factory=list)
    write: list[S3Url] = Field(default_factory=list)
    kms_key: KmsKey = None

    @field_validator("state_machine")
    @classmethod
    def _sm(cls, value: str) -> str:
        return _matches(_SFN_NAME, value, "state_machine", "1-80 letters, digits, _ and -")

    @field_validator("activities")
    @classmethod
    def _activities(cls, values: list[str]) -> list[str]:
        for value in values:
            _matches(_SFN_NAME, value, "activity", "1-80 letters, digits, _ and -")
        return values

    @field_validator("table")
    @classmethod
    def _table(cls, value: str) -> str:
        return _matches(_DDB_TABLE, value, "table", "3-255 letters, digits and _.-")

    @field_validator("glue_jobs")
    @classmethod
    def _jobs(cls, values: list[str]) -> list[str]:
        for value in values:
            _matches(_GLUE_JOB, value, "glue job", "letters, digits and _.-")
        return values


class IamConfig(_Section):
    """The whole file. At least one service account section is required."""

    account_id: Annotated[str | None, BeforeValidator(_account)] = None
    region: str | None = None
    name_prefix: str = "migrate-"
    path: str = "/migrate-cli/"
    tags: dict[str, str] = Field(default_factory=dict)
    runner: RunnerConfig = Field(default_factory=RunnerConfig)
    network_reader: NetworkReader | None = None
    backup_writer: BackupWriter | None = None
    glacier_restore: GlacierRestore | None = None
    etl: Etl | None = None

    _source: str | None = PrivateAttr(default=None)
    _source_lines: dict[str, int] = PrivateAttr(default_factory=dict)

    @property
    def source(self) -> str | None:
        """The file this configuration was read from."""
        return self._source

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and value not in known_regions():
            close = difflib.get_close_matches(value, sorted(known_regions()), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ValueError(f"region {value!r} is not an AWS region{hint}")
        return value

    @field_validator("name_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if value and not _IAM_NAME.fullmatch(value):
            raise ValueError(f"name_prefix {value!r}: IAM names allow letters, digits and +=,.@_-")
        if len(value) > 32:
            raise ValueError("name_prefix: at most 32 characters")
        return value

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if len(value) > 512 or not _PATH.fullmatch(value):
            raise ValueError(f"path {value!r}: must start and end with '/' (printable ASCII, no wildcards)")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: dict[str, str]) -> dict[str, str]:
        for key, value in tags.items():
            if key in (OWNER_TAG[0], ROLE_TAG) or key.lower().startswith("aws:"):
                raise ValueError(f"tag {key!r} is reserved")
            if not 1 <= len(key) <= 128 or len(value) > 256:
                raise ValueError(f"tag {key!r}: keys 1-128 characters, values up to 256")
        if len(tags) > 48:
            raise ValueError("at most 48 tags (IAM allows 50; migrate-cli adds 2)")
        return tags

    @model_validator(mode="after")
    def _something(self) -> IamConfig:
        if not any((self.network_reader, self.backup_writer, self.glacier_restore, self.etl)):
            raise ValueError("no service accounts: add network_reader, backup_writer, glacier_restore or etl")
        longest = self.name_prefix + max(ROLE_SUFFIXES, key=len)
        if len(longest) > 64:
            raise ValueError(f"name_prefix: role names would exceed 64 characters ({longest})")
        if len(self.name_prefix + self.runner.user) > 64:
            raise ValueError("runner.user: with name_prefix the user name exceeds 64 characters")
        return self

    def line(self, *loc: str) -> int | None:
        """The line of a top-level key in the source file (for errors found after loading)."""
        return self._source_lines.get(loc[0]) if loc else None


ROLE_SUFFIXES = ("network-reader", "backup-writer", "glacier-restore", "etl-workflow", "etl-runner")


@cache
def known_regions() -> frozenset[str]:
    """Every region botocore knows, across partitions."""
    session = boto3.session.Session()
    return frozenset(
        region
        for partition in session.get_available_partitions()
        for service in ("sts", "iam", "s3")
        for region in session.get_available_regions(service, partition)
    )


def load_config(path: Path) -> IamConfig:
    """Read and validate an IAM config file; ConfigErrors list every problem as FILE:LINE: message."""
    if not path.is_file():
        raise ConfigError("no IAM configuration here (see examples/iam.yaml; --config FILE)", file=path)
    raw = load_yaml(path)
    if not isinstance(raw, LineDict):
        raise ConfigError("an IAM configuration is a mapping (see examples/iam.yaml)", file=path, line=1)
    try:
        config = IamConfig.model_validate(raw)
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            field = ".".join(str(p) for p in loc)
            message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
            errors.append(ConfigError(f"{field}: {message}" if field else message, file=path, line=line_of(raw, loc)))
        raise ConfigErrors(errors) from None
    config._source = str(path)
    config._source_lines = {str(k): v for k, v in raw.key_lines.items()}
    return config
