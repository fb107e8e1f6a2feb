"""The lean S3 data path: SigV4-signed requests over per-thread keep-alive HTTP/1.1 connections.

Why not boto3 for every object: botocore spends about 1.5 ms of CPU per PutObject (parameter validation,
endpoint rules, event hooks, XML and header handling), so threads sharing one GIL top out near 650 small
files/s on two cores, and whatever CPU the client burns the server (on the same box, in the benchmark)
does not get. This path costs about 0.09 ms per small object: signing in sigv4.py, one `sendall` of
head + body (TCP_NODELAY), `sendfile(2)` for parts of local files, a minimal response reader (status line,
headers, Content-Length or chunked body). Measurements: benchmarks/README.md.

The multipart control calls (create, list parts, complete, abort, list uploads) and DeleteObjects go this
way too, with their XML in s3control.py. The endpoint, addressing style, region and credentials come from
s3endpoint.py: boto3's own answer, or the same answer computed without boto3 when the environment is plain.
When an HTTP proxy applies to the endpoint, or MIGRATE_S3_TRANSPORT=botocore, requests go through
botocore's HTTP session instead (proxies, its TLS settings); the signing is the same.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit
from xml.etree import ElementTree

from migrate_cli.transfer import sigv4
from migrate_cli.transfer.bandwidth import RateLimiter
from migrate_cli.transfer.retry import Backoff, IntegrityError, PermanentError, TransientError, with_retries
from migrate_cli.transfer.s3endpoint import S3Endpoint, proxied

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"  # SigV4 without a payload hash: the body is checked by its MD5 instead
TIMEOUT = 60.0  # seconds without a byte from the server before a request counts as failed (and is retried)
TIMEOUT_ENV = "MIGRATE_S3_READ_TIMEOUT"
CONNECT_TIMEOUT = 10.0
SEND_CHUNK = 256 * 1024
HASH_CHUNK = 1024 * 1024  # read size when a file cannot go by sendfile(2) (hashed as it is sent, or TLS)
READ_CHUNK = 1024 * 1024
SMALL_BODY = 64 * 1024  # sent in the same sendall as the head
_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
_CODE = re.compile(rb"<Code>([^<]*)</Code>")
_MESSAGE = re.compile(rb"<Message>([^<]*)</Message>")
RETRYABLE_CODES = frozenset(
    {"RequestTimeout", "SlowDown", "InternalError", "ServiceUnavailable", "Throttling", "ThrottlingException"}
)
INTEGRITY_CODES = frozenset({"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch"})
THROTTLE_CODES = frozenset({"SlowDown", "Throttling", "ThrottlingException"})


@dataclass(frozen=True)
class FileSlice:
    """`length` bytes of a local file at `offset`: sent with sendfile(2), never copied into Python."""

    path: str
    offset: int
    length: int


Body = bytes | FileSlice


@dataclass
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes
    sent_digest: bytes = b""  # digest of the body as sent, when the request was given a hasher


class S3HttpError(PermanentError):
    """A non-retryable S3 error reply (access denied, no such bucket/key/upload...)."""

    def __init__(self, status: int, code: str, message: str, what: str) -> None:
        self.status, self.code = status, code
        super().__init__(f"{what}: {code or status}" + (f": {message}" if message else ""))


class _Closed(Exception):
    """The server closed the connection before a status line: a stale keep-alive connection."""


# --- HTTP/1.1 on a socket ------------------------------------------------------------------------------------


class _Connection:
    """One keep-alive connection: sends a request, reads its response head, then hands out its body."""

    def __init__(self, scheme: str, host: str, port: int, context: ssl.SSLContext | None) -> None:
        sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(float(os.environ.get(TIMEOUT_ENV, TIMEOUT)))
        if scheme == "https":
            sock = (context or ssl.create_default_context()).wrap_socket(sock, server_hostname=host)
        self.sock = sock
        self.reader = sock.makefile("rb", buffering=65536)
        self.requests = 0

    def close(self) -> None:
        try:
            self.reader.close()
            self.sock.close()
        except OSError:
            pass

    def send(self, head: bytes, body: Body, limiter: RateLimiter | None, hasher: Any = None) -> None:
        if isinstance(body, FileSlice):
            self.sock.sendall(head)
            self._sendfile(body, limiter, hasher)
            return
        if hasher is not None:
            hasher.update(body)
        if limiter is None and len(body) <= SMALL_BODY:
            self.sock.sendall(head + body)
        else:
            self.sock.sendall(head)
            view = memoryview(body)
            for start in range(0, len(view), SEND_CHUNK):
                chunk = view[start : start + SEND_CHUNK]
                if limiter is not None:
                    limiter.consume(len(chunk))
                self.sock.sendall(chunk)

    def _sendfile(self, part: FileSlice, limiter: RateLimiter | None, hasher: Any = None) -> None:
        """Send a file range: with sendfile(2) when nothing needs to see the bytes, else read, hashed by
        `hasher` (what is hashed is exactly what is sent) and throttled by `limiter`, chunk by chunk."""
        with open(part.path, "rb") as f:
            if limiter is None and hasher is None and not isinstance(self.sock, ssl.SSLSocket):
                sent = self.sock.sendfile(f, part.offset, part.length)
                if sent != part.length:
                    raise OSError(f"file shrank while sending ({sent} of {part.length} bytes)")
                return
            size = SEND_CHUNK if limiter is not None else HASH_CHUNK
            pos, end = part.offset, part.offset + part.length
            while pos < end:
                chunk = os.pread(f.fileno(), min(size, end - pos), pos)
                if not chunk:
                    raise OSError("file shrank while sending")
                if hasher is not None:
                    hasher.update(chunk)
                if limiter is not None:
                    limiter.consume(len(chunk))
                self.sock.sendall(chunk)
                pos += len(chunk)

    def read_head(self) -> tuple[int, dict[str, str], bool]:
        """(status, headers, keep_alive); 1xx interim responses are skipped."""
        while True:
            line = self.reader.readline(65537)
            if not line:
                raise _Closed("connection closed before a response")
            version, _, rest = line.decode("latin-1").partition(" ")
            try:
                status = int(rest[:3])
            except ValueError:
                raise OSError(f"malformed HTTP status line: {line[:80]!r}") from None
            headers: dict[str, str] = {}
            while True:
                raw = self.reader.readline(65537)
                if raw in (b"\r\n", b"\n", b""):
                    break
                name, _, value = raw.decode("latin-1").partition(":")
                name, value = name.strip().lower(), value.strip()
                headers[name] = f"{headers[name]}, {value}" if name in headers else value
            if 100 <= status < 200:
                continue
            connection = headers.get("connection", "").lower()
            keep = "close" not in connection and (version != "HTTP/1.0" or "keep-alive" in connection)
            return status, headers, keep


class _BodyReader:
    """A response body: Content-Length, chunked, or until the connection closes."""

    def __init__(self, conn: _Connection, method: str, status: int, headers: dict[str, str]) -> None:
        self.conn = conn
        self.chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        self.remaining: int | None = None
        self.done = False
        self._chunk_left = 0
        if method == "HEAD" or status in (204, 304):
            self.done = True
        elif not self.chunked and "content-length" in headers:
            self.remaining = int(headers["content-length"])
            self.done = self.remaining == 0

    def read(self, size: int = READ_CHUNK) -> bytes:
        if self.done:
            return b""
        if self.remaining is not None:
            data = self.conn.reader.read(min(size, self.remaining))
            if not data:
                raise OSError(f"connection closed with {self.remaining} bytes of the body unread")
            self.remaining -= len(data)
            self.done = self.remaining == 0
            return data
        if self.chunked:
            return self._read_chunked(size)
        data = self.conn.reader.read1(size) if hasattr(self.conn.reader, "read1") else self.conn.reader.read(size)
        self.done = not data
        return data

    def _read_chunked(self, size: int) -> bytes:
        if self._chunk_left == 0:
            line = self.conn.reader.readline(1024)
            if not line:
                raise OSError("connection closed inside a chunked body")
            self._chunk_left = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if self._chunk_left == 0:
                while self.conn.reader.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                self.done = True
                return b""
        data = self.conn.reader.read(min(size, self._chunk_left))
        if not data:
            raise OSError("connection closed inside a chunked body")
        self._chunk_left -= len(data)
        if self._chunk_left == 0:
            self.conn.reader.readline(16)
        return data

    def read_all(self) -> bytes:
        return _read_all(self)


def _read_all(body: _BodyReader | _Urllib3Body) -> bytes:
    """The rest of a response body."""
    parts = []
    while not body.done:
        parts.append(body.read())
    return b"".join(parts)


# --- the S3 client -------------------------------------------------------------------------------------------


class S3Http:
    """Signed S3 requests to one endpoint, in one region, with one set of credentials. Thread-safe."""

    def __init__(self, endpoint: S3Endpoint, limiter: RateLimiter | None = None) -> None:
        self.endpoint = endpoint
        self._credentials = endpoint.credentials
        self.region = endpoint.region
        self.limiter = limiter
        self._bases: dict[str, tuple[str, str]] = {}
        self._local = threading.local()
        forced = os.environ.get("MIGRATE_S3_TRANSPORT", "").lower()
        self._botocore_http: Any = endpoint.botocore_http
        self.use_botocore = self._botocore_http is not None and (
            forced == "botocore" or (forced != "fast" and proxied(endpoint.url))
        )
        self._ssl: ssl.SSLContext | None = None
        if endpoint.url.startswith("https") and not self.use_botocore:
            if endpoint.verify is False:
                self._ssl = ssl._create_unverified_context()
            else:
                cafile = endpoint.verify if isinstance(endpoint.verify, str) else None
                self._ssl = ssl.create_default_context(cafile=cafile)

    # --- addressing --------------------------------------------------------------------------------

    def base(self, bucket: str) -> tuple[str, str]:
        """(scheme://host[:port], path prefix ending in '/') for the bucket, as botocore addresses it."""
        found = self._bases.get(bucket)
        if found is None:
            found = self._bases[bucket] = self.endpoint.address(bucket)
        return found

    def url(self, bucket: str, key: str, query: str = "") -> str:
        """The request URL; key "" addresses the bucket itself (`/bucket`, without a trailing slash, as
        botocore sends bucket-level calls: some servers read `/bucket/` as an object with an empty key)."""
        site, prefix = self.base(bucket)
        path = f"{prefix}{quote(key, safe='/~')}" if key else (prefix.rstrip("/") or "/")
        return f"{site}{path}" + (f"?{query}" if query else "")

    # --- requests ----------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        bucket: str,
        key: str,
        query: str = "",
        headers: dict[str, str] | None = None,
        body: Body = b"",
        payload_sha256: str | None = None,
        what: str = "",
        ok: tuple[int, ...] = (200, 204, 206),
        hasher: Callable[[], Any] | None = None,
    ) -> Reply:
        """Send one request and read the whole reply; raise TransientError / S3HttpError on failure.
        With `hasher` (e.g. hashlib.md5), the body is hashed as it is sent (a FileSlice chunk by chunk, read
        once) and the digest is `reply.sent_digest`."""
        what = what or f"{method} s3://{bucket}/{key}"
        with self._exchange(method, bucket, key, query, headers, body, payload_sha256, what, hasher) as (
            reply,
            reader,
        ):
            try:
                reply.body = reader.read_all() if reader is not None else b""
            except (OSError, ValueError) as exc:
                raise TransientError(f"{what}: {_describe(exc)}") from exc
        if reply.status not in ok:
            raise_for_reply(reply, what)
        return reply

    @contextmanager
    def stream(self, bucket: str, key: str, headers: dict[str, str] | None = None) -> Iterator[tuple[Reply, Any]]:
        """GET an object and yield (reply without body, reader with .read(n)); errors are raised first."""
        what = f"GET s3://{bucket}/{key}"
        with self._exchange("GET", bucket, key, "", headers, b"", EMPTY_SHA256, what) as (reply, reader):
            if reply.status not in (200, 206):
                try:
                    reply.body = reader.read_all() if reader is not None else b""
                except (OSError, ValueError):
                    reply.body = b""
                raise_for_reply(reply, what)
            yield reply, _ThrottledReader(reader, self.limiter, what)

    def list_objects(self, bucket: str, prefix: str, delimiter: str = "") -> Iterator[tuple[str, int, float, str, str]]:
        """(key, size, last-modified epoch, etag, storage class) under the prefix; with a delimiter, common
        prefixes come out as (prefix, -1, 0, '', '')."""
        token: str | None = None
        backoff = Backoff.from_env()
        while True:
            params = {"list-type": "2", "prefix": prefix, "max-keys": "1000"}
            if delimiter:
                params["delimiter"] = delimiter
            if token:
                params["continuation-token"] = token
            query = "&".join(f"{k}={quote(v, safe='-_.~')}" for k, v in sorted(params.items()))
            reply = with_retries(
                lambda q=query: self.request("GET", bucket, "", query=q, what=f"list s3://{bucket}/{prefix}"),
                backoff,
            )
            root = ElementTree.fromstring(reply.body)
            ns = _NS if root.tag.startswith(_NS) else ""
            for item in root.iter(f"{ns}Contents"):
                yield (
                    item.findtext(f"{ns}Key") or "",
                    int(item.findtext(f"{ns}Size") or 0),
                    parse_time(item.findtext(f"{ns}LastModified") or ""),
                    (item.findtext(f"{ns}ETag") or "").strip('"'),
                    item.findtext(f"{ns}StorageClass") or "STANDARD",
                )
            for common in root.iter(f"{ns}CommonPrefixes"):
                yield (common.findtext(f"{ns}Prefix") or "", -1, 0.0, "", "")
            if (root.findtext(f"{ns}IsTruncated") or "false").lower() != "true":
                return
            token = root.findtext(f"{ns}NextContinuationToken")
            if not token:
                return

    # --- internals ---------------------------------------------------------------------------------

    def _signed(
        self, method: str, url: str, headers: dict[str, str] | None, body: Body, payload: str | None
    ) -> tuple[Any, str, dict[str, str]]:
        parts = urlsplit(url)
        if payload is None:
            if isinstance(body, FileSlice):
                raise ValueError("a FileSlice body needs its SHA-256 passed in")
            payload = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
        signed = sigv4.sign(
            method,
            _host_header(parts),
            parts.path,
            parts.query,
            {k.lower(): v for k, v in (headers or {}).items()},
            payload,
            self._credentials.get_frozen_credentials(),
            self.region,
        )
        return parts, parts.path + (f"?{parts.query}" if parts.query else ""), signed

    @contextmanager
    def _exchange(
        self,
        method: str,
        bucket: str,
        key: str,
        query: str,
        headers: dict[str, str] | None,
        body: Body,
        payload: str | None,
        what: str,
        hasher: Callable[[], Any] | None = None,
    ) -> Iterator[tuple[Reply, _BodyReader | Any | None]]:
        url = self.url(bucket, key, query)
        parts, target, signed = self._signed(method, url, headers, body, payload)
        if self.use_botocore:
            yield from self._botocore_exchange(method, url, signed, body, what, hasher() if hasher else None)
            return
        length = body.length if isinstance(body, FileSlice) else len(body)
        lines = [f"{method} {target} HTTP/1.1"] + [f"{k}: {v}" for k, v in signed.items()]
        if length or method in ("PUT", "POST"):
            lines.append(f"content-length: {length}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")  # S3 headers and targets are ASCII
        site = f"{parts.scheme}://{parts.netloc}"
        for fresh in (False, True):
            reused = False
            try:
                conn = self._connection(parts)  # connecting may fail too: refused, unreachable, timed out
                reused = conn.requests > 0
                digest = hasher() if hasher is not None else None  # afresh on a second try
                conn.send(head, body, self.limiter, digest)
                status, response_headers, keep = conn.read_head()
            except (_Closed, BrokenPipeError, ConnectionResetError) as exc:
                self._drop(site)
                if reused and not fresh:
                    continue  # the server closed an idle keep-alive connection: once more on a new one
                raise TransientError(f"{what}: {_describe(exc)}") from exc
            except (OSError, ValueError) as exc:
                self._drop(site)
                raise TransientError(f"{what}: {_describe(exc)}") from exc
            break
        reader = _BodyReader(conn, method, status, response_headers)
        sent = digest.digest() if digest is not None else b""
        try:
            yield Reply(status, response_headers, b"", sent), reader
        finally:
            if reader.done and keep:
                conn.requests += 1
            else:
                self._drop(site)

    def _connection(self, parts: Any) -> _Connection:
        conns: dict[str, _Connection] = self._local.__dict__.setdefault("conns", {})
        site = f"{parts.scheme}://{parts.netloc}"
        conn = conns.get(site)
        if conn is None:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            conn = _Connection(parts.scheme, parts.hostname or "", port, self._ssl)
            conns[site] = conn
        return conn

    def _drop(self, site: str) -> None:
        conn = self._local.__dict__.get("conns", {}).pop(site, None)
        if conn is not None:
            conn.close()

    def _botocore_exchange(
        self, method: str, url: str, signed: dict[str, str], body: Body, what: str, hasher: Any = None
    ) -> Iterator[tuple[Reply, Any]]:
        if isinstance(body, FileSlice):
            with open(body.path, "rb") as f:
                body = os.pread(f.fileno(), body.length, body.offset)
        sent = b""
        if hasher is not None:
            hasher.update(body)
            sent = hasher.digest()
        if body and self.limiter is not None:
            self.limiter.consume(len(body))
        from botocore.awsrequest import AWSRequest

        request = AWSRequest(method=method, url=url, headers=signed, data=body or None)
        request.stream_output = True
        try:
            raw = self._botocore_http.send(request.prepare())
        except Exception as exc:  # botocore wraps every transport error in its own classes
            raise TransientError(f"{what}: {_describe(exc)}") from exc
        body = _Urllib3Body(raw.raw)
        try:
            yield Reply(raw.status_code, {k.lower(): v for k, v in raw.headers.items()}, b"", sent), body
        finally:
            if body.done:
                raw.raw.release_conn()  # back to botocore's pool
            else:
                raw.raw.close()


class _Urllib3Body:
    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.done = False

    def read(self, size: int = READ_CHUNK) -> bytes:
        data = self.raw.read(size)
        self.done = not data
        return data

    def read_all(self) -> bytes:
        return _read_all(self)


class _ThrottledReader:
    """Chunks of a response body, throttled by the rate limiter; read errors become TransientError."""

    def __init__(self, body: Any, limiter: RateLimiter | None, what: str) -> None:
        self._body = body
        self._limiter = limiter
        self._what = what

    def read(self, size: int = READ_CHUNK) -> bytes:
        try:
            data = self._body.read(size)
        except Exception as exc:  # socket / urllib3 errors mid-body
            raise TransientError(f"{self._what}: {_describe(exc)}") from exc
        if data and self._limiter is not None:
            self._limiter.consume(len(data))
        return data


def _host_header(parts: Any) -> str:
    default = 443 if parts.scheme == "https" else 80
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return host if parts.port in (None, default) else f"{host}:{parts.port}"


def raise_for_reply(reply: Reply, what: str) -> None:
    """Turn an error reply into TransientError (retry), IntegrityError (re-send) or S3HttpError."""
    code_match = _CODE.search(reply.body or b"")
    code = code_match.group(1).decode(errors="replace") if code_match else ""
    msg_match = _MESSAGE.search(reply.body or b"")
    message = msg_match.group(1).decode(errors="replace") if msg_match else ""
    status = reply.status
    if not code:
        code = {404: "NotFound", 403: "AccessDenied", 400: "BadRequest"}.get(status, "")
    if code in INTEGRITY_CODES:
        raise IntegrityError(f"{what}: the server rejected the content checksum ({code})")
    if code == "RequestTimeTooSkewed":
        raise S3HttpError(status, code, "the local clock is off; fix the time and retry", what)
    if status >= 500 or status == 429 or code in RETRYABLE_CODES or code == "ExpiredToken":
        throttled = status in (429, 503) or code in THROTTLE_CODES
        raise TransientError(f"{what}: HTTP {status} {code}".rstrip(), throttled=throttled)
    raise S3HttpError(status, code, message, what)


def parse_time(text: str) -> float:
    if not text:
        return 0.0
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
