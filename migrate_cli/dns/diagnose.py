"""Why a record does not verify, in plain words.

`gather_probes` asks the few extra questions a diagnosis needs (the doubled name, a resolver with the
DNSSEC checking-disabled bit); `findings_for` is pure: it reads a report and those probes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from migrate_cli.dns.names import Expected, short
from migrate_cli.dns.query import DEFAULT_TIMEOUT, ask
from migrate_cli.dns.verify import Finding, RecordResult, ServerResult, Status, VerifyReport, classify

FAILING = {
    Status.TIMEOUT: "did not answer within {timeout:g} s: it is down, or a firewall drops DNS to it (UDP and TCP 53)",
    Status.SERVFAIL: "answered SERVFAIL: it is meant to serve {zone} but cannot (zone not loaded, or expired on a "
    "secondary that lost its primary)",
    Status.REFUSED: "REFUSED the query: it is not configured to serve {zone} (lame)",
    Status.LAME: "does not answer authoritatively for {zone} ({detail}): lame",
    Status.ERROR: "could not be asked: {detail}",
}


@dataclass
class Probes:
    """Answers to the extra questions: the doubled name per record, and resolvers asked with CD=1."""

    doubled: dict[Expected, ServerResult] = field(default_factory=dict)
    checking_disabled: dict[tuple[Expected, str], ServerResult] = field(default_factory=dict)


def doubled_name(expected: Expected, zone: str) -> str | None:
    """'_x.example.com.' in zone 'example.com.' -> '_x.example.com.example.com.' (what a UI that appends the
    zone to a full name creates); None when the name is the apex or outside the zone."""
    if expected.name == zone or not expected.name.endswith("." + zone):
        return None
    return expected.name + zone.rstrip(".") + "."


def gather_probes(report: VerifyReport, timeout: float = DEFAULT_TIMEOUT) -> Probes:
    """Ask the extra questions the diagnosis needs (only for records that did not verify)."""
    probes = Probes()
    for record in report.records:
        exp = record.expected
        answering = [r for r in record.authoritative if r.status in (Status.ABSENT, Status.WRONG, Status.PRESENT)]
        doubled = doubled_name(exp, report.zone)
        if not record.ok and answering and doubled and record.present_count == 0:
            probe = Expected(doubled, exp.rtype, exp.value)
            reply = ask(answering[0].server, doubled, exp.rtype, timeout=timeout)
            probes.doubled[exp] = classify(reply, probe, authoritative=True)
        if record.present_count:
            for res in record.resolvers:
                if res.status is Status.SERVFAIL:
                    reply = ask(
                        res.server, exp.name, exp.rtype, recursive=True, checking_disabled=True, timeout=timeout
                    )
                    probes.checking_disabled[(exp, res.server.label)] = classify(reply, exp, authoritative=False)
    return probes


def diagnose(report: VerifyReport, timeout: float = DEFAULT_TIMEOUT) -> list[Finding]:
    """Ask the extra questions and explain the report."""
    return findings_for(report, gather_probes(report, timeout), timeout)


# ------------------------------------------------------------------------------------------ explain


def _d(name: str) -> str:
    """A name as people write it in prose: without the trailing dot."""
    return name.rstrip(".") or "."


def _ds(names: list[str]) -> str:
    return ", ".join(_d(n) for n in names)


def _names(results: list[ServerResult]) -> str:
    return ", ".join(r.server.label for r in results)


def _quote(values: list[str], rtype: str) -> str:
    return ", ".join(f'"{short(v)}"' if rtype == "TXT" else _d(v) for v in values)


def _at(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S UTC")


def _value_hint(expected: Expected, values: list[str]) -> str:
    """Why these values are not the expected one, when the mismatch has a recognisable shape."""
    want = expected.value
    if expected.rtype != "TXT":
        return "an old or different target; point it at the expected one"
    size = len(want.encode())
    if size > 255 and len(values) > 1 and all(v in want for v in values):
        ordered = sorted(values, key=want.find)
        if "".join(ordered) == want or " ".join(ordered) == want:
            return (
                f"the value was stored as {len(values)} separate TXT records; it must be ONE record made of "
                "several strings"
            )
    for v in values:
        if v.strip('"') == want and v != want:
            return "the value was saved with literal quote characters; enter it without quotes"
        if v.strip() == want.strip():
            return "the value differs only by spaces at its start or end"
        if size > 255 and len(v) < len(want) and want.startswith(v):
            return (
                f"the value is cut at {len(v.encode())} bytes: a TXT value longer than 255 bytes must be entered "
                "as one record made of several quoted strings, which the provider joins"
            )
    return "an old or different value: replace it (or add the new value beside it)"


def _server_failures(report: VerifyReport, timeout: float) -> list[Finding]:
    out: list[Finding] = []
    seen: set[str] = set(report.delegation.lame) if report.delegation else set()
    for record in report.records:
        for r in record.authoritative:
            if r.status in FAILING and r.server.label not in seen:
                seen.add(r.server.label)
                text = FAILING[r.status].format(timeout=timeout, zone=_d(report.zone), detail=r.detail or "no detail")
                out.append(Finding(f"server_{r.status.name.lower()}", f"{r.server.label} {text}."))
    return out


def _serial_findings(report: VerifyReport) -> list[Finding]:
    known = {label: s for label, s in report.serials.items() if s is not None}
    if len(set(known.values())) <= 1:
        return []
    newest = max(known.values())
    behind = [f"{label} has serial {s}" for label, s in known.items() if s != newest]
    return [
        Finding(
            "stale_serial",
            f"The servers do not serve the same version of {_d(report.zone)}: the newest serial is {newest}, but "
            f"{'; '.join(behind)}. Those servers have not loaded the latest zone (zone transfer or NOTIFY not "
            "reaching them, or the provider is still propagating).",
        )
    ]


def _record_findings(report: VerifyReport, record: RecordResult, probes: Probes) -> list[Finding]:
    exp, out = record.expected, []
    auth = record.authoritative
    present = [r for r in auth if r.present]
    absent = [r for r in auth if r.status is Status.ABSENT]
    wrong = [r for r in auth if r.status is Status.WRONG and r.values]
    cnamed = [r for r in auth if r.cname and exp.rtype != "CNAME" and not r.present]
    if present and len(present) < len(auth):
        missing = [r for r in auth if not r.present]
        states = ", ".join(f"{r.server.label}: {r.status}" for r in missing)
        out.append(
            Finding(
                "partial",
                f"{exp.rtype} {_d(exp.name)} is on {_names(present)} but not on every authoritative server ({states}). "
                "Clients that ask the others will not see it.",
            )
        )
    for r in wrong:
        hint = _value_hint(exp, r.values)
        out.append(
            Finding(
                "wrong_value",
                f"{r.server.label} serves {exp.rtype} {_d(exp.name)} with {_quote(r.values, exp.rtype)}, "
                f"not {exp.shown_value}: {hint}.",
            )
        )
    if cnamed:
        target = cnamed[0].cname
        out.append(
            Finding(
                "cname_in_the_way",
                f"{_d(exp.name)} is a CNAME to {_d(target)} (on {_names(cnamed)}), so it cannot also have a "
                f"{exp.rtype} record: remove the CNAME, or publish the {exp.rtype} at {_d(target)}.",
            )
        )
    doubled = probes.doubled.get(exp)
    if doubled is not None and (doubled.present or doubled.values):
        label = exp.name[: -len(report.zone) - 1]
        out.append(
            Finding(
                "doubled_name",
                f"The record was published as {_d(doubled_name(exp, report.zone) or '')}: the zone name is in "
                f"it twice (the DNS provider adds '{_d(report.zone)}' to the name you type). Enter only '{label}' "
                "as the name.",
            )
        )
    answering = [r for r in auth if r.status in (Status.PRESENT, Status.ABSENT, Status.WRONG)]
    if absent and len(absent) == len(answering) and not cnamed:
        neg = max((r.negative_ttl or 0 for r in absent), default=0)
        nx = any(r.nxdomain for r in absent)
        where = report.delegation
        hint = (
            f" (the parent delegates {_d(where.zone)} to {_ds(where.parent_ns)})" if where and where.parent_ns else ""
        )
        text = (
            f"No authoritative server of {_d(report.zone)} has {exp.rtype} {_d(exp.name)}: it is not published "
            f"there{hint}."
        )
        if nx and neg:
            text += (
                f" The name does not exist (NXDOMAIN); resolvers that ask now will cache that for up to {neg} s "
                "(the SOA negative TTL), so checks through them can fail for that long after you publish."
            )
        out.append(Finding("not_published", text))
    out.extend(_resolver_findings(record, probes))
    return out


def _resolver_findings(record: RecordResult, probes: Probes) -> list[Finding]:
    exp, out = record.expected, []
    auth_answers = record.present_count > 0
    for r in record.resolvers:
        label = f"resolver {r.server.address}"
        if r.status is Status.ABSENT and auth_answers and r.negative_ttl is not None:
            what = "NXDOMAIN (the name does not exist)" if r.nxdomain else f"'no {exp.rtype} record'"
            out.append(
                Finding(
                    "negative_cached",
                    f"{label} still has {what} cached for {_d(exp.name)} from before it was published; that expires "
                    f"in {r.negative_ttl} s (at {_at(r.checked_at + r.negative_ttl)}, from the SOA negative TTL).",
                )
            )
        elif r.status is Status.WRONG and auth_answers and r.ttl is not None:
            out.append(
                Finding(
                    "old_value_cached",
                    f"{label} still returns the old value {_quote(r.values, exp.rtype)}; its cached copy expires in "
                    f"{r.ttl} s (at {_at(r.checked_at + r.ttl)}).",
                )
            )
        elif r.status is Status.SERVFAIL and auth_answers:
            cd = probes.checking_disabled.get((exp, r.server.label))
            if cd is not None and cd.status in (Status.PRESENT, Status.WRONG, Status.ABSENT):
                text = (
                    f"DNSSEC validation fails: {label} answers SERVFAIL, but with checking disabled (CD bit) it "
                    f"answers {cd.status}. The zone's signatures or the DS record at the parent are wrong (often a "
                    "DS left at the registrar after moving DNS providers)."
                )
            else:
                text = (
                    f"{label} answers SERVFAIL while the authoritative servers answer: most likely a DNSSEC "
                    "validation failure (check the DS record at the parent against the zone's DNSKEY)."
                )
            out.append(Finding("dnssec", text))
        elif r.status is Status.TIMEOUT:
            out.append(Finding("resolver_timeout", f"{label} did not answer: propagation through it is unknown."))
    return out


def _delegation_findings(report: VerifyReport) -> list[Finding]:
    d = report.delegation
    if d is None:
        return []
    out: list[Finding] = []
    zone_ns = d.zone_ns
    if d.parent_ns and zone_ns and set(d.parent_ns) != set(zone_ns):
        out.append(
            Finding(
                "inconsistent_delegation",
                f"Inconsistent delegation: the parent zone ({_d(d.parent_zone) if d.parent_zone else 'parent'}) lists "
                f"{_ds(d.parent_ns)} for {_d(d.zone)}, but the zone itself lists {_ds(zone_ns)}. Make both "
                "lists the same (at the registrar and in the zone's NS records).",
            )
        )
    views = {tuple(v) for v in d.child_ns.values()}
    if len(views) > 1:
        detail = "; ".join(f"{label} lists {_ds(v)}" for label, v in d.child_ns.items())
        out.append(Finding("ns_disagree", f"The zone's own servers disagree about its NS set: {detail}."))
    for who, why in d.lame.items():
        ns = next((s.name for s in d.servers if s.label == who), who)
        listed = {"parent": "by the parent", "zone": "by the zone", "both": "by the parent and the zone"}.get(
            d.listed_by.get(ns or "", ""), "as a name server"
        )
        out.append(Finding("lame_delegation", f"Lame delegation: {who} is listed {listed} but {why}."))
    return out


def findings_for(report: VerifyReport, probes: Probes, timeout: float = DEFAULT_TIMEOUT) -> list[Finding]:
    """Every finding, most fundamental first, without duplicates."""
    found = _delegation_findings(report) + _server_failures(report, timeout) + _serial_findings(report)
    for record in report.records:
        found.extend(_record_findings(report, record, probes))
    return list(dict.fromkeys(found))
