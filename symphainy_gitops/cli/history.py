"""diff, log and rollback: the config across revisions."""

from __future__ import annotations

import click

from ..diff import FORMATS, compare
from ..source import (
    GitSource,
    Source,
    WorktreeSource,
    open_repository,
    resolve_commit,
)
from .base import cli, repo_root


@cli.command()
@click.argument("base", required=False, default="HEAD", metavar="[BASE")
@click.argument("head", required=False, default=None, metavar="[HEAD]]")
@click.option("--tenant", default=None, metavar="ID", help="Compare one tenant.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(FORMATS)),
    default="text",
    show_default=True,
    help="markdown: a pull-request summary for $GITHUB_STEP_SUMMARY.",
)
@click.pass_context
def diff(
    ctx: click.Context, base: str, head: str | None, tenant: str | None, fmt: str
) -> None:
    """Show how each tenant's effective config and routes differ.

    Compares the merged config, not the files: a change to base/ or a plan
    lists exactly the tenants it alters. BASE defaults to HEAD and HEAD to
    the working tree. Secret values are never shown.

    \b
    Examples:
      symphainy-gitops diff
      symphainy-gitops diff origin/main
      symphainy-gitops diff origin/main HEAD --format markdown
      symphainy-gitops diff HEAD~3 HEAD --tenant acme --format json
    """
    root = repo_root(ctx)
    repo = open_repository(root)
    old_commit = resolve_commit(repo, base)
    new: Source
    if head is None:
        new = WorktreeSource(root)
    else:
        new = GitSource(repo, resolve_commit(repo, head))

    comparison = compare(
        repo, old_commit, GitSource(repo, old_commit), new, head, tenant
    )
    click.echo(FORMATS[fmt](comparison), nl=False)
