"""The command name is found after the global options, and global flags typed after it move in front."""

from __future__ import annotations

import pytest

from migrate_cli.cli.main import hoist_global_flags, requested_command


@pytest.mark.parametrize(
    ("argv", "command", "hoisted"),
    [
        (["inventory", "list", "--json"], "inventory", ["--json", "inventory", "list"]),
        # an option's value that looks like the command is not the command
        (
            ["-i", "inventory", "inventory", "list", "--json"],
            "inventory",
            ["-i", "inventory", "--json", "inventory", "list"],
        ),
        (
            ["--state-dir", "data", "data", "copy", "a", "b", "-v"],
            "data",
            ["--state-dir", "data", "-v", "data", "copy", "a", "b"],
        ),
        (["run", "p.yml", "--", "--json", "-v"], "run", ["run", "p.yml", "--", "--json", "-v"]),
        (["--json", "--verbose"], None, ["--json", "--verbose"]),
    ],
)
def test_the_command_and_its_global_flags(argv: list[str], command: str | None, hoisted: list[str]) -> None:
    assert requested_command(argv) == command
    assert hoist_global_flags(argv) == hoisted
