"""Merge layers, and find which layer set each merged value.

Mappings merge key by key; scalars and lists replace; an explicit ``null``
in an overlay deletes the key. The merge never copies what an overlay does
not touch: an unchanged subtree is the base's own object, shared by every
tenant, so merging a small overlay costs the size of the overlay, not of the
base. Nothing downstream may mutate merged data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .parse import Document, Path

_ABSENT: Any = object()


def merge(below: Any, overlay: Any) -> Any:
    """``overlay`` merged over ``below``; neither argument is modified."""
    if not isinstance(overlay, dict):
        return overlay
    if not isinstance(below, dict):
        below = {}

    result = dict(below)
    for key, value in overlay.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge(result.get(key, _ABSENT), value)
    return result


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a merged value was set."""

    file: str
    line: int
    column: int
    layer: str

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Layer:
    """One level of configuration and its parsed documents by config type."""

    name: str
    documents: Mapping[str, Document]


class Provenance:
    """Answers "who set this value" for one tenant's merged config.

    The answer is looked up on demand: the top-most layer whose document has
    the path set it. That holds because a layer that replaces a value
    replaces everything below it, and a deleted value is never asked for.
    Looking up beats recording every value's origin during the merge: most
    values are never asked about.
    """

    def __init__(self, layers: Sequence[Layer]) -> None:
        self.layers = tuple(layers)

    def origin(self, config_type: str, path: Path) -> Origin | None:
        for layer in reversed(self.layers):
            document = layer.documents.get(config_type)
            if document is None:
                continue
            mark = document.marks.get(path)
            if mark is not None:
                return Origin(document.path, mark[0], mark[1], layer.name)
        return None

    def nearest(self, config_type: str, path: Path) -> Origin | None:
        """The origin of ``path`` or of its closest ancestor that has one."""
        for end in range(len(path), -1, -1):
            found = self.origin(config_type, path[:end])
            if found is not None:
                return found
        return None


def merge_layers(layers: Sequence[Layer], config_type: str) -> dict[str, Any] | None:
    """The merged document of one config type; None if no layer has one."""
    merged: Any = _ABSENT
    for layer in layers:
        document = layer.documents.get(config_type)
        if document is not None:
            merged = merge(merged, document.data)
    return None if merged is _ABSENT else merged


def explain(config: Mapping[str, Any], provenance: Provenance) -> dict[str, Any]:
    """Each leaf of ``config`` with the origin that set it, flattened by path.

    Keys are dotted paths (``workflows.workflows.claims_intake.start``); list
    items keep their index as a path step.
    """
    result: dict[str, Any] = {}

    def visit(config_type: str, value: Any, path: Path) -> None:
        if isinstance(value, dict) and value:
            for key, child in value.items():
                visit(config_type, child, (*path, key))
            return
        if isinstance(value, list) and value and _has_containers(value):
            for index, child in enumerate(value):
                visit(config_type, child, (*path, index))
            return
        origin = provenance.nearest(config_type, path)
        dotted = ".".join(str(step) for step in (config_type, *path))
        result[dotted] = {
            "value": value,
            "file": origin.file if origin else None,
            "line": origin.line if origin else None,
            "column": origin.column if origin else None,
            "layer": origin.layer if origin else None,
        }

    for config_type, document in config.items():
        visit(config_type, document, ())
    return result


def _has_containers(items: list[Any]) -> bool:
    return any(isinstance(item, dict | list) for item in items)
