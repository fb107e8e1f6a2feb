"""The backup configuration (`backup.yaml`): what to back up, where, and how long to keep it.

```yaml
source: /srv/site                     # a directory; relative paths are relative to this file
destination: s3://site-backups/hq     # bucket and prefix (the backup store)
exclude: ["*.tmp", "cache/**"]        # globs; see scan.py for the matching rules
retention: {daily: 7, weekly: 4, monthly: 12, yearly: 0}
storage_class: STANDARD               # STANDARD, STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, GLACIER_IR
sse: AES256                           # or aws:kms with kms_key_id
workers: 8
bwlimit: 10M                          # bandwidth limit for uploads and restores (bytes/s: 512K, 10M, 1G)
rehash: false                         # true: hash every file instead of trusting size + mtime
verify: checksum                      # or readback: also download and hash every new object
create_bucket: false                  # true: create the bucket (in AWS_REGION) if it does not exist
```
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from migrate_cli.core.actions import ActionParams
from migrate_cli.core.errors import ConfigError, ConfigErrors
from migrate_cli.core.yamlio import LineDict, line_of, load_yaml
from migrate_cli.transfer.backup.s3util import S3Location, check_storage_class, parse_s3_url
from migrate_cli.transfer.bandwidth import parse_rate

DEFAULT_CONFIG = Path("backup.yaml")
# Backups must stay readable without a restore request, so the Glacier Flexible/Deep classes are refused.
BACKUP_STORAGE_CLASSES = ("STANDARD", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR")
MIN_PART_MIB = 5  # S3's minimum multipart part size


class Retention(BaseModel):
    """How many snapshots to keep per period; the newest snapshot of each period is the one kept."""

    model_config = ConfigDict(extra="forbid")
    daily: int = Field(default=7, ge=1)
    weekly: int = Field(default=4, ge=0)
    monthly: int = Field(default=12, ge=0)
    yearly: int = Field(default=0, ge=0)


class BackupOptions(BaseModel):
    """Everything but the source and destination (shared by the config file and the playbook action)."""

    model_config = ConfigDict(extra="forbid")
    exclude: list[str] = Field(default_factory=list)
    retention: Retention = Field(default_factory=Retention)
    storage_class: str = "STANDARD"
    sse: Literal["AES256", "aws:kms"] | None = None
    kms_key_id: str | None = None
    workers: int = Field(default=8, ge=1, le=64)
    bwlimit: str | int | None = None
    rehash: bool = False
    verify: Literal["checksum", "readback"] = "checksum"
    part_size_mib: int = Field(default=16, ge=MIN_PART_MIB, le=5 * 1024)
    create_bucket: bool = False

    @field_validator("storage_class")
    @classmethod
    def _storage_class(cls, value: str) -> str:
        try:
            return check_storage_class(value, BACKUP_STORAGE_CLASSES, "storage_class")
        except ConfigError as exc:
            raise ValueError(exc.message + " (GLACIER and DEEP_ARCHIVE need a restore before reading)") from None

    @field_validator("bwlimit")
    @classmethod
    def _bwlimit(cls, value: str | int | None) -> str | int | None:
        if value is not None:
            try:
                parse_rate(str(value))
            except ConfigError as exc:
                raise ValueError(exc.message.removeprefix("--bwlimit: ")) from None
        return value

    @property
    def bwlimit_bytes(self) -> int:
        """The bandwidth limit in bytes per second (0: none)."""
        return parse_rate(str(self.bwlimit)) if self.bwlimit is not None else 0

    @field_validator("exclude")
    @classmethod
    def _exclude(cls, value: list[str]) -> list[str]:
        for pattern in value:
            if not pattern.strip():
                raise ValueError("empty exclude pattern")
        return value

    @model_validator(mode="after")
    def _kms(self) -> BackupOptions:
        if self.kms_key_id and self.sse != "aws:kms":
            raise ValueError("kms_key_id needs sse: aws:kms")
        return self


def _check_destination(value: str) -> str:
    try:
        parse_s3_url(value, "destination")
    except ConfigError as exc:
        raise ValueError(exc.message) from None
    return value


class BackupConfig(BackupOptions):
    """A validated backup configuration; `source_path` is absolute."""

    source: str = Field(min_length=1)
    destination: str

    base_dir: Path = Field(default=Path("."), exclude=True)
    config_file: str | None = Field(default=None, exclude=True)

    @field_validator("destination")
    @classmethod
    def _destination(cls, value: str) -> str:
        return _check_destination(value)

    @property
    def source_path(self) -> Path:
        return (self.base_dir / Path(self.source).expanduser()).absolute()

    @property
    def location(self) -> S3Location:
        return parse_s3_url(self.destination, "destination")

    def public(self) -> dict[str, Any]:
        """JSON-safe summary for plans and the journal."""
        return {
            "config": self.config_file,
            "source": str(self.source_path),
            "destination": self.location.url,
            "storage_class": self.storage_class,
            "retention": self.retention.model_dump(),
        }


def _messages(exc: ValidationError, data: Any, path: Path | None, prefix: str = "") -> list[ConfigError]:
    out = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if p != "__root__")
        field = ".".join(str(p) for p in loc)
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        elif err["type"] == "value_error":
            message = str(err.get("ctx", {}).get("error", err["msg"]))
        else:
            message = err["msg"]
        what = f"{prefix}{field}: " if field and not message.startswith(f"{field}:") else prefix
        out.append(ConfigError(f"{what}{message}", file=path, line=line_of(data, loc) if data is not None else None))
    return out


def load_backup_config(path: Path) -> BackupConfig:
    """Read and validate a backup config file; ConfigErrors with FILE:LINE for every problem."""
    if not path.exists():
        raise ConfigError("backup config not found (pass --config FILE, see examples/backup.yaml)", file=path)
    raw = load_yaml(path)
    if not isinstance(raw, LineDict):
        raise ConfigError("a backup config is a mapping with 'source' and 'destination'", file=path, line=1)
    data = dict(raw) | {"base_dir": path.parent.absolute(), "config_file": str(path)}
    for key in ("base_dir", "config_file"):
        if key in raw:
            raise ConfigError(f"{key}: unknown key", file=path, line=raw.key_lines.get(key))
    try:
        return BackupConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigErrors(_messages(exc, raw, path)) from None


class BackupParams(BackupOptions, ActionParams):
    """`data.backup` parameters: either `config: FILE`, or the config's fields inline."""

    config: str | None = None
    source: str | None = None
    destination: str | None = None
    as_of: date | None = None

    @model_validator(mode="after")
    def _either(self) -> BackupParams:
        inline = self.model_fields_set - {"config", "as_of"}
        if self.config and inline:
            raise ValueError(f"give either config or inline settings, not both ({', '.join(sorted(inline))})")
        if not self.config and not (self.source and self.destination):
            raise ValueError("needs config: FILE, or source and destination")
        if self.destination:
            _check_destination(self.destination)
        return self

    def resolve(self, base_dir: Path | None = None) -> BackupConfig:
        """The effective BackupConfig (loads the file when `config` is set)."""
        if self.config:
            return load_backup_config(Path(self.config))
        values = self.model_dump(exclude={"config", "as_of"})
        return BackupConfig.model_validate(values | {"base_dir": (base_dir or Path(".")).absolute()})
