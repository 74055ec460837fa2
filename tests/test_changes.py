"""Incremental validation: what a change affects, and agreement with a full run."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pygit2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symphainy_gitops.changes import Change, affected, incremental, since
from symphainy_gitops.pipeline import Pipeline
from symphainy_gitops.source import GitSource, WorktreeSource, resolve_commit

from .conftest import commit_all, copy_content


def _append(relative: str, text: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        path = root / relative
        path.write_text(path.read_text() + text)

    return edit


def _replace(relative: str, old: str, new: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        path = root / relative
        content = path.read_text()
        assert old in content, (relative, old)
        path.write_text(content.replace(old, new, 1))

    return edit


def _write(relative: str, text: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)

    return edit


def _remove(relative: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        shutil.rmtree(root / relative)

    return edit


def _rename(old: str, new: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        (root / "tenants" / old).rename(root / "tenants" / new)
        _replace(f"tenants/{new}/tenant.yaml", f"id: {old}", f"id: {new}")(root)

    return edit


def _copy(old: str, new: str) -> Callable[[Path], None]:
    # The copy keeps the original's domains: a host conflict on both sides.
    def edit(root: Path) -> None:
        shutil.copytree(root / "tenants" / old, root / "tenants" / new)
        _replace(f"tenants/{new}/tenant.yaml", f"id: {old}", f"id: {new}")(root)

    return edit


# A corpus of changes, each small, each touching one part of the layout.
EDITS: dict[str, Callable[[Path], None]] = {
    "base default": _replace("base/tenant.yaml", "average: 20", "average: 25"),
    "base broken ref": _append(
        "base/workflows.yaml", "\n# appended\n_unknown_key: true\n"
    ),
    "plan value": _replace(
        "base/plans/starter/tenant.yaml", "average: 10", "average: 12"
    ),
    "plan bad value": _replace(
        "base/plans/starter/tenant.yaml", "average: 10", "average: many"
    ),
    "schema whitespace": _append("schemas/workflows.schema.json", "\n"),
    "tenant value": _replace(
        "tenants/acme/tenant.yaml", "name: Acme Mutual Insurance", "name: Acme"
    ),
    "tenant bad yaml": _write("tenants/lumen/workflows.yaml", "workflows: [unclosed\n"),
    "tenant dangling ref": _write(
        "tenants/northwind/workflows.yaml",
        "workflows:\n  claims_intake:\n    input_model: nothing_here\n",
    ),
    "tenant host clash": _replace(
        "tenants/brightside/tenant.yaml",
        "portal.brightside.localhost",
        "acme.localhost",
    ),
    "tenant plan switch": _replace(
        "tenants/northwind/tenant.yaml", "plan: starter", "plan: enterprise"
    ),
    "tenant unknown plan": _replace(
        "tenants/harbor/tenant.yaml", "plan: starter", "plan: gold"
    ),
    "tenant removed": _remove("tenants/harbor"),
    "tenant renamed": _rename("lumen", "lumen-labs"),
    "tenant copied": _copy("acme", "acme-two"),
    "stray file": _write("tenants/brightside/notes.txt", "hello\n"),
    "outside config": _write("docs/notes.md", "hello\n"),
}


def _repo(root: Path) -> pygit2.Repository:
    copy_content(root)
    repo = pygit2.init_repository(str(root), initial_head="main")
    commit_all(root, "Initial config")
    return repo


def _check_agreement(root: Path, ref: str | None, staged: bool) -> None:
    repo = pygit2.Repository(str(root))
    old = Pipeline(GitSource(repo, resolve_commit(repo, "HEAD~1")))
    if ref is not None:
        new_source = GitSource(repo, resolve_commit(repo, ref))
    else:
        new_source = WorktreeSource(root)
    new = Pipeline(new_source)
    change = since(repo, resolve_commit(repo, "HEAD~1"), "index" if staged else ref)
    chosen = affected(change, new, old)

    quick = incremental(root, "HEAD~1", ref, staged)
    full = Pipeline(new_source).run()

    assert quick.tenants == tuple(sorted(chosen))
    assert quick.findings == full.restricted(chosen).findings

    # Sound: a tenant left out has the same config and findings as before.
    for tenant_id in set(new.tree.tenant_ids) - set(chosen):
        before, after = old.tenant(tenant_id), new.tenant(tenant_id)
        assert before.config == after.config
        assert before.findings == after.findings


@settings(max_examples=30)
@given(
    st.lists(st.sampled_from(sorted(EDITS)), min_size=1, max_size=3, unique=True),
    st.sampled_from(["worktree", "committed", "staged"]),
)
def test_incremental_agrees_with_full_run(
    tmp_path_factory: pytest.TempPathFactory, names: list[str], where: str
) -> None:
    root = tmp_path_factory.mktemp("changes") / "repo"
    _repo(root)
    commit_all(root, "Second commit, so HEAD~1 exists")
    # Renaming before removing the same tenant would fail: apply in order,
    # skipping an edit whose files an earlier one took away.
    for name in names:
        try:
            EDITS[name](root)
        except (AssertionError, FileNotFoundError):
            continue

    if where == "worktree":
        # Compare against HEAD~1 with HEAD unchanged in between.
        _check_agreement(root, None, staged=False)
    elif where == "committed":
        commit_all(root, "The change")
        _check_agreement(root, "HEAD", staged=False)
    else:
        repo = pygit2.Repository(str(root))
        repo.index.add_all()
        repo.index.write()
        _check_agreement(root, None, staged=True)


def test_one_tenant_change_affects_that_tenant_only(config_repo: Path) -> None:
    commit_all(config_repo, "Second")
    EDITS["tenant value"](config_repo)

    result = incremental(config_repo, "HEAD", None, False)

    assert result.tenants == ("acme",)


def test_plan_change_affects_the_tenants_on_the_plan(config_repo: Path) -> None:
    EDITS["plan value"](config_repo)

    result = incremental(config_repo, "HEAD", None, False)

    assert result.tenants == ("brightside", "harbor", "northwind")


def test_base_change_affects_everyone(config_repo: Path) -> None:
    EDITS["base default"](config_repo)
    repo = pygit2.Repository(str(config_repo))

    change = since(repo, resolve_commit(repo, "HEAD"), None)

    assert change == Change(everything=True)


def test_host_clash_with_an_unchanged_tenant_is_found(config_repo: Path) -> None:
    EDITS["tenant host clash"](config_repo)

    result = incremental(config_repo, "HEAD", None, False)

    assert result.tenants == ("brightside",)
    assert [f.code for f in result.findings] == ["host-conflict"]
    assert "acme" in result.findings[0].message


def test_nothing_changed_validates_no_tenant(config_repo: Path) -> None:
    result = incremental(config_repo, "HEAD", None, False)

    assert result.tenants == ()
    assert result.findings == ()


def test_the_identity_cache_is_reused(config_repo: Path) -> None:
    EDITS["tenant host clash"](config_repo)
    first = incremental(config_repo, "HEAD", None, False)
    cache = config_repo / ".git" / "symphainy-gitops" / "identities-v2.json"
    assert cache.is_file()

    second = incremental(config_repo, "HEAD", None, False)

    assert first == second


def test_cached_identities_follow_later_commits(config_repo: Path) -> None:
    # Fill the cache at the first commit: every tenant lends its claims.
    assert incremental(config_repo, "HEAD", None, False).tenants == ()
    # Then acme moves its host, and lumen changes a file other than tenant.yaml
    # (its folder's id changes, its identity does not).
    EDITS["tenant value"](config_repo)
    _replace("tenants/acme/tenant.yaml", "- acme.localhost", "- moved.localhost")(
        config_repo
    )
    _append("tenants/lumen/dashboards.yaml", "\n# a comment\n")(config_repo)
    commit_all(config_repo, "acme moves, lumen edits its dashboards")
    EDITS["tenant host clash"](config_repo)
    _replace("tenants/brightside/tenant.yaml", "acme.localhost", "moved.localhost")(
        config_repo
    )

    result = incremental(config_repo, "HEAD", None, False)

    _check_agreement(config_repo, None, staged=False)
    assert [f.code for f in result.findings] == ["host-conflict"]
    assert "tenants/acme/tenant.yaml" in result.findings[0].message


def test_cli_changed_since(config_repo: Path) -> None:
    from click.testing import CliRunner

    from symphainy_gitops.cli import cli

    EDITS["tenant dangling ref"](config_repo)
    args = ["--repo", str(config_repo), "validate", "--changed-since", "HEAD"]

    result = CliRunner().invoke(cli, args)
    both = CliRunner().invoke(cli, [*args, "acme"])

    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == "1 error, 0 warnings in 1 tenant"
    assert both.exit_code == 2
