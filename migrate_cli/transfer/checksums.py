"""Content digests: SHA-256 (S3 additional checksums) and MD5 (S3 ETags), whole-object or per part.

The multipart scheme is S3's own COMPOSITE checksum: base64(SHA-256(concat(part SHA-256 digests))) with the
part count as a `-N` suffix. It is verifiable on download because every multipart object we write records
its part size in `x-amz-meta-migrate-part-size`, so a reader can cut the stream at the same boundaries.
The ETag of a single-part object (without SSE-KMS) is the MD5 of its content, and that of a multipart
object MD5(concat(part MD5s))-N: both are computed by the server from the bytes it stored, so comparing
them with our own MD5 proves what landed, even on servers that do not check the SHA-256 we send.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from dataclasses import dataclass, field

from migrate_cli.core.errors import ConfigError

MiB = 1024 * 1024
MIN_PART_SIZE = 5 * MiB  # S3's minimum for all parts but the last
MAX_PARTS = 10_000
MAX_OBJECT_SIZE = 5 * 1024 * 1024 * MiB
DEFAULT_PART_SIZE = 16 * MiB
DEFAULT_MULTIPART_THRESHOLD = 64 * MiB  # with the default part size: files above it go in parts
CHUNK = MiB  # read size when hashing
PART_SIZE_META = "migrate-part-size"
MTIME_META = "mtime"

_MD5_ETAG = re.compile(r"^[0-9a-f]{32}$")
_MULTIPART_ETAG = re.compile(r"^[0-9a-f]{32}-(\d+)$")


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def clean_etag(etag: str | None) -> str:
    return (etag or "").strip().strip('"').lower()


def etag_is_md5(etag: str) -> bool:
    return bool(_MD5_ETAG.match(clean_etag(etag)))


def etag_parts(etag: str) -> int:
    """N for a multipart ETag `...-N`, 0 otherwise."""
    m = _MULTIPART_ETAG.match(clean_etag(etag))
    return int(m.group(1)) if m else 0


def composite_sha256(part_digests: list[bytes]) -> str:
    """S3 COMPOSITE SHA-256 value (without the -N suffix)."""
    return b64(hashlib.sha256(b"".join(part_digests)).digest())


def multipart_etag(part_md5s: list[bytes]) -> str:
    return f"{hashlib.md5(b''.join(part_md5s)).hexdigest()}-{len(part_md5s)}"


def part_count(size: int, part_size: int) -> int:
    return max(1, -(-size // part_size))


def choose_part_size(size: int, requested: int = DEFAULT_PART_SIZE) -> int:
    """The requested part size, grown (in whole MiB) when the object would need more than 10,000 parts."""
    part = max(requested, MIN_PART_SIZE)
    if part_count(size, part) > MAX_PARTS:
        part = -(-size // MAX_PARTS)
        part = -(-part // MiB) * MiB
    return part


def parse_size(text: str, what: str) -> int:
    """'16M', '64MiB', '1G', '512K', '1048576' -> bytes (binary units)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*", text.lower())
    if not m:
        raise ConfigError(f"{what}: '{text}' is not a size (e.g. 512K, 16M, 1G)")
    scale = {"": 1, "k": 1024, "m": MiB, "g": 1024 * MiB, "t": 1024 * 1024 * MiB}[m.group(2)]
    return int(float(m.group(1)) * scale)


@dataclass(frozen=True)
class Expected:
    """What a stored object's content should hash to, as far as the store can tell."""

    sha256: str | None = None  # base64; full-object, or composite when parts > 0
    parts: int = 0
    part_size: int | None = None  # boundaries of the composite (None: unknown)
    md5_etag: str | None = None  # ETag that is an MD5 (single part) or MD5-of-MD5s-N (multipart)

    @property
    def verifiable(self) -> bool:
        if self.sha256 and (self.parts == 0 or self.part_size):
            return True
        return bool(self.md5_etag) and (etag_parts(self.md5_etag) == 0 or bool(self.part_size))

    def scheme_part_size(self) -> int:
        """Part size to hash with so the result is comparable (0: whole object)."""
        if self.sha256 and self.parts:
            return self.part_size or 0
        if self.md5_etag and etag_parts(self.md5_etag):
            return self.part_size or 0
        return 0


@dataclass
class StreamDigest:
    """SHA-256 and MD5 of a byte stream, whole and per part (parts cut every `part_size` bytes)."""

    part_size: int = 0
    sha256: hashlib._Hash = field(default_factory=hashlib.sha256)
    md5: hashlib._Hash = field(default_factory=hashlib.md5)
    part_sha256: list[bytes] = field(default_factory=list)
    part_md5: list[bytes] = field(default_factory=list)
    size: int = 0
    _cur_sha: hashlib._Hash | None = None
    _cur_md5: hashlib._Hash | None = None
    _cur_len: int = 0

    def update(self, data: bytes | memoryview) -> None:
        self.sha256.update(data)
        self.md5.update(data)
        self.size += len(data)
        if not self.part_size:
            return
        view = memoryview(data)
        while view:
            if self._cur_sha is None:
                self._cur_sha, self._cur_md5, self._cur_len = hashlib.sha256(), hashlib.md5(), 0
            take = min(len(view), self.part_size - self._cur_len)
            self._cur_sha.update(view[:take])
            self._cur_md5.update(view[:take])  # type: ignore[union-attr]
            self._cur_len += take
            view = view[take:]
            if self._cur_len == self.part_size:
                self._close_part()

    def _close_part(self) -> None:
        if self._cur_sha is not None:
            self.part_sha256.append(self._cur_sha.digest())
            self.part_md5.append(self._cur_md5.digest())  # type: ignore[union-attr]
            self._cur_sha = self._cur_md5 = None

    def finish(self) -> StreamDigest:
        if self.part_size:
            if self._cur_sha is not None and self._cur_len:
                self._close_part()
            if not self.part_sha256:  # empty stream: one empty part
                self.part_sha256.append(hashlib.sha256().digest())
                self.part_md5.append(hashlib.md5().digest())
        return self

    def matches(self, expected: Expected) -> bool | None:
        """True/False when `expected` can be checked against this stream, None when it cannot."""
        if expected.sha256:
            if expected.parts == 0:
                return b64(self.sha256.digest()) == expected.sha256
            if expected.part_size and expected.part_size == self.part_size:
                return len(self.part_sha256) == expected.parts and composite_sha256(self.part_sha256) == (
                    expected.sha256
                )
        if expected.md5_etag:
            n = etag_parts(expected.md5_etag)
            if n == 0:
                return self.md5.hexdigest() == clean_etag(expected.md5_etag)
            if expected.part_size and expected.part_size == self.part_size:
                return multipart_etag(self.part_md5) == clean_etag(expected.md5_etag)
        return None


NO_MD5 = b""  # what digest_* return for MD5 when it was not asked for


def digest_bytes(data: bytes | memoryview, md5: bool = True) -> tuple[bytes, bytes]:
    """(SHA-256, MD5) digests of a buffer (MD5 empty when not wanted)."""
    return hashlib.sha256(data).digest(), hashlib.md5(data).digest() if md5 else NO_MD5


def digest_fd_range(fd: int, offset: int, length: int, md5: bool = True) -> tuple[bytes, bytes]:
    """(SHA-256, MD5) of `length` bytes at `offset` of an open file, read in 1 MiB chunks."""
    sha, md = hashlib.sha256(), (hashlib.md5() if md5 else None)
    pos, end = offset, offset + length
    while pos < end:
        chunk = os.pread(fd, min(CHUNK, end - pos), pos)
        if not chunk:
            raise OSError(f"file shrank while reading (expected {length} bytes at offset {offset})")
        sha.update(chunk)
        if md is not None:
            md.update(chunk)
        pos += len(chunk)
    return sha.digest(), md.digest() if md is not None else NO_MD5


def stream_digest_fd(fd: int, part_size: int, size: int | None = None) -> StreamDigest:
    """StreamDigest of an open file from its start: exactly `size` bytes (OSError when it is shorter), or all
    of it when `size` is None; read with pread, 1 MiB at a time."""
    digest = StreamDigest(part_size=part_size)
    pos = 0
    while size is None or pos < size:
        chunk = os.pread(fd, CHUNK if size is None else min(CHUNK, size - pos), pos)
        if not chunk:
            if size is None:
                break
            raise OSError(f"file shorter than {size} bytes")
        digest.update(chunk)
        pos += len(chunk)
    return digest.finish()


def guess_part_size(size: int, parts: int) -> int | None:
    """The part size most tools would have used to make `parts` parts of an object of `size` bytes."""
    if parts <= 1:
        return None
    for candidate in (8 * MiB, 16 * MiB, 5 * MiB, 64 * MiB, 32 * MiB, 100 * MiB):
        if part_count(size, candidate) == parts:
            return candidate
    guess = -(-size // parts)
    guess = -(-guess // MiB) * MiB
    return guess if part_count(size, guess) == parts else None
