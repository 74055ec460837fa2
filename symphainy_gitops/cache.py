"""Tenants' plans and claims, remembered between runs in the git folder.

An incremental run validates a few tenants but compares host and prefix
claims across all of them; reading ten thousand tenant.yaml files for that
costs more than the rest of the run. An identity depends only on the
tenant's tenant.yaml and on base/ (platform.yaml, base and plan tenant
defaults), so it is stored under the tree id of the tenant's folder and the
content id of its tenant.yaml, and is thrown away whole when base/ changes.
Deleting the folder is always safe.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

import pygit2

from .claims import ClaimIndex
from .layout import BASE, TENANTS
from .merge import Origin
from .pipeline import Identity, Pipeline
from .source import GitSource

FOLDER = "symphainy-gitops"
FILE = "identities-v2.json"

# An entry: [folder tree id, tenant.yaml blob id, plan, claim rows].
_FOLDER, _BLOB, _PLAN, _CLAIMS = range(4)


class IdentityCache:
    """tenant id → its entry, for one base/ tree."""

    def __init__(self, path: Path, base: str | None) -> None:
        self.path = path
        self.base = base
        self.entries: dict[str, list[Any]] = {}
        self.dirty = False
        self._load()

    @classmethod
    def of(cls, repo: pygit2.Repository, base: str | None) -> IdentityCache:
        return cls(Path(repo.path) / FOLDER / FILE, base)

    def _load(self) -> None:
        try:
            stored = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return
        if isinstance(stored, dict) and stored.get("base") == self.base:
            entries = stored.get("tenants")
            self.entries = entries if isinstance(entries, dict) else {}

    def get(self, tenant_id: str) -> list[Any] | None:
        entry = self.entries.get(tenant_id)
        return entry if isinstance(entry, list) and len(entry) == 4 else None

    def put(
        self, tenant_id: str, folder: str | None, blob: str | None, identity: Identity
    ) -> list[Any]:
        rows = [[c.kind, c.value, *_origin(c.origin)] for c in identity.claims]
        entry = self.entries[tenant_id] = [folder, blob, identity.plan, rows]
        self.dirty = True
        return entry

    def save(self) -> None:
        """Write the cache atomically; a failure only costs the next run time."""
        if not self.dirty or self.base is None:
            return
        document = {"base": self.base, "tenants": self.entries}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
            with os.fdopen(handle, "w") as out:
                json.dump(document, out, separators=(",", ":"))
            os.replace(temporary, self.path)
        except OSError:
            return
        self.dirty = False


class RevisionIdentities:
    """The plans and claims of one revision's tenants, cached where possible.

    An entry holds while the tenant's folder keeps its tree id, which one
    pass over tenants/ gives for every tenant, or else while its tenant.yaml
    keeps its blob id. Only a miss reads the file, through a pipeline of the
    revision that is built on the first miss.
    """

    def __init__(self, repo: pygit2.Repository, source: GitSource) -> None:
        self.source = source
        self.cache = IdentityCache.of(repo, source.tree_id(BASE))
        self.folders = source.folder_ids(TENANTS)
        self._pipeline: Pipeline | None = None

    @property
    def pipeline(self) -> Pipeline:
        """A pipeline over the revision, for what the cache cannot answer."""
        if self._pipeline is None:
            self._pipeline = Pipeline(self.source)
        return self._pipeline

    @property
    def tenant_ids(self) -> Collection[str]:
        return self.folders.keys()

    def plan(self, tenant_id: str) -> str | None:
        plan = self._entry(tenant_id)[_PLAN]
        return plan if isinstance(plan, str) else None

    def add_claims(self, tenant_ids: Iterable[str], index: ClaimIndex) -> None:
        for tenant_id in tenant_ids:
            index.add_rows(tenant_id, self._entry(tenant_id)[_CLAIMS])

    def save(self) -> None:
        self.cache.save()

    def _entry(self, tenant_id: str) -> list[Any]:
        folder = self.folders.get(tenant_id)
        entry = self.cache.get(tenant_id)
        if entry is not None and folder is not None and entry[_FOLDER] == folder:
            return entry

        # The folder changed, perhaps in another file: tenant.yaml decides.
        blob = self.source.blob_id(f"{TENANTS}/{tenant_id}/tenant.yaml")
        if entry is not None and blob is not None and entry[_BLOB] == blob:
            entry[_FOLDER] = folder
            self.cache.dirty = True
            return entry
        identity = self.pipeline.identity(tenant_id)
        return self.cache.put(tenant_id, folder, blob, identity)


def _origin(origin: Origin) -> list[Any]:
    return [origin.file, origin.line, origin.column, origin.layer]
