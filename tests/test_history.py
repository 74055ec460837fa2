"""log and rollback over real git history."""

from __future__ import annotations

from pathlib import Path

import pygit2

from .conftest import commit_all, edit, run


def configure(repo: Path) -> pygit2.Repository:
    git = pygit2.Repository(str(repo))
    git.config["user.name"] = "Rollback Tester"
    git.config["user.email"] = "rollback@example.test"
    return git


def test_log_sees_base_and_own_changes_and_skips_the_rest(config_repo: Path) -> None:
    edit(config_repo, "base/tenant.yaml", "max_age: 600", "max_age: 900")
    commit_all(config_repo, "Longer CORS cache for everyone")
    edit(
        config_repo,
        "tenants/acme/tenant.yaml",
        "name: Acme Mutual Insurance",
        "name: Acme",
    )
    commit_all(config_repo, "Shorter name for acme")
    edit(config_repo, "tenants/lumen/tenant.yaml", "id: lumen", "id: lumen  # same")
    commit_all(config_repo, "A comment in lumen")
    edit(config_repo, "base/tenant.yaml", "max_users: 10", "max_users: 12")
    commit_all(config_repo, "A default that every plan overrides")

    acme = run(config_repo, "log", "acme")
    lumen = run(config_repo, "log", "lumen", "-n", "1")

    lines = acme.stdout.splitlines()
    assert acme.exit_code == 0
    assert [line.split(": ", 1)[1] for line in lines if not line.startswith(" ")] == [
        "Shorter name for acme",
        "Longer CORS cache for everyone",
        "Initial config",
    ]
    assert "  tenant.name (changed)" in lines
    assert "  tenant.cors.max_age (changed)" in lines
    assert "Longer CORS cache for everyone" in lumen.stdout
    assert "Initial config" not in lumen.stdout


def test_rollback_on_a_clean_tree(config_repo: Path) -> None:
    git = configure(config_repo)
    first = commit_all(config_repo, "Second")
    edit(
        config_repo,
        "tenants/acme/tenant.yaml",
        "name: Acme Mutual Insurance",
        "name: Acme",
    )
    (config_repo / "tenants/acme/dashboards.yaml").write_text("dashboards: {}\n")
    bad = commit_all(config_repo, "Rename acme")

    result = run(config_repo, "rollback", "acme", "--to", first)

    assert result.exit_code == 0, result.output
    head = git.head.peel(pygit2.Commit)
    assert [str(p) for p in head.parent_ids] == [bad]
    assert head.tree["tenants/acme"].id == git[first].tree["tenants/acme"].id
    assert (
        "name: Acme Mutual Insurance"
        in (config_repo / "tenants/acme/tenant.yaml").read_text()
    )
    assert not (config_repo / "tenants/acme/dashboards.yaml").exists()
    assert git.status() == {}
    assert "Roll back tenant acme" in head.message


def test_rollback_of_a_tenant_that_did_not_exist_removes_it(config_repo: Path) -> None:
    configure(config_repo)
    first = commit_all(config_repo, "Second")
    (config_repo / "tenants/newco").mkdir()
    (config_repo / "tenants/newco/tenant.yaml").write_text("id: newco\nname: New Co\n")
    commit_all(config_repo, "Add newco")

    result = run(config_repo, "rollback", "newco", "--to", first, "-m", "Drop newco")

    assert result.exit_code == 0, result.output
    assert not (config_repo / "tenants/newco").exists()
    git = pygit2.Repository(str(config_repo))
    assert git.head.peel(pygit2.Commit).message == "Drop newco"


def test_rollback_refuses_a_dirty_tree(config_repo: Path) -> None:
    git = configure(config_repo)
    first = commit_all(config_repo, "Second")
    edit(
        config_repo,
        "tenants/acme/tenant.yaml",
        "name: Acme Mutual Insurance",
        "name: A",
    )
    commit_all(config_repo, "Rename acme")
    head = git.head.target
    edit(config_repo, "tenants/lumen/tenant.yaml", "id: lumen", "id: lumen  # wip")

    result = run(config_repo, "rollback", "acme", "--to", first)

    assert result.exit_code == 1
    assert "uncommitted changes (tenants/lumen/tenant.yaml)" in result.stderr
    assert git.head.target == head


def test_rollback_refuses_a_result_that_does_not_validate(config_repo: Path) -> None:
    git = configure(config_repo)
    first = commit_all(config_repo, "Second")
    edit(
        config_repo, "tenants/acme/tenant.yaml", "- acme.localhost", "- acme2.localhost"
    )
    edit(
        config_repo,
        "tenants/brightside/tenant.yaml",
        "portal.brightside.localhost",
        "acme.localhost",
    )
    commit_all(config_repo, "brightside takes over acme.localhost")
    head = git.head.target

    result = run(config_repo, "rollback", "acme", "--to", first)

    assert result.exit_code == 1
    assert "host-conflict" in result.stderr
    assert "refusing to roll back acme" in result.stderr
    assert git.head.target == head
