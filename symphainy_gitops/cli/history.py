"""diff, log and rollback: the config across revisions."""

from __future__ import annotations

import time

import click

from .. import report
from ..diff import FORMATS, compare
from ..errors import GitopsError
from ..history import tenant_log
from ..rollback import RollbackRefused
from ..rollback import rollback as restore
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


@cli.command()
@click.argument("tenant")
@click.option(
    "--ref", default="HEAD", show_default=True, metavar="REV", help="Start here."
)
@click.option(
    "-n", "limit", type=click.IntRange(1), default=None, help="Show at most N commits."
)
@click.pass_context
def log(ctx: click.Context, tenant: str, ref: str, limit: int | None) -> None:
    """List the commits that changed TENANT's effective config, newest first.

    Includes changes that came from base/ or the tenant's plan, and skips
    commits that changed nothing the tenant sees.

    \b
    Examples:
      symphainy-gitops log acme
      symphainy-gitops log acme -n 5 --ref origin/main
    """
    repo = open_repository(repo_root(ctx))
    start = resolve_commit(repo, ref)
    count = 0
    for entry in tenant_log(repo, start, tenant, limit):
        count += 1
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(entry.time))
        click.echo(f"{entry.commit[:12]} {when} {entry.author}: {entry.summary}")
        if entry.status != "changed":
            click.echo(f"  tenant {entry.status}")
        for change in entry.changes:
            click.echo(f"  {change.path} ({change.kind})")
    if count == 0:
        click.echo(f"no commit reachable from {ref} changed tenant '{tenant}'")


@cli.command()
@click.argument("tenant")
@click.option("--to", "to", required=True, metavar="REV", help="The revision.")
@click.option("-m", "--message", default=None, help="The commit message.")
@click.pass_context
def rollback(ctx: click.Context, tenant: str, to: str, message: str | None) -> None:
    """Restore tenants/TENANT/ as it was at REV, as a new commit.

    Refuses on uncommitted changes and when the result would not validate
    (exit 1, findings printed). Never rewrites history; the working tree
    and index move to the new commit.

    \b
    Examples:
      symphainy-gitops rollback acme --to HEAD~2
      symphainy-gitops rollback acme --to v1.4.0 -m "Undo the CORS change"
    """
    repo = open_repository(repo_root(ctx))
    try:
        done = restore(repo, tenant, to, message)
    except RollbackRefused as refused:
        click.echo(report.text(refused.result), err=True, nl=False)
        click.echo(f"Error: {refused}", err=True)
        ctx.exit(1)
    except GitopsError as problem:
        click.echo(f"Error: {problem}", err=True)
        ctx.exit(1)

    if done.commit is None:
        click.echo(f"tenants/{tenant}/ is already as at {done.target[:12]}")
        return
    what = "removed" if done.removed else f"restored from {done.target[:12]}"
    click.echo(f"{done.commit[:12]} tenants/{tenant}/ {what}")
