"""``remote`` through the real Traefik: the default URL's route reaches the app.

The platform file is rendered from the test repository with the ``config``
service pointed at the app, so the route under test is the committed one:
``Host(`localhost`) && PathPrefix(`/api/v1/`)``, its prefix stripped, no
ForwardAuth in front.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from symphainy_gitops.cli import cli
from symphainy_gitops.output import write_tree
from symphainy_gitops.render import render_tree
from symphainy_gitops.snapshot import build_snapshot
from symphainy_gitops.source import open_source
from tests.traefik_harness import REPO, Traefik, require_binary, wait_for

from .app_support import ConfigRepo, LiveServer

pytestmark = pytest.mark.integration


@dataclass
class Gateway:
    repo: ConfigRepo
    traefik: Traefik
    url: str


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    binary = require_binary("traefik", REPO / ".venv" / "bin" / "traefik")
    workdir = tmp_path_factory.mktemp("remote-gateway")
    repo = ConfigRepo(workdir / "config")
    snapshot = build_snapshot(open_source(repo.root, "main"))
    app = LiveServer(repo.root)
    app.start()

    platform = copy.deepcopy(dict(snapshot.platform))
    assert platform["config_api"]["service"] == "config"
    platform["services"]["config"] = {"url": app.url}
    platform["forward_auth"]["address"] = f"{app.url}/auth/verify"
    configs = {key: tenant.config for key, tenant in snapshot.tenants.items()}
    dynamic = workdir / "dynamic"
    write_tree(dynamic, render_tree(platform, configs, snapshot.label))

    traefik = Traefik(binary, workdir, dynamic)
    traefik.start()
    try:
        wait_for(
            lambda: "platform-config-api@file" in traefik.routers(),
            what="the config API router",
        )
        url = f"http://localhost:{traefik.web_port}/api"
        yield Gateway(repo, traefik, url)
    finally:
        traefik.stop()
        app.stop()


def test_remote_reads_through_the_gateway(gateway: Gateway, tmp_path: Path) -> None:
    token = gateway.repo.token("acme")
    env = {
        "SYMPHAINY_API_URL": gateway.url,
        "SYMPHAINY_API_TOKEN": token,
        "SYMPHAINY_TENANT_ID": "acme",
        "XDG_CACHE_HOME": str(tmp_path),
    }
    runner = CliRunner()

    whoami = runner.invoke(cli, ["remote", "whoami"], env=env)
    first = runner.invoke(cli, ["remote", "run", "claims-flow"], env=env)
    second = runner.invoke(cli, ["remote", "run", "claims-flow"], env=env)
    wrong = runner.invoke(
        cli,
        ["remote", "whoami"],
        env={**env, "SYMPHAINY_API_TOKEN": token[:-4] + "AAAA"},
    )

    assert whoami.exit_code == 0, whoami.output
    assert "tenant:         acme" in whoami.stdout
    assert first.exit_code == second.exit_code == 0, first.output
    assert "claims_intake" in first.stdout
    assert second.stdout == first.stdout
    assert wrong.exit_code == 1
    assert "(401 signature-invalid)" in wrong.stderr


def test_the_gateway_passes_the_tenant_header_to_the_app(gateway: Gateway) -> None:
    # The route has no ForwardAuth, so the app itself sees and checks it.
    token = gateway.repo.token("acme")
    headers = [("Authorization", f"Bearer {token}"), ("X-Tenant-Id", "lumen")]

    answer = gateway.traefik.get("/api/v1/whoami", "localhost", headers=headers)
    other_host = gateway.traefik.get(
        "/api/v1/whoami", "platform.localhost", headers=headers[:1]
    )

    assert answer.status == 403
    assert answer.json() == {"error": "tenant-header-mismatch"}
    assert other_host.status == 404


@pytest.mark.parametrize(
    "path", ["/api/auth/verify", "/api/readyz", "/api/healthz", "/api/openapi.json"]
)
def test_only_the_versioned_api_is_reachable_through_the_gateway(
    gateway: Gateway, path: str
) -> None:
    # ForwardAuth, health and readiness are for Traefik and operators only.
    token = gateway.repo.token("acme")
    headers = [
        ("Authorization", f"Bearer {token}"),
        ("X-Forwarded-Host", "acme.localhost"),
        ("X-Forwarded-Uri", "/admin"),
    ]

    answer = gateway.traefik.get(path, "localhost", headers=headers)

    assert answer.status == 404
