"""The command group, its shared options, and errors turned into exit codes."""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from ..errors import GitopsError
from ..pipeline import Pipeline
from ..source import open_source, repository_root


class _Cli(click.Group):
    """Turns library errors into one line and an exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GitopsError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(2)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except BrokenPipeError:
            # The reader went away (`| head`): nothing more to say to it.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(1)
        except Exception as exc:
            if ctx.meta.get("debug"):
                traceback.print_exc()
            else:
                click.echo(
                    f"Error: internal error ({type(exc).__name__}: {exc}); run "
                    "again with --debug for the traceback, and report it",
                    err=True,
                )
            ctx.exit(2)


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The config repository (default: found from the current folder).",
)
@click.option("--debug", is_flag=True, help="Show a traceback on internal errors.")
@click.version_option(package_name="symphainy-gitops")
@click.pass_context
def cli(ctx: click.Context, repo: Path | None, debug: bool) -> None:
    """Validate, inspect and render the tenant config of the symphainy platform.

    \b
    Examples:
      symphainy-gitops validate
      symphainy-gitops show acme workflows --explain
      symphainy-gitops tenants
    """
    ctx.meta["debug"] = debug
    ctx.obj = repo


def repo_root(ctx: click.Context) -> Path:
    repo = ctx.find_root().obj
    return repository_root(repo if repo is not None else Path.cwd())


def pipeline_for(ctx: click.Context, ref: str | None) -> Pipeline:
    return Pipeline(open_source(repo_root(ctx), ref))


def _set_repo(ctx: click.Context, _: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.find_root().obj = value


# The same --repo as the group's, for commands people run on their own.
REPO_OPTION = click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    expose_value=False,
    callback=_set_repo,
    help="The config repository (default: found from the current folder).",
)

REF_OPTION = click.option(
    "--ref",
    default=None,
    metavar="REV",
    help="Read a git revision (commit, tag or branch) instead of the working tree.",
)


def main() -> None:
    sys.exit(cli.main(prog_name="symphainy-gitops"))
