"""`migrate archive apply|remove|now|restore`: Glacier storage classes for data in S3."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from migrate_cli.cli.backup_cmd import PlainProgress, finish, transfer_sinks
from migrate_cli.cli.context import console, settings_of
from migrate_cli.core.events import Sink
from migrate_cli.core.settings import Settings
from migrate_cli.transfer.backup.units import human_bytes

if TYPE_CHECKING:
    from migrate_cli.transfer.backup.one_step import OneStepResult

archive_app = typer.Typer(
    help="Glacier archiving: lifecycle rules (merged with the bucket's own), moves now, restores.",
    no_args_is_help=True,
)

Url = Annotated[str, typer.Argument(metavar="S3_URL", help="s3://bucket/prefix", show_default=False)]
Check = Annotated[bool, typer.Option("--check", "--dry-run", help="Show what would change; change nothing.")]
Workers = Annotated[int, typer.Option("--workers", help="Objects handled in parallel.")]
NAMES = {
    "url": "S3_URL",
    "to": "--to",
    "after": "--after",
    "expire": "--expire",
    "older_than": "--older-than",
    "days": "--days",
    "tier": "--tier",
    "timeout": "--timeout",
    "interval": "--interval",
    "workers": "--workers",
}


def _rule_lines(res: OneStepResult, check: bool) -> list[str]:
    d, host = res.data, res.host
    if host is None or "rule_id" not in d:
        return []
    lines = []
    plan = host.plan
    if d["action"] == "unchanged" or plan is None or not plan.changes:
        lines.append(f"s3://{d['bucket']}: lifecycle rule {d['rule_id']} already as asked; nothing to do")
    else:
        verb = "would " if check else ""
        done = {"add": "added", "change": "changed", "remove": "removed"}
        word = d["action"] if check else done.get(d["action"], d["action"])
        lines.append(
            f"{verb}{word} lifecycle rule {d['rule_id']} on s3://{d['bucket']}"
            + (f": {d['rule']}" if d.get("rule") else "")
        )
        if check and plan.diff:
            lines.append(plan.diff.rstrip("\n"))
    if d.get("foreign_rules"):
        lines.append(
            f"kept {len(d['foreign_rules'])} rule(s) migrate-cli does not own: {', '.join(d['foreign_rules'])}"
        )
    if d.get("overlapping"):
        lines.append(f"note: rule(s) {', '.join(d['overlapping'])} also act on {d['prefix'] or 'the whole bucket'}")
    return lines


@archive_app.command("apply")
def archive_apply(
    ctx: typer.Context,
    url: Url,
    to: Annotated[str, typer.Option("--to", help="GLACIER, DEEP_ARCHIVE or GLACIER_IR.", show_default=False)],
    after: Annotated[int, typer.Option("--after", help="Days after creation to move objects.", show_default=False)],
    expire: Annotated[int | None, typer.Option("--expire", help="Days after creation to delete objects.")] = None,
    check: Check = False,
) -> None:
    """Add or update the lifecycle rule that archives a prefix; other rules of the bucket are kept."""
    from migrate_cli.core.oneshot import params_from, run_action
    from migrate_cli.transfer.backup_actions import ArchiveRuleAction, ArchiveRuleParams

    settings = settings_of(ctx)
    params = params_from(ArchiveRuleParams, {"url": url, "to": to, "after": after, "expire": expire}, NAMES)
    res = run_action(
        settings, ArchiveRuleAction, params, title="archive apply", step_name=f"archive rule for {url}",
        check=check, sinks=transfer_sinks(settings) if settings.json else [],
    )  # fmt: skip
    finish(settings, res, _rule_lines(res, check))


@archive_app.command("remove")
def archive_remove(ctx: typer.Context, url: Url, check: Check = False) -> None:
    """Remove the lifecycle rule migrate-cli owns for a prefix; other rules are kept."""
    from migrate_cli.core.oneshot import params_from, run_action
    from migrate_cli.transfer.backup_actions import ArchiveRuleAction, ArchiveRuleParams

    settings = settings_of(ctx)
    params = params_from(ArchiveRuleParams, {"url": url, "remove": True}, NAMES)
    res = run_action(
        settings, ArchiveRuleAction, params, title="archive remove", step_name=f"remove archive rule for {url}",
        check=check, sinks=transfer_sinks(settings) if settings.json else [],
    )  # fmt: skip
    finish(settings, res, _rule_lines(res, check))


def _objects_table(title: str, rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> Table:
    table = Table(title=title, title_justify="left")
    for label, _ in columns:
        table.add_column(label)
    for row in rows:
        table.add_row(*[_cell(row.get(key)) for _, key in columns])
    return table


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return str(value)


@archive_app.command("now")
def archive_now(
    ctx: typer.Context,
    url: Url,
    to: Annotated[str, typer.Option("--to", help="Target storage class.", show_default=False)],
    older_than: Annotated[int, typer.Option("--older-than", help="Only objects older than DAYS.", metavar="DAYS")] = 0,
    check: Check = False,
    workers: Workers = 8,
) -> None:
    """Move objects older than DAYS to a storage class now (each copied onto itself)."""
    from migrate_cli.core.oneshot import params_from, run_action
    from migrate_cli.transfer.backup_actions import ArchiveNowAction, ArchiveNowParams

    settings = settings_of(ctx)
    params = params_from(ArchiveNowParams, {"url": url, "to": to, "older_than": older_than, "workers": workers}, NAMES)
    res = run_action(
        settings, ArchiveNowAction, params, title="archive now", step_name=f"move {url} to {params.to}",
        check=check, sinks=transfer_sinks(settings) if settings.json else [],
    )  # fmt: skip
    host = res.host
    if settings.json or host is None or host.plan is None:
        finish(settings, res, [])
        return
    sel, d = host.plan.state, res.data
    out = console()
    if check and sel.to_move:
        rows = [
            {
                "key": c.key,
                "size": human_bytes(c.size),
                "modified": c.last_modified.strftime("%Y-%m-%d"),
                "from": c.storage_class,
                "to": sel.target,
            }
            for c in sel.to_move
        ]
        cols = [("Key", "key"), ("Size", "size"), ("Modified", "modified"), ("Class", "from"), ("Would become", "to")]
        out.print(_objects_table(f"Would move under {sel.location.url}", rows, cols))
    if not check and d.get("results") and (settings.verbose or d.get("failed")):
        cols = [("Key", "key"), ("Status", "status"), ("Detail", "detail")]
        out.print(_objects_table("Objects", d["results"], cols))
    verb = "would move" if check else "moved"
    count = len(sel.to_move) if check else d.get("moved", 0)
    size = sel.bytes if check else d.get("moved_bytes", 0)
    lines = [
        f"{sel.location.url}: {verb} {count} objects ({human_bytes(size)}) to {sel.target}; "
        f"{sel.already} already {sel.target}, {sel.too_new} newer than {sel.older_than_days} days"
    ]
    if sel.need_restore:
        lines.append(
            f"note: {len(sel.need_restore)} object(s) in GLACIER/DEEP_ARCHIVE need `migrate archive restore` first, "
            f"e.g. {sel.need_restore[0].key}"
        )
    if sel.versioned:
        lines.append("note: the bucket is versioned; previous versions stay in their class until they expire")
    finish(settings, res, lines)


@archive_app.command("restore")
def archive_restore(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(metavar="S3_URL", help="s3://bucket/key or s3://bucket/prefix")],
    days: Annotated[int, typer.Option("--days", help="Keep the restored copy this many days.", show_default=False)],
    tier: Annotated[str, typer.Option("--tier", help="Bulk, Standard or Expedited.")] = "Standard",
    wait: Annotated[bool, typer.Option("--wait", help="Wait until every object is readable.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="With --wait: give up after SECONDS.")] = 48 * 3600,
    interval: Annotated[float, typer.Option("--interval", help="With --wait: poll every SECONDS.")] = 60,
    check: Check = False,
    workers: Workers = 8,
) -> None:
    """Request restores of archived objects and report each one's status.

    Exit 1 if a request failed or, with --wait, an object is still being restored at the timeout.
    """
    from migrate_cli.core.oneshot import params_from, run_action
    from migrate_cli.transfer.backup_actions import ArchiveRestoreAction, ArchiveRestoreParams

    settings = settings_of(ctx)
    values = {
        "url": url, "days": days, "tier": tier, "wait": wait, "timeout": timeout, "interval": interval,
        "workers": workers,
    }  # fmt: skip
    params = params_from(ArchiveRestoreParams, values, NAMES)
    res = run_action(
        settings, ArchiveRestoreAction, params, title="archive restore", step_name=f"restore {url}",
        check=check, sinks=_wait_sinks(settings, wait, interval),
    )  # fmt: skip
    d = res.data
    if settings.json or "archived" not in d:
        finish(settings, res, [])
        return
    out = console()
    rows = d.get("results") or d.get("objects") or []
    if rows:
        table_rows = [
            {
                "key": r["key"],
                "class": r["storage_class"],
                "request": r.get("request", "would request" if check else "-"),
                "status": _status_text(r),
            }
            for r in rows
        ]
        cols = [("Key", "key"), ("Class", "class"), ("Request", "request"), ("Status", "status")]
        out.print(_objects_table(f"Restores under {d['url']} ({d['tier']}, {d['days']} days)", table_rows, cols))
    lines = []
    if len(rows) < d["archived"]:
        lines.append(f"(the first {len(rows)} of {d['archived']} objects are listed)")
    if not d["archived"]:
        lines.append(f"{d['url']}: nothing archived here ({d['not_archived']} object(s) readable already)")
    elif check:
        lines.append(f"{d['url']}: would request {d['archived']} restore(s)")
    else:
        lines.append(
            f"{d['url']}: {d.get('requested', 0)} restore(s) requested; {d.get('restored', 0)} restored, "
            f"{d.get('in_progress', 0)} in progress, {d.get('failed', 0)} failed"
        )
    if d["not_archived"] and d["archived"]:
        lines.append(f"{d['not_archived']} object(s) are not in GLACIER/DEEP_ARCHIVE and need no restore")
    finish(settings, res, lines)


def _wait_sinks(settings: Settings, wait: bool, interval: float) -> list[Sink]:
    """--json: every event; --wait: a progress line per poll (at most one a minute)."""
    if settings.json:
        return transfer_sinks(settings)
    if wait and not settings.quiet:
        return [PlainProgress(every=min(60.0, interval))]
    return []


def _status_text(row: dict[str, Any]) -> str:
    status = row.get("status", "-")
    if status == "restored" and row.get("expiry"):
        return f"restored until {row['expiry']}"
    if row.get("detail"):
        return f"{status}: {row['detail']}"
    return str(status).replace("-", " ")
