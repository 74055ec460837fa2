"""The rendered files committed in traefik/dynamic/ load cleanly in a real Traefik.

These are the files a gateway deploys, so they are loaded as they are, not
re-rendered: every router must come up enabled with the rule, middlewares
and service the files name, and Traefik must log no warning or error.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.traefik_harness import REPO, Traefik, require_binary, wait_for

pytestmark = pytest.mark.integration

DYNAMIC = REPO / "traefik" / "dynamic"


def committed(kind: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(DYNAMIC.glob("*.yml")):
        found.update(yaml.safe_load(path.read_text())["http"].get(kind, {}))
    return found


def test_committed_dynamic_config_loads_without_error(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    binary = require_binary("traefik", REPO / ".venv" / "bin" / "traefik")
    routers, middlewares = committed("routers"), committed("middlewares")
    assert routers, "traefik/dynamic/ holds no routers; run symphainy-gitops render"
    traefik = Traefik(binary, tmp_path_factory.mktemp("committed"), DYNAMIC)

    traefik.start()
    try:
        loaded = wait_for(
            lambda: (
                (r := traefik.routers())
                and all(f"{n}@file" in r for n in routers)
                and r
            ),
            what="every committed router",
        )
        loaded_middlewares = traefik.middlewares()
        problems = traefik.problems()
    finally:
        traefik.stop()

    for name, want in routers.items():
        got = loaded[f"{name}@file"]
        assert got["status"] == "enabled", got
        assert got["rule"] == want["rule"]
        assert [m.split("@")[0] for m in got["middlewares"]] == want["middlewares"]
        assert got["service"].split("@")[0] == want["service"]
    for name in middlewares:
        assert loaded_middlewares[f"{name}@file"]["status"] == "enabled"
    assert not any("harbor" in name for name in loaded), "suspended tenant routed"
    assert problems == []
