"""migrate-cli: move an on-premises site into AWS, one runbook at a time."""

__version__ = "0.1.0"
