"""remote: read your tenant's config over the HTTP API, with your own token."""

from __future__ import annotations

import json
import os
from typing import Any

import click

from ..layout import CONFIG_TYPES
from ..remote import (
    DEFAULT_TIMEOUT,
    DEFAULT_URL,
    TENANT_VARIABLE,
    TOKEN_VARIABLE,
    URL_VARIABLE,
    Client,
    EtagCache,
    RemoteError,
    connect,
    default_cache_folder,
)
from .base import cli
from .printing import EXPLAIN_OPTION, OUTPUT_OPTION, dump_config, explained_text


class _RemoteGroup(click.Group):
    """Refusals exit 1 and usage problems 2, each as one ``Error:`` line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RemoteError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)


REF_OPTION = click.option(
    "--ref", default=None, metavar="REV", help="A commit, tag or branch of the server."
)


@cli.group(cls=_RemoteGroup)
@click.option(
    "--url",
    envvar=URL_VARIABLE,
    default=DEFAULT_URL,
    show_default=True,
    show_envvar=True,
    help="The config API: through the gateway, or the app itself.",
)
@click.option(
    "--token",
    envvar=TOKEN_VARIABLE,
    default=None,
    show_envvar=True,
    help="Your Supabase access token (a JWT). Prefer the variable: options "
    "show up in shell history and process lists.",
)
@click.option(
    "--tenant",
    envvar=TENANT_VARIABLE,
    default=None,
    show_envvar=True,
    help="Your tenant id (default: the token's app_metadata.tenant_id).",
)
@click.option(
    "--timeout",
    default=DEFAULT_TIMEOUT,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds to wait for the server.",
)
@click.pass_context
def remote(
    ctx: click.Context,
    url: str,
    token: str | None,
    tenant: str | None,
    timeout: float,
) -> None:
    """Read your tenant's config from the config API, with your own token.

    \b
    Every request carries Authorization: Bearer <token> and X-Tenant-Id.
    Exit status: 0 ok, 1 the server refused or could not be reached,
    2 usage (no token, an expired one, the wrong tenant, an unknown alias).
    Examples:
      export SYMPHAINY_API_TOKEN=<access token of your session>
      symphainy-gitops remote whoami
      symphainy-gitops remote show workflows
      symphainy-gitops remote commands
      symphainy-gitops remote run claims-flow
    """
    ctx.obj = {"url": url, "token": token, "tenant": tenant, "timeout": timeout}


def _client(ctx: click.Context) -> Client:
    settings = ctx.obj
    cache = EtagCache(default_cache_folder(os.environ))
    return connect(
        settings["url"],
        settings["token"],
        settings["tenant"],
        cache=cache,
        timeout=settings["timeout"],
    )


@remote.command()
@click.option(
    "--output", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.pass_context
def whoami(ctx: click.Context, output: str) -> None:
    """Who the server takes you for: user, tenant, roles and permissions.

    \b
    Examples:
      symphainy-gitops remote whoami
      symphainy-gitops remote whoami --output json
    """
    seen = _client(ctx).whoami()
    if output == "json":
        click.echo(json.dumps(seen, indent=2))
        return

    rows = [
        ("user", f"{seen['user']}" + (f" <{seen['email']}>" if seen["email"] else "")),
        ("tenant", seen["tenant"] or "-"),
        ("roles", ", ".join(seen["roles"]) or "-"),
        ("permissions", ", ".join(seen["permissions"]) or "-"),
    ]
    if seen.get("platform_admin"):
        rows.append(("platform admin", "yes"))
    for name, value in rows:
        click.echo(f"{name + ':':<16}{value}")


@remote.command()
@click.argument("config_type", metavar="[TYPE]", required=False)
@REF_OPTION
@EXPLAIN_OPTION
@OUTPUT_OPTION
@click.pass_context
def show(
    ctx: click.Context,
    config_type: str | None,
    ref: str | None,
    explain: bool,
    output: str,
) -> None:
    """Print your tenant's merged config, or one config TYPE of it.

    The same output as the local 'show TENANT [TYPE]'. A repeated call sends
    the ETag of the last answer and reuses it when the server says 304.

    \b
    TYPE is one of: tenant, domain_models, workflows, dashboards,
    ingestion_endpoints, user_management, ai_agent_personas.
    Examples:
      symphainy-gitops remote show
      symphainy-gitops remote show workflows --explain
      symphainy-gitops remote show tenant --ref v1.2.0 --output json
    """
    if config_type is not None and config_type not in CONFIG_TYPES:
        raise click.BadParameter(
            f"'{config_type}' is not a config type; use one of: "
            + ", ".join(CONFIG_TYPES),
            param_hint="TYPE",
        )
    answer = _client(ctx).config(config_type, ref, explain)
    if explain:
        click.echo(explained_text(answer.data["explain"], output), nl=False)
    else:
        click.echo(dump_config(answer.data["config"], output), nl=False)


@remote.command()
@REF_OPTION
@click.pass_context
def commands(ctx: click.Context, ref: str | None) -> None:
    """List your tenant's shortcuts for 'remote run' (cli.aliases in tenant.yaml).

    \b
    Examples:
      symphainy-gitops remote commands
    """
    client = _client(ctx)
    aliases = client.aliases(ref)
    if not aliases:
        click.echo(
            f"tenant {client.tenant} defines no aliases; add them under "
            f"cli.aliases in tenants/{client.tenant}/tenant.yaml"
        )
        return

    width = max(len(name) for name in aliases)
    for name in sorted(aliases):
        spec = aliases[name]
        target = ".".join(
            str(part) for part in (spec["type"], spec.get("path")) if part
        )
        click.echo(f"{name:<{width}}  {spec['description']}  [{target}]")


@remote.command()
@click.argument("alias")
@REF_OPTION
@OUTPUT_OPTION
@click.pass_context
def run(ctx: click.Context, alias: str, ref: str | None, output: str) -> None:
    """Run one of your tenant's shortcuts: a read-only lookup.

    Prints the part of 'remote show TYPE' that the alias points at.

    \b
    Examples:
      symphainy-gitops remote run claims-flow
      symphainy-gitops remote run ams-feed --output json
    """
    click.echo(dump_config(_client(ctx).run(alias, ref), output), nl=False)
