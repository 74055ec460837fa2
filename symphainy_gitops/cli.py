"""The ``symphainy-gitops`` command: parse options, call the library, report.

Exit codes: 0 valid, 1 findings (or a refused action), 2 usage or internal
error. Library errors reach the user as one ``Error: …`` line on stderr.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Any

import click
import yaml

from . import report
from .errors import GitopsError
from .layout import CONFIG_TYPES
from .merge import explain
from .pipeline import Pipeline, TenantConfig
from .source import open_source, repository_root


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


def _root(ctx: click.Context) -> Path:
    repo = ctx.find_root().obj
    return repository_root(repo if repo is not None else Path.cwd())


def _pipeline(ctx: click.Context, ref: str | None) -> Pipeline:
    return Pipeline(open_source(_root(ctx), ref))


REF_OPTION = click.option(
    "--ref",
    default=None,
    metavar="REV",
    help="Read a git revision (commit, tag or branch) instead of the working tree.",
)


@cli.command()
@REF_OPTION
@click.option(
    "--format",
    "fmt",
    type=click.Choice(report.FORMATS),
    default="text",
    show_default=True,
    help="text for people, json for tools, github for pull-request annotations.",
)
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.argument("tenants", nargs=-1)
@click.pass_context
def validate(
    ctx: click.Context,
    ref: str | None,
    fmt: str,
    strict: bool,
    tenants: tuple[str, ...],
) -> None:
    """Check every tenant (or the TENANTS named) and report all findings.

    \b
    Exit status: 0 valid, 1 findings, 2 usage or internal error.
    Examples:
      symphainy-gitops validate
      symphainy-gitops validate acme --format json
      symphainy-gitops validate --ref origin/main --format github
    """
    pipeline = _pipeline(ctx, ref)
    _require_tenants(pipeline, tenants)

    result = pipeline.run(tenants or None)
    click.echo(report.render(result, fmt), nl=False)
    ctx.exit(1 if report.failed(result.findings, strict) else 0)


def _require_tenants(pipeline: Pipeline, tenants: tuple[str, ...]) -> None:
    unknown = sorted(set(tenants) - set(pipeline.tree.tenant_ids))
    if unknown:
        known = ", ".join(pipeline.tree.tenant_ids) or "none"
        raise click.UsageError(
            f"no tenant {', '.join(repr(t) for t in unknown)} at "
            f"{pipeline.source.label}; the tenants are: {known}"
        )


@cli.command()
@click.argument("tenant")
@click.argument("config_type", metavar="[TYPE]", required=False)
@REF_OPTION
@click.option(
    "--explain",
    is_flag=True,
    help="Print each value with the file:line:column and layer that set it.",
)
@click.option(
    "--output",
    type=click.Choice(["yaml", "json"]),
    default="yaml",
    show_default=True,
)
@click.pass_context
def show(
    ctx: click.Context,
    tenant: str,
    config_type: str | None,
    ref: str | None,
    explain: bool,
    output: str,
) -> None:
    """Print a tenant's merged config, or one config TYPE of it.

    \b
    TYPE is one of: tenant, domain_models, workflows, dashboards,
    ingestion_endpoints, user_management, ai_agent_personas.
    Examples:
      symphainy-gitops show acme
      symphainy-gitops show acme workflows --explain
      symphainy-gitops show acme tenant --ref HEAD~3 --output json
    """
    if config_type is not None and config_type not in CONFIG_TYPES:
        raise click.BadParameter(
            f"'{config_type}' is not a config type; use one of: "
            + ", ".join(CONFIG_TYPES),
            param_hint="TYPE",
        )
    pipeline = _pipeline(ctx, ref)
    _require_tenants(pipeline, (tenant,))
    merged = pipeline.tenant(tenant)

    config = merged.config
    if config_type is not None:
        config = {config_type: config.get(config_type, {})}
    if explain:
        click.echo(_explained(config, merged, output), nl=False)
    else:
        click.echo(_dump(config, output), nl=False)
    _note_findings(merged)


def _explained(config: dict[str, Any], merged: TenantConfig, output: str) -> str:
    leaves = explain(config, merged.provenance)
    if output == "json":
        return json.dumps(leaves, indent=2) + "\n"

    lines = []
    for path, leaf in leaves.items():
        value = json.dumps(leaf["value"], ensure_ascii=False)
        where = f"{leaf['file']}:{leaf['line']}:{leaf['column']}" if leaf["file"] else "?"
        lines.append(f"{path} = {value}  # {where} ({leaf['layer']})")
    return "\n".join(lines) + "\n"


def _dump(config: dict[str, Any], output: str) -> str:
    if output == "json":
        return json.dumps(config, indent=2, ensure_ascii=False) + "\n"
    return yaml.safe_dump(
        config, sort_keys=False, allow_unicode=True, default_flow_style=False, width=88
    )


def _note_findings(merged: TenantConfig) -> None:
    if merged.findings:
        click.echo(
            f"note: tenant '{merged.tenant_id}' has {len(merged.findings)} "
            "finding(s); run 'symphainy-gitops validate "
            f"{merged.tenant_id}' to see them",
            err=True,
        )


@cli.command()
@REF_OPTION
@click.option(
    "--output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
@click.pass_context
def tenants(ctx: click.Context, ref: str | None, output: str) -> None:
    """List the tenants with their status, plan and domains.

    \b
    Examples:
      symphainy-gitops tenants
      symphainy-gitops tenants --ref v1.2.0 --output json
    """
    pipeline = _pipeline(ctx, ref)
    rows = []
    for tenant_id in pipeline.tree.tenant_ids:
        tenant = pipeline.tenant(tenant_id).tenant
        domains = tenant.get("domains")
        rows.append(
            {
                "id": tenant_id,
                "status": tenant.get("status"),
                "plan": tenant.get("plan"),
                "domains": domains if isinstance(domains, list) else [],
            }
        )

    if output == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    widths = [max([len(str(row[key])) for row in rows] + [len(key)]) for key in ("id", "status", "plan")]
    header = ("ID", "STATUS", "PLAN", "DOMAINS")
    click.echo(_row(header, widths))
    for row in rows:
        cells = (row["id"], row["status"], row["plan"], ", ".join(row["domains"]) or "-")
        click.echo(_row(tuple(str(cell) for cell in cells), widths))


def _row(cells: tuple[str, ...], widths: list[int]) -> str:
    padded = [cell.ljust(width) for cell, width in zip(cells, widths, strict=False)]
    return "  ".join([*padded, *cells[len(widths) :]]).rstrip()


def main() -> None:
    sys.exit(cli.main(prog_name="symphainy-gitops"))
