"""Reloads: a moved ref is served without a restart; a bad commit never is."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import httpx
import pytest

from .app_support import ConfigRepo, live_server, wait_until


def _rename(repo: ConfigRepo, name: str) -> str:
    repo.edit(
        "tenants/acme/tenant.yaml",
        lambda text: (
            "\n".join(
                f"name: {name}" if line.startswith("name:") else line
                for line in text.splitlines()
            )
            + "\n"
        ),
    )
    return repo.commit(f"Rename acme to {name}")


def test_a_new_good_commit_is_served_without_restart(tmp_path: Path) -> None:
    repo = ConfigRepo(tmp_path / "config")
    headers = {"Authorization": f"Bearer {repo.token('acme')}"}

    with live_server(repo.root) as server, httpx.Client(base_url=server.url) as http:
        assert http.get("/readyz").json()["commit"] == repo.initial
        moved = _rename(repo, "Acme Two")

        wait_until(lambda: http.get("/readyz").json()["commit"] == moved, timeout=5)
        tenant = http.get("/v1/tenants/acme", headers=headers).json()["tenant"]
        assert tenant["name"] == "Acme Two"


def test_a_bad_commit_is_not_served_and_readyz_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="symphainy_gitops.app")
    repo = ConfigRepo(tmp_path / "config")
    headers = {"Authorization": f"Bearer {repo.token('acme')}"}

    with live_server(repo.root) as server, httpx.Client(base_url=server.url) as http:
        repo.edit("tenants/acme/tenant.yaml", lambda text: text + "status: paused\n")
        bad = repo.commit("Break acme")

        ready = wait_until(
            lambda: (answer := http.get("/readyz").json())["last_error"] and answer
        )
        assert ready["ready"] is True
        assert ready["commit"] == repo.initial
        assert ready["last_error"]["commit"] == bad
        first = ready["last_error"]["findings"][0]
        assert first["location"].startswith("tenants/acme/tenant.yaml:")
        assert first["code"] == "schema"
        tenant = http.get("/v1/tenants/acme", headers=headers).json()
        assert tenant["commit"] == repo.initial

        # Several more polls: still the old commit, and the failure logged once.
        time.sleep(1.0)
        failures = [r for r in caplog.records if "reload failed" in r.getMessage()]
        assert len(failures) == 1
        assert bad[:12] in failures[0].getMessage()
        assert "tenants/acme/tenant.yaml" in failures[0].getMessage()

        # The next good commit clears the error.
        repo.edit(
            "tenants/acme/tenant.yaml", lambda t: t.replace("status: paused\n", "")
        )
        good = repo.commit("Fix acme")
        wait_until(lambda: http.get("/readyz").json()["commit"] == good)
        assert http.get("/readyz").json()["last_error"] is None


def test_requests_during_reloads_all_succeed(tmp_path: Path) -> None:
    repo = ConfigRepo(tmp_path / "config")
    token = repo.token("acme")
    forwarded = {
        "Authorization": f"Bearer {token}",
        "X-Forwarded-Host": "acme.localhost",
        "X-Forwarded-Uri": "/claims",
        "X-Forwarded-Method": "GET",
    }
    failures: list[str] = []
    done = threading.Event()

    with live_server(repo.root, poll=0.05) as server:

        def hammer(count: int) -> None:
            with httpx.Client(base_url=server.url, timeout=5) as http:
                for index in range(count):
                    if index % 2:
                        answer = http.get("/auth/verify", headers=forwarded)
                    else:
                        answer = http.get("/v1/tenants/acme/config", headers=forwarded)
                    if answer.status_code != 200:
                        failures.append(f"{answer.status_code} {answer.text}")

        def move_ref() -> None:
            for index in range(8):
                _rename(repo, f"Acme {index}")
                time.sleep(0.1)
            done.set()

        started = time.monotonic()
        threads = [threading.Thread(target=hammer, args=(50,)) for _ in range(4)]
        mover = threading.Thread(target=move_ref)
        for thread in [mover, *threads]:
            thread.start()
        for thread in [mover, *threads]:
            thread.join(timeout=30)

        assert time.monotonic() - started < 10
        assert done.is_set()
        assert failures == []
        final = repo.git.head.target
        with httpx.Client(base_url=server.url) as http:
            wait_until(lambda: http.get("/readyz").json()["commit"] == str(final))
