"""Errors that carry the exit code the CLI returns for them (see DESIGN.md)."""

from __future__ import annotations

from pathlib import Path

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_REFUSED = 3
EXIT_INTERRUPTED = 130


class MigrateError(Exception):
    """Base class: a message for the user and the exit code that goes with it."""

    exit_code = EXIT_FAILED


class OperationFailed(MigrateError):
    """The operation ran and something failed or is not yet true (exit 1)."""

    exit_code = EXIT_FAILED


class ConfigError(MigrateError):
    """Bad input or configuration (exit 2); names the file and line when known."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str, file: str | Path | None = None, line: int | None = None) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        super().__init__(self.location_message())

    def location_message(self) -> str:
        """`FILE:LINE: message`, or as much of it as is known."""
        if self.file and self.line:
            return f"{self.file}:{self.line}: {self.message}"
        if self.file:
            return f"{self.file}: {self.message}"
        return self.message


class ConfigErrors(ConfigError):
    """Several configuration errors found in one pass; each is reported on its own line."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        ConfigError.__init__(self, "\n".join(e.location_message() for e in errors))

    def location_message(self) -> str:
        return "\n".join(e.location_message() for e in self.errors)


class SafetyRefusal(MigrateError):
    """Refused for safety: lock held, confirmation needed without a TTY (exit 3)."""

    exit_code = EXIT_REFUSED
