"""Findings: what validation reports, each with a stable code and a location."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


# The stable codes and what each one means. Tools and people filter on these,
# so a code is never renamed; a new rule gets a new code.
CODES: dict[str, str] = {
    "yaml-syntax": "the file is not well-formed YAML",
    "yaml-duplicate-key": "a mapping names the same key twice",
    "yaml-tag": "a tag outside the YAML 1.2 core schema, or a value its tag rejects",
    "yaml-key": "a key that is not a plain scalar, or a '<<' merge key",
    "yaml-limit": "a file over the size, depth, node or alias limits",
    "yaml-root": "a document whose top level is not a mapping",
    "file-unknown": "a file or folder that is not part of the layout",
    "file-symlink": "a symbolic link, which could point outside the repository",
    "file-missing": "a required file is missing",
    "schema-file": "a JSON Schema file that cannot be read",
    "schema": "a merged value that its JSON Schema rejects",
    "locked-path": "a plan or tenant sets a platform-owned value",
    "plan-unknown": "a tenant names a plan that has no folder under base/plans/",
    "tenant-id-mismatch": "a tenant's id differs from its folder name",
    "ref-unknown": "a reference to something the tenant's config does not define",
    "ref-cycle": "role inheritance or workflow steps that form a cycle",
    "workflow-unreachable": "a workflow step that no path from the start reaches",
    "host-conflict": "a host claimed by two tenants, or by a tenant and the platform",
    "prefix-conflict": "a path prefix that overlaps another tenant's or the platform's",
    "secret-plaintext": "a token, password or private key written in clear",
    "render-unsafe": "a value that cannot be rendered into Traefik config safely",
}


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    severity: Severity
    message: str
    file: str
    line: int
    column: int
    tenant: str | None = None

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.file, self.line, self.column, self.code, self.message)


def error(
    code: str,
    message: str,
    file: str,
    line: int = 1,
    column: int = 1,
    tenant: str | None = None,
) -> Finding:
    return _finding(Severity.ERROR, code, message, file, line, column, tenant)


def warning(
    code: str,
    message: str,
    file: str,
    line: int = 1,
    column: int = 1,
    tenant: str | None = None,
) -> Finding:
    return _finding(Severity.WARNING, code, message, file, line, column, tenant)


def _finding(
    severity: Severity,
    code: str,
    message: str,
    file: str,
    line: int,
    column: int,
    tenant: str | None,
) -> Finding:
    # A code that is not in CODES would be a code nobody can look up.
    assert code in CODES, code
    return Finding(code, severity, message, file, line, column, tenant)
