"""serve and token: the HTTP app, and test tokens for local development."""

from __future__ import annotations

import os

import click

from ..errors import GitopsError
from ..pipeline import Pipeline
from ..source import open_source
from .base import REPO_OPTION, cli, repo_root


@cli.command()
@REPO_OPTION
@click.option("--ref", default="main", show_default=True, help="The ref to serve.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--poll",
    default=2.0,
    show_default=True,
    type=click.FloatRange(min=0.05),
    help="Seconds between checks of whether the ref moved.",
)
@click.pass_context
def serve(ctx: click.Context, ref: str, host: str, port: int, poll: float) -> None:
    """Serve the validated config of REF over HTTP, and ForwardAuth for Traefik.

    \b
    Keys (at least one): SUPABASE_JWT_SECRET (HS256), SUPABASE_JWKS_URL or
    SUPABASE_JWKS_FILE (ES256, RS256). The app reloads when REF moves and
    never serves a commit that fails validation.
    Examples:
      SUPABASE_JWT_SECRET=... symphainy-gitops serve
      symphainy-gitops serve --ref production --port 9000 --poll 5
    """
    import logging

    import uvicorn

    from ..app import check_repository, create_app
    from ..auth import KeySet

    root = repo_root(ctx)
    check_repository(root)
    keys = KeySet.from_env(os.environ)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app = create_app(root, ref, keys, poll)
    # Access logs are Traefik's job; here they would only cost throughput.
    uvicorn.run(app, host=host, port=port, access_log=False, server_header=False)


@cli.command()
@click.option("--tenant", required=True, help="The tenant id (app_metadata).")
@click.option("--sub", "subject", required=True, help="The user id (sub).")
@click.option("--role", "roles", multiple=True, help="A role; repeat for more.")
@click.option("--email", default=None)
@click.option("--ttl", default=3600, show_default=True, type=click.IntRange(1))
@click.pass_context
def token(
    ctx: click.Context,
    tenant: str,
    subject: str,
    roles: tuple[str, ...],
    email: str | None,
    ttl: int,
) -> None:
    """Mint a Supabase-shaped HS256 token. FOR DEVELOPMENT ONLY.

    \b
    Signs with SUPABASE_JWT_SECRET; issuer and audience come from
    base/platform.yaml of the working tree. Never use it against production.
    Examples:
      symphainy-gitops token --tenant acme --sub user-1 --role viewer
      curl -H "Authorization: Bearer $(symphainy-gitops token ...)" ...
    """
    from ..auth import mint_token

    secret = os.environ.get("SUPABASE_JWT_SECRET")
    if not secret:
        raise GitopsError("set SUPABASE_JWT_SECRET to the secret the app verifies with")
    platform = Pipeline(open_source(repo_root(ctx), None)).platform
    click.echo(mint_token(secret, platform, tenant, subject, roles, email, ttl))
