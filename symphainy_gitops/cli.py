"""The ``symphainy-gitops`` command: parse options, call the library, report.

Exit codes: 0 valid, 1 findings (or a refused action), 2 usage or internal
error. Library errors reach the user as one ``Error: …`` line on stderr.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import click
import yaml

from . import report
from .errors import GitopsError
from .kv import to_kv
from .layout import CONFIG_TYPES
from .merge import explain
from .output import check_tree, write_tree
from .pipeline import Pipeline, TenantConfig
from .publish import publish as publish_pairs
from .publish import redact
from .render import dynamic_configs, render_tree
from .snapshot import Snapshot, SnapshotRejected, build_snapshot
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
        where = (
            f"{leaf['file']}:{leaf['line']}:{leaf['column']}" if leaf["file"] else "?"
        )
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


def _snapshot_or_exit(ctx: click.Context, ref: str | None) -> Snapshot:
    """The validated snapshot; on findings, print them and exit 1."""
    source = open_source(_root(ctx), ref)
    try:
        return build_snapshot(source)
    except SnapshotRejected as rejected:
        click.echo(report.text(rejected.result), err=True, nl=False)
        click.echo(
            "Error: refusing to render: the config does not validate, and Traefik "
            "must never see a file that was not validated",
            err=True,
        )
        ctx.exit(1)


def _configs(snapshot: Snapshot) -> dict[str, dict[str, Any]]:
    return {tenant_id: tenant.config for tenant_id, tenant in snapshot.tenants.items()}


@cli.command()
@REF_OPTION
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of the dynamic config (default: traefik/dynamic of the repo).",
)
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; exit 1 if any file is stale, missing or extra.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["files", "kv"]),
    default="files",
    show_default=True,
    help="files: write Traefik's file-provider folder; kv: print KV pairs.",
)
@click.option("--root", default="traefik", show_default=True, help="KV root key.")
@click.pass_context
def render(
    ctx: click.Context,
    ref: str | None,
    out: Path | None,
    check: bool,
    fmt: str,
    root: str,
) -> None:
    """Render Traefik v3 dynamic config: platform.yml and tenant-<id>.yml.

    Validates first and writes nothing if any tenant has an error. Each file
    is replaced atomically; files of deleted or suspended tenants are removed.

    \b
    Examples:
      symphainy-gitops render
      symphainy-gitops render --check
      symphainy-gitops render --ref v1.4.0 --out /etc/traefik/dynamic
      symphainy-gitops render --format kv
    """
    snapshot = _snapshot_or_exit(ctx, ref)
    if fmt == "kv":
        for key, value in _kv_pairs(snapshot, root).items():
            click.echo(f"{key}={value}")
        return

    files = render_tree(snapshot.platform, _configs(snapshot), snapshot.label)
    folder = out if out is not None else _root(ctx) / "traefik" / "dynamic"
    if check:
        stale = check_tree(folder, files)
        for item in stale:
            click.echo(f"{folder / item.name}: {_STALE_WORDS[item.reason]}")
        if stale:
            click.echo(
                "Error: the rendered config is out of date; run "
                "'symphainy-gitops render' and commit the result",
                err=True,
            )
            ctx.exit(1)
        click.echo(f"ok: {len(files)} files in {folder} are up to date")
        return

    written = write_tree(folder, files)
    for name in written.written:
        click.echo(f"wrote {folder / name}")
    for name in written.removed:
        click.echo(f"removed {folder / name}")
    click.echo(
        f"{len(written.written)} written, {len(written.removed)} removed, "
        f"{len(written.unchanged)} unchanged"
    )


_STALE_WORDS = {
    "stale": "differs from what the config renders",
    "missing": "missing",
    "extra": "left over (its tenant was removed or suspended)",
}


def _kv_pairs(snapshot: Snapshot, root: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for dynamic in dynamic_configs(snapshot.platform, _configs(snapshot)).values():
        pairs.update(to_kv(dynamic, root))
    return dict(sorted(pairs.items()))


@cli.command()
@REF_OPTION
@click.option(
    "--redis",
    "redis_url",
    envvar="SYMPHAINY_REDIS_URL",
    required=True,
    metavar="URL",
    help="redis://[:password@]host:port/db (or SYMPHAINY_REDIS_URL).",
)
@click.option("--root", default="traefik", show_default=True, help="KV root key.")
@click.pass_context
def publish(ctx: click.Context, ref: str | None, redis_url: str, root: str) -> None:
    """Publish the rendered config to Redis for a fleet of Traefik gateways.

    Writes new and changed keys in one transaction, then removes keys that no
    longer exist, and says what it added, changed and removed. Traefik's Redis
    provider needs keyspace notifications enabled on the server.

    \b
    Examples:
      symphainy-gitops publish --redis redis://127.0.0.1:6379/0
      symphainy-gitops publish --ref main --redis "$SYMPHAINY_REDIS_URL"
    """
    snapshot = _snapshot_or_exit(ctx, ref)
    pairs = _kv_pairs(snapshot, root)

    result = publish_pairs(redis_url, pairs, root=root, revision=snapshot.label)
    for verb, keys in (
        ("added", result.added),
        ("changed", result.changed),
        ("removed", result.removed),
    ):
        for key in keys:
            click.echo(f"{verb} {key}")
    click.echo(
        f"published {len(pairs)} keys to {redact(redis_url)}: "
        f"{len(result.added)} added, {len(result.changed)} changed, "
        f"{len(result.removed)} removed"
    )


@cli.command()
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

    from .app import check_repository, create_app
    from .auth import KeySet

    root = _root(ctx)
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
    from .auth import mint_token

    secret = os.environ.get("SUPABASE_JWT_SECRET")
    if not secret:
        raise GitopsError("set SUPABASE_JWT_SECRET to the secret the app verifies with")
    platform = Pipeline(open_source(_root(ctx), None)).platform
    click.echo(mint_token(secret, platform, tenant, subject, roles, email, ttl))


def main() -> None:
    sys.exit(cli.main(prog_name="symphainy-gitops"))
