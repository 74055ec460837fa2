"""Real parts for the app tests: a config repository in git, and a live server.

``ConfigRepo`` copies this repository's ``base/``, ``tenants/`` and
``schemas/`` into a fresh git repository and commits with pygit2, so tests
move refs the way a merge would. ``LiveServer`` runs the app under uvicorn in
a thread on a free loopback port.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pygit2
import uvicorn
import yaml

from symphainy_gitops.app import create_app
from symphainy_gitops.auth import KeySet, mint_token

REPO = Path(__file__).resolve().parent.parent
SECRET = "test-only-secret-with-at-least-32-bytes-of-entropy"
_SIGNATURE = pygit2.Signature("Test", "test@example.test", 1_700_000_000, 0)


class ConfigRepo:
    """A git repository holding a copy of the example config."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for folder in ("base", "tenants", "schemas"):
            shutil.copytree(REPO / folder, root / folder)
        self.git = pygit2.init_repository(str(root), initial_head="main")
        self.initial = self.commit("Example config")

    @property
    def platform(self) -> dict[str, Any]:
        data: dict[str, Any] = yaml.safe_load(
            (self.root / "base/platform.yaml").read_text()
        )
        return data

    def write(self, path: str, text: str) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    def edit(self, path: str, change: Callable[[str], str]) -> None:
        target = self.root / path
        target.write_text(change(target.read_text()))

    def remove(self, path: str) -> None:
        target = self.root / path
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink()

    def commit(self, message: str, branch: str = "main") -> str:
        """Commit the whole working tree on ``branch`` (forked from main)."""
        index = self.git.index
        # From scratch, so that deleted files leave the commit too.
        index.clear()
        index.add_all()
        index.write()
        tree = index.write_tree()
        ref = f"refs/heads/{branch}"
        tip = self.git.references.get(ref) or self.git.references.get("refs/heads/main")
        parents = [tip.target] if tip is not None else []
        commit = self.git.create_commit(
            ref, _SIGNATURE, _SIGNATURE, message, tree, parents
        )
        return str(commit)

    def tag(self, name: str, commit: str) -> None:
        self.git.references.create(f"refs/tags/{name}", pygit2.Oid(hex=commit))

    def token(
        self,
        tenant: str,
        subject: str = "user-1",
        roles: tuple[str, ...] = ("viewer",),
        email: str | None = "user-1@example.test",
        ttl: int = 600,
    ) -> str:
        return mint_token(SECRET, self.platform, tenant, subject, roles, email, ttl)


def hmac_keys() -> KeySet:
    return KeySet.from_env({"SUPABASE_JWT_SECRET": SECRET})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LiveServer:
    """The app under uvicorn in a thread, on a free loopback port."""

    def __init__(self, root: Path, ref: str = "main", poll: float = 0.2) -> None:
        self.app = create_app(root, ref, hmac_keys(), poll)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def state(self) -> Any:
        return self.app.state.config

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise AssertionError("uvicorn did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@contextmanager
def live_server(
    root: Path, ref: str = "main", poll: float = 0.2
) -> Iterator[LiveServer]:
    server = LiveServer(root, ref, poll)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def wait_until(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError("condition not met in time")
