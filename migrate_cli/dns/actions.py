"""The `dns.resolve` action: ask specific name servers for a record and check the answer."""

from __future__ import annotations

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
from pydantic import Field, field_validator

from migrate_cli.core.actions import Action, ActionParams, Plan, TaskContext
from migrate_cli.core.errors import OperationFailed
from migrate_cli.dns.servers import parse_server

__all__ = ["DnsResolveAction", "ResolveParams", "parse_server"]


class ResolveParams(ActionParams):
    name: str = Field(min_length=1)
    type: str = "A"
    nameservers: list[str] = Field(min_length=1)
    expect: list[str] | None = None
    timeout: float = Field(default=3.0, gt=0)

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        try:
            dns.rdatatype.from_text(value)
        except dns.rdatatype.UnknownRdatatype as exc:
            raise ValueError(f"unknown record type '{value}'") from exc
        return value.upper()

    @field_validator("nameservers")
    @classmethod
    def _servers(cls, values: list[str]) -> list[str]:
        for v in values:
            try:
                parse_server(v)
            except ValueError as exc:
                raise ValueError(f"'{v}' is not HOST or HOST:PORT") from exc
        return values


def _answer_values(response: dns.message.Message, rtype: str) -> list[str]:
    want = dns.rdatatype.from_text(rtype)
    values = []
    for rrset in response.answer:
        if rrset.rdtype != want:
            continue
        for rdata in rrset:
            if want == dns.rdatatype.TXT:
                values.append(b"".join(rdata.strings).decode())
            else:
                values.append(rdata.to_text())
    return sorted(values)


class DnsResolveAction(Action):
    """Read-only: queries each listed server directly (TCP retry on truncation)."""

    name = "dns.resolve"
    summary = "Query name servers directly for a record; fail if any answer differs from `expect`."
    Params = ResolveParams
    per_host = False

    def plan(self, ctx: TaskContext) -> Plan:
        p: ResolveParams = ctx.params
        answers: dict[str, list[str]] = {}
        problems = []
        for server in p.nameservers:
            addr, port = parse_server(server)
            query = dns.message.make_query(p.name, p.type)
            try:
                response, _ = dns.query.udp_with_fallback(query, addr, port=port, timeout=p.timeout)
            except dns.exception.Timeout:
                problems.append(f"{server}: timeout")
                continue
            rcode = dns.rcode.to_text(response.rcode())
            if rcode != "NOERROR":
                problems.append(f"{server}: {rcode}")
                continue
            answers[server] = _answer_values(response, p.type)
            if p.expect is not None and answers[server] != sorted(p.expect):
                problems.append(f"{server}: got {answers[server] or 'nothing'}, expected {sorted(p.expect)}")
            elif not answers[server]:
                problems.append(f"{server}: no {p.type} record")
        if problems:
            raise OperationFailed(f"{p.name} {p.type}: " + "; ".join(problems))
        first = next(iter(answers.values()))
        return Plan(data={"name": p.name, "type": p.type, "answer": " ".join(first), "servers": len(answers)})
