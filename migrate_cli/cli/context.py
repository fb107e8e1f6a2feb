"""Shared CLI helpers: the settings object, consoles, TTY detection, confirmations."""

from __future__ import annotations

import os
import sys

import typer
from rich.console import Console
from rich.prompt import Confirm

from migrate_cli.core.settings import Settings


def settings_of(ctx: typer.Context) -> Settings:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Settings) else Settings()


def interactive() -> bool:
    """A person at a terminal: stdin and stdout are TTYs and this is not CI/cron."""
    return sys.stdin.isatty() and sys.stdout.isatty() and os.environ.get("CI", "").lower() not in ("1", "true")


def console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def confirm_on_tty(question: str) -> bool:
    return Confirm.ask(question, default=False)
