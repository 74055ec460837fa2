"""A snapshot: every tenant's merged, validated config at one revision.

The HTTP app serves snapshots and never a config that failed validation, so
building one either succeeds whole or raises ``SnapshotRejected`` with the
findings. A snapshot is immutable once built; a reload builds a new one and
swaps it in.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .claims import tenant_prefix
from .errors import GitopsError
from .findings import Finding
from .pipeline import Pipeline, Result, TenantConfig
from .source import Source


class SnapshotRejected(GitopsError):
    """The revision has findings of severity error; nothing of it is served."""

    def __init__(self, label: str, result: Result) -> None:
        self.label = label
        self.result = result
        errors = [f for f in result.findings if f.severity == "error"]
        first = "; ".join(f"{f.location}: {f.message}" for f in errors[:3])
        super().__init__(
            f"{label[:12]} does not validate ({result.errors} errors): {first}"
        )

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.result.findings


@dataclass(frozen=True, slots=True)
class Snapshot:
    commit: str | None
    label: str
    loaded_at: float
    platform: Mapping[str, Any]
    tenants: Mapping[str, TenantConfig]
    hosts: Mapping[str, str] = field(default_factory=dict)
    prefixes: Mapping[str, str] = field(default_factory=dict)

    def tenant_for(self, host: str, path: str) -> str | None:
        """The tenant a request for ``host`` and ``path`` is routed to, if any.

        ``host`` must already be lower-cased and stripped of its port. On the
        platform host the tenant comes from the path prefix, which must end at
        a segment boundary: ``/t/acme`` matches ``/t/acme`` and ``/t/acme/x``,
        never ``/t/acme-evil``.
        """
        if host in self.hosts:
            return self.hosts[host]
        if host != str(self.platform.get("host", "")).lower():
            return None
        path = path.split("?", 1)[0]
        for prefix, tenant_id in self.prefixes.items():
            if path == prefix or path.startswith(prefix + "/"):
                return tenant_id
        return None


def build_snapshot(source: Source) -> Snapshot:
    """Validate every tenant of ``source`` and keep their merged configs."""
    pipeline = Pipeline(source)
    tenants: dict[str, TenantConfig] = {}
    result = pipeline.run(keep=tenants)
    if result.errors:
        raise SnapshotRejected(source.label, result)

    hosts: dict[str, str] = {}
    prefixes: dict[str, str] = {}
    for tenant_id, tenant in sorted(tenants.items()):
        for host in tenant.tenant.get("domains") or []:
            hosts[str(host).lower()] = tenant_id
        prefix = tenant_prefix(tenant.tenant, pipeline.platform)
        if prefix is not None:
            prefixes[prefix] = tenant_id

    return Snapshot(
        commit=source.commit,
        label=source.label,
        loaded_at=time.time(),
        platform=pipeline.platform,
        tenants=tenants,
        hosts=hosts,
        prefixes=dict(sorted(prefixes.items(), key=lambda item: -len(item[0]))),
    )
