"""The XML of S3's multipart control calls and DeleteObjects: request bodies built, replies read.

Pure functions over bytes, so the wire format is tested on its own (tests/unit/test_transfer_s3control.py);
S3Store sends them through S3Http.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree import ElementTree

_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
_XMLNS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def escape(text: str) -> str:
    """XML character data; CR and LF as references, which a parser would otherwise normalise away."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\r", "&#13;").replace("\n", "&#10;")


class MalformedReply(ValueError):
    """A reply body that is not the XML the call answers with."""


@dataclass(frozen=True)
class Page:
    """One page of a listing: the rows, and where the next page starts (None: this was the last)."""

    rows: list[tuple]
    next_marker: tuple[str, ...] | None


def _root(body: bytes, what: str) -> tuple[ElementTree.Element, str]:
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise MalformedReply(f"{what}: the reply is not XML ({exc})") from exc
    return root, _NS if root.tag.startswith(_NS) else ""


def _truncated(root: ElementTree.Element, ns: str) -> bool:
    return (root.findtext(f"{ns}IsTruncated") or "false").strip().lower() == "true"


def error_in(body: bytes) -> tuple[str, str] | None:
    """(code, message) when a 200 reply is an <Error> document (CompleteMultipartUpload can answer so)."""
    if b"<Error" not in body[:512]:
        return None
    try:
        root, ns = _root(body, "reply")
    except MalformedReply:
        return None
    if root.tag != f"{ns}Error":
        return None
    return root.findtext(f"{ns}Code") or "", root.findtext(f"{ns}Message") or ""


def upload_id(body: bytes) -> str:
    """The UploadId of an InitiateMultipartUploadResult."""
    root, ns = _root(body, "CreateMultipartUpload")
    found = root.findtext(f"{ns}UploadId")
    if not found:
        raise MalformedReply("CreateMultipartUpload: the reply has no UploadId")
    return found


def parts_page(body: bytes) -> Page:
    """ListParts: rows of (part number, ETag without quotes, size); the next part-number marker."""
    root, ns = _root(body, "ListParts")
    rows: list[tuple] = []
    for part in root.iter(f"{ns}Part"):
        rows.append(
            (
                int(part.findtext(f"{ns}PartNumber") or 0),
                (part.findtext(f"{ns}ETag") or "").strip('"'),
                int(part.findtext(f"{ns}Size") or 0),
            )
        )
    marker = root.findtext(f"{ns}NextPartNumberMarker") or ""
    return Page(rows, (marker,) if _truncated(root, ns) and marker else None)


def uploads_page(body: bytes) -> Page:
    """ListMultipartUploads: rows of (key, upload id); the next (key marker, upload-id marker)."""
    root, ns = _root(body, "ListMultipartUploads")
    rows: list[tuple] = [
        (upload.findtext(f"{ns}Key") or "", upload.findtext(f"{ns}UploadId") or "")
        for upload in root.iter(f"{ns}Upload")
    ]
    if not _truncated(root, ns):
        return Page(rows, None)
    markers = (root.findtext(f"{ns}NextKeyMarker") or "", root.findtext(f"{ns}NextUploadIdMarker") or "")
    return Page(rows, markers if any(markers) else None)


def complete_body(parts: list[tuple[int, str, str]]) -> bytes:
    """CompleteMultipartUpload's body from (part number, ETag, base64 SHA-256 or '')."""
    rows = []
    for number, etag, sha256 in parts:
        checksum = f"<ChecksumSHA256>{sha256}</ChecksumSHA256>" if sha256 else ""
        rows.append(f"<Part><PartNumber>{number}</PartNumber><ETag>&quot;{escape(etag)}&quot;</ETag>{checksum}</Part>")
    return f"<CompleteMultipartUpload {_XMLNS}>{''.join(rows)}</CompleteMultipartUpload>".encode()


def completed(body: bytes) -> dict[str, str]:
    """CompleteMultipartUploadResult as boto3 names its fields (ETag with its quotes, ChecksumSHA256...)."""
    root, ns = _root(body, "CompleteMultipartUpload")
    out = {}
    for name in ("ETag", "ChecksumSHA256", "Location", "Bucket", "Key"):
        value = root.findtext(f"{ns}{name}")
        if value:
            out[name] = value
    return out


def delete_body(keys: list[str]) -> bytes:
    """DeleteObjects' body, quiet mode (only failures are reported)."""
    objects = "".join(f"<Object><Key>{escape(key)}</Key></Object>" for key in keys)
    return f"<Delete {_XMLNS}><Quiet>true</Quiet>{objects}</Delete>".encode()


def delete_errors(body: bytes) -> list[tuple[str, str]]:
    """(key, error code) of every object a DeleteObjects reply says it could not delete."""
    if not body.strip():
        return []
    root, ns = _root(body, "DeleteObjects")
    return [
        (error.findtext(f"{ns}Key") or "", error.findtext(f"{ns}Code") or "error") for error in root.iter(f"{ns}Error")
    ]
