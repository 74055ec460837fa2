"""new-tenant and set: edits that keep comments and validate before writing."""

from __future__ import annotations

from typing import NoReturn

import click

from .. import report
from ..edit import EditRefused, new_tenant, parse_value, set_value
from .base import cli, repo_root


@cli.command("new-tenant")
@click.argument("tenant_id", metavar="ID")
@click.option("--name", required=True, help="The tenant's display name.")
@click.option("--domain", "domains", multiple=True, help="A host; repeat for more.")
@click.option("--plan", default=None, help="A plan under base/plans/.")
@click.pass_context
def new_tenant_command(
    ctx: click.Context,
    tenant_id: str,
    name: str,
    domains: tuple[str, ...],
    plan: str | None,
) -> None:
    """Scaffold tenants/ID/tenant.yaml, validated before it is written.

    \b
    Examples:
      symphainy-gitops new-tenant acme --name "Acme Mutual" --domain acme.example
      symphainy-gitops new-tenant bolt --name Bolt --plan enterprise
    """
    try:
        path = new_tenant(repo_root(ctx), tenant_id, name, list(domains), plan)
    except EditRefused as refused:
        _refused(ctx, refused)
    click.echo(f"created {path}")


@cli.command("set")
@click.argument("tenant")
@click.argument("config_type", metavar="TYPE")
@click.argument("path")
@click.argument("value")
@click.pass_context
def set_command(
    ctx: click.Context, tenant: str, config_type: str, path: str, value: str
) -> None:
    """Set one value in TENANT's TYPE overlay; comments and layout are kept.

    PATH is dotted; VALUE is YAML (100, true, [a, b]; null deletes the key
    from the merged config). Writes only when the tenant still validates.

    \b
    Examples:
      symphainy-gitops set acme tenant rate_limit.average 100
      symphainy-gitops set acme tenant domains "[acme.example, www.acme.example]"
      symphainy-gitops set acme tenant cors.max_age null
    """
    try:
        written = set_value(
            repo_root(ctx), tenant, config_type, path, parse_value(value)
        )
    except EditRefused as refused:
        _refused(ctx, refused)
    click.echo(f"updated {written}")


def _refused(ctx: click.Context, refused: EditRefused) -> NoReturn:
    click.echo(report.text(refused.result), err=True, nl=False)
    click.echo(f"Error: {refused}", err=True)
    ctx.exit(1)
