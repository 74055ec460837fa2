"""The app over real HTTP: lookups, tenant isolation, refs, caching headers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.routing import Route

from .app_support import ConfigRepo, LiveServer, live_server, wait_until

ALL_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
ROUTES = [
    "/v1/tenants/{id}",
    "/v1/tenants/{id}/config",
    "/v1/tenants/{id}/config/tenant",
]


class World:
    def __init__(self, repo: ConfigRepo, server: LiveServer) -> None:
        self.repo = repo
        self.server = server
        self.http = httpx.Client(base_url=server.url, timeout=10)
        self.v1 = "v1"
        self.head = ""
        self.broken = ""

    def get(
        self, path: str, token: str | None = None, **kwargs: object
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        headers.update(kwargs.pop("headers", {}))  # type: ignore[arg-type]
        return self.http.get(path, headers=headers, **kwargs)  # type: ignore[arg-type]

    def acme(self) -> str:
        return self.repo.token("acme")

    def admin(self) -> str:
        return self.repo.token("acme", "ops-1", ("platform_admin",))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    repo = ConfigRepo(tmp_path_factory.mktemp("config"))
    repo.tag("v1", repo.initial)

    # main moves on: acme is renamed, brightside leaves.
    repo.edit(
        "tenants/acme/tenant.yaml",
        lambda text: text.replace("Acme Mutual Insurance", "Acme Mutual Group"),
    )
    repo.remove("tenants/brightside")
    head = repo.commit("Rename acme; brightside leaves")

    # A branch that does not validate, in acme and in lumen.
    for tenant in ("acme", "lumen"):
        repo.edit(
            f"tenants/{tenant}/tenant.yaml", lambda text: text + "status: paused\n"
        )
    broken = repo.commit("Break acme and lumen", branch="broken")
    for tenant in ("acme", "lumen"):
        repo.edit(
            f"tenants/{tenant}/tenant.yaml",
            lambda text: text.replace("status: paused\n", ""),
        )

    with live_server(repo.root) as server:
        world = World(repo, server)
        world.head, world.broken = head, broken
        yield world
        world.http.close()


def _same(first: httpx.Response, second: httpx.Response) -> None:
    assert first.status_code == second.status_code
    assert first.content == second.content
    for name in ("content-type", "content-length", "etag", "cache-control"):
        assert first.headers.get(name) == second.headers.get(name)


# ---------------------------------------------------------------------------
# Tenant isolation


@pytest.mark.parametrize("route", ROUTES)
def test_own_tenant_is_served_and_others_look_unknown(world: World, route: str) -> None:
    own = world.get(route.format(id="acme"), world.acme())
    other = world.get(route.format(id="lumen"), world.acme())
    unknown = world.get(route.format(id="no-such-tenant"), world.acme())

    assert own.status_code == 200
    assert own.json()["commit"] == world.head
    assert other.status_code == 404
    assert other.json() == {
        "error": "tenant-unknown",
        "message": "no tenant with this id",
    }
    _same(other, unknown)


@pytest.mark.parametrize("route", ROUTES)
def test_platform_admin_sees_every_tenant(world: World, route: str) -> None:
    for tenant in ("acme", "lumen", "harbor", "northwind"):
        assert world.get(route.format(id=tenant), world.admin()).status_code == 200


def test_tenant_list_shows_only_the_callers_tenant(world: World) -> None:
    own = world.get("/v1/tenants", world.acme()).json()
    every = world.get("/v1/tenants", world.admin()).json()

    assert [row["id"] for row in own["tenants"]] == ["acme"]
    assert own["tenants"][0]["name"] == "Acme Mutual Group"
    assert [row["id"] for row in every["tenants"]] == [
        "acme",
        "harbor",
        "lumen",
        "northwind",
    ]


def test_encoded_and_case_variant_ids(world: World) -> None:
    token = world.acme()
    plain = world.get("/v1/tenants/acme", token)

    _same(world.get("/v1/tenants/%61cme", token), plain)
    unknown = world.get("/v1/tenants/nope", token)
    for variant in ("ACME", "Acme", "%41cme", "acme%20", "%6cumen", "lumen%00"):
        _same(world.get(f"/v1/tenants/{variant}", token), unknown)


def test_a_suspended_tenants_users_are_refused(world: World) -> None:
    answer = world.get("/v1/tenants/harbor", world.repo.token("harbor"))

    assert answer.status_code == 403
    assert answer.json()["error"] == "tenant-suspended"


# ---------------------------------------------------------------------------
# Tokens


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({}, "invalid_request"),
        ({"Authorization": "Bearer not.a.jwt"}, "invalid_token"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "invalid_token"),
        ({"Authorization": "Bearer " + "a" * 20_000}, "invalid_token"),
    ],
)
def test_missing_or_bad_tokens_answer_401(
    world: World, headers: dict[str, str], error: str
) -> None:
    for path in ("/v1/tenants", "/v1/tenants/acme/config"):
        answer = world.get(path, headers=headers)

        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == f'Bearer error="{error}"'
        assert set(answer.json()) == {"error"}


def test_two_authorization_headers_are_refused(world: World) -> None:
    headers = [
        ("Authorization", f"Bearer {world.acme()}"),
        ("Authorization", f"Bearer {world.admin()}"),
    ]
    answer = world.http.get("/v1/tenants/lumen", headers=headers)

    assert answer.status_code == 401


# ---------------------------------------------------------------------------
# Refs


def test_ref_reads_an_older_commit(world: World) -> None:
    token = world.acme()

    for ref in ("v1", world.repo.initial, world.repo.initial[:10], "main~1"):
        answer = world.get("/v1/tenants/acme", token, params={"ref": ref})
        assert answer.status_code == 200, ref
        assert answer.json()["tenant"]["name"] == "Acme Mutual Insurance"
        assert answer.json()["commit"] == world.repo.initial


def test_ref_does_not_open_another_tenant(world: World) -> None:
    # brightside exists at v1 only; acme's caller still may not see it there.
    acme = world.acme()
    other = world.get("/v1/tenants/brightside", acme, params={"ref": "v1"})
    unknown = world.get("/v1/tenants/nope", acme, params={"ref": "v1"})

    _same(other, unknown)
    assert other.status_code == 404

    # brightside's own caller sees it at v1, and not at main where it is gone.
    own = world.repo.token("brightside")
    assert (
        world.get("/v1/tenants/brightside", own, params={"ref": "v1"}).status_code
        == 200
    )
    assert world.get("/v1/tenants/brightside", own).status_code == 404


@pytest.mark.parametrize(
    "ref",
    [
        "--help",
        "HEAD:base/platform.yaml",
        "../../etc/passwd",
        "main@{0}",
        ":/Rename",
        "",
    ],
)
def test_odd_refs_are_refused(world: World, ref: str) -> None:
    answer = world.get("/v1/tenants/acme", world.acme(), params={"ref": ref})

    assert answer.status_code == 400
    assert answer.json()["error"] == "ref-invalid"


def test_an_unknown_ref_is_404(world: World) -> None:
    answer = world.get("/v1/tenants/acme", world.acme(), params={"ref": "nope"})

    assert answer.status_code == 404
    assert answer.json()["error"] == "ref-unknown"


def test_a_ref_that_does_not_validate_is_422_with_the_callers_findings(
    world: World,
) -> None:
    acme = world.get("/v1/tenants/acme", world.acme(), params={"ref": "broken"})
    admin = world.get("/v1/tenants/acme", world.admin(), params={"ref": "broken"})

    assert acme.status_code == admin.status_code == 422
    assert acme.json()["error"] == "ref-invalid-config"
    assert acme.json()["commit"] == world.broken
    seen = {f["location"].split(":")[0] for f in acme.json()["findings"]}
    every = {f["location"].split(":")[0] for f in admin.json()["findings"]}
    assert seen == {"tenants/acme/tenant.yaml"}
    assert every == {"tenants/acme/tenant.yaml", "tenants/lumen/tenant.yaml"}
    assert all(f["code"] == "schema" for f in admin.json()["findings"])


# ---------------------------------------------------------------------------
# HTTP behaviour


def test_etag_and_if_none_match(world: World) -> None:
    token = world.acme()
    first = world.get("/v1/tenants/acme/config", token)
    etag = first.headers["etag"]

    assert etag.startswith('"')
    assert first.headers["cache-control"] == "private, no-cache"
    assert first.headers["vary"] == "Authorization"
    for given in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = world.get(
            "/v1/tenants/acme/config", token, headers={"If-None-Match": given}
        )
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == etag

    stale = world.get(
        "/v1/tenants/acme/config", token, headers={"If-None-Match": '"x"'}
    )
    assert stale.status_code == 200
    older = world.get("/v1/tenants/acme/config", token, params={"ref": "v1"})
    assert older.headers["etag"] != etag


def test_head_answers_like_get_without_a_body(world: World) -> None:
    token = world.acme()

    for path in ("/v1/tenants", "/v1/tenants/acme/config", "/openapi.json"):
        get = world.get(path, token)
        head = world.http.head(path, headers={"Authorization": f"Bearer {token}"})
        assert head.status_code == 200
        assert head.content == b""
        assert head.headers["etag"] == get.headers["etag"]
        assert head.headers["content-length"] == get.headers["content-length"]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_other_methods_are_405(world: World, method: str) -> None:
    answer = world.http.request(
        method, "/v1/tenants/acme", headers={"Authorization": f"Bearer {world.acme()}"}
    )

    assert answer.status_code == 405
    assert answer.json()["error"] == "method-not-allowed"
    assert set(answer.headers["allow"].split(", ")) == {"GET", "HEAD"}


def test_explain_gives_provenance(world: World) -> None:
    answer = world.get(
        "/v1/tenants/acme/config/tenant", world.acme(), params={"explain": "true"}
    )

    leaf = answer.json()["explain"]["tenant.name"]
    assert leaf["value"] == "Acme Mutual Group"
    assert leaf["file"] == "tenants/acme/tenant.yaml"
    assert leaf["layer"] == "tenant:acme"
    bad = world.get("/v1/tenants/acme/config", world.acme(), params={"explain": "yes"})
    assert bad.status_code == 400


def test_an_unknown_config_type_is_404(world: World) -> None:
    answer = world.get("/v1/tenants/acme/config/secrets", world.acme())

    assert answer.status_code == 404
    assert answer.json()["error"] == "config-type-unknown"


def test_readyz_reports_the_served_commit(world: World) -> None:
    answer = world.http.get("/readyz")

    assert answer.status_code == 200
    assert answer.json()["commit"] == world.head
    assert answer.json()["last_error"] is None
    assert world.http.get("/healthz").json() == {"status": "ok"}


def test_readyz_is_503_before_the_first_good_snapshot(tmp_path: Path) -> None:
    repo = ConfigRepo(tmp_path / "config")
    repo.edit("tenants/acme/tenant.yaml", lambda text: text + "status: paused\n")
    bad = repo.commit("Break acme")

    with live_server(repo.root) as server, httpx.Client(base_url=server.url) as http:
        before = http.get("/readyz")
        assert before.status_code == 503
        assert before.json()["last_error"]["commit"] == bad
        token = repo.token("acme")
        answer = http.get("/v1/tenants", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 503
        verify = http.get("/auth/verify", headers={"Authorization": f"Bearer {token}"})
        assert verify.status_code == 503

        repo.edit(
            "tenants/acme/tenant.yaml", lambda t: t.replace("status: paused\n", "")
        )
        good = repo.commit("Fix acme")
        wait_until(lambda: http.get("/readyz").status_code == 200)
        assert http.get("/readyz").json()["commit"] == good


def test_openapi_describes_exactly_the_routes(world: World) -> None:
    described = world.http.get("/openapi.json").json()

    routes = {
        route.path for route in world.server.app.routes if isinstance(route, Route)
    }
    assert set(described["paths"]) == routes
    for path, operations in described["paths"].items():
        route = next(r for r in world.server.app.routes if r.path == path)  # type: ignore[attr-defined]
        methods = {method.upper() for method in operations} | {"HEAD"}
        # A route without a method list (ForwardAuth) answers every method.
        allowed = route.methods or ALL_METHODS  # type: ignore[attr-defined]
        assert methods == allowed, path


# ---------------------------------------------------------------------------
# ForwardAuth over HTTP, and what the logs never hold


def test_forward_auth_over_http(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="symphainy_gitops.app")
    token = world.acme()
    forwarded = {"X-Forwarded-Host": "acme.localhost", "X-Forwarded-Uri": "/claims"}

    good = world.get("/auth/verify", token, headers=forwarded)
    wrong = world.get(
        "/auth/verify",
        token,
        headers={**forwarded, "X-Forwarded-Host": "lumen.localhost"},
    )
    missing = world.get("/auth/verify", headers=forwarded)
    forged = world.get(
        "/auth/verify",
        token[:-4] + "AAAA",
        headers={**forwarded, "X-Forwarded-Uri": "/x\tINFO forged"},
    )
    in_query = world.get(
        "/auth/verify",
        headers={**forwarded, "X-Forwarded-Uri": f"/claims?access_token={token}"},
    )

    assert good.status_code == 200
    assert good.headers["x-tenant-id"] == "acme"
    assert good.headers["x-user-id"] == "user-1"
    assert wrong.status_code == 403
    assert wrong.json() == {"error": "tenant-mismatch"}
    assert "x-user-id" not in wrong.headers
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer error="invalid_request"'
    assert forged.status_code == 401
    assert forged.json() == {"error": "signature-invalid"}

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "refused tenant-mismatch tenant=lumen path=/claims" in logged
    assert token[:20] not in logged
    assert token.split(".")[1][:20] not in logged
    assert "user-1@example.test" not in logged
    assert "path=/x?INFO" in logged
    assert in_query.status_code == 401
    assert "access_token" not in logged
    assert all("\t" not in record.getMessage() for record in caplog.records)
