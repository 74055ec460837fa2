"""Tenants' plans and claims, remembered between runs in the git folder.

An incremental run validates a few tenants but compares host and prefix
claims across all of them; reading ten thousand tenant.yaml files for that
costs more than the rest of the run. An identity depends only on the
tenant's tenant.yaml and on base/ (platform.yaml, base and plan tenant
defaults), so it is stored under the content id of that file and is thrown
away whole when base/ changes. Deleting the folder is always safe.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pygit2

from .claims import Claim
from .merge import Origin
from .pipeline import Identity

FOLDER = "symphainy-gitops"
FILE = "identities-v1.json"


class IdentityCache:
    """tenant id → (content id of its tenant.yaml, identity), for one base/."""

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

    def get(self, tenant_id: str, content_id: str) -> Identity | None:
        entry = self.entries.get(tenant_id)
        if not entry or entry[0] != content_id:
            return None
        _, plan, claims = entry
        return Identity(
            plan,
            tuple(
                Claim(kind, value, tenant_id, Origin(file, line, column, layer))
                for kind, value, file, line, column, layer in claims
            ),
        )

    def put(self, tenant_id: str, content_id: str, identity: Identity) -> None:
        self.entries[tenant_id] = [
            content_id,
            identity.plan,
            [[c.kind, c.value, *_origin(c.origin)] for c in identity.claims],
        ]
        self.dirty = True

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


def _origin(origin: Origin) -> list[Any]:
    return [origin.file, origin.line, origin.column, origin.layer]
