"""Traefik's key/value layout of a dynamic config (Redis, Consul, etcd).

``{"http": {"routers": {"r": {"rule": "Host(`a`)"}}}}`` becomes
``traefik/http/routers/r/rule = Host(`a`)``; list items are numbered
(``.../entryPoints/0``), booleans are ``true``/``false`` and numbers are
their decimal text.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


def to_kv(dynamic: Mapping[str, Any], root: str = "traefik") -> dict[str, str]:
    """Flatten ``dynamic`` into sorted ``key -> value`` pairs under ``root``."""
    return dict(sorted(_pairs(dynamic, root.strip("/"))))


def _pairs(value: Any, key: str) -> Iterator[tuple[str, str]]:
    # Empty lists and mappings produce no key: KV stores hold only leaves,
    # and for the options we render an absent key means the same as empty.
    if isinstance(value, Mapping):
        for name, item in value.items():
            yield from _pairs(item, f"{key}/{_segment(name)}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _pairs(item, f"{key}/{index}")
    else:
        yield key, _scalar(value, key)


def _segment(name: Any) -> str:
    text = str(name)
    if not text or "/" in text:
        raise ValueError(f"cannot use {text!r} as a key segment")
    return text


def _scalar(value: Any, key: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise ValueError(f"{key}: cannot store a {type(value).__name__} value")
