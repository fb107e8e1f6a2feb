"""Route 53 plumbing shared by publishing and the lab's zone source: names, TXT quoting, hosted zones."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import dns.exception
import dns.rdata
import dns.rdataclass
import dns.rdatatype
from botocore.exceptions import ClientError

from migrate_cli.aws.session import aws_call
from migrate_cli.core.errors import OperationFailed

TXT_CHUNK = 255


def route53_call(fn: Callable[..., Any], **kw: Any) -> Any:
    """A Route 53 call with credential/network errors mapped (aws_call) and API errors as OperationFailed."""
    try:
        return aws_call(fn, **kw)
    except ClientError as e:
        err = e.response.get("Error", {})
        op = getattr(fn, "__name__", "call")
        raise OperationFailed(f"route53 {op}: {err.get('Code', 'error')}: {err.get('Message', '')}".rstrip(": ")) from e


def name_from_route53(name: str) -> str:
    """Route 53 names escape some characters as \\ddd octal ('\\052' is '*'); lower-case, absolute."""
    text = re.sub(r"\\(\d{3})", lambda m: chr(int(m.group(1), 8)), name).lower()
    return text if text.endswith(".") else text + "."


def txt_to_route53(value: str) -> str:
    """A logical TXT string as Route 53 wants it: quoted 255-byte strings, `"` and `\\` escaped, bytes
    outside printable ASCII as \\ddd."""
    data = value.encode()
    parts = []
    for i in range(0, len(data), TXT_CHUNK) if data else [0]:
        chunk = data[i : i + TXT_CHUNK]
        out = []
        for byte in chunk:
            ch = chr(byte)
            if ch in '"\\':
                out.append("\\" + ch)
            elif 0x20 <= byte < 0x7F:
                out.append(ch)
            else:
                out.append(f"\\{byte:03d}")
        parts.append('"' + "".join(out) + '"')
    return " ".join(parts)


def txt_from_route53(value: str) -> str:
    """Route 53's presentation of one TXT record ('"a" "b"') as the logical string ('ab')."""
    try:
        rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, value)
    except dns.exception.DNSException:
        return value.strip('"')
    return b"".join(rdata.strings).decode("utf-8", "backslashreplace")  # type: ignore[attr-defined]


def logical_values(rrset: dict[str, Any]) -> list[str]:
    """The values of a ResourceRecordSet as plain strings (TXT joined, names lower-case absolute)."""
    rtype = rrset["Type"]
    values = [r["Value"] for r in rrset.get("ResourceRecords", [])]
    if rtype == "TXT":
        return [txt_from_route53(v) for v in values]
    if rtype in ("CNAME", "NS"):
        return [v.lower() if v.endswith(".") else v.lower() + "." for v in values]
    return values


def record_value(rtype: str, value: str) -> str:
    """A logical value as a Route 53 ResourceRecord Value."""
    return txt_to_route53(value) if rtype == "TXT" else value


def find_hosted_zone(r53: Any, domain: str, zone_id: str | None = None) -> tuple[str, str]:
    """(Id, Name) of the public hosted zone for `domain` (or its closest parent that has one)."""
    if zone_id:
        zone = route53_call(r53.get_hosted_zone, Id=zone_id)["HostedZone"]
        return zone["Id"], name_from_route53(zone["Name"])
    labels = domain.rstrip(".").split(".")
    for i in range(len(labels) - 1):
        candidate = ".".join(labels[i:]) + "."
        resp = route53_call(r53.list_hosted_zones_by_name, DNSName=candidate, MaxItems="20")
        zones = [z for z in resp.get("HostedZones", []) if name_from_route53(z["Name"]) == candidate]
        public = [z for z in zones if not z.get("Config", {}).get("PrivateZone")]
        if len(public) > 1:
            ids = ", ".join(z["Id"].rsplit("/", 1)[-1] for z in public)
            raise OperationFailed(f"{len(public)} public hosted zones are named {candidate} ({ids}); give --zone-id")
        if public:
            return public[0]["Id"], candidate
    raise OperationFailed(f"no public Route 53 hosted zone for {domain.rstrip('.')} or any parent of it")


def iter_rrsets(r53: Any, zone_id: str, start: str | None = None) -> Iterator[dict[str, Any]]:
    """Every ResourceRecordSet of a hosted zone (from `start` on, in Route 53 order), paging as needed."""
    kw: dict[str, Any] = {"HostedZoneId": zone_id, "MaxItems": "300"}
    if start:
        kw["StartRecordName"] = start
    while True:
        resp = route53_call(r53.list_resource_record_sets, **kw)
        yield from resp.get("ResourceRecordSets", [])
        if not resp.get("IsTruncated"):
            return
        kw["StartRecordName"] = resp["NextRecordName"]
        kw["StartRecordType"] = resp.get("NextRecordType")
        if resp.get("NextRecordIdentifier"):
            kw["StartRecordIdentifier"] = resp["NextRecordIdentifier"]
        else:
            kw.pop("StartRecordIdentifier", None)
        if kw["StartRecordType"] is None:
            kw.pop("StartRecordType")


def rrsets_at(r53: Any, zone_id: str, name: str) -> dict[str, dict[str, Any]]:
    """The simple (non-alias, non-routing-policy) record sets at exactly `name`, by type."""
    out: dict[str, dict[str, Any]] = {}
    for rrset in iter_rrsets(r53, zone_id, start=name):
        owner = name_from_route53(rrset["Name"])
        if owner != name:
            break  # the listing starts at `name` when it exists: anything else means we are past it
        if "AliasTarget" in rrset or "SetIdentifier" in rrset:
            continue
        out[rrset["Type"]] = rrset
    return out
