"""The `network.facts` action: connect to a device and read what it is (show version, via ntc-templates)."""

from __future__ import annotations

from typing import Any

from migrate_cli.core.actions import Action, ActionParams, Plan, TaskContext
from migrate_cli.core.errors import OperationFailed
from migrate_cli.network.session import connect

FIELDS = ("hostname", "version", "hardware", "serial", "uptime")


class FactsParams(ActionParams):
    command: str = "show version"


def parse_version(parsed: Any) -> dict[str, Any]:
    """Pick the useful fields out of an ntc-templates `show version` parse."""
    if not isinstance(parsed, list) or not parsed or not isinstance(parsed[0], dict):
        raise OperationFailed("could not parse 'show version' output with ntc-templates")
    row = parsed[0]
    facts: dict[str, Any] = {}
    for key in FIELDS:
        value = row.get(key)
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        if value:
            facts[key] = value
    return facts


class NetworkFactsAction(Action):
    """Read-only: gathering facts changes nothing, so check mode reads them too."""

    name = "network.facts"
    summary = "Connect to each device and read its version (show version, parsed)."
    Params = FactsParams

    def plan(self, ctx: TaskContext) -> Plan:
        assert ctx.host is not None
        ctx.emit.progress("connecting")
        with connect(ctx.host) as conn:
            parsed = conn.send_command(ctx.params.command, use_textfsm=True)
        return Plan(data=parse_version(parsed))
