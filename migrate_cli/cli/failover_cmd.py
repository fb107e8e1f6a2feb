"""`migrate failover check|drill|watch`: is failover armed, prove it with a timed drill, steer a Linux edge."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table

from migrate_cli.cli.context import confirm_on_tty, console, interactive, settings_of
from migrate_cli.cli.output import JsonSink, PlainSink, RichSink
from migrate_cli.cli.run_cmd import write_report
from migrate_cli.core.errors import ConfigError, SafetyRefusal
from migrate_cli.core.events import Sink
from migrate_cli.core.inventory import load_inventory
from migrate_cli.core.oneshot import OneStepRun, run_action
from migrate_cli.core.runner import new_run_id
from migrate_cli.core.settings import Settings
from migrate_cli.failover.actions import (
    CheckParams,
    DrillParams,
    FailoverCheckAction,
    FailoverDrillAction,
    FailoverWatchAction,
    NotArmed,
    WatchParams,
)
from migrate_cli.failover.check import SiteVerdict
from migrate_cli.failover.model import find_link, load_edges

failover_app = typer.Typer(
    help="Multi-ISP failover: check it is armed, prove it with a timed drill, or steer a Linux edge (watch).",
    no_args_is_help=True,
)

Limit = Annotated[str | None, typer.Option("--limit", "-l", help="Edges: names, @group, globs, !exclusions.")]


def _params(cls: type[Any], values: dict[str, Any], names: dict[str, str]) -> Any:
    try:
        return cls.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else ""
        raise ConfigError(f"{names.get(field, field)}: {err['msg']}") from None


def _event_sinks(settings: Settings) -> list[Sink]:
    """Drill/watch: every decision as it happens (messages included)."""
    if settings.json:
        return [JsonSink()]
    if interactive():
        return [RichSink(console(), verbose=not settings.quiet, quiet=settings.quiet)]
    return [PlainSink(verbose=not settings.quiet, quiet=settings.quiet)]


# ------------------------------------------------------------------------------------------------------------
# check
# ------------------------------------------------------------------------------------------------------------
def _fmt(value: Any, unit: str = "") -> str:
    return "-" if value is None else f"{value:g}{unit}"


def _render_site(verdict: SiteVerdict, rich: bool) -> None:
    rows = []
    for edge in verdict.edges:
        for stats in edge.stats:
            carries = "yes" if edge.default_uplink == stats.uplink else ""
            if not stats.local:
                state, loss, rtt = "not probed", "-", "-"
            else:
                state = "live" if stats.live else "DOWN"
                loss, rtt = _fmt(round(stats.loss_pct, 1), "%"), _fmt(_round(stats.rtt_avg_ms), " ms")
            rows.append((edge.host, stats.uplink, stats.source, state, loss, rtt, carries))
    if rich:
        style = "bold green" if verdict.armed else "bold red"
        table = Table(title=f"[{style}]{verdict.line()}[/]", title_justify="left")
        for col in ("Edge", "Uplink", "Source", "State", "Loss", "RTT", "Default route"):
            table.add_column(col)
        for row in rows:
            table.add_row(*row)
        console().print(table)
        for note in verdict.notes:
            console().print(f"  [dim]note:[/] {note}", highlight=False)
        return
    typer.echo(verdict.line())
    for host, name, source, state, loss, rtt, carries in rows:
        default = "  (default route)" if carries else ""
        typer.echo(f"  {host} {name} from {source}: {state}, loss {loss}, rtt {rtt}{default}")
    for note in verdict.notes:
        typer.echo(f"  note: {note}")


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


@failover_app.command("check")
def check_command(
    ctx: typer.Context,
    limit: Limit = None,
    count: Annotated[int, typer.Option("--count", "-c", help="Probes per target.")] = 5,
) -> None:
    """Is failover armed at each site? Probes per uplink (loss, RTT), the default route, IP SLA/track, DX/VPN BGP.

    Exit 0 when every site is armed, 1 when one is not (the reasons are printed).
    """
    settings = settings_of(ctx)
    as_json = settings.json
    inventory = load_inventory(settings.inventory_dir)
    params = _params(CheckParams, {"limit": limit, "count": count}, {"limit": "--limit", "count": "--count"})
    load_edges(inventory, limit)  # bad uplink data: exit 2 before anything runs
    sinks: list[Sink] = [PlainSink(verbose=True)] if settings.verbose and not as_json else []
    run = run_action(settings, FailoverCheckAction, params, inventory=inventory, title="failover check", sinks=sinks)
    if isinstance(run.error, ConfigError):
        raise run.error
    verdicts: list[SiteVerdict] | None = None
    if isinstance(run.error, NotArmed):
        verdicts = run.error.verdicts
    elif run.plan is not None:
        verdicts = run.plan.state
    if verdicts is None:
        raise run.error if run.error is not None else typer.Exit(1)
    if as_json:
        typer.echo(json.dumps({"run_id": run.result.run_id, "sites": [v.public() for v in verdicts]}, default=str))
    else:
        rich = interactive()
        for verdict in verdicts:
            _render_site(verdict, rich)
        if not settings.quiet:
            typer.echo(f"run {run.result.run_id}: `migrate report {run.result.run_id}` for the report")
    raise typer.Exit(0 if all(v.armed for v in verdicts) else 1)


# ------------------------------------------------------------------------------------------------------------
# drill
# ------------------------------------------------------------------------------------------------------------
@failover_app.command("drill")
def drill_command(
    ctx: typer.Context,
    link: Annotated[str, typer.Option("--link", help="The uplink (or DX link) to take down.", show_default=False)],
    limit: Limit = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (disruptive!).")] = False,
    max_duration: Annotated[
        float,
        typer.Option("--max-duration", help="Seconds for the whole drill; the link is restored when it runs out."),
    ] = 60.0,
    settle: Annotated[
        float | None, typer.Option("--settle", help="Seconds on the secondary before restoring (default: hold-down).")
    ] = None,
    goal: Annotated[float, typer.Option("--goal", help="Failover time the report measures against (s).")] = 1.0,
) -> None:
    """Take a link down, time detection and traffic on the secondary, restore it, time the failback.

    Disruptive: asks for confirmation on a terminal; without one, needs --yes (else exit 3). The link is ALWAYS
    restored: on success, errors, Ctrl-C and --max-duration. A drill that cannot restore exits 1, loudly.
    """
    settings = settings_of(ctx)
    params = _params(
        DrillParams,
        {"link": link, "limit": limit, "max_duration": max_duration, "settle": settle, "goal": goal},
        {
            "link": "--link",
            "limit": "--limit",
            "max_duration": "--max-duration",
            "settle": "--settle",
            "goal": "--goal",
        },
    )
    inventory = load_inventory(settings.inventory_dir)
    choice = find_link(load_edges(inventory, limit), link)  # unknown link: exit 2 before anything is asked
    if not yes:
        if not interactive():
            raise SafetyRefusal(
                f"the drill takes {link} on {choice.edge.host} down: re-run with --yes, or at a terminal to confirm"
            )
        question = f"Take {link} on {choice.edge.host} DOWN (for at most {max_duration:g}s; it is restored at the end)?"
        if not confirm_on_tty(question):
            raise SafetyRefusal("drill not confirmed: nothing was done")
    run_id = new_run_id()
    try:
        run = run_action(
            settings,
            FailoverDrillAction,
            params,
            inventory=inventory,
            title=f"failover drill of {link}",
            disruptive=True,
            yes=True,  # confirmed above
            sinks=_event_sinks(settings),
            run_id=run_id,
        )
    except KeyboardInterrupt:
        _reports(settings, run_id)
        raise
    _render_drill(settings, run)
    raise typer.Exit(run.exit_code)


def _reports(settings: Settings, run_id: str) -> str | None:
    report = settings.reports_dir / f"{run_id}.md"
    try:
        write_report(settings, run_id, "md", report)
        write_report(settings, run_id, "html", report.with_suffix(".html"))
    except ConfigError:
        return None
    return str(report)


def _render_drill(settings: Settings, run: OneStepRun) -> None:
    report = _reports(settings, run.result.run_id)
    if settings.json:
        typer.echo(json.dumps({"run_id": run.result.run_id, "result": run.applied, "report": report}, default=str))
        return
    applied = run.applied or {}
    rich = interactive()
    out = console()

    def say(line: str, loud: bool = False) -> None:
        if rich:
            out.print(f"[bold red]{line}[/]" if loud else line, highlight=False, markup=loud, soft_wrap=True)
        else:
            typer.echo(line)

    if run.result.status == "refused":
        say("drill not confirmed: nothing was done")
        return
    for line in applied.get("summary", []):
        say(line, loud="NOT RESTORE" in line or "by hand" in line)
    if run.error is not None and not applied:
        say(f"drill failed: {run.error}", loud=True)
    if report:
        say(f"report: {report}")


# ------------------------------------------------------------------------------------------------------------
# watch
# ------------------------------------------------------------------------------------------------------------
@failover_app.command("watch")
def watch_command(
    ctx: typer.Context,
    limit: Limit = None,
    max_duration: Annotated[
        float | None, typer.Option("--max-duration", help="Stop after this many seconds (default: run until stopped).")
    ] = None,
) -> None:
    """For edges that cannot run IP SLA: probe each uplink and move the default route with hysteresis.

    Down after `down_after` misses, up after `up_after` successes, at most one move per hold-down (timers in
    the edge's `failover:` data). Every decision goes to the journal. Stops on Ctrl-C, SIGTERM or --max-duration.
    """
    settings = settings_of(ctx)
    params = _params(
        WatchParams,
        {"limit": limit, "max_duration": max_duration},
        {"limit": "--limit", "max_duration": "--max-duration"},
    )
    inventory = load_inventory(settings.inventory_dir)
    load_edges(inventory, limit)
    run = run_action(
        settings,
        FailoverWatchAction,
        params,
        inventory=inventory,
        title="failover watch",
        yes=True,
        sinks=_event_sinks(settings),
    )
    if run.error is not None:
        raise run.error
    raise typer.Exit(run.exit_code)
