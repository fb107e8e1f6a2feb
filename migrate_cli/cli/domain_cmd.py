"""`migrate domain verify | publish | token`: domain ownership records, checked on every name server."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from migrate_cli.cli.context import console, interactive, settings_of
from migrate_cli.core.errors import ConfigError
from migrate_cli.core.settings import Settings
from migrate_cli.dns.names import Expected, check_domain, expectations_from_options, short
from migrate_cli.dns.publish import PublishPlan, Route53Publisher, check_provider
from migrate_cli.dns.servers import Server, parse_server_spec
from migrate_cli.dns.tokens import SERVICES, TokenResult, get_tokens
from migrate_cli.dns.verify import ServerResult, Status, VerifyReport, WaitProgress, verify_domain

domain_app = typer.Typer(
    help="Domain ownership: publish verification records, verify them on every name server.",
    no_args_is_help=True,
)

Domain = Annotated[str, typer.Argument(help="The domain (zone) to verify, e.g. example.com.", show_default=False)]
Txt = Annotated[list[str] | None, typer.Option("--txt", metavar="NAME=VALUE", help="A TXT record (repeatable).")]
Cname = Annotated[list[str] | None, typer.Option("--cname", metavar="NAME=TARGET", help="A CNAME record (repeatable).")]
Nameserver = Annotated[
    list[str] | None,
    typer.Option(
        "--nameserver",
        metavar="HOST[:PORT]",
        help="Authoritative server to check (repeatable). Default: follow the delegation from the parent.",
    ),
]
ParentNameserver = Annotated[
    list[str] | None,
    typer.Option(
        "--parent-nameserver",
        metavar="HOST[:PORT]",
        help="Start following the delegation here (a parent zone's server) instead of the system's view.",
    ),
]
Resolver = Annotated[
    list[str] | None,
    typer.Option("--resolver", metavar="HOST[:PORT]", help="Recursive resolver for propagation (repeatable)."),
]
NoResolvers = Annotated[bool, typer.Option("--no-resolvers", help="Skip the propagation check.")]
Wait = Annotated[
    float,
    typer.Option("--wait", min=0, metavar="SECONDS", help="Poll (with backoff) until verified or this time is up."),
]
Timeout = Annotated[float, typer.Option("--timeout", min=0.1, max=30, metavar="SECONDS", help="Per-query timeout.")]
Provider = Annotated[str, typer.Option("--provider", help="Where the zone is hosted (route53).")]

STATUS_STYLE = {
    Status.PRESENT: "green",
    Status.ABSENT: "yellow",
    Status.WRONG: "yellow",
}


# ------------------------------------------------------------------------------------------- inputs


def _servers(values: list[str] | None, option: str) -> list[Server] | None:
    if not values:
        return None
    out = []
    for value in values:
        try:
            out.append(parse_server_spec(value))
        except ValueError as e:
            raise ConfigError(f"{option}: {e}") from e
    return out


def _records(domain: str, txt: list[str] | None, cname: list[str] | None) -> list[Expected]:
    records = expectations_from_options(domain, txt, cname)
    if not records:
        raise ConfigError("give at least one --txt NAME=VALUE or --cname NAME=TARGET")
    return records


@contextmanager
def _spinner(settings: Settings, text: str) -> Iterator[Callable[[str], None]]:
    """A rich spinner on a TTY (yields its update function); plain lines otherwise; nothing with --json."""
    if settings.json:
        yield lambda _msg: None
    elif interactive():
        with console().status(text) as status:
            yield lambda msg: status.update(escape(msg))
    else:
        yield (lambda msg: None) if settings.quiet else typer.echo


# ------------------------------------------------------------------------------------------- verify


def _run_verify(
    settings: Settings,
    domain: str,
    records: list[Expected],
    *,
    nameservers: list[Server] | None,
    parent: list[Server] | None,
    resolvers: list[Server] | None,
    wait: float,
    timeout: float,
) -> VerifyReport:
    with _spinner(settings, f"Checking {domain.rstrip('.')} on its authoritative servers…") as say:

        def on_wait(w: WaitProgress) -> None:
            say(
                f"waiting: {w.present}/{w.total} present on the authoritative servers (attempt {w.attempt}); "
                f"next check in {w.next_delay:.0f} s, {w.remaining:.0f} s left"
            )

        return verify_domain(
            domain,
            records,
            nameservers=nameservers,
            parent=parent,
            resolvers=resolvers,
            timeout=timeout,
            wait=wait,
            on_wait=on_wait,
        )


@domain_app.command("verify")
def verify(
    ctx: typer.Context,
    domain: Domain,
    txt: Txt = None,
    cname: Cname = None,
    nameserver: Nameserver = None,
    parent_nameserver: ParentNameserver = None,
    resolver: Resolver = None,
    no_resolvers: NoResolvers = False,
    wait: Wait = 0.0,
    timeout: Timeout = 2.0,
) -> None:
    """Check the records on EACH authoritative server (exit 0 only if all have them), resolvers separately."""
    settings = settings_of(ctx)
    name = check_domain(domain)
    records = _records(name, txt, cname)
    report = _run_verify(
        settings,
        name,
        records,
        nameservers=_servers(nameserver, "--nameserver"),
        parent=_servers(parent_nameserver, "--parent-nameserver"),
        resolvers=[] if no_resolvers else _servers(resolver, "--resolver"),
        wait=wait,
        timeout=timeout,
    )
    if settings.json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        render_verify(settings, report)
    if not report.ok:
        raise typer.Exit(1)


def _answer(r: ServerResult) -> str:
    parts = []
    if r.values:
        parts.append(", ".join(f'"{short(v, 40)}"' if '"' not in v else short(v, 40) for v in r.values))
    if r.cname and not r.present:
        parts.append(f"CNAME to {r.cname.rstrip('.')}")
    elif r.detail and not r.values:
        parts.append(r.detail)
    if r.negative_ttl is not None and r.status is Status.ABSENT:
        parts.append(f"negative TTL {r.negative_ttl} s")
    return "; ".join(parts)


def _header(report: VerifyReport) -> str:
    head = f"{report.zone.rstrip('.')}: {len(report.servers)} authoritative server(s)"
    d = report.delegation
    if d is not None and d.parent_ns:
        parent = d.parent_zone.rstrip(".") if d.parent_zone else "the parent"
        head += f", delegated by {parent} to {', '.join(n.rstrip('.') for n in d.parent_ns)}"
    elif d is None:
        head += " (given with --nameserver)"
    if report.attempts > 1:
        head += f"; {report.attempts} checks in {report.elapsed:.0f} s"
    return head


def render_verify(settings: Settings, report: VerifyReport) -> None:
    """Per record: each authoritative server and resolver; then the diagnosis and the verdict."""
    if settings.quiet:
        typer.echo(report.summary())
        for f in report.findings if not report.ok else []:
            typer.echo(f"diagnosis: {f.message}")
        return
    if interactive():
        _render_verify_rich(report)
        return
    typer.echo(_header(report))
    for record in report.records:
        typer.echo(record.expected.describe())
        for role, results in (("authoritative", record.authoritative), ("resolver", record.resolvers)):
            for r in results:
                answer = _answer(r)
                typer.echo(f"  {role} {r.server.label}: {r.status}" + (f" ({answer})" if answer else ""))
    for f in report.findings:
        typer.echo(f"diagnosis: {f.message}")
    typer.echo(report.summary())


def _render_verify_rich(report: VerifyReport) -> None:
    out = console()
    out.print(f"[bold]{escape(_header(report))}[/]", highlight=False)
    for record in report.records:
        table = Table(title=escape(record.expected.describe()), title_justify="left")
        for col in ("Server", "Role", "Status", "Answer", "ms"):
            table.add_column(col)
        for role, results in (("authoritative", record.authoritative), ("resolver", record.resolvers)):
            for r in results:
                style = STATUS_STYLE.get(r.status, "red")
                table.add_row(
                    escape(r.server.label),
                    role,
                    f"[{style}]{r.status}[/]",
                    escape(_answer(r)),
                    str(r.elapsed_ms),
                )
        out.print(table)
    if report.findings:
        out.print("[bold]Diagnosis[/]")
        for f in report.findings:
            out.print(f"  • {escape(f.message)}", highlight=False)
    style = "bold green" if report.ok else "bold red"
    out.print(f"[{style}]{escape(report.summary())}[/]", highlight=False)


# ------------------------------------------------------------------------------------------ publish


def _publish(settings: Settings, domain: str, records: list[Expected], *, check: bool, ttl: int | None,
             zone_id: str | None) -> tuple[PublishPlan, dict[str, Any] | None]:  # fmt: skip
    publisher = Route53Publisher()
    plan = publisher.plan(domain, records, ttl=ttl, zone_id=zone_id)
    if check or not plan.changed:
        return plan, None
    with _spinner(settings, f"Publishing in Route 53 zone {plan.zone.rstrip('.')}, waiting for INSYNC…"):
        return plan, publisher.apply(plan)


def _render_publish(settings: Settings, plan: PublishPlan, applied: dict[str, Any] | None, check: bool) -> None:
    if settings.quiet:
        typer.echo(_publish_summary(plan, applied, check))
        return
    lines = [f"Route 53 hosted zone {plan.zone.rstrip('.')} ({plan.zone_id.rsplit('/', 1)[-1]})"]
    for change in plan.changes:
        prefix = "would " if check and change.changed else ""
        lines.append(f"  {prefix}{change.describe()}")
    lines.append(_publish_summary(plan, applied, check))
    if interactive():
        out = console()
        for line in lines:
            out.print(escape(line), highlight=False)
    else:
        for line in lines:
            typer.echo(line)


def _publish_summary(plan: PublishPlan, applied: dict[str, Any] | None, check: bool) -> str:
    n = sum(1 for c in plan.changes if c.changed)
    if not plan.changed:
        return "nothing to change: the records are already published"
    if check:
        return f"dry run: {n} record set(s) would change; nothing was changed"
    assert applied is not None
    change = applied["change_id"].rsplit("/", 1)[-1]
    return f"published: change {change} {applied['status']} after {applied['waited_s']:.1f} s"


@domain_app.command("publish")
def publish(
    ctx: typer.Context,
    domain: Domain,
    txt: Txt = None,
    cname: Cname = None,
    provider: Provider = "route53",
    check: Annotated[bool, typer.Option("--check", help="Dry run: show the change, make none.")] = False,
    ttl: Annotated[int | None, typer.Option("--ttl", min=0, help="TTL (default: keep the existing, else 300).")] = None,
    zone_id: Annotated[
        str | None, typer.Option("--zone-id", help="Hosted zone Id, when the name is ambiguous.")
    ] = None,
) -> None:
    """UPSERT records into the domain's hosted zone, keeping other values at those names; wait for INSYNC."""
    settings = settings_of(ctx)
    name = check_domain(domain)
    check_provider(provider)
    records = _records(name, txt, cname)
    plan, applied = _publish(settings, name, records, check=check, ttl=ttl, zone_id=zone_id)
    if settings.json:
        typer.echo(json.dumps(plan.to_dict() | {"check": check, "applied": applied}, indent=2))
    else:
        _render_publish(settings, plan, applied, check)


# -------------------------------------------------------------------------------------------- token


@domain_app.command("token")
def token(
    ctx: typer.Context,
    domain: Domain,
    service: Annotated[str, typer.Option("--service", help="ses or acm.", show_default=False)],
    publish_it: Annotated[bool, typer.Option("--publish", help="Publish the record(s) in Route 53.")] = False,
    alt_name: Annotated[
        list[str] | None, typer.Option("--alt-name", help="ACM: another name on the certificate (repeatable).")
    ] = None,
    provider: Provider = "route53",
    no_verify: Annotated[bool, typer.Option("--no-verify", help="Only show (and publish) the records.")] = False,
    nameserver: Nameserver = None,
    parent_nameserver: ParentNameserver = None,
    resolver: Resolver = None,
    no_resolvers: NoResolvers = False,
    wait: Wait = 0.0,
    timeout: Timeout = 2.0,
) -> None:
    """Get the verification record(s) from SES or ACM, optionally publish them, then verify them."""
    settings = settings_of(ctx)
    name = check_domain(domain)
    if service not in SERVICES:
        raise ConfigError(f"--service '{service}': choose one of {', '.join(SERVICES)}")
    check_provider(provider)
    servers = _servers(nameserver, "--nameserver")
    parents = _servers(parent_nameserver, "--parent-nameserver")
    resolvers = [] if no_resolvers else _servers(resolver, "--resolver")
    with _spinner(settings, f"Asking {service.upper()} for the verification records…"):
        tokens = get_tokens(service, name, alt_name)
    if not settings.json:
        _render_tokens(settings, tokens)
    plan = applied = None
    if publish_it:
        plan, applied = _publish(settings, name, tokens.records, check=False, ttl=None, zone_id=None)
        if not settings.json:
            _render_publish(settings, plan, applied, False)
    report = None
    if not no_verify:
        report = _run_verify(
            settings, name, tokens.records, nameservers=servers, parent=parents, resolvers=resolvers,
            wait=wait, timeout=timeout,
        )  # fmt: skip
        if not settings.json:
            render_verify(settings, report)
    if settings.json:
        doc = {
            "ok": report.ok if report is not None else True,
            "token": tokens.to_dict(),
            "publish": plan.to_dict() | {"applied": applied} if plan is not None else None,
            "verify": report.to_dict() if report is not None else None,
        }
        typer.echo(json.dumps(doc, indent=2))
    if report is not None and not report.ok:
        raise typer.Exit(1)


def _render_tokens(settings: Settings, tokens: TokenResult) -> None:
    if settings.quiet:
        return
    what = f"certificate {tokens.details['certificate_arn']}" if "certificate_arn" in tokens.details else "domain"
    lines = [f"{tokens.service.upper()} {what}: status {tokens.status}; publish this in DNS:"]
    lines += [f"  {r.rtype} {r.name.rstrip('.')} {r.shown_value}" for r in tokens.records]
    for line in lines:
        if interactive():
            console().print(escape(line), highlight=False)
        else:
            typer.echo(line)
