"""`migrate lab` and `migrate demo`: the whole cutover on one machine, no AWS account, no routers."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from migrate_cli.cli.context import console, settings_of
from migrate_cli.cli.run_cmd import render_result, sinks_for, write_report
from migrate_cli.core.errors import OperationFailed, SafetyRefusal
from migrate_cli.core.execute import execute_playbook
from migrate_cli.core.runner import RunOptions
from migrate_cli.lab.info import LabInfo, read_info

lab_app = typer.Typer(
    help="The embedded lab: local AWS endpoint, simulated SSH devices, authoritative DNS.",
    no_args_is_help=True,
)

LabInventory = Annotated[Path, typer.Option("--lab-inventory", help="The lab's inventory and lab.yaml.", metavar="DIR")]


def _info_table(info: LabInfo) -> Table:
    table = Table(title="Lab services on 127.0.0.1", title_justify="left")
    table.add_column("Service")
    table.add_column("Address")
    table.add_row("AWS endpoint (moto)", f"{info.aws_url}  region {info.region}")
    for index, server in enumerate(info.dns_servers):
        table.add_row(f"DNS ns{index + 1} ({info.dns_zone})", server)
    for name, port in info.devices.items():
        table.add_row(f"device {name} (SSH)", f"127.0.0.1:{port}")
    return table


@lab_app.command("up")
def lab_up(
    ctx: typer.Context,
    lab_inventory: LabInventory = Path("inventory/lab"),
    detach: Annotated[
        bool, typer.Option("--detach", "-d", help="Run in the background; stop with `lab down`.")
    ] = False,
) -> None:
    """Start the lab in the foreground (Ctrl-C stops it), or in the background with --detach."""
    settings = settings_of(ctx)
    running = read_info(settings.state_dir)
    if running is not None:
        raise SafetyRefusal(f"a lab is already running (pid {running.pid}); `migrate lab down` stops it")
    if detach:
        _detach(settings.state_dir, lab_inventory)
        return
    from migrate_cli.lab.manager import Lab  # the lab's servers load only when a lab starts

    lab = Lab(lab_inventory, settings.state_dir)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    info = lab.start()
    try:
        out = console()
        out.print(_info_table(info))
        out.print(f"Point tools at it:  [bold]source {info.env_file}[/]", highlight=False)
        out.print("Lab is up. Ctrl-C stops it.")
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        lab.stop()
    console().print("Lab stopped.")


def _detach(state_dir: Path, lab_inventory: Path) -> None:
    log = state_dir / "lab" / "lab.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "migrate_cli", "--state-dir", str(state_dir.resolve()),
        "lab", "up", "--lab-inventory", str(lab_inventory.resolve()),
    ]  # fmt: skip
    with open(log, "wb") as fh:
        child = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        info = read_info(state_dir)
        if info is not None and info.pid == child.pid:
            console().print(_info_table(info))
            console().print(f"Lab is up in the background (pid {info.pid}); `migrate lab down` stops it.")
            console().print(f"Point tools at it:  [bold]source {info.env_file}[/]", highlight=False)
            return
        if child.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:]
            raise OperationFailed(f"the lab did not start: {' '.join(tail) or 'see ' + str(log)}")
        time.sleep(0.2)
    child.terminate()
    raise OperationFailed(f"the lab did not start within 60 s; see {log}")


@lab_app.command("down")
def lab_down(ctx: typer.Context) -> None:
    """Stop a lab started with --detach."""
    settings = settings_of(ctx)
    info = read_info(settings.state_dir)
    if info is None:
        console().print("No lab is running.")
        return
    os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and read_info(settings.state_dir) is not None:
        time.sleep(0.2)
    if read_info(settings.state_dir) is not None:
        raise OperationFailed(f"the lab (pid {info.pid}) did not stop within 20 s")
    console().print(f"Lab (pid {info.pid}) stopped.")


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@lab_app.command("status")
def lab_status(ctx: typer.Context) -> None:
    """Show whether a lab is running and whether each of its services answers (exit 1 if not running)."""
    settings = settings_of(ctx)
    info = read_info(settings.state_dir)
    if info is None:
        if settings.json:
            typer.echo('{"running": false}')
        else:
            console().print("No lab is running (start one with `migrate lab up --detach`).")
        raise typer.Exit(1)
    aws_port = int(info.aws_url.rsplit(":", 1)[1])
    checks = {"aws": _answers(aws_port)} | {name: _answers(port) for name, port in info.devices.items()}
    if settings.json:
        import json

        typer.echo(json.dumps({"running": True, "pid": info.pid, "services": checks, **dataclasses.asdict(info)}))
        return
    table = _info_table(info)
    console().print(table)
    down = [name for name, ok in checks.items() if not ok]
    console().print(f"pid {info.pid}; " + (f"not answering: {', '.join(down)}" if down else "all services answer"))
    if down:
        raise typer.Exit(1)


def demo_command(
    ctx: typer.Context,
    lab_inventory: LabInventory = Path("inventory/lab"),
    playbook: Annotated[Path, typer.Option("--playbook", help="The demo playbook.")] = Path("playbooks/demo.yml"),
) -> None:
    """Start the lab, run the sample cutover playbook against it, write a report, stop the lab."""
    settings = settings_of(ctx)
    from migrate_cli.lab.manager import Lab  # the lab's servers load only when a lab starts

    lab = Lab(lab_inventory, settings.state_dir)
    out = console()
    with lab:
        assert lab.info is not None
        os.environ.update(lab.env())
        if not settings.quiet and not settings.json:
            out.print(_info_table(lab.info))
        run_settings = dataclasses.replace(settings, inventory_dir=lab.runtime_inventory)
        result = execute_playbook(run_settings, playbook, RunOptions(yes=True), sinks_for(settings))
    report = settings.reports_dir / f"{result.run_id}.md"
    write_report(settings, result.run_id, "md", report)
    write_report(settings, result.run_id, "html", report.with_suffix(".html"))
    render_result(settings, result, report)
    if result.exit_code:
        raise typer.Exit(result.exit_code)
