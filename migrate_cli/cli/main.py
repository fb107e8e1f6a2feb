"""The `migrate` command: global options, sub-commands, and the mapping of errors to exit codes."""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import sys
import threading
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from migrate_cli import __version__
from migrate_cli.core.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, ConfigError, MigrateError
from migrate_cli.core.secrets import mask
from migrate_cli.core.settings import Settings

app = typer.Typer(
    name="migrate",
    help=(
        "Move an on-premises site into AWS and keep it running: prerequisites, connectivity, failover, "
        "data, ETL and runbooks, with honest dry runs and a journal of everything.\n\n"
        "Try it with no AWS account and no routers: [bold]migrate demo[/]."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"migrate {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    inventory: Annotated[
        Path,
        typer.Option("--inventory", "-i", envvar="MIGRATE_INVENTORY", help="Inventory directory.", metavar="DIR"),
    ] = Path("inventory"),
    state_dir: Annotated[
        Path,
        typer.Option(
            "--state-dir", envvar="MIGRATE_STATE_DIR", help="Journal, locks, backups, reports.", metavar="DIR"
        ),
    ] = Path(".migrate"),
    json_output: Annotated[bool, typer.Option("--json", help="Machine-readable output (JSON).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors and the final summary.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Progress details and tracebacks.")] = False,
    version: Annotated[
        bool | None, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = None,
) -> None:
    """Global options apply to every command."""
    ctx.obj = Settings(inventory_dir=inventory, state_dir=state_dir, json=json_output, quiet=quiet, verbose=verbose)


# Command name -> (module, attribute, is a group). Only the module of the command being run is imported,
# so `migrate data copy` does not pay for netmiko, moto and the rest at start-up; help and completion load all.
COMMANDS: dict[str, tuple[str, str, bool]] = {
    "init": ("migrate_cli.cli.init_cmd", "init_command", False),
    "inventory": ("migrate_cli.cli.inventory_cmd", "inventory_app", True),
    "run": ("migrate_cli.cli.run_cmd", "run_command", False),
    "runs": ("migrate_cli.cli.run_cmd", "runs_app", True),
    "report": ("migrate_cli.cli.run_cmd", "report_command", False),
    "aws": ("migrate_cli.cli.aws_cmd", "aws_app", True),
    "domain": ("migrate_cli.cli.domain_cmd", "domain_app", True),
    "iam": ("migrate_cli.cli.iam_cmd", "iam_app", True),
    "network": ("migrate_cli.cli.network_cmd", "network_app", True),
    "failover": ("migrate_cli.cli.failover_cmd", "failover_app", True),
    "data": ("migrate_cli.cli.data_cmd", "data_app", True),
    "backup": ("migrate_cli.cli.backup_cmd", "backup_app", True),
    "archive": ("migrate_cli.cli.archive_cmd", "archive_app", True),
    "lab": ("migrate_cli.cli.lab_cmd", "lab_app", True),
    "demo": ("migrate_cli.cli.lab_cmd", "demo_command", False),
}
# Global options that take a value, to find the command name in argv.
_VALUE_OPTIONS = {"--inventory", "-i", "--state-dir"}
_registered: set[str] = set()


def register(names: list[str] | None = None) -> typer.Typer:
    """Add the named commands (all when None) to `app`, importing only their modules."""
    for name in names if names is not None else list(COMMANDS):
        if name in _registered:
            continue
        module, attr, group = COMMANDS[name]
        target = getattr(importlib.import_module(module), attr)
        if group:
            app.add_typer(target, name=name)
        else:
            app.command(name)(target)
        _registered.add(name)
    return app


# Global flags users also type after the command (`migrate inventory list --json`), as most CLIs allow.
_GLOBAL_FLAGS = {"--json", "--quiet", "-q", "--verbose", "-v"}


def hoist_global_flags(argv: list[str]) -> list[str]:
    """Move global flags found after the command in front of it (up to a `--`)."""
    at = _command_index(argv)
    if at is None:
        return argv
    end = argv.index("--", at) if "--" in argv[at:] else len(argv)
    tail = argv[at:end]
    flags = [a for a in tail if a in _GLOBAL_FLAGS]
    return argv[:at] + flags + [a for a in tail if a not in _GLOBAL_FLAGS] + argv[end:]


def requested_command(argv: list[str]) -> str | None:
    """The command name in `argv` (after the global options), or None."""
    at = _command_index(argv)
    return None if at is None else argv[at]


def _command_index(argv: list[str]) -> int | None:
    """Where the command name is in `argv`: the first word that is neither an option nor an option's value."""
    skip = False
    for at, arg in enumerate(argv):
        if skip:
            skip = False
        elif arg in _VALUE_OPTIONS:
            skip = True
        elif not arg.startswith("-"):
            return at
    return None


def _error(message: str) -> None:
    typer.echo(f"migrate: error: {mask(message)}" if "\n" not in message else mask(message), err=True)


def _exit(code: int) -> NoReturn:
    """End the process with `code`. atexit handlers run and output is flushed, but CPython's teardown of
    every module and object is skipped: with botocore's service models loaded it takes 0.1-0.15 s, as long
    as a small copy. Only when no other non-daemon thread is running; else a normal exit waits for it."""
    main = threading.main_thread()
    if any(t is not main and t.is_alive() and not t.daemon for t in threading.enumerate()):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more can be said
            stream.flush()
    os._exit(code)


def run() -> None:
    """Console entry point: run the app and turn errors into the documented exit codes."""
    argv = hoist_global_flags(sys.argv[1:])
    name = requested_command(argv)
    completing = any(k.startswith("_MIGRATE") and k.endswith("_COMPLETE") for k in os.environ)
    if completing or (name not in COMMANDS and "--version" not in argv):
        register()  # help, completion, or a mistyped command (its suggestion needs every name)
    elif name in COMMANDS:
        register([name])
    try:
        code = app(args=argv, prog_name="migrate", standalone_mode=False)
    except (typer.Abort, KeyboardInterrupt):
        sys.stdout.flush()
        os.write(2, b"migrate: interrupted\n")
        # Everything that must be undone already ran while the exception unwound; do not wait for worker
        # threads still blocked on a device or an endpoint.
        os._exit(EXIT_INTERRUPTED)
    except ConfigError as exc:
        _error(exc.location_message())
        _exit(exc.exit_code)
    except MigrateError as exc:
        _error(str(exc))
        _exit(exc.exit_code)
    except typer.TyperException as exc:  # usage errors (exit 2) and other parser errors
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            _error(str(exc))
        _exit(getattr(exc, "exit_code", EXIT_BAD_INPUT))
    except Exception as exc:
        if os.environ.get("MIGRATE_DEBUG") or "-v" in sys.argv or "--verbose" in sys.argv:
            raise
        _error(f"unexpected {type(exc).__name__}: {exc} (re-run with --verbose for the traceback)")
        _exit(1)
    _exit(code if isinstance(code, int) else 0)
