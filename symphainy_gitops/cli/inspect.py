"""validate, show and tenants: read the config and report on it."""

from __future__ import annotations

import json
from typing import Any

import click

from .. import report
from ..changes import incremental
from ..layout import CONFIG_TYPES
from ..merge import explain as explain_values
from ..pipeline import Pipeline, TenantConfig
from ..source import open_repository, staged_source
from .base import REF_OPTION, cli, pipeline_for, repo_root
from .printing import EXPLAIN_OPTION, OUTPUT_OPTION, dump_config, explained_text


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
@click.option(
    "--changed-since",
    metavar="REV",
    default=None,
    help="Validate only the tenants a change since REV can affect (plus the "
    "host and prefix checks across all tenants).",
)
@click.option(
    "--staged",
    is_flag=True,
    help="Read what is staged in git's index instead of the working tree.",
)
@click.argument("tenants", nargs=-1)
@click.pass_context
def validate(
    ctx: click.Context,
    ref: str | None,
    fmt: str,
    strict: bool,
    changed_since: str | None,
    staged: bool,
    tenants: tuple[str, ...],
) -> None:
    """Check every tenant (or the TENANTS named) and report all findings.

    \b
    Exit status: 0 valid, 1 findings, 2 usage or internal error.
    Examples:
      symphainy-gitops validate
      symphainy-gitops validate acme --format json
      symphainy-gitops validate --ref origin/main --format github
      symphainy-gitops validate --changed-since origin/main
      symphainy-gitops validate --staged --changed-since HEAD
    """
    if staged and ref is not None:
        raise click.UsageError("--staged reads the index; it cannot take --ref")
    if changed_since is not None and tenants:
        raise click.UsageError(
            "--changed-since chooses the tenants itself; drop the TENANTS or the option"
        )
    if changed_since is not None:
        result = incremental(repo_root(ctx), changed_since, ref, staged)
    else:
        pipeline = staged_pipeline(ctx) if staged else pipeline_for(ctx, ref)
        require_tenants(pipeline, tenants)
        result = pipeline.run(tenants or None)
    click.echo(report.render(result, fmt), nl=False)
    ctx.exit(1 if report.failed(result.findings, strict) else 0)


def staged_pipeline(ctx: click.Context) -> Pipeline:
    return Pipeline(staged_source(open_repository(repo_root(ctx))))


def require_tenants(pipeline: Pipeline, tenants: tuple[str, ...]) -> None:
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
@EXPLAIN_OPTION
@OUTPUT_OPTION
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
    pipeline = pipeline_for(ctx, ref)
    require_tenants(pipeline, (tenant,))
    merged = pipeline.tenant(tenant)

    config = merged.config
    if config_type is not None:
        config = {config_type: config.get(config_type, {})}
    if explain:
        leaves = explain_values(config, merged.provenance)
        click.echo(explained_text(leaves, output), nl=False)
    else:
        click.echo(dump_config(config, output), nl=False)
    _note_findings(merged)


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
    pipeline = pipeline_for(ctx, ref)
    rows: list[dict[str, Any]] = []
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
    widths = [
        max([len(str(row[key])) for row in rows] + [len(key)])
        for key in ("id", "status", "plan")
    ]
    header = ("ID", "STATUS", "PLAN", "DOMAINS")
    click.echo(_row(header, widths))
    for row in rows:
        cells = (
            row["id"],
            row["status"],
            row["plan"],
            ", ".join(row["domains"]) or "-",
        )
        click.echo(_row(tuple(str(cell) for cell in cells), widths))


def _row(cells: tuple[str, ...], widths: list[int]) -> str:
    padded = [cell.ljust(width) for cell, width in zip(cells, widths, strict=False)]
    return "  ".join([*padded, *cells[len(widths) :]]).rstrip()
