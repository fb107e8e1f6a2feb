"""Reports from the journal: every format carries the steps, host results and diffs, never secrets."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

from migrate_cli.core.execute import execute_playbook
from migrate_cli.core.journal import Journal
from migrate_cli.core.runner import RunOptions
from migrate_cli.core.secrets import register_secret
from migrate_cli.core.settings import Settings
from migrate_cli.report.render import render_report
from tests.conftest import write
from tests.unit.recording import RecordAction  # noqa: F401  (registers test.record)


def _run(tmp_path: Path, inventory: Path, check: bool) -> tuple[Journal, str]:
    register_secret("pa55word-in-a-message")
    pb = write(
        tmp_path / "pb.yml",
        """
        name: report me
        steps:
          - name: change things
            action: test.record
            with: {say: "using pa55word-in-a-message", fail_apply_on: [c1]}
            on_failure: continue
          - name: look only
            action: test.record
            with: {change: false}
        """,
    )
    settings = Settings(inventory_dir=inventory, state_dir=tmp_path / "state")
    result = execute_playbook(settings, pb, RunOptions(check=check))
    return Journal.in_state_dir(settings.state_dir), result.run_id


def test_markdown_report(tmp_path: Path, small_inventory: Path) -> None:
    journal, run_id = _run(tmp_path, small_inventory, check=False)
    run = journal.get_run(run_id)
    assert run is not None
    text = render_report(run, journal.events(run_id), "md")
    assert text.startswith("# Run report: report me")
    assert "| Status | **failed** |" in text
    assert "## 1. change things" in text and "## 2. look only" in text
    assert "| c1 | failed | yes | apply: apply broke |" in text
    assert "```diff\n+x\n```" in text
    assert "pa55word" not in text


def test_check_mode_report_says_nothing_changed(tmp_path: Path, small_inventory: Path) -> None:
    journal, run_id = _run(tmp_path, small_inventory, check=True)
    run = journal.get_run(run_id)
    assert run is not None
    text = render_report(run, journal.events(run_id), "md")
    assert "dry run (--check): nothing was changed" in text
    assert "3 would change" in text and "planned change" in text


def test_json_and_html_reports(tmp_path: Path, small_inventory: Path) -> None:
    journal, run_id = _run(tmp_path, small_inventory, check=False)
    run = journal.get_run(run_id)
    assert run is not None
    model = json.loads(render_report(run, journal.events(run_id), "json"))
    assert model["run"]["id"] == run_id and model["totals"]["failed"] == 1
    assert [s["name"] for s in model["steps"]] == ["change things", "look only"]
    html = render_report(run, journal.events(run_id), "html")
    HTMLParser().feed(html)
    assert "<h2>1. change things</h2>" in html and "pa55word" not in html
