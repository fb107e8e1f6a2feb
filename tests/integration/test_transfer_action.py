"""The `data.copy` playbook action end to end: a playbook step copying into moto server, its check mode,
its journal entry, progress events, and parameter errors reported with FILE:LINE at load time."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from transfer_helpers import make_tree, objects

from migrate_cli.core.errors import ConfigError
from migrate_cli.core.events import Event, EventKind
from migrate_cli.core.execute import execute_playbook
from migrate_cli.core.journal import Journal
from migrate_cli.core.runner import RunOptions
from migrate_cli.core.settings import Settings
from tests.conftest import write


def _playbook(tmp_path: Path, src: Path, bucket: str, extra: str = "") -> Path:
    return write(
        tmp_path / "copy.yml",
        f"""
        name: Seed the bucket
        steps:
          - name: Copy the site into S3
            action: data.copy
            with:
              src: {src}
              dest: s3://{bucket}/site
              delete: true
              exclude: ["*.tmp"]
              {extra}
        """,
    )


def test_a_playbook_step_copies_and_journals_what_moved(s3: Any, small_inventory: Path, tmp_path: Path) -> None:
    bucket = f"ac-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    content = make_tree(tmp_path / "src", files=5)
    (tmp_path / "src" / "scratch.tmp").write_text("excluded")
    settings = Settings(inventory_dir=small_inventory, state_dir=tmp_path / "state")
    playbook = _playbook(tmp_path, tmp_path / "src", bucket)
    events: list[Event] = []

    check = execute_playbook(settings, playbook, RunOptions(check=True), [events.append])
    assert check.ok and check.steps[0].hosts[0].status == "changed"
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    diff = [e for e in events if e.kind == EventKind.DIFF][0]
    assert diff.message.startswith(f"upload {len(content)} file(s) (") and diff.message.endswith(f"s3://{bucket}/site/")

    result = execute_playbook(settings, playbook, RunOptions(), [events.append])
    assert result.ok
    data = result.steps[0].hosts[0].data
    assert data["copied"] == len(content) and data["failed"] == 0 and data["verified"] == len(content)
    assert objects(s3, bucket, "site/") == content
    again = execute_playbook(settings, playbook, RunOptions())
    assert again.steps[0].hosts[0].status == "ok" and again.steps[0].hosts[0].data["unchanged"] == len(content)
    journal = Journal.in_state_dir(settings.state_dir)
    try:
        assert len(journal.list_runs()) == 3
        applied = journal.get_run(result.run_id)
        assert applied is not None and applied.steps[0].hosts[0].data["copied"] == len(content)
    finally:
        journal.close()


def test_parameter_errors_name_the_file_and_line(small_inventory: Path, tmp_path: Path) -> None:
    playbook = _playbook(tmp_path, tmp_path, "bkt-1", extra="storage_class: FROZEN")
    settings = Settings(inventory_dir=small_inventory, state_dir=tmp_path / "state")
    with pytest.raises(ConfigError) as err:
        execute_playbook(settings, playbook, RunOptions())
    assert f"{playbook}:" in str(err.value) and "storage_class: 'FROZEN' is not one of" in str(err.value)
    assert not (tmp_path / "state" / "transfer").exists()
