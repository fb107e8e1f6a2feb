"""`migrate aws check`: the AWS account prerequisites, rendered for people (rich/plain) or machines (--json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from migrate_cli.aws.check import AwsCheckReport, check_aws, check_services_names, services_for_playbook
from migrate_cli.cli.context import console, interactive, settings_of
from migrate_cli.core.settings import Settings

aws_app = typer.Typer(help="AWS account prerequisites: credentials, identity, services.", no_args_is_help=True)


@aws_app.command("check")
def check(
    ctx: typer.Context,
    service: Annotated[
        list[str] | None,
        typer.Option("--service", "-s", help="A service to check (repeatable). Default: the runbook's services."),
    ] = None,
    playbook: Annotated[
        Path | None, typer.Option("--playbook", "-p", help="Check the services this playbook's actions use.")
    ] = None,
) -> None:
    """Credentials through the standard chain, STS GetCallerIdentity, and each service answering (exit 1 if not)."""
    settings = settings_of(ctx)
    services = check_services_names(service) if service else None
    if playbook is not None:
        services = list(dict.fromkeys([*(services or []), *services_for_playbook(playbook)]))
    if interactive() and not settings.json:
        with console().status("Checking AWS credentials and services…"):
            report = check_aws(services)
    else:
        report = check_aws(services)
    render(settings, report)
    if not report.ok:
        raise typer.Exit(1)


def render(settings: Settings, report: AwsCheckReport) -> None:
    if settings.json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    if settings.quiet:
        typer.echo(report.summary())
        return
    facts = [
        ("account", report.account),
        ("arn", report.arn),
        ("region", report.region),
        ("credentials", _credentials(report)),
        ("endpoint", report.endpoint_url),
    ]
    if interactive():
        out = console()
        for key, value in facts:
            if value:
                out.print(f"[bold]{key:>11}[/] {escape(value)}", highlight=False)
        if report.services:
            table = Table(title_justify="left")
            for col in ("Service", "Call", "Result", "ms"):
                table.add_column(col)
            for s in report.services:
                result = "[green]ok[/]" if s.ok else f"[red]{'skipped' if s.skipped else 'failed'}[/]"
                detail = f" {escape(s.problem.message)}" if s.problem and not s.skipped else ""
                table.add_row(s.service, s.operation, result + detail, str(s.elapsed_ms) if not s.skipped else "-")
            out.print(table)
        for problem in report.problems:
            out.print(f"[red]✗[/] {escape(problem.message)}", highlight=False)
        style = "bold green" if report.ok else "bold red"
        out.print(f"[{style}]{escape(report.summary())}[/]", highlight=False)
        return
    for key, value in facts:
        if value:
            typer.echo(f"{key}: {value}")
    for s in report.services:
        if s.ok:
            line = f"service {s.service} {s.operation}: ok ({s.elapsed_ms} ms)"
        elif s.skipped:
            line = f"service {s.service} {s.operation}: skipped (credentials failed)"
        else:
            line = f"service {s.service} {s.operation}: FAILED: {s.problem.message if s.problem else '?'}"
        typer.echo(line)
    for problem in report.problems:
        typer.echo(f"problem: {problem.message}")
    typer.echo(report.summary())


def _credentials(report: AwsCheckReport) -> str | None:
    if report.credential_source is None:
        return None
    expiry = f", expire {report.credential_expiry}" if report.credential_expiry else ""
    return f"from {report.credential_source}{expiry}"
