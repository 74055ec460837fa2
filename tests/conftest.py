"""Shared fixtures: real config repositories in tmp_path, built from this one."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pygit2
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, settings

from symphainy_gitops.cli import cli

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ("base", "tenants", "schemas")


def copy_content(target: Path) -> Path:
    """A copy of this repository's config (base/, tenants/, schemas/) at target."""
    target.mkdir(parents=True, exist_ok=True)
    for name in CONTENT:
        shutil.copytree(ROOT / name, target / name)
    return target


def commit_all(repo_path: Path, message: str) -> str:
    """Stage everything in the working tree and commit it; returns the commit id."""
    repo = pygit2.Repository(str(repo_path))
    repo.index.add_all()
    repo.index.write()
    tree = repo.index.write_tree()
    signature = pygit2.Signature("Test Author", "author@example.test", 1_700_000_000, 0)
    parents = [] if repo.head_is_unborn else [repo.head.target]
    oid = repo.create_commit("HEAD", signature, signature, message, tree, parents)
    return str(oid)


@pytest.fixture
def config_repo(tmp_path: Path) -> Path:
    """A git repository holding a copy of this repository's config, committed."""
    path = copy_content(tmp_path / "repo")
    pygit2.init_repository(str(path), initial_head="main")
    commit_all(path, "Initial config")
    return path


@pytest.fixture
def write(config_repo: Path) -> Callable[[str, str], Path]:
    """Write a file of the test repository's working tree."""

    def _write(relative: str, content: str) -> Path:
        path = config_repo / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        return path

    return _write


def run(repo: Path, *args: str) -> Result:
    """The CLI on the config repository at ``repo``, as a person would call it."""
    return CliRunner().invoke(cli, ["--repo", str(repo), *args])


def edit(repo: Path, relative: str, old: str, new: str) -> None:
    """Replace the first ``old`` in a file of ``repo``, which must hold it."""
    path = repo / relative
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


# Shared machines are noisy: data generation must not fail a run by its speed.
settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("default")
