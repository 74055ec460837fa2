"""JSON Schema checks of merged documents, and the platform-owned paths.

Schemas are read from the same source as the config (``schemas/`` at the
revision being validated) and compiled once per distinct content. Errors from
the validator become findings that point at the layer which set the value and
say what would be right, using the schema's own descriptions.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

import jsonschema_rs

from .findings import Finding, error
from .merge import Origin, Provenance
from .parse import Document, Path
from .source import Source

LOCK = "x-overridable"

_compiled: dict[str, Any] = {}


class Schema:
    """One config type's schema: the validator and the raw schema for hints."""

    def __init__(self, config_type: str, path: str, raw: dict[str, Any]) -> None:
        self.config_type = config_type
        self.path = path
        self.raw = raw
        key = hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()
        if key not in _compiled:
            _compiled[key] = jsonschema_rs.Draft202012Validator(raw)
        self.validator = _compiled[key]
        self._locks_below: dict[int, bool] = {}

    def errors(self, data: Any) -> Iterator[Any]:
        return self.validator.iter_errors(data)  # type: ignore[no-any-return]

    def node(self, schema_path: list[str | int]) -> dict[str, Any]:
        """The sub-schema that ``schema_path`` (from an error) leads to."""
        node: Any = self.raw
        for step in schema_path:
            if isinstance(node, dict) and "$ref" in node and step not in node:
                node = self.resolve(node)
            if step == "$ref":
                node = self.resolve(node)
                continue
            try:
                node = node[step]
            except (KeyError, IndexError, TypeError):
                return {}
        return node if isinstance(node, dict) else {}

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        reference = node.get("$ref")
        if not isinstance(reference, str) or not reference.startswith("#/"):
            return node
        target: Any = self.raw
        for step in reference[2:].split("/"):
            target = target.get(step, {}) if isinstance(target, dict) else {}
        return target if isinstance(target, dict) else {}

    def child(self, node: dict[str, Any], step: str | int) -> dict[str, Any] | None:
        """The sub-schema for the value at key or index ``step`` of ``node``."""
        node = self.resolve(node)
        if isinstance(step, int):
            items = node.get("items")
            return self.resolve(items) if isinstance(items, dict) else None
        properties = node.get("properties", {})
        if step in properties:
            return self.resolve(properties[step])
        additional = node.get("additionalProperties")
        return self.resolve(additional) if isinstance(additional, dict) else None

    def locks_below(self, node: dict[str, Any]) -> bool:
        """Whether any sub-schema of ``node`` is platform-owned (memoised)."""
        key = id(node)
        if key not in self._locks_below:
            self._locks_below[key] = False  # a recursive $ref ends here
            node = self.resolve(node)
            found = node.get(LOCK) is False or any(
                self.locks_below(sub) for sub in _sub_schemas(node)
            )
            self._locks_below[key] = found
        return self._locks_below[key]


def _sub_schemas(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for keyword in ("properties", "patternProperties", "$defs"):
        for sub in node.get(keyword, {}).values():
            if isinstance(sub, dict):
                yield sub
    for keyword in ("additionalProperties", "items"):
        sub = node.get(keyword)
        if isinstance(sub, dict):
            yield sub


class SchemaSet:
    """The schemas of every config type, read from ``schemas/`` of a source."""

    def __init__(self, source: Source, config_types: tuple[str, ...]) -> None:
        self.schemas: dict[str, Schema] = {}
        self.findings: list[Finding] = []
        for config_type in config_types:
            schema = self._load(source, config_type)
            if schema is not None:
                self.schemas[config_type] = schema

    def _load(self, source: Source, config_type: str) -> Schema | None:
        path = f"schemas/{config_type}.schema.json"
        if not source.exists(path):
            self.findings.append(
                error(
                    "schema-file",
                    f"{path} is missing; every config type needs its schema",
                    path,
                )
            )
            return None
        try:
            raw = json.loads(source.read(path))
            return Schema(config_type, path, raw)
        except json.JSONDecodeError as exc:
            self.findings.append(
                error(
                    "schema-file",
                    f"not valid JSON: {exc.msg}",
                    path,
                    exc.lineno,
                    exc.colno,
                )
            )
        except (ValueError, jsonschema_rs.ValidationError) as exc:
            self.findings.append(
                error("schema-file", f"not a valid JSON Schema: {exc}", path)
            )
        return None

    def validate(
        self,
        config_type: str,
        data: Any,
        provenance: Provenance,
        fallback: Origin,
        tenant: str | None,
    ) -> list[Finding]:
        """Findings for ``data``, the merged document of ``config_type``."""
        schema = self.schemas.get(config_type)
        if schema is None:
            return []

        findings = []
        for problem in schema.errors(data):
            for path, message in _explain(schema, problem, data):
                origin = provenance.nearest(config_type, path) or fallback
                findings.append(
                    error(
                        "schema",
                        message,
                        origin.file,
                        origin.line,
                        origin.column,
                        tenant,
                    )
                )
        return findings

    def locked(
        self, config_type: str, document: Document, tenant: str | None
    ) -> list[Finding]:
        """Platform-owned values that an overlay ``document`` sets."""
        schema = self.schemas.get(config_type)
        if schema is None or not schema.locks_below(schema.raw):
            return []

        findings: list[Finding] = []
        _find_locked(schema, schema.raw, document.data, (), document, tenant, findings)
        return findings


def _find_locked(
    schema: Schema,
    node: dict[str, Any],
    value: Any,
    path: Path,
    document: Document,
    tenant: str | None,
    findings: list[Finding],
) -> None:
    steps: Iterator[tuple[str | int, Any]]
    if isinstance(value, dict):
        steps = iter(value.items())
    elif isinstance(value, list):
        steps = iter(enumerate(value))
    else:
        return

    for step, child_value in steps:
        child = schema.child(node, step)
        if child is None:
            continue
        child_path = (*path, step)
        if child.get(LOCK) is False:
            line, column = document.marks.get(child_path, (1, 1))
            findings.append(
                error(
                    "locked-path",
                    f"{_dotted(child_path)} is owned by the platform and set only "
                    "in base/; remove it from this file (ask the platform team "
                    "if the tenant needs a different value)",
                    document.path,
                    line,
                    column,
                    tenant,
                )
            )
        elif schema.locks_below(child):
            _find_locked(
                schema, child, child_value, child_path, document, tenant, findings
            )


def _dotted(path: Path) -> str:
    return ".".join(str(step) for step in path) or "the document"


def _explain(schema: Schema, problem: Any, data: Any) -> Iterator[tuple[Path, str]]:
    """(path, message) pairs for one validator error, in words for the editor."""
    path: Path = tuple(problem.instance_path)
    kind = problem.kind
    name = type(kind).__name__
    where = _dotted(path)
    node = schema.node(list(problem.schema_path)[:-1])

    if name == "AdditionalProperties":
        allowed = sorted(node.get("properties", {}))
        for key in kind.unexpected:
            yield (*path, key), _unknown_key(where, key, allowed)
        return

    if name == "Required":
        prop = kind.property
        hint = _description(schema.child(node, prop))
        yield path, f"{where} is missing the required key '{prop}'{hint}"
        return

    if name == "Enum":
        options = ", ".join(json.dumps(option) for option in kind.options)
        value = _value_at(data, path)
        suggestion = _closest(str(value), [str(option) for option in kind.options])
        yield path, f"{where}: {json.dumps(value)} is not one of {options}{suggestion}"
        return

    if name == "PropertyNames":
        bad = _bad_property_names(schema, node, _value_at(data, path))
        hint = _description(node.get("propertyNames"))
        for key in bad:
            yield (*path, key), f"{where}: '{key}' is not a valid name{hint}"
        if bad:
            return

    hint = _description(node)
    yield path, f"{where}: {problem.message}{hint}"


def _value_at(data: Any, path: Path) -> Any:
    for step in path:
        data = data[step]
    return data


def _bad_property_names(schema: Schema, node: dict[str, Any], value: Any) -> list[str]:
    names = node.get("propertyNames")
    if not isinstance(names, dict) or not isinstance(value, dict):
        return []
    validator = jsonschema_rs.Draft202012Validator(names)
    return [key for key in value if not validator.is_valid(key)]


def _unknown_key(where: str, key: str, allowed: list[str]) -> str:
    message = f"{where}: unknown key '{key}'"
    suggestion = _closest(key, allowed)
    if suggestion:
        return message + suggestion
    if allowed:
        return message + f"; the keys allowed here are: {', '.join(allowed)}"
    return message


def _closest(word: str, options: list[str]) -> str:
    matches = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean '{matches[0]}'?)" if matches else ""


def _description(node: Mapping[str, Any] | None) -> str:
    if not node:
        return ""
    text = node.get("description")
    return f" ({text.rstrip('.')})" if isinstance(text, str) and text else ""
