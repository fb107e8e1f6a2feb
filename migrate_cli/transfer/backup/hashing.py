"""SHA-256 of files and bytes, and the base64 forms S3's additional checksums use."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

CHUNK = 1024 * 1024


def sha256_file(path: Path) -> tuple[str, int]:
    """(hex digest, bytes read) of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def b64_of_hex(hex_digest: str) -> str:
    """The base64 text S3 uses for ChecksumSHA256, from a hex digest."""
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


def composite_b64(part_digests: list[bytes]) -> str:
    """S3's multipart checksum: base64(SHA-256(concatenated part digests)), without the `-N` suffix."""
    return base64.b64encode(hashlib.sha256(b"".join(part_digests)).digest()).decode("ascii")


def strip_parts_suffix(checksum: str | None) -> str | None:
    """`abc=-3` -> `abc=` (GetObject adds the part count to composite checksums, HeadObject may not)."""
    if checksum is None:
        return None
    head, sep, tail = checksum.rpartition("-")
    return head if sep and tail.isdigit() else checksum
