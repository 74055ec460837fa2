"""The git pre-commit hook, the pre-commit framework hook, and the CI workflow."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from symphainy_gitops.cli import cli

from .conftest import ROOT, commit_all

BIN = Path(sys.executable).parent
BROKEN = "workflows:\n  claims_intake:\n    input_model: nothing_here\n"


def git(repo: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "GIT_AUTHOR_NAME": "Hook Tester",
        "GIT_AUTHOR_EMAIL": "hooks@example.test",
        "GIT_COMMITTER_NAME": "Hook Tester",
        "GIT_COMMITTER_EMAIL": "hooks@example.test",
        **env,
    }
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, env=environment
    )


@pytest.fixture
def rendered_repo(config_repo: Path) -> Path:
    """The config repository with its Traefik files rendered and committed."""
    result = CliRunner().invoke(cli, ["--repo", str(config_repo), "render"])
    assert result.exit_code == 0, result.output
    commit_all(config_repo, "Render")
    return config_repo


def test_hook_blocks_a_bad_staged_change_and_passes_a_good_one(
    rendered_repo: Path,
) -> None:
    hooks = f"core.hooksPath={ROOT / 'hooks'}"
    bad = rendered_repo / "tenants/lumen/workflows.yaml"
    bad.write_text(BROKEN)
    git(rendered_repo, "add", "tenants/lumen/workflows.yaml")
    # Fixed on disk but not staged: the hook judges what would be committed.
    bad.unlink()

    refused = git(rendered_repo, "-c", hooks, "commit", "-m", "Break lumen")

    # git passes a hook's output on to its own stderr.
    assert refused.returncode == 1
    assert "error[ref-unknown]" in refused.stderr
    assert "1 error, 0 warnings in 1 tenant" in refused.stderr

    git(rendered_repo, "rm", "--cached", "-q", "tenants/lumen/workflows.yaml")
    name = rendered_repo / "tenants/acme/tenant.yaml"
    name.write_text(name.read_text().replace("Acme Mutual Insurance", "Acme"))
    git(rendered_repo, "add", "tenants/acme/tenant.yaml")

    accepted = git(rendered_repo, "-c", hooks, "commit", "-m", "Rename acme")

    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "ok: 1 tenant valid" in accepted.stderr


def test_hook_blocks_stale_rendered_files(rendered_repo: Path) -> None:
    hooks = f"core.hooksPath={ROOT / 'hooks'}"
    hosts = rendered_repo / "tenants/acme/tenant.yaml"
    hosts.write_text(hosts.read_text().replace("- acme.localhost", "- acme2.localhost"))
    git(rendered_repo, "add", "tenants/acme/tenant.yaml")

    refused = git(rendered_repo, "-c", hooks, "commit", "-m", "New host, no render")

    assert refused.returncode == 1
    assert "the rendered config is out of date" in refused.stderr


@pytest.mark.parametrize(
    ("content", "expected"), [(None, 0), (BROKEN, 1)], ids=["good", "bad"]
)
def test_pre_commit_try_repo(
    config_repo: Path, tmp_path: Path, content: str | None, expected: int
) -> None:
    if content is not None:
        (config_repo / "tenants/lumen/workflows.yaml").write_text(content)
    git(config_repo, "add", "-A")

    # The system hook: the python one would install its dependencies from
    # the package index, which a test must not need.
    result = subprocess.run(
        [
            str(BIN / "pre-commit"),
            "try-repo",
            str(ROOT),
            "symphainy-gitops-validate-system",
            "--all-files",
        ],
        cwd=config_repo,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        },
    )

    assert result.returncode == expected, result.stdout + result.stderr
    assert "validate tenant config" in result.stdout


def test_workflow_matches_the_github_schema() -> None:
    workflow = ROOT / ".github/workflows/pull-request.yml"

    result = subprocess.run(
        [
            str(BIN / "check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            str(workflow),
        ],
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    text = workflow.read_text()
    assert "--changed-since" in text
    assert "render --check" in text
    assert '--format markdown >> "$GITHUB_STEP_SUMMARY"' in text
