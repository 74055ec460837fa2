"""How a merged config is printed: the same for ``show`` and ``remote show``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import click
import yaml

EXPLAIN_OPTION = click.option(
    "--explain",
    is_flag=True,
    help="Print each value with the file:line:column and layer that set it.",
)
OUTPUT_OPTION = click.option(
    "--output",
    type=click.Choice(["yaml", "json"]),
    default="yaml",
    show_default=True,
)


def dump_config(config: Mapping[str, Any], output: str) -> str:
    """The config as YAML (keys in merge order) or as indented JSON."""
    if output == "json":
        return json.dumps(config, indent=2, ensure_ascii=False) + "\n"
    return yaml.safe_dump(
        dict(config),
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=88,
    )


def explained_text(leaves: Mapping[str, Mapping[str, Any]], output: str) -> str:
    """One line per value with the file:line:column and layer that set it."""
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
