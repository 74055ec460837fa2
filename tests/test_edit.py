"""set and new-tenant: round-trip edits that keep the file, validated first."""

from __future__ import annotations

from pathlib import Path

from symphainy_gitops.pipeline import Pipeline
from symphainy_gitops.source import WorktreeSource

from .conftest import run


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(old) == len(new)
    return [(a, b) for a, b in zip(old, new, strict=True) if a != b]


def test_set_changes_only_the_value_line(config_repo: Path) -> None:
    path = config_repo / "tenants/acme/tenant.yaml"
    before = path.read_text()

    result = run(config_repo, "set", "acme", "tenant", "contact.email", "ops@acme.test")

    assert result.exit_code == 0, result.output
    assert changed_lines(before, path.read_text()) == [
        (
            "  email: platform-ops@acme.localhost\n",
            "  email: ops@acme.test\n",
        )
    ]


def test_set_adds_a_key_and_keeps_everything_else(config_repo: Path) -> None:
    path = config_repo / "tenants/acme/tenant.yaml"
    before = path.read_text()

    result = run(config_repo, "set", "acme", "tenant", "rate_limit.average", "150")

    after = path.read_text()
    assert result.exit_code == 0, result.output
    assert after.startswith(before)
    assert after[len(before) :] == "rate_limit:\n  average: 150\n"
    config = Pipeline(WorktreeSource(config_repo)).tenant("acme").config
    assert config["tenant"]["rate_limit"]["average"] == 150


def test_set_creates_the_overlay_with_its_modeline(config_repo: Path) -> None:
    result = run(config_repo, "set", "harbor", "tenant", "cors.max_age", "null")
    created = run(config_repo, "set", "harbor", "workflows", "workflows", "{}")

    assert result.exit_code == 0, result.output
    assert created.exit_code == 0, created.output
    assert (config_repo / "tenants/harbor/workflows.yaml").read_text() == (
        "# yaml-language-server: $schema=../../schemas/workflows.schema.json\n"
        "workflows: {}\n"
    )
    config = Pipeline(WorktreeSource(config_repo)).tenant("harbor").config
    assert "max_age" not in config["tenant"]["cors"]


def test_set_refuses_an_invalid_value_and_writes_nothing(config_repo: Path) -> None:
    path = config_repo / "tenants/acme/tenant.yaml"
    before = path.read_text()

    result = run(config_repo, "set", "acme", "tenant", "status", "sleeping")
    unknown = run(config_repo, "set", "acme", "colours", "a", "1")

    assert result.exit_code == 1
    assert "error[schema]" in result.stderr
    assert path.read_text() == before
    assert unknown.exit_code == 2
    assert "not a config type" in unknown.stderr


def test_new_tenant_validates_and_refuses_duplicates(config_repo: Path) -> None:
    created = run(
        config_repo,
        "new-tenant",
        "bolt",
        "--name",
        "Bolt Insurance",
        "--domain",
        "bolt.localhost",
        "--plan",
        "enterprise",
    )
    again = run(config_repo, "new-tenant", "bolt", "--name", "Bolt")
    invalid = run(config_repo, "new-tenant", "Bad_Id", "--name", "Bad")
    clash = run(
        config_repo, "new-tenant", "clash", "--name", "C", "--domain", "acme.localhost"
    )

    assert created.exit_code == 0, created.output
    text = (config_repo / "tenants/bolt/tenant.yaml").read_text()
    assert text.startswith(
        "# yaml-language-server: $schema=../../schemas/tenant.schema.json\n"
    )
    assert run(config_repo, "validate").exit_code == 0
    assert (
        Pipeline(WorktreeSource(config_repo)).tenant("bolt").tenant["plan"]
        == "enterprise"
    )
    assert again.exit_code == 2
    assert "already exists" in again.stderr
    assert invalid.exit_code == 2
    assert clash.exit_code == 1
    assert "host-conflict" in clash.stderr
    assert not (config_repo / "tenants/clash").exists()
