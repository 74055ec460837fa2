"""The same tree read from the working tree and from a commit gives the same answers."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pygit2
import pytest

from symphainy_gitops.errors import GitopsError
from symphainy_gitops.pipeline import Pipeline
from symphainy_gitops.source import (
    FileTooLarge,
    GitSource,
    Kind,
    WorktreeSource,
    open_source,
)

from .conftest import commit_all

BROKEN_WORKFLOW = """\
# yaml-language-server: $schema=../../schemas/workflows.schema.json
workflows:
  claims_intake:
    input_model: claimz
    steps:
      triage:
        next: [nowhere]
"""


def findings_of(source: object) -> list[tuple[str, str, int, int, str]]:
    result = Pipeline(source).run()  # type: ignore[arg-type]
    return [(f.code, f.file, f.line, f.column, f.message) for f in result.findings]


def test_worktree_and_commit_give_identical_findings(
    config_repo: Path, write: Callable[[str, str], Path]
) -> None:
    write("tenants/acme/workflows.yaml", BROKEN_WORKFLOW)
    write("tenants/acme/notes.md", "not config\n")
    os.symlink("/etc/hostname", config_repo / "tenants/northwind/dashboards.yaml")
    commit = commit_all(config_repo, "Break acme in several ways")

    from_worktree = findings_of(open_source(config_repo, None))
    from_commit = findings_of(open_source(config_repo, commit))

    assert from_worktree == from_commit
    assert {code for code, *_ in from_commit} == {
        "ref-unknown",
        "workflow-unreachable",
        "file-unknown",
        "file-symlink",
    }


def test_an_older_revision_is_read_without_a_checkout(
    config_repo: Path, write: Callable[[str, str], Path]
) -> None:
    first = str(pygit2.Repository(str(config_repo)).head.target)
    write("tenants/acme/workflows.yaml", BROKEN_WORKFLOW)
    commit_all(config_repo, "Break acme")

    assert findings_of(open_source(config_repo, first)) == []
    assert findings_of(open_source(config_repo, "HEAD")) != []
    assert findings_of(open_source(config_repo, "HEAD~1")) == []
    assert (config_repo / "tenants/acme/workflows.yaml").read_text() == BROKEN_WORKFLOW


def test_git_source_sees_symlinks_and_refuses_large_blobs_by_header(
    config_repo: Path,
) -> None:
    os.symlink("../../base/tenant.yaml", config_repo / "tenants/acme/dashboards.yaml")
    big = config_repo / "tenants/acme/workflows.yaml"
    big.write_bytes(b"a: b\n" * 300_000)
    commit = commit_all(config_repo, "A link and a big file")

    source = open_source(config_repo, commit)

    assert isinstance(source, GitSource)
    entries = {entry.name: entry.kind for entry in source.list("tenants/acme") or []}
    assert entries["dashboards.yaml"] is Kind.SYMLINK
    with pytest.raises(FileTooLarge) as refused:
        source.read("tenants/acme/workflows.yaml", limit=1_000_000)
    assert refused.value.size == 1_500_000
    assert len(source.read("tenants/acme/workflows.yaml")) == 1_500_000
    assert source.list("no/such/folder") is None
    assert source.tree_id("tenants/acme") is not None


def test_worktree_source_lists_sorted_and_reports_missing(config_repo: Path) -> None:
    source = WorktreeSource(config_repo)

    names = [entry.name for entry in source.list("tenants") or []]

    assert names == sorted(names)
    assert "acme" in names
    assert source.list("nope") is None
    assert not source.exists("nope.yaml")
    assert source.exists("tenants/acme/tenant.yaml")
    assert source.tree_id("tenants") is None


def test_unknown_ref_is_a_clear_error(config_repo: Path) -> None:
    with pytest.raises(GitopsError, match="'no-such-branch' is not a commit"):
        open_source(config_repo, "no-such-branch")


def test_worktree_read_refuses_a_file_swapped_for_a_link(config_repo: Path) -> None:
    source = WorktreeSource(config_repo)
    path = config_repo / "tenants/acme/tenant.yaml"
    path.unlink()
    path.symlink_to("/etc/hostname")

    with pytest.raises(OSError, match="link"):
        source.read("tenants/acme/tenant.yaml")


def test_outside_a_repository_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(GitopsError, match="not inside a git repository"):
        open_source(tmp_path, "HEAD")
