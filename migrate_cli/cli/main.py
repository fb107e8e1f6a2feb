"""The `migrate` command: global options, sub-commands, and the mapping of errors to exit codes."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from migrate_cli import __version__
from migrate_cli.cli.archive_cmd import archive_app
from migrate_cli.cli.aws_cmd import aws_app
from migrate_cli.cli.backup_cmd import backup_app
from migrate_cli.cli.data_cmd import data_app
from migrate_cli.cli.domain_cmd import domain_app
from migrate_cli.cli.failover_cmd import failover_app
from migrate_cli.cli.iam_cmd import iam_app
from migrate_cli.cli.init_cmd import init_command
from migrate_cli.cli.inventory_cmd import inventory_app
from migrate_cli.cli.lab_cmd import demo_command, lab_app
from migrate_cli.cli.network_cmd import network_app
from migrate_cli.cli.run_cmd import report_command, run_command, runs_app
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


app.add_typer(inventory_app, name="inventory")
app.command("run")(run_command)
app.add_typer(runs_app, name="runs")
app.command("report")(report_command)
app.add_typer(lab_app, name="lab")
app.add_typer(network_app, name="network")
app.add_typer(aws_app, name="aws")
app.add_typer(domain_app, name="domain")
app.add_typer(failover_app, name="failover")
app.add_typer(backup_app, name="backup")
app.add_typer(archive_app, name="archive")
app.add_typer(data_app, name="data")
app.add_typer(iam_app, name="iam")
app.command("demo")(demo_command)
app.command("init")(init_command)


def _error(message: str) -> None:
    typer.echo(f"migrate: error: {mask(message)}" if "\n" not in message else mask(message), err=True)


def run() -> None:
    """Console entry point: run the app and turn errors into the documented exit codes."""
    try:
        code = app(standalone_mode=False)
    except (typer.Abort, KeyboardInterrupt):
        sys.stdout.flush()
        os.write(2, b"migrate: interrupted\n")
        # Everything that must be undone already ran while the exception unwound; do not wait for worker
        # threads still blocked on a device or an endpoint.
        os._exit(EXIT_INTERRUPTED)
    except ConfigError as exc:
        _error(exc.location_message())
        sys.exit(exc.exit_code)
    except MigrateError as exc:
        _error(str(exc))
        sys.exit(exc.exit_code)
    except typer.TyperException as exc:  # usage errors (exit 2) and other parser errors
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            _error(str(exc))
        sys.exit(getattr(exc, "exit_code", EXIT_BAD_INPUT))
    except Exception as exc:
        if os.environ.get("MIGRATE_DEBUG") or "-v" in sys.argv or "--verbose" in sys.argv:
            raise
        _error(f"unexpected {type(exc).__name__}: {exc} (re-run with --verbose for the traceback)")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
