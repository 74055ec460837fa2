"""Publish KV pairs to Redis, where Traefik's Redis provider watches them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

import redis

from symphainy_gitops.errors import GitopsError

SENTINEL = "http/middlewares/platform-config-revision/headers"
SENTINEL_HEADER = "X-Config-Revision"


class PublishReport(NamedTuple):
    added: list[str]
    changed: list[str]
    removed: list[str]


def publish(
    redis_url: str,
    pairs: Mapping[str, str],
    root: str = "traefik",
    revision: str = "unknown",
) -> PublishReport:
    """Make the keys under ``root/`` equal ``pairs`` (plus the sentinel).

    New and changed keys are written in one MULTI/EXEC transaction first, and
    stale keys deleted after, so Traefik never sees a router without its
    middlewares or service. The sentinel (a tiny headers middleware naming
    the revision) keeps the tree from ever decoding as empty.
    """
    root = root.strip("/")
    _check_keys(pairs, root)
    wanted = {**pairs, **sentinel(root, revision)}

    try:
        client: Any = redis.Redis.from_url(redis_url, decode_responses=True)
        with client:
            return _sync(client, wanted, root, set(pairs))
    except (redis.RedisError, ValueError) as exc:
        # ValueError: a malformed URL; redis-py's message does not echo it.
        raise GitopsError(f"Redis at {redact(redis_url)}: {exc}") from exc


def sentinel(root: str, revision: str) -> dict[str, str]:
    key = f"{root}/{SENTINEL}/customResponseHeaders/{SENTINEL_HEADER}"
    return {key: revision}


def redact(url: str) -> str:
    """``url`` without its password, fit for an error message."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _check_keys(pairs: Mapping[str, str], root: str) -> None:
    for key in pairs:
        if not key.startswith(f"{root}/"):
            raise GitopsError(f"key {key!r} is not under {root}/")


def _sync(
    client: Any, wanted: dict[str, str], root: str, reported: set[str]
) -> PublishReport:
    current = _read_tree(client, root)
    added = sorted(key for key in wanted if key not in current)
    changed = sorted(
        key for key in wanted if key in current and current[key] != wanted[key]
    )
    removed = sorted(key for key in current if key not in wanted)

    if added or changed:
        pipe = client.pipeline(transaction=True)
        for key in [*added, *changed]:
            pipe.set(key, wanted[key])
        pipe.execute()

    if removed:
        client.delete(*removed)

    # The sentinel changes with every revision; it is not routing news.
    return PublishReport(
        [k for k in added if k in reported],
        [k for k in changed if k in reported],
        removed,
    )


def _read_tree(client: Any, root: str) -> dict[str, str]:
    keys = sorted(client.scan_iter(match=f"{_glob_escape(root)}/*", count=500))
    if not keys:
        return {}
    values = client.mget(keys)
    # A key deleted between SCAN and MGET reads as None: treat it as absent.
    return {k: v for k, v in zip(keys, values, strict=True) if v is not None}


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)
