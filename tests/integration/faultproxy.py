"""A fault-injecting HTTP reverse proxy for tests: sits between an S3 client and moto server.

Rules are checked in order for each request; the first that matches (method, query/path predicate, every
Nth matching request, at most `times`) decides what happens:
  status   answer with an S3-style XML error (500 InternalError, 503 SlowDown...) without forwarding
  drop     read the request, then close the connection without answering (client sees a reset/EOF)
  drop_after  forward (the server DOES act on it), then close without answering
  corrupt  flip one byte of the request body, then forward (the server stores wrong bytes)
  delay    sleep `delay` seconds, then forward
Every request is logged (method, path, query, status sent, fault applied) for assertions like
"this object was PUT exactly once".
"""

from __future__ import annotations

import http.client
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "trailer", "upgrade"}


@dataclass
class Request:
    method: str
    path: str  # unquoted
    query: dict[str, list[str]]
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names

    @property
    def is_part(self) -> bool:
        return "partNumber" in self.query

    @property
    def is_object_put(self) -> bool:
        return self.method == "PUT" and not self.query and self.path.count("/") >= 2


@dataclass
class Rule:
    kind: str  # status | drop | drop_after | corrupt | delay
    method: str | None = None
    when: Callable[[Request], bool] | None = None
    every: int = 1
    times: int | None = None
    status: int = 500
    code: str = "InternalError"
    delay: float = 0.0
    seen: int = 0
    applied: int = 0

    def matches(self, req: Request) -> bool:
        if self.method and req.method != self.method:
            return False
        if self.when is not None and not self.when(req):
            return False
        if self.times is not None and self.applied >= self.times:
            return False
        self.seen += 1
        if self.seen % self.every:
            return False
        self.applied += 1
        return True


@dataclass
class Record:
    method: str
    path: str
    query: dict[str, list[str]]
    status: int | None  # what the client got (None: connection dropped); upstream status for drop_after
    upstream: int | None  # what the server answered (None: not forwarded)
    fault: str | None
    ts: float = field(default_factory=time.time)


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.rules: list[Rule] = []
        self.log: list[Record] = []
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    # --- control -----------------------------------------------------------------------------------

    def start(self) -> str:
        proxy = self

        class Handler(_Handler):
            owner = proxy

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def add(self, rule: Rule) -> Rule:
        with self.lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self.lock:
            self.rules.clear()

    def records(self, method: str | None = None, ok: bool | None = None, fault: str | None = None) -> list[Record]:
        with self.lock:
            out = list(self.log)
        if method:
            out = [r for r in out if r.method == method]
        if ok is not None:
            out = [r for r in out if (r.upstream is not None and 200 <= r.upstream < 300) == ok]
        if fault:
            out = [r for r in out if r.fault == fault]
        return out

    def _rule_for(self, req: Request) -> Rule | None:
        with self.lock:
            for rule in self.rules:
                if rule.matches(req):
                    return rule
        return None

    def _record(self, record: Record) -> None:
        with self.lock:
            self.log.append(record)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that vanished mid-request (killed on purpose) is not news


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner: FaultProxy

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        req = Request(
            self.command,
            unquote(parts.path),
            parse_qs(parts.query, keep_blank_values=True),
            body,
            {k.lower(): v for k, v in self.headers.items()},
        )
        rule = self.owner._rule_for(req)
        kind = rule.kind if rule else None
        if rule is not None and rule.kind == "status":
            payload = (
                f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{rule.code}</Code>'
                f"<Message>injected by faultproxy</Message></Error>"
            ).encode()
            self.send_response(rule.status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
            self.owner._record(Record(req.method, req.path, req.query, rule.status, None, kind))
            return
        if rule is not None and rule.kind == "drop":
            self.owner._record(Record(req.method, req.path, req.query, None, None, kind))
            self._abort()
            return
        if rule is not None and rule.kind == "corrupt" and body:
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        if rule is not None and rule.kind == "delay":
            time.sleep(rule.delay)
        try:
            status, headers, payload = self._forward(body)
        except OSError:  # the upstream went away (test teardown): answer like a gateway would
            status, headers, payload = 502, [("Content-Type", "text/plain")], b"upstream unavailable"
        if rule is not None and rule.kind == "drop_after":
            self.owner._record(Record(req.method, req.path, req.query, None, status, kind))
            self._abort()
            return
        try:
            self.send_response(status)
            for name, value in headers:
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)) if self.command != "HEAD" else self._length(headers))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        finally:
            self.owner._record(Record(req.method, req.path, req.query, status, status, kind))

    @staticmethod
    def _length(headers: list[tuple[str, str]]) -> str:
        for name, value in headers:
            if name.lower() == "content-length":
                return value
        return "0"

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(self.owner.upstream_host, self.owner.upstream_port, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP and k.lower() != "expect"}
            headers["Content-Length"] = str(len(body))
            conn.request(self.command, self.path, body=body or None, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            return response.status, response.getheaders(), payload
        finally:
            conn.close()

    def _abort(self) -> None:
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _serve  # noqa: N815 - http.server's naming
