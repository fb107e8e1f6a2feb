"""`migrate data copy`: copy and sync files between local directories, S3 and SSH hosts."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from migrate_cli.cli.context import console, interactive, settings_of
from migrate_cli.core.settings import Settings
from migrate_cli.transfer.command import run_copy
from migrate_cli.transfer.engine import EngineResult, NullProgress, Progress
from migrate_cli.transfer.plan import SyncPlan
from migrate_cli.transfer.progress import PlainTransferProgress, RichTransferProgress
from migrate_cli.transfer.service import (
    DEFAULT_WORKERS,
    MAX_WORKERS,
    CopyReport,
    CopyRequest,
    ValidCopy,
    plan_listing,
    plan_summary,
    result_summary,
)

data_app = typer.Typer(help="Copy and sync data: local directories, S3 buckets, SSH/SFTP hosts.", no_args_is_help=True)

MAX_FAILURE_LINES = 20


class _Display:
    """Renders the plan, the progress and the outcome (rich on a TTY, plain lines without, JSON with --json)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tty = interactive()
        self.valid: ValidCopy | None = None

    def planned(self, plan: SyncPlan, valid: ValidCopy, check: bool) -> None:
        self.valid = valid
        s = self.settings
        if s.json:
            return
        out = console()
        prefix = "dry run, nothing changed: " if check else ""
        if not s.quiet or check:
            out.print(f"{prefix}plan: {plan_summary(plan, valid.source, valid.dest)}", highlight=False, soft_wrap=True)
        err = console(stderr=True)
        for warning in plan.warnings:
            if not s.quiet:
                err.print(f"warning: {warning}", highlight=False, markup=False, soft_wrap=True)
        if s.verbose:
            for line in plan_listing(plan, valid.source, valid.dest):
                out.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)

    def progress(self) -> Progress | None:
        s = self.settings
        if s.json or s.quiet:
            return NullProgress()
        if self.tty:
            label = "uploading" if self.valid and self.valid.dest.kind != "local" else "copying"
            return RichTransferProgress(console(), label, verbose=s.verbose)
        return PlainTransferProgress(verbose=s.verbose)

    def finished(self, result: EngineResult) -> None:
        return None


def _render(settings: Settings, report: CopyReport, check: bool) -> int:
    failures = report.failures()
    if settings.json:
        typer.echo(json.dumps(report.as_dict(settings.verbose), default=str))
    else:
        err = console(stderr=True)
        for key, message in failures[:MAX_FAILURE_LINES]:
            err.print(f"failed: {key}: {message}", highlight=False, markup=False, soft_wrap=True)
        if len(failures) > MAX_FAILURE_LINES:
            err.print(f"... and {len(failures) - MAX_FAILURE_LINES} more failures", highlight=False)
        if report.error and not failures:
            err.print(f"migrate: error: {report.error}", highlight=False, markup=False, soft_wrap=True)
        if report.result is not None and report.plan is not None:
            line = result_summary(report.result, report.valid.source, report.valid.dest, report.plan)
            console().print(line, highlight=False, markup=False, soft_wrap=True)
        elif report.plan is not None and not report.plan.changed and not check and report.status == "ok":
            console().print("nothing to do: destination is up to date", highlight=False, soft_wrap=True)
    return report.exit_code


@data_app.command("copy")
def copy_command(
    ctx: typer.Context,
    src: Annotated[
        str, typer.Argument(metavar="SRC", help="Local dir, s3://BUCKET/PREFIX, sftp://HOST/PATH or HOST:/PATH.")
    ],
    dest: Annotated[str, typer.Argument(metavar="DEST", help="Same forms as SRC.")],
    check: Annotated[
        bool,
        typer.Option("--check", "--dry-run", help="Print the plan (counts, bytes; files with -v); change nothing."),
    ] = False,
    checksum: Annotated[
        bool, typer.Option("--checksum", help="Compare content hashes (SHA-256) instead of size and mtime.")
    ] = False,
    delete: Annotated[
        bool, typer.Option("--delete", help="Delete destination files that are not in the source.")
    ] = False,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", metavar="GLOB", help="Skip matching paths (repeatable).")
    ] = None,
    include: Annotated[
        list[str] | None,
        typer.Option("--include", metavar="GLOB", help="Copy matching paths even if excluded (repeatable)."),
    ] = None,
    storage_class: Annotated[
        str | None,
        typer.Option(
            "--storage-class",
            metavar="CLASS",
            help="STANDARD, STANDARD_IA, INTELLIGENT_TIERING, GLACIER_IR, GLACIER or DEEP_ARCHIVE.",
        ),
    ] = None,
    sse: Annotated[
        str | None, typer.Option("--sse", metavar="MODE", help="Server-side encryption: AES256 or aws:kms.")
    ] = None,
    kms_key_id: Annotated[
        str | None, typer.Option("--kms-key-id", metavar="KEY", help="KMS key for --sse aws:kms.")
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", "-w", min=1, max=MAX_WORKERS, help="Parallel transfers.")
    ] = DEFAULT_WORKERS,
    bwlimit: Annotated[
        str | None, typer.Option("--bwlimit", metavar="RATE", help="Bandwidth cap in bytes/s: 512K, 10M, 1G.")
    ] = None,
    part_size: Annotated[
        str | None,
        typer.Option(
            "--part-size", metavar="SIZE", help="Multipart part size (default 16M; files above it go in parts)."
        ),
    ] = None,
    no_follow_symlinks: Annotated[
        bool, typer.Option("--no-follow-symlinks", help="Skip symlinks (default: follow them).")
    ] = False,
    accept_new_host_keys: Annotated[
        bool, typer.Option("--accept-new-host-keys", help="Trust and record an SSH host key not yet in known_hosts.")
    ] = False,
) -> None:
    """Copy SRC to DEST, sending only new and changed files; verified end to end and resumable.

    Each side is a local directory, [bold]s3://BUCKET/PREFIX[/] (any S3-compatible endpoint through
    AWS_ENDPOINT_URL and the standard credential chain), [bold]sftp://[USER@]HOST[:PORT]/PATH[/], or
    [bold]HOST:/PATH[/] for an inventory host. Files are compared by size and mtime ([bold]--checksum[/]:
    SHA-256). Every object is checksummed (SHA-256) and checked after upload and on download. A copy that
    is interrupted, even killed, picks up where it stopped when run again.

    Examples:

      migrate data copy ./site s3://backups/site --delete --exclude '*.tmp'

      migrate data copy s3://backups/site ./restore --checksum

      migrate data copy ./site web1:/var/www --check -v
    """
    settings = settings_of(ctx)
    request = CopyRequest(
        source=src,
        dest=dest,
        checksum=checksum,
        delete=delete,
        include=tuple(include or ()),
        exclude=tuple(exclude or ()),
        storage_class=storage_class,
        sse=sse,
        kms_key_id=kms_key_id,
        workers=workers,
        bwlimit=bwlimit,
        part_size=part_size,
        follow_symlinks=not no_follow_symlinks,
        accept_new_host_keys=accept_new_host_keys,
    )
    report = run_copy(settings, request, check, _Display(settings))
    code = _render(settings, report, check)
    if code:
        raise typer.Exit(code)
