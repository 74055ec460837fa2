"""Findings as text for people, JSON for tools, and GitHub workflow commands."""

from __future__ import annotations

import json
from collections.abc import Iterable

from .findings import Finding, Severity
from .pipeline import Result

FORMATS = ("text", "json", "github")


def text(result: Result) -> str:
    lines = [
        f"{finding.location}: {finding.severity}[{finding.code}] {finding.message}"
        for finding in result.findings
    ]
    lines.append(_summary(result))
    return "\n".join(lines) + "\n"


def _summary(result: Result) -> str:
    tenants = len(result.tenants)
    checked = f"{tenants} tenant{'s' if tenants != 1 else ''}"
    if not result.findings:
        return f"ok: {checked} valid"
    return (
        f"{_count(result.errors, 'error')}, {_count(result.warnings, 'warning')} "
        f"in {checked}"
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' if number != 1 else ''}"


def as_json(result: Result) -> str:
    document = {
        "valid": result.errors == 0,
        "errors": result.errors,
        "warnings": result.warnings,
        "tenants": list(result.tenants),
        "findings": [_finding_json(finding) for finding in result.findings],
    }
    return json.dumps(document, indent=2) + "\n"


def _finding_json(finding: Finding) -> dict[str, object]:
    return {
        "code": finding.code,
        "severity": str(finding.severity),
        "message": finding.message,
        "file": finding.file,
        "line": finding.line,
        "column": finding.column,
        "tenant": finding.tenant,
    }


def github(result: Result) -> str:
    """Workflow commands: a pull request shows each finding on its line."""
    lines = [_annotation(finding) for finding in result.findings]
    lines.append(_summary(result))
    return "\n".join(lines) + "\n"


def _annotation(finding: Finding) -> str:
    level = "error" if finding.severity is Severity.ERROR else "warning"
    properties = ",".join(
        f"{name}={_escape_property(value)}"
        for name, value in (
            ("file", finding.file),
            ("line", str(finding.line)),
            ("col", str(finding.column)),
            ("title", finding.code),
        )
    )
    return f"::{level} {properties}::{_escape_data(finding.message)}"


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def render(result: Result, fmt: str) -> str:
    return {"text": text, "json": as_json, "github": github}[fmt](result)


def failed(findings: Iterable[Finding], strict: bool) -> bool:
    """Whether findings fail the run: errors always, warnings when strict."""
    return any(f.severity is Severity.ERROR or strict for f in findings)
