"""Data-driven cases: each folder under examples/ is a change to this repository.

A negative case declares the findings it must produce (code and file:line);
a positive case must validate clean. Each case is applied to a fresh copy of
the repository's own config, so the cases stay small and the example tenants
are the fixtures.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from symphainy_gitops.cli import cli

from .conftest import copy_content

EXAMPLES = Path(__file__).parent / "examples"
NEGATIVE = sorted(p for p in (EXAMPLES / "negative").iterdir() if p.is_dir())
POSITIVE = sorted(p for p in (EXAMPLES / "positive").iterdir() if p.is_dir())


def apply_case(case: Path, root: Path) -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load((case / "case.yaml").read_text())
    copy_content(root)

    files = case / "files"
    if files.is_dir():
        for source in sorted(files.rglob("*")):
            if source.is_file():
                target = root / source.relative_to(files)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(source.read_bytes())
    for relative in spec.get("remove", []):
        (root / relative).unlink()
    for relative, target in spec.get("symlinks", {}).items():
        link = root / relative
        link.unlink(missing_ok=True)
        link.symlink_to(target)
    for relative, size in spec.get("generate", {}).items():
        line = b"key: value\n"
        (root / relative).write_bytes(line * (size // len(line) + 1))
    return spec


def run_validate(root: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(
        cli, ["--repo", str(root), "validate", "--format", "json", *extra]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.output
    )
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.parametrize("case", NEGATIVE, ids=lambda p: p.name)
def test_negative_example(case: Path, tmp_path: Path) -> None:
    spec = apply_case(case, tmp_path / "repo")
    strict = ["--strict"] if spec.get("strict") else []

    code, report = run_validate(tmp_path / "repo", *strict)

    assert code == 1, report
    found = {(f["code"], f["file"], f["line"]) for f in report["findings"]}
    for expected in spec["expect"]:
        matches = {
            item
            for item in found
            if item[:2] == (expected["code"], expected["file"])
            and expected.get("line") in (None, item[2])
        }
        assert matches, f"{expected} not among {sorted(found)}"
    expected_codes = {expected["code"] for expected in spec["expect"]}
    assert {item[0] for item in found} == expected_codes, sorted(found)


@pytest.mark.parametrize("case", POSITIVE, ids=lambda p: p.name)
def test_positive_example(case: Path, tmp_path: Path) -> None:
    apply_case(case, tmp_path / "repo")

    code, report = run_validate(tmp_path / "repo", "--strict")

    assert (code, report["findings"]) == (0, [])


def test_every_finding_names_what_would_be_right(tmp_path: Path) -> None:
    """Messages are written for the person fixing the file, not one-word codes."""
    for case in NEGATIVE:
        root = tmp_path / case.name
        apply_case(case, root)
        _, report = run_validate(root, "--strict")
        for finding in report["findings"]:
            assert len(finding["message"].split()) >= 6, finding
            assert finding["line"] >= 1, finding
            assert finding["column"] >= 1, finding
