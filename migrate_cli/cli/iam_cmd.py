"""`migrate iam plan|apply`: the migration's IAM service accounts, least privilege, from iam.yaml."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.prompt import Confirm
from rich.syntax import Syntax

from migrate_cli.cli.context import console, interactive, settings_of
from migrate_cli.core.errors import MigrateError
from migrate_cli.core.events import Event, EventKind
from migrate_cli.core.settings import Settings
from migrate_cli.iam.action import IamParams
from migrate_cli.iam.config import DEFAULT_CONFIG, load_config
from migrate_cli.iam.ops import CREATE_ACCESS_KEY
from migrate_cli.iam.planner import IamPlan
from migrate_cli.iam.run import IamRun, run_iam

iam_app = typer.Typer(
    help=(
        "IAM roles and least-privilege policies the migration needs: DX/VPN read-only, backup writer, "
        "Glacier restore, Step Functions/ETL runner. Only principals tagged managed-by=migrate-cli are changed."
    ),
    no_args_is_help=True,
)

ConfigOption = Annotated[
    Path,
    typer.Option("--config", "-c", envvar="MIGRATE_IAM_CONFIG", help="IAM config (YAML).", metavar="FILE"),
]
AccessKeyOption = Annotated[
    bool,
    typer.Option(
        "--with-access-key",
        help="Also create the runner IAM user and an access key (written to a 0600 file in the state dir).",
    ),
]
DocumentsOption = Annotated[
    bool | None,
    typer.Option(
        "--documents/--no-documents", help="Print every policy document in full (default: in plan and --check)."
    ),
]


@iam_app.command("plan")
def iam_plan(
    ctx: typer.Context,
    config: ConfigOption = DEFAULT_CONFIG,
    with_access_key: AccessKeyOption = False,
    show_documents: DocumentsOption = None,
) -> None:
    """Show the policy documents and the diff against what exists in IAM; change nothing.

    Exit 0 (changes or not), 2 bad config, 3 a configured name belongs to a principal migrate-cli does not own.
    """
    _run(ctx, config, check=True, with_access_key=with_access_key, yes=False, show_documents=show_documents)


@iam_app.command("apply")
def iam_apply(
    ctx: typer.Context,
    config: ConfigOption = DEFAULT_CONFIG,
    check: Annotated[bool, typer.Option("--check", help="Dry run: exactly `migrate iam plan`.")] = False,
    with_access_key: AccessKeyOption = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Replace or remove existing permissions without asking.")
    ] = False,
    show_documents: DocumentsOption = None,
) -> None:
    """Create or update the roles, policies and instance profile so IAM matches the config (idempotent).

    Replacing or removing existing permissions asks on a terminal, and needs --yes without one.

    Exit 0 ok, 1 an AWS call failed, 2 bad config, 3 refused (not ours, not confirmed, another apply running).
    """
    _run(ctx, config, check=check, with_access_key=with_access_key, yes=yes, show_documents=show_documents)


def _run(
    ctx: typer.Context, config: Path, *, check: bool, with_access_key: bool, yes: bool, show_documents: bool | None
) -> None:
    settings = settings_of(ctx)
    documents = check if show_documents is None else show_documents
    load_config(config)  # bad input: one line, exit 2, before anything is journalled
    params = IamParams(config=str(config), with_access_key=with_access_key)
    render = None if settings.json else (lambda plan: render_plan(settings, plan, check, documents))
    sinks = () if settings.json or settings.quiet else (_progress_sink,)
    run = run_iam(
        settings,
        params,
        check=check,
        yes=yes,
        ask=_ask if interactive() and not settings.json else None,
        on_plan=render,
        sinks=sinks,
    )
    if settings.json:
        typer.echo(json.dumps(_json_result(run, check), indent=2, default=str))
    else:
        _render_outcome(settings, run, check)
    if isinstance(run.error, MigrateError):
        raise run.error
    if run.exit_code:
        raise typer.Exit(run.exit_code)


# ------------------------------------------------------------------------------------------ rendering


def _out(text: str = "", style: str | None = None) -> None:
    console().print(text, style=style, highlight=False, markup=False, soft_wrap=True)


def _block(text: str, lexer: str) -> None:
    """A JSON document or a diff: highlighted on a terminal, verbatim otherwise (safe to copy)."""
    if interactive():
        console().print(Syntax(text.rstrip("\n"), lexer, theme="ansi_dark", background_color="default", word_wrap=True))
    else:
        typer.echo(text.rstrip("\n"))


def _mark(call: str, disruptive: bool) -> str:
    if disruptive:
        return "!"
    return "+" if call.startswith(("create", "put", "attach", "add")) or call == CREATE_ACCESS_KEY else "~"


def render_plan(settings: Settings, plan: IamPlan, check: bool, show_documents: bool) -> None:
    """The plan as a person reads it: principals, changes, exceptions, documents, diff."""
    t = plan.target
    _out(f"IAM {'plan' if check else 'apply'}: account {t.account}, region {t.region}, config {plan.config_file}")
    if settings.quiet:
        return
    _out()
    _out("Principals:")
    for principal, status in plan.statuses.items():
        _out(f"  {principal:<48} {status}")
    if show_documents:
        _out()
        _out("Policy documents:")
        for label, document in plan.documents().items():
            _out(f"  {label}:")
            _block(json.dumps(document, indent=2), "json")
    exceptions = plan.exceptions()
    if exceptions:
        _out()
        _out("Granted on Resource '*' (AWS has no resource-level permissions for these):")
        grouped: dict[tuple[str, str], list[str]] = {}
        for item in exceptions:
            grouped.setdefault((item["document"], item["reason"]), []).append(item["action"])
        for (document, reason), actions in grouped.items():
            _out(f"  {document}: {', '.join(actions)}")
            _out(f"    why: {reason}")
    if plan.diff:
        _out()
        _out("Diff against IAM (a/ = now, b/ = after apply):")
        _block(plan.diff, "diff")
    _out()
    if plan.ops:
        _out(f"Changes ({len(plan.ops)}; ! = replaces or removes existing permissions):")
        for op in plan.ops:
            _out(f"  {_mark(op.call, op.disruptive)} {op.line()}")
    else:
        _out("No changes: IAM matches the configuration.")
    for note in plan.notes:
        _out(f"note: {note}")
    for conflict in plan.conflicts:
        _out(f"conflict: {conflict}", style="bold red")


def _ask(plan: IamPlan) -> bool:
    count = len(plan.disruptive)
    return Confirm.ask(
        f"Apply {len(plan.ops)} IAM changes, {count} of which replace or remove existing permissions?", default=False
    )


def _progress_sink(e: Event) -> None:
    if e.kind == EventKind.PROGRESS:
        _out(f"  done: {e.message}")


def _render_outcome(settings: Settings, run: IamRun, check: bool) -> None:
    plan = run.plan
    run_id = run.result.run_id
    if plan is None or run.error is not None:
        return
    if run.confirmation_refused:
        count = len(plan.disruptive)
        if interactive():
            _out(f"not confirmed: nothing was changed (run {run_id})", style="bold red")
        else:
            _out(
                f"refused: {count} change(s) marked ! replace or remove existing permissions: "
                f"confirm on a terminal, or re-run with --yes (run {run_id})",
                style="bold red",
            )
        return
    if check:
        verb = f"{len(plan.ops)} change(s) to make" if plan.ops else "no changes"
        _out(f"IAM plan: {verb} (dry run {run_id}; `migrate report {run_id}` for the ticket)")
        return
    if not plan.ops:
        _out(f"IAM apply: no changes (run {run_id})")
        return
    if run.result.ok:
        _out(f"IAM apply: {len(run.applied.get('applied', []))} change(s) made and verified (run {run_id})")
    key_id, key_file = run.applied.get("access_key_id"), run.applied.get("access_key_file")
    if key_id and key_file:
        _out(f"access key {key_id} written to {key_file} (mode 0600); the secret is not shown")


def _json_result(run: IamRun, check: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "run_id": run.result.run_id,
        "mode": "plan" if check else "apply",
        "status": run.result.status,
        "exit_code": run.exit_code,
        "error": str(run.error) if run.error is not None else None,
    }
    if run.plan is not None:
        out |= run.plan.to_dict()
        out["diff"] = run.plan.diff
    if not check:
        out["applied"] = run.applied.get("applied", [])
        out["access_key_id"] = run.applied.get("access_key_id")
        out["access_key_file"] = run.applied.get("access_key_file")
        out["confirmation_refused"] = run.confirmation_refused
    return out
