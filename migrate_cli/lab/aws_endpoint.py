"""A local AWS endpoint for the lab: moto's server run in-process on a free port.

Pinned to moto 5.2.x (uses `ThreadedMotoServer` internals and `/moto-api/config`, `/moto-api/reset`).
"""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from threading import Thread
from typing import Any

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from migrate_cli.core.errors import OperationFailed

LAB_ACCESS_KEY_ID = "testing"
LAB_SECRET_ACCESS_KEY = "testing"  # dummy lab credentials; moto accepts any
LAB_CONFIG: dict[str, Any] = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
START_TIMEOUT = 5.0


class _QuietHandler(MotoRequestHandler):
    """Moto's request handler without werkzeug's per-request access log line."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class _LabMotoServer(ThreadedMotoServer):
    """ThreadedMotoServer that binds its socket synchronously, so a busy port raises OSError here.

    (The stock one binds in its thread and hangs on failure; werkzeug itself calls sys.exit(1).)
    """

    def start(self) -> None:
        family = socket.AF_INET6 if ":" in self._ip_address else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self._ip_address, self._port))
            sock.listen(128)
            app = DomainDispatcherApplication(create_backend_app)
            self._server = make_server(
                self._ip_address, self._port, app, True, request_handler=_QuietHandler, fd=sock.fileno()
            )  # werkzeug dups the descriptor
        self._thread = Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"moto-{self._server.port}",
            daemon=True,
        )
        self._thread.start()
        self._server_ready_event.set()


class LocalAwsEndpoint:
    """moto server on 127.0.0.1 with Step Functions execution enabled.

    moto keeps its state (backends and its config) in module globals, so every endpoint in one process
    serves the SAME resources, and `MOTO_PORT` (read by moto when Task states call back into it) is a
    single process-wide value: the endpoint started last wins (stop() restores the previous value).
    Use `reset()` to wipe all moto state between tests.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, region: str = "us-east-1") -> None:
        self.host = host
        self.port = port
        self.region = region
        self.url = ""
        self._server: _LabMotoServer | None = None
        self._prev_moto_port: str | None = None

    def start(self) -> str:
        """Start serving (idempotent), apply the lab config, and return the URL once it answers."""
        if self._server is not None:
            return self.url
        server = _LabMotoServer(ip_address=self.host, port=self.port, verbose=False)
        try:
            server.start()
        except OSError as e:
            raise OperationFailed(f"cannot start local AWS endpoint on {self.host}:{self.port}: {e}") from e
        self._server = server
        self.port = server.get_host_and_port()[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{host}:{self.port}"
        self._prev_moto_port = os.environ.get("MOTO_PORT")
        os.environ["MOTO_PORT"] = str(self.port)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                self.configure(LAB_CONFIG)
                break
            except (OSError, urllib.error.URLError) as e:
                if time.monotonic() > deadline:
                    self.stop()
                    raise OperationFailed(f"local AWS endpoint {self.url} did not answer: {e}") from e
                time.sleep(0.02)
        return self.url

    def stop(self) -> None:
        """Stop serving (idempotent); restores MOTO_PORT if this endpoint set it."""
        if self._server is None:
            return
        self._server.stop()
        self._server = None
        if os.environ.get("MOTO_PORT") == str(self.port):
            if self._prev_moto_port is None:
                os.environ.pop("MOTO_PORT", None)
            else:
                os.environ["MOTO_PORT"] = self._prev_moto_port

    @property
    def running(self) -> bool:
        return self._server is not None

    def configure(self, config: dict[str, Any]) -> dict[str, Any]:
        """POST moto config (as `mock_aws(config=...)` takes); returns what moto reports back."""
        return json.loads(self._post("/moto-api/config", json.dumps(config).encode()) or b"{}")

    def reset(self) -> None:
        """Delete all moto state (all endpoints in this process share it); the config is kept."""
        self._post("/moto-api/reset", b"")

    def _post(self, path: str, body: bytes) -> bytes:
        if not self.url:
            raise OperationFailed("local AWS endpoint is not started")
        req = urllib.request.Request(
            self.url + path, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 - our own local URL
            return resp.read()

    def env(self) -> dict[str, str]:
        """Environment that points boto3/the AWS CLI at this endpoint with dummy credentials."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": LAB_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": LAB_SECRET_ACCESS_KEY,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self, service: str) -> Any:
        """A boto3 client for `service` at this endpoint (the process environment is not consulted)."""
        return client_for(self.env(), service)

    def __enter__(self) -> LocalAwsEndpoint:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def client_for(env: Mapping[str, str], service: str) -> Any:
    """A boto3 client for the endpoint that `LocalAwsEndpoint.env()` describes (not the process env)."""
    import boto3

    session = boto3.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env.get("AWS_REGION", "us-east-1"),
    )
    return session.client(service, endpoint_url=env["AWS_ENDPOINT_URL"])
