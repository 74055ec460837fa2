"""render and publish: the gateway's dynamic config, as files or in Redis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .. import report
from ..kv import to_kv
from ..output import check_tree, write_tree
from ..publish import publish as publish_pairs
from ..publish import redact
from ..render import dynamic_configs, render_tree
from ..snapshot import Snapshot, SnapshotRejected, build_snapshot
from ..source import open_source
from .base import REF_OPTION, cli, repo_root


def _snapshot_or_exit(ctx: click.Context, ref: str | None) -> Snapshot:
    """The validated snapshot; on findings, print them and exit 1."""
    source = open_source(repo_root(ctx), ref)
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
    folder = out if out is not None else repo_root(ctx) / "traefik" / "dynamic"
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
