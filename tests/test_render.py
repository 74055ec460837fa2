"""Unit tests of render, dump, kv and output (no Traefik needed)."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from symphainy_gitops.errors import GitopsError
from symphainy_gitops.kv import to_kv
from symphainy_gitops.output import Stale, check_tree, write_tree
from symphainy_gitops.publish import publish, redact
from symphainy_gitops.render import (
    HEADER,
    RenderError,
    dump,
    render_platform,
    render_tenant,
    render_tree,
    unsafe_values,
)
from tests.test_traefik import example_configs, example_platform

PLATFORM = example_platform("http://127.0.0.1:8000", "http://127.0.0.1:8080")
CONFIGS = example_configs("http://127.0.0.1:9100")


def _acme() -> dict[str, Any]:
    return copy.deepcopy(CONFIGS["acme"])


# --------------------------------------------------------------------------
# render


def test_platform_has_forward_auth_and_services() -> None:
    http = render_platform(PLATFORM)["http"]

    auth = http["middlewares"]["platform-forward-auth"]["forwardAuth"]
    assert auth["trustForwardHeader"] is False
    assert auth["address"] == "http://127.0.0.1:8080/auth/verify"
    assert auth["authResponseHeaders"] == [
        "X-User-Id",
        "X-Tenant-Id",
        "X-User-Email",
        "X-User-Roles",
        "X-User-Permissions",
    ]
    assert auth["maxResponseBodySize"] == 4096
    assert http["services"]["platform-api"] == {
        "loadBalancer": {
            "servers": [{"url": "http://127.0.0.1:8000"}],
            "passHostHeader": True,
        }
    }


def test_prefix_rule_ends_at_segment_boundary() -> None:
    routers = render_tenant(PLATFORM, _acme())["http"]["routers"]  # type: ignore[index]

    assert routers["tenant-acme-prefix"]["rule"] == (
        "Host(`platform.localhost`) && (Path(`/api/v1/tenants/acme`) "
        "|| PathPrefix(`/api/v1/tenants/acme/`))"
    )
    assert routers["tenant-acme-host"]["rule"] == (
        "Host(`acme.localhost`) || Host(`acme-alt.localhost`)"
    )


def test_middleware_order_cors_ratelimit_auth_then_strip() -> None:
    routers = render_tenant(PLATFORM, _acme())["http"]["routers"]  # type: ignore[index]

    assert routers["tenant-acme-host"]["middlewares"] == [
        "tenant-acme-cors",
        "tenant-acme-ratelimit",
        "platform-forward-auth",
    ]
    assert routers["tenant-acme-prefix"]["middlewares"][-2:] == [
        "platform-forward-auth",
        "tenant-acme-strip",
    ]


def test_default_prefix_and_own_backend() -> None:
    http = render_tenant(PLATFORM, CONFIGS["acme-x"])["http"]  # type: ignore[index]

    assert set(http["routers"]) == {"tenant-acme-x-prefix"}
    assert (
        "PathPrefix(`/api/v1/tenants/acme-x/`)"
        in (http["routers"]["tenant-acme-x-prefix"]["rule"])
    )
    assert http["routers"]["tenant-acme-x-prefix"]["service"] == "tenant-acme-x-backend"
    assert "tenant-acme-x-cors" not in http["middlewares"]
    assert http["services"]["tenant-acme-x-backend"]["loadBalancer"]["servers"] == [
        {"url": "http://127.0.0.1:9100"}
    ]


def test_every_tenant_name_carries_the_tenant_id() -> None:
    for key in ("acme", "acme-x"):
        http = render_tenant(PLATFORM, CONFIGS[key])["http"]  # type: ignore[index]
        for section in http.values():
            assert all(name.startswith(f"tenant-{key}-") for name in section)


def test_unknown_service_is_refused() -> None:
    config = _acme()
    config["tenant"]["routing"]["service"] = "nope"

    with pytest.raises(RenderError, match="nope"):
        render_tenant(PLATFORM, config)


def test_suspended_tenant_renders_nothing() -> None:
    files = render_tree(PLATFORM, CONFIGS, "abc123")

    assert render_tenant(PLATFORM, CONFIGS["globex"]) is None
    assert sorted(files) == ["platform.yml", "tenant-acme-x.yml", "tenant-acme.yml"]


# --------------------------------------------------------------------------
# unsafe values


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("tenant", "domains", 0), "acme.localhost`) || Host(`evil"),
        (("tenant", "domains", 1), "acme .localhost"),
        (("tenant", "routing", "path_prefix"), '/api/"x'),
        (("tenant", "routing", "path_prefix"), "/api/'x"),
        (("tenant", "routing", "path_prefix"), "/api/x\x00"),
        (("tenant", "cors", "allowed_origins", 0), "https://a.test\n"),
        (("tenant", "name"), "Acme {{ .Env }}"),
        (("tenant", "cors", "allowed_headers", 0), "X-{{.}}"),
    ],
)
def test_unsafe_values_are_found_with_their_path(
    path: tuple[str | int, ...], value: str
) -> None:
    config = _acme()
    target: Any = config
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value

    found = unsafe_values(config)

    assert [p for p, _ in found] == [path]
    assert "write" in found[0][1] or "remove" in found[0][1]
    with pytest.raises(RenderError, match=".".join(map(str, path))):
        render_tenant(PLATFORM, config)


def test_safe_config_has_no_unsafe_values() -> None:
    assert unsafe_values(_acme()) == []


def test_closing_braces_alone_start_no_template() -> None:
    config = _acme()
    config["tenant"]["name"] = "Acme }} Mutual"

    assert unsafe_values(config) == []


def test_template_in_a_key_is_found() -> None:
    config = _acme()
    config["tenant"]["features"] = {"{{x}}": True}

    assert [p for p, _ in unsafe_values(config)] == [("tenant", "features", "{{x}}")]


# --------------------------------------------------------------------------
# dump


def test_dump_is_deterministic_sorted_and_headed() -> None:
    dynamic = render_tenant(PLATFORM, _acme())
    assert dynamic is not None
    reordered = _reversed_keys(dynamic)

    text = dump(dynamic, "working tree")

    assert text == dump(reordered, "working tree")
    assert text.startswith(HEADER + "# Rendered from: working tree\n")
    assert yaml.safe_load(text) == dynamic
    assert "&id" not in text
    assert "*id" not in text
    assert "{{" not in text
    assert "Host(`platform.localhost`) && (Path(" in text  # one line, not wrapped


def _reversed_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reversed_keys(value[k]) for k in reversed(list(value))}
    return value


def test_dump_reuses_no_alias_for_shared_lists() -> None:
    shared = ["web"]
    routers = {"a": {"entryPoints": shared}, "b": {"entryPoints": shared}}

    text = dump({"http": {"routers": routers}}, "x")

    assert "&id" not in text
    assert "*id" not in text


def test_dump_refuses_template_text_and_bad_source() -> None:
    with pytest.raises(RenderError):
        dump({"http": {"x": "{{ .Foo }}"}}, "abc")
    with pytest.raises(RenderError):
        dump({"http": {}}, "abc\n{{")


def test_render_tree_is_byte_identical_across_runs() -> None:
    first = render_tree(PLATFORM, CONFIGS, "abc")
    second = render_tree(PLATFORM, dict(reversed(list(CONFIGS.items()))), "abc")

    assert first == second


# --------------------------------------------------------------------------
# kv


def test_kv_layout() -> None:
    pairs = to_kv(render_tenant(PLATFORM, _acme()) or {})

    router = "traefik/http/routers/tenant-acme-prefix"
    assert pairs[f"{router}/entryPoints/0"] == "web"
    assert pairs[f"{router}/middlewares/3"] == "tenant-acme-strip"
    assert pairs[f"{router}/service"] == "platform-api"
    cors = "traefik/http/middlewares/tenant-acme-cors/headers"
    assert pairs[f"{cors}/accessControlAllowCredentials"] == "false"
    assert pairs[f"{cors}/addVaryHeader"] == "true"
    assert pairs[f"{cors}/accessControlMaxAge"] == "600"
    assert list(pairs) == sorted(pairs)


def test_kv_root_and_empty_containers() -> None:
    pairs = to_kv({"http": {"a": [], "b": {}, "c": {"d": 1.5}}}, root="/gw/")

    assert pairs == {"gw/http/c/d": "1.5"}


def test_kv_refuses_a_slash_in_a_name() -> None:
    with pytest.raises(ValueError, match="key segment"):
        to_kv({"http": {"routers": {"a/b": {"rule": "x"}}}})


# --------------------------------------------------------------------------
# output


def test_write_tree_writes_skips_and_removes(tmp_path: Path) -> None:
    files = render_tree(PLATFORM, CONFIGS, "abc")
    (tmp_path / "README.txt").write_text("keep me")
    (tmp_path / "tenant-gone.yml").write_text("old")

    first = write_tree(tmp_path, files)
    second = write_tree(tmp_path, files)

    assert first.written == sorted(files)
    assert first.removed == ["tenant-gone.yml"]
    assert second.written == []
    assert second.removed == []
    assert second.unchanged == sorted(files)
    assert (tmp_path / "README.txt").read_text() == "keep me"
    assert sorted(os.listdir(tmp_path)) == sorted([*files, "README.txt"])


def test_write_tree_leaves_no_temp_file_on_failure(tmp_path: Path) -> None:
    with pytest.raises(UnicodeEncodeError):
        write_tree(tmp_path, {"platform.yml": "bad \udcff surrogate"})

    assert os.listdir(tmp_path) == []


def test_write_tree_refuses_foreign_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a rendered file name"):
        write_tree(tmp_path, {"../evil.yml": ""})


def test_check_tree_names_stale_missing_and_extra(tmp_path: Path) -> None:
    files = render_tree(PLATFORM, CONFIGS, "abc")
    write_tree(tmp_path, files)
    changed = copy.deepcopy(CONFIGS)
    changed["acme"]["tenant"]["domains"] = ["acme.localhost"]
    changed["initech"] = copy.deepcopy(changed["acme-x"])
    changed["initech"]["tenant"]["id"] = "initech"
    del changed["acme-x"]
    (tmp_path / "tenant-old.yml").write_text("x")

    found = check_tree(tmp_path, render_tree(PLATFORM, changed, "def"))

    assert found == [
        Stale("tenant-acme-x.yml", "extra"),
        Stale("tenant-acme.yml", "stale"),
        Stale("tenant-initech.yml", "missing"),
        Stale("tenant-old.yml", "extra"),
    ]


def test_check_tree_ignores_the_rendered_from_line(tmp_path: Path) -> None:
    write_tree(tmp_path, render_tree(PLATFORM, CONFIGS, "commit-1"))

    assert check_tree(tmp_path, render_tree(PLATFORM, CONFIGS, "commit-2")) == []


# --------------------------------------------------------------------------
# publish errors (no server needed: nothing listens on the port)


def test_publish_error_names_url_without_password() -> None:
    url = "redis://user:s3cret@127.0.0.1:1/0"

    with pytest.raises(GitopsError) as caught:
        publish(url, {"traefik/http/routers/a/rule": "Host(`a`)"})

    assert "127.0.0.1:1" in str(caught.value)
    assert "s3cret" not in str(caught.value)
    assert redact(url) == "redis://user:***@127.0.0.1:1/0"


def test_platform_host_with_a_backtick_is_refused() -> None:
    platform = {**PLATFORM, "host": "platform.localhost`) || Host(`x"}

    with pytest.raises(RenderError, match="platform host"):
        render_tenant(platform, _acme())


def test_config_api_router_strips_its_prefix_and_has_no_forward_auth() -> None:
    platform = {
        **PLATFORM,
        "services": {
            **PLATFORM["services"],
            "config": {"url": "http://127.0.0.1:8080"},
        },
        "config_api": {"host": "localhost", "path_prefix": "/api", "service": "config"},
    }

    http = render_platform(platform)["http"]

    assert http["routers"] == {
        "platform-config-api": {
            "rule": "Host(`localhost`) && PathPrefix(`/api/v1/`)",
            "entryPoints": ["web"],
            "middlewares": ["platform-config-api-strip"],
            "service": "platform-config",
        }
    }
    assert http["middlewares"]["platform-config-api-strip"] == {
        "stripPrefix": {"prefixes": ["/api"]}
    }
    assert "platform-config" in http["services"]
    assert "routers" not in render_platform(PLATFORM)["http"]


def test_config_api_on_an_unknown_service_is_refused() -> None:
    platform = {
        **PLATFORM,
        "config_api": {"host": "localhost", "path_prefix": "/api", "service": "nope"},
    }

    with pytest.raises(RenderError, match=r"config_api\.service 'nope'"):
        render_platform(platform)
