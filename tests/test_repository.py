"""This repository's own config: valid, rendered, and friendly to editors."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from symphainy_gitops.cli import cli
from symphainy_gitops.layout import SCHEMA_TYPES

ROOT = Path(__file__).resolve().parent.parent
YAML_FILES = sorted([*ROOT.glob("base/**/*.yaml"), *ROOT.glob("tenants/**/*.yaml")])
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")


def test_repository_validates_strictly() -> None:
    result = CliRunner().invoke(cli, ["--repo", str(ROOT), "validate", "--strict"])

    assert result.exit_code == 0, result.output


def test_committed_traefik_output_is_current() -> None:
    result = CliRunner().invoke(cli, ["--repo", str(ROOT), "render", "--check"])

    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_yaml_file_names_its_schema_on_line_one(path: Path) -> None:
    first = path.read_text().splitlines()[0]

    match = MODELINE.match(first)
    assert match, f"{path}: line 1 must be the yaml-language-server modeline"
    schema = (path.parent / match.group(1)).resolve()
    assert schema.is_file()
    assert schema.name == f"{path.stem}.schema.json"


def _walk(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if not isinstance(node, dict):
        return
    yield where, node
    for keyword in ("properties", "$defs", "patternProperties"):
        for name, child in node.get(keyword, {}).items():
            yield from _walk(child, f"{where}/{keyword}/{name}")
    for keyword in ("additionalProperties", "items", "propertyNames"):
        yield from _walk(node.get(keyword), f"{where}/{keyword}")
    # "if" only tests a condition; its properties are not definitions.
    for keyword in ("then", "else"):
        yield from _walk(node.get(keyword), f"{where}/{keyword}")


@pytest.mark.parametrize("config_type", SCHEMA_TYPES)
def test_schemas_are_valid_and_describe_every_property(config_type: str) -> None:
    schema = json.loads((ROOT / "schemas" / f"{config_type}.schema.json").read_text())

    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    for where, node in _walk(schema, "#"):
        for name, child in node.get("properties", {}).items():
            assert "description" in child, f"{where}/properties/{name}"
        if node.get("properties") and "additionalProperties" not in node:
            raise AssertionError(f"{where}: set additionalProperties")
