"""The repository's layout: which files exist, at which layer, of which type.

``ConfigTree`` reads base/, the plans and the schemas of one source once, and
reads a tenant's folder when asked, so a run over ten thousand tenants holds
one tenant's documents at a time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from .findings import Finding, error
from .merge import Layer
from .parse import MAX_FILE_BYTES, Document, parse_document, too_large
from .secrets import plaintext_secrets
from .source import Entry, FileTooLarge, Kind, Source

PLATFORM = "platform"
CONFIG_TYPES = (
    "tenant",
    "domain_models",
    "workflows",
    "dashboards",
    "ingestion_endpoints",
    "user_management",
    "ai_agent_personas",
)
SCHEMA_TYPES = (PLATFORM, *CONFIG_TYPES)

BASE = "base"
PLANS = "base/plans"
TENANTS = "tenants"
SCHEMAS = "schemas"

TENANT_ID = re.compile(r"^[a-z][a-z0-9-]{1,61}[a-z0-9]$")


def base_layer_name() -> str:
    return "base"


def plan_layer_name(plan: str) -> str:
    return f"plan:{plan}"


def tenant_layer_name(tenant_id: str) -> str:
    return f"tenant:{tenant_id}"


def config_file(config_type: str) -> str:
    return f"{config_type}.yaml"


_TYPE_OF_FILE = {config_file(name): name for name in CONFIG_TYPES}


class ConfigTree:
    """One version of the config repository, read through a ``Source``."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.findings: list[Finding] = []

        base_entries = self._list_required(BASE)
        self.platform = self._platform(base_entries)
        self.base = Layer(
            base_layer_name(),
            self._documents(BASE, base_entries, extra={"platform.yaml", "plans"}),
        )
        self.plans = dict(self._plans())
        self.tenant_ids = self._tenant_ids()

    @property
    def platform_data(self) -> dict[str, Any]:
        return self.platform.data if self.platform is not None else {}

    def _list_required(self, folder: str) -> list[Entry]:
        entries = self.source.list(folder)
        if entries is None:
            self.findings.append(
                error(
                    "file-missing",
                    f"the folder {folder}/ is missing; every config repository "
                    "has base/, tenants/ and schemas/",
                    f"{folder}/",
                )
            )
            return []
        return entries

    def _platform(self, entries: list[Entry]) -> Document | None:
        found = [entry for entry in entries if entry.name == "platform.yaml"]
        if not found:
            self.findings.append(
                error(
                    "file-missing",
                    "base/platform.yaml is missing; it holds the platform host, "
                    "services and auth settings that every tenant needs",
                    "base/platform.yaml",
                )
            )
            return None
        return self._read(f"{BASE}/platform.yaml", found[0])

    def _plans(self) -> Iterator[tuple[str, Layer]]:
        entries = self.source.list(PLANS) or []
        for entry in entries:
            path = f"{PLANS}/{entry.name}"
            if not self._is_folder(path, entry, "a plan"):
                continue
            if not TENANT_ID.match(entry.name):
                self.findings.append(
                    error(
                        "file-unknown",
                        f"plan folder '{entry.name}' is not a valid plan name: use "
                        "lowercase letters, digits and '-', 3 to 63 characters",
                        f"{path}/",
                    )
                )
                continue
            documents = self._documents(path, self.source.list(path) or [])
            yield entry.name, Layer(plan_layer_name(entry.name), documents)

    def _tenant_ids(self) -> list[str]:
        ids = []
        for entry in self._list_required(TENANTS):
            path = f"{TENANTS}/{entry.name}"
            if self._is_folder(path, entry, "a tenant"):
                ids.append(entry.name)
        return ids

    def _is_folder(self, path: str, entry: Entry, what: str) -> bool:
        if entry.kind is Kind.DIR:
            return True
        if entry.kind is Kind.SYMLINK:
            self.findings.append(_symlink(path))
        else:
            self.findings.append(
                error(
                    "file-unknown",
                    f"{path} is not a folder; each entry here is {what} folder",
                    path,
                )
            )
        return False

    def tenant_documents(
        self, tenant_id: str
    ) -> tuple[dict[str, Document], list[Finding]]:
        """The parsed files of one tenant's folder, and the findings in them."""
        folder = f"{TENANTS}/{tenant_id}"
        findings: list[Finding] = []
        entries = self.source.list(folder) or []
        documents = self._documents(folder, entries, findings=findings)
        findings = [replace(finding, tenant=tenant_id) for finding in findings]
        if not any(entry.name == "tenant.yaml" for entry in entries):
            findings.append(
                error(
                    "file-missing",
                    f"{folder}/tenant.yaml is missing; every tenant folder needs "
                    "one with at least the tenant's id and name",
                    f"{folder}/tenant.yaml",
                    tenant=tenant_id,
                )
            )
        return documents, findings

    def _documents(
        self,
        folder: str,
        entries: list[Entry],
        extra: set[str] | None = None,
        findings: list[Finding] | None = None,
    ) -> dict[str, Document]:
        sink = self.findings if findings is None else findings
        documents = {}
        for entry in entries:
            path = f"{folder}/{entry.name}"
            config_type = _TYPE_OF_FILE.get(entry.name)
            if extra and entry.name in extra:
                continue
            if config_type is None:
                sink.append(_unknown_file(path, entry))
                continue
            document = self._read(path, entry, sink)
            if document is not None:
                documents[config_type] = document
        return documents

    def _read(
        self, path: str, entry: Entry, sink: list[Finding] | None = None
    ) -> Document | None:
        sink = self.findings if sink is None else sink
        if entry.kind is Kind.SYMLINK:
            sink.append(_symlink(path))
            return None
        if entry.kind is not Kind.FILE:
            sink.append(_unknown_file(path, entry))
            return None

        try:
            content = self.source.read(path, limit=MAX_FILE_BYTES)
        except FileTooLarge as refused:
            sink.append(too_large(path, refused.size))
            return None
        document, findings = parse_document(path, content)
        sink.extend(findings)
        if document is not None:
            sink.extend(plaintext_secrets(document, content))
        return document


def _symlink(path: str) -> Finding:
    return error(
        "file-symlink",
        f"{path} is a symbolic link; config files must be real files inside the "
        "repository (copy the file, or move shared values to base/ or a plan)",
        path,
    )


def _unknown_file(path: str, entry: Entry) -> Finding:
    name = entry.name
    if entry.kind is Kind.DIR:
        hint = "folders are only allowed as base/plans/<plan>/ and tenants/<id>/"
    elif name.endswith(".yml") and name[:-4] + ".yaml" in _TYPE_OF_FILE:
        hint = f"rename it to {name[:-4]}.yaml"
    else:
        known = ", ".join(sorted(_TYPE_OF_FILE))
        hint = f"the files a layer may hold are: {known}"
    return error("file-unknown", f"{path} is not a known config file; {hint}", path)
