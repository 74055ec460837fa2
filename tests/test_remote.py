"""``remote``: the CLI against the real app on loopback, and the app's side of it."""

from __future__ import annotations

import socket
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from symphainy_gitops.auth import mint_token
from symphainy_gitops.cli import cli
from symphainy_gitops.remote import EtagCache, Refused, connect

from .app_support import SECRET, ConfigRepo, LiveServer, free_port, live_server


@dataclass
class World:
    repo: ConfigRepo
    server: LiveServer
    cache: Path

    def env(self, token: str | None, tenant: str | None = None) -> dict[str, str]:
        env = {"SYMPHAINY_API_URL": self.server.url, "XDG_CACHE_HOME": str(self.cache)}
        if token is not None:
            env["SYMPHAINY_API_TOKEN"] = token
        if tenant is not None:
            env["SYMPHAINY_TENANT_ID"] = tenant
        return env

    def remote(
        self, *args: str, token: str | None = None, tenant: str | None = None
    ) -> Result:
        return CliRunner().invoke(
            cli, ["remote", *args], env=self.env(token, tenant), catch_exceptions=False
        )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    repo = ConfigRepo(tmp_path_factory.mktemp("config"))
    with live_server(repo.root) as server:
        yield World(repo, server, tmp_path_factory.mktemp("cache"))


def _local(world: World, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--repo", str(world.repo.root), "show", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


# ---------------------------------------------------------------------------
# whoami, and the app's X-Tenant-Id check


def test_whoami_shows_what_the_server_sees(world: World) -> None:
    token = world.repo.token("acme", "user-9", ("claims_adjuster",))

    text = world.remote("whoami", token=token)
    data = world.remote("whoami", "--output", "json", token=token)

    assert text.exit_code == 0, text.output
    assert "user:           user-9 <user-1@example.test>" in text.stdout
    assert "tenant:         acme" in text.stdout
    assert "roles:          claims_adjuster" in text.stdout
    seen = httpx.get(
        f"{world.server.url}/v1/whoami", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert '"permissions"' in data.stdout
    assert seen["tenant"] == "acme"
    # Inherited from claims_viewer, as /auth/verify resolves them.
    assert "claims.read" in seen["permissions"]
    assert "claims.write" in seen["permissions"]
    assert "permissions:    " + ", ".join(seen["permissions"]) in text.stdout


def test_the_tenant_header_is_a_check_never_identity(world: World) -> None:
    token = world.repo.token("acme")
    admin = world.repo.token("acme", "ops-1", ("platform_admin",))

    def get(path: str, headers: list[tuple[str, str]], bearer: str) -> httpx.Response:
        sent = [("Authorization", f"Bearer {bearer}"), *headers]
        return httpx.get(f"{world.server.url}{path}", headers=sent)

    for path in ("/v1/whoami", "/v1/tenants/acme/config", "/v1/tenants"):
        assert get(path, [], token).status_code == 200
        assert get(path, [("X-Tenant-Id", "acme")], token).status_code == 200
        for headers in (
            [("X-Tenant-Id", "lumen")],
            [("X-Tenant-Id", "acme"), ("X-Tenant-Id", "lumen")],
            [("X-Tenant-Id", "ACME")],
        ):
            answer = get(path, headers, token)
            assert answer.status_code == 403, (path, headers)
            assert answer.json() == {"error": "tenant-header-mismatch"}
        # Naming another tenant opens nothing, not even for an admin's token.
        assert get(path, [("X-Tenant-Id", "lumen")], admin).status_code == 403

    lumen = get("/v1/tenants/lumen/config", [("X-Tenant-Id", "lumen")], token)
    assert lumen.status_code == 403


def test_whoami_is_in_the_api_description(world: World) -> None:
    described = httpx.get(f"{world.server.url}/openapi.json").json()

    operation = described["paths"]["/v1/whoami"]["get"]
    assert operation["security"] == [{"bearer": []}]
    assert "X-Tenant-Id" in [p["name"] for p in operation["parameters"]]


# ---------------------------------------------------------------------------
# show, and the ETag cache


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("workflows",),
        ("tenant", "--output", "json"),
        ("user_management", "--explain"),
        ("--explain", "--output", "json"),
    ],
)
def test_remote_show_prints_what_local_show_prints(
    world: World, args: tuple[str, ...]
) -> None:
    result = world.remote("show", *args, token=world.repo.token("acme"))

    assert result.exit_code == 0, result.output
    assert result.stdout == _local(world, "acme", *args)


def test_show_at_a_ref(world: World) -> None:
    token = world.repo.token("acme")

    at_initial = world.remote(
        "show", "tenant", "--ref", world.repo.initial, token=token
    )
    unknown = world.remote("show", "--ref", "no-such-ref", token=token)

    assert at_initial.stdout == _local(world, "acme", "tenant")
    assert unknown.exit_code == 1
    assert "(404 ref-unknown): no commit, tag or branch by that name" in unknown.stderr


def test_a_repeated_show_gets_304_and_prints_the_same(
    world: World, tmp_path: Path
) -> None:
    token = world.repo.token("brightside")
    env = {**world.env(token), "XDG_CACHE_HOME": str(tmp_path)}

    first = CliRunner().invoke(cli, ["remote", "show", "workflows"], env=env)
    second = CliRunner().invoke(cli, ["remote", "show", "workflows"], env=env)

    assert first.exit_code == second.exit_code == 0
    assert second.stdout == first.stdout
    files = list((tmp_path / "symphainy-gitops").iterdir())
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(files[0].parent.stat().st_mode) == 0o700
    kept = files[0].read_text()
    assert token not in kept
    assert token.split(".")[1] not in kept

    # The library says where the answer came from: the cache, after a 304.
    client = connect(
        world.server.url, token, None, cache=EtagCache(tmp_path / "symphainy-gitops")
    )
    again = client.config("workflows")
    assert again.cached
    fresh = connect(world.server.url, token, None, cache=EtagCache(tmp_path / "new"))
    assert not fresh.config("workflows").cached
    assert fresh.config("workflows").data == again.data


def test_the_cache_is_kept_per_tenant(world: World, tmp_path: Path) -> None:
    cache = EtagCache(tmp_path)
    acme = connect(world.server.url, world.repo.token("acme"), None, cache=cache)
    lumen = connect(world.server.url, world.repo.token("lumen"), None, cache=cache)

    acme.config("tenant")
    assert not lumen.config("tenant").cached
    assert len(list(tmp_path.iterdir())) == 2


# ---------------------------------------------------------------------------
# Aliases


def test_commands_lists_the_tenants_own_aliases(world: World) -> None:
    acme = world.remote("commands", token=world.repo.token("acme"))
    brightside = world.remote("commands", token=world.repo.token("brightside"))
    lumen = world.remote("commands", token=world.repo.token("lumen"))

    assert acme.exit_code == brightside.exit_code == lumen.exit_code == 0
    assert "claims-flow" in acme.stdout
    assert "[workflows.workflows.claims_intake]" in acme.stdout
    assert "ams-feed" not in acme.stdout
    assert "ams-feed" in brightside.stdout
    assert "claims-flow" not in brightside.stdout
    assert "defines no aliases" in lumen.stdout


def test_run_an_alias_of_ones_own_tenant(world: World) -> None:
    acme = world.remote("run", "claims-flow", token=world.repo.token("acme"))
    feed = world.remote(
        "run", "ams-feed", "--output", "json", token=world.repo.token("brightside")
    )

    assert acme.exit_code == 0, acme.output
    whole = _local(world, "acme", "workflows")
    assert acme.stdout.startswith("workflows:\n  workflows:\n    claims_intake:\n")
    assert "senior_review" in acme.stdout
    # The alias prints a part of show's output, line for line.
    assert acme.stdout.splitlines()[3] in whole.splitlines()
    assert feed.exit_code == 0, feed.output
    assert '"path": "/ingest/ams/policies"' in feed.stdout


def test_an_alias_of_another_tenant_is_unknown(world: World) -> None:
    result = world.remote("run", "claims-flow", token=world.repo.token("brightside"))

    assert result.exit_code == 2
    assert "tenant brightside has no alias 'claims-flow'" in result.stderr
    assert "ams-feed" in result.stderr


# ---------------------------------------------------------------------------
# Failures before and after the request


def test_no_token_names_the_variable(world: World) -> None:
    result = world.remote("whoami")

    assert result.exit_code == 2
    assert "SYMPHAINY_API_TOKEN" in result.stderr


def test_a_token_that_is_not_a_jwt(world: World) -> None:
    for token in ("not-a-token", "a.b.c", "x..y"):
        result = world.remote("show", token=token)
        assert result.exit_code == 2, token
        assert "is not a JWT" in result.stderr
        assert token not in result.stderr


def test_an_expired_token_says_when(world: World) -> None:
    token = mint_token(SECRET, world.repo.platform, "acme", "user-1", ttl_seconds=-60)

    result = world.remote("whoami", token=token)

    assert result.exit_code == 2
    assert "expired at 20" in result.stderr
    assert " UTC" in result.stderr
    assert token not in result.stderr


def test_a_token_for_tenant_a_with_tenant_b_named(world: World) -> None:
    result = world.remote("show", token=world.repo.token("acme"), tenant="lumen")

    assert result.exit_code == 2
    assert "SYMPHAINY_TENANT_ID is 'lumen' but the token is for tenant 'acme'" in (
        result.stderr
    )


def test_the_server_refuses_tenant_b_even_if_the_client_did_not_check(
    world: World,
) -> None:
    client = connect(world.server.url, world.repo.token("acme"), None)
    client._headers["X-Tenant-Id"] = "lumen"

    with pytest.raises(Refused) as refused:
        client.whoami()

    assert refused.value.status == 403
    assert refused.value.code == "tenant-header-mismatch"
    assert "is not the tenant of the token" in str(refused.value)


def test_server_refusals_in_plain_words(world: World) -> None:
    forged = mint_token(
        "another-secret-of-at-least-32-bytes!!", world.repo.platform, "acme", "u"
    )
    harbor = world.repo.token("harbor")

    bad_signature = world.remote("whoami", token=forged)
    suspended = world.remote("show", token=harbor)

    assert bad_signature.exit_code == suspended.exit_code == 1
    assert "(401 signature-invalid): the token's signature does not verify" in (
        bad_signature.stderr
    )
    assert "(403 tenant-suspended): the tenant is suspended" in suspended.stderr
    assert forged not in bad_signature.stderr + bad_signature.stdout


def test_connection_refused_names_the_url(world: World) -> None:
    url = f"http://127.0.0.1:{free_port()}/api"
    env = {**world.env(world.repo.token("acme")), "SYMPHAINY_API_URL": url}

    result = CliRunner().invoke(cli, ["remote", "whoami"], env=env)

    assert result.exit_code == 1
    assert f"cannot reach {url}/v1/whoami" in result.stderr


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://config.example.test/api", "plain http to another machine"),
        ("http://10.0.0.5:8080", "plain http to another machine"),
        ("ftp://127.0.0.1/api", "must be an http(s) URL"),
    ],
)
def test_a_token_is_never_sent_in_clear_to_another_machine(
    world: World, url: str, words: str
) -> None:
    env = {**world.env(world.repo.token("acme")), "SYMPHAINY_API_URL": url}

    result = CliRunner().invoke(cli, ["remote", "whoami"], env=env)

    assert result.exit_code == 2
    assert words in result.stderr


def test_a_timeout_names_the_url(world: World) -> None:
    # A listener that accepts and never answers.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]))
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        result = CliRunner().invoke(
            cli,
            ["remote", "--url", url, "--timeout", "0.3", "show"],
            env={**world.env(world.repo.token("acme")), "SYMPHAINY_API_URL": ""},
        )
    finally:
        thread.join(timeout=5)
        for sock in (*accepted, listener):
            sock.close()

    assert result.exit_code == 1
    assert f"no answer from {url}/v1/tenants/acme/config within 0.3 s" in (
        result.stderr
    )
