"""End to end: real Traefik in front, this app as its ForwardAuth, an echo backend.

The routes are rendered from the test repository's tenants with the
ForwardAuth address pointed at the app, so what is proved here is the
deployed chain: a request the app refuses never reaches a backend, and the
identity a backend sees is the app's, never the client's.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from symphainy_gitops.output import write_tree
from symphainy_gitops.render import render_tree
from symphainy_gitops.snapshot import build_snapshot
from symphainy_gitops.source import open_source
from tests.traefik_harness import (
    REPO,
    EchoBackend,
    Response,
    Traefik,
    require_binary,
    wait_for,
)

from .app_support import ConfigRepo, LiveServer

pytestmark = pytest.mark.integration

IDENTITY = (
    "x-user-id",
    "x-tenant-id",
    "x-user-email",
    "x-user-roles",
    "x-user-permissions",
)


@dataclass
class Gateway:
    repo: ConfigRepo
    traefik: Traefik
    echo: EchoBackend

    def call(
        self,
        host: str,
        path: str = "/claims",
        token: str | None = None,
        headers: list[tuple[str, str]] | None = None,
        method: str = "GET",
    ) -> Response:
        sent = list(headers or [])
        if token is not None:
            sent.append(("Authorization", f"Bearer {token}"))
        return self.traefik.get(path, host, headers=sent, method=method)

    def seen(self, answer: Response) -> dict[str, list[str]]:
        """Headers the backend received, by lower-cased name."""
        received: dict[str, list[str]] = {}
        for name, value in answer.json()["headers"]:
            received.setdefault(name.lower(), []).append(value)
        return received


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    binary = require_binary("traefik", REPO / ".venv" / "bin" / "traefik")
    workdir = tmp_path_factory.mktemp("gateway")
    repo = ConfigRepo(workdir / "config")
    snapshot = build_snapshot(open_source(repo.root, "main"))

    echo = EchoBackend()
    echo.start()
    app = LiveServer(repo.root)
    app.start()

    platform = copy.deepcopy(dict(snapshot.platform))
    platform["forward_auth"]["address"] = f"{app.url}/auth/verify"
    platform["services"] = {name: {"url": echo.url} for name in platform["services"]}
    configs: dict[str, Any] = {}
    for tenant_id, tenant in snapshot.tenants.items():
        config = copy.deepcopy(tenant.config)
        routing = config["tenant"].setdefault("routing", {})
        if routing.get("backend_urls"):
            routing["backend_urls"] = [echo.url]
        configs[tenant_id] = config
    # Rendered while harbor was active; the app serves it suspended: the app
    # must refuse it on its own, whatever routes the gateway still has.
    configs["harbor"]["tenant"]["status"] = "active"

    dynamic = workdir / "dynamic"
    write_tree(dynamic, render_tree(platform, configs, snapshot.label))
    traefik = Traefik(binary, workdir, dynamic)
    traefik.start()
    try:
        # Ping answers before the file provider has loaded: wait for the routes.
        wanted = [f"tenant-{tenant_id}-prefix@file" for tenant_id in configs]
        wait_for(
            lambda: all(name in traefik.routers() for name in wanted),
            what="every tenant's prefix router",
        )
        yield Gateway(repo, traefik, echo)
    finally:
        traefik.stop()
        app.stop()
        echo.stop()


def test_no_token_is_401_and_never_reaches_the_backend(gateway: Gateway) -> None:
    before = gateway.echo.hits

    answer = gateway.call("acme.localhost")
    forged = gateway.call("acme.localhost", token="eyJhbGciOiJub25lIn0.e30.")

    assert answer.status == 401
    assert answer.headers.get("Www-Authenticate") == 'Bearer error="invalid_request"'
    assert forged.status == 401
    assert gateway.echo.hits == before


def test_a_tenants_token_on_another_tenants_host_is_403(gateway: Gateway) -> None:
    before = gateway.echo.hits
    token = gateway.repo.token("acme")

    on_host = gateway.call("lumen.localhost", token=token)
    on_prefix = gateway.call(
        "platform.localhost", "/api/v1/tenants/northwind/claims", token=token
    )

    assert on_host.status == on_prefix.status == 403
    assert gateway.echo.hits == before


def test_a_good_token_reaches_the_backend_with_the_apps_identity(
    gateway: Gateway,
) -> None:
    token = gateway.repo.token("acme", "user-7", ("senior_adjuster",))

    answer = gateway.call("acme.localhost", token=token)

    assert answer.status == 200
    seen = gateway.seen(answer)
    assert seen["x-user-id"] == ["user-7"]
    assert seen["x-tenant-id"] == ["acme"]
    assert seen["x-user-email"] == ["user-1@example.test"]
    assert seen["x-user-roles"] == ["senior_adjuster"]
    assert "claims.approve" in seen["x-user-permissions"][0].split(",")


def test_client_forged_identity_headers_never_reach_the_backend(
    gateway: Gateway,
) -> None:
    token = gateway.repo.token("acme")
    forged = [
        ("X-Tenant-Id", "lumen"),
        ("X-User-Id", "admin"),
        ("X-User-Roles", "platform_admin"),
        ("X-User-Permissions", "users.manage"),
        ("X-User-Email", "ceo@lumen.localhost"),
    ]

    answer = gateway.call("acme.localhost", token=token, headers=forged)

    assert answer.status == 200
    seen = gateway.seen(answer)
    assert seen["x-tenant-id"] == ["acme"]
    assert seen["x-user-id"] == ["user-1"]
    assert seen["x-user-roles"] == ["viewer"]
    assert "users.manage" not in seen["x-user-permissions"][0]
    assert seen["x-user-email"] == ["user-1@example.test"]


def test_a_suspended_tenant_is_refused(gateway: Gateway) -> None:
    before = gateway.echo.hits

    answer = gateway.call("harbor.localhost", token=gateway.repo.token("harbor"))

    assert answer.status == 403
    assert answer.json() == {"error": "tenant-suspended"}
    assert gateway.echo.hits == before


@pytest.mark.parametrize(
    ("host", "path", "method"),
    [
        ("acme.localhost", "/admin/users", "GET"),
        ("acme.localhost", "/%61dmin/users", "GET"),
        ("acme.localhost", "/x/../admin", "GET"),
        ("platform.localhost", "/api/v1/tenants/acme/admin", "GET"),
        ("acme.localhost", "/ingest/policies", "POST"),
        ("platform.localhost", "/api/v1/tenants/acme/ingest/claims/csv", "POST"),
    ],
)
def test_a_gated_route_is_403_without_and_200_with_the_permission(
    gateway: Gateway, host: str, path: str, method: str
) -> None:
    viewer = gateway.repo.token("acme")
    admin = gateway.repo.token("acme", "boss", ("tenant_admin",))
    before = gateway.echo.hits

    refused = gateway.call(host, path, token=viewer, method=method)
    assert refused.status == 403
    assert refused.json() == {"error": "permission-missing"}
    assert gateway.echo.hits == before

    allowed = gateway.call(host, path, token=admin, method=method)
    assert allowed.status == 200
    assert gateway.seen(allowed)["x-tenant-id"] == ["acme"]


def test_the_forwarded_method_reaches_the_app(gateway: Gateway) -> None:
    # Ingestion is gated for POST only: a viewer's GET passes, so the app
    # really saw GET (a missing method would count as any method, and refuse).
    viewer = gateway.repo.token("acme")

    assert (
        gateway.call("acme.localhost", "/ingest/policies", token=viewer).status == 200
    )
