"""Hosts and path prefixes: who routes what, and where two claims collide.

The gateway sends a request to one tenant by its host, or by its path prefix
on the platform host. A host claimed twice, or a prefix that overlaps
another at a segment boundary (``/a`` and ``/a/b``), would send one tenant's
traffic to another, so both are errors on every claimant.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .findings import Finding, error
from .merge import Origin

PLATFORM_OWNER = "the platform"


@dataclass(frozen=True, slots=True)
class Claim:
    kind: str  # "host" or "prefix"
    value: str
    owner: str  # a tenant id, or PLATFORM_OWNER
    origin: Origin


def tenant_prefix(tenant: Mapping[str, Any], platform: Mapping[str, Any]) -> str | None:
    """The path prefix that routes to this tenant, or None if it has none."""
    routing = tenant.get("routing")
    routing = routing if isinstance(routing, dict) else {}
    if routing.get("prefix_routing") is False:
        return None
    prefix = routing.get("path_prefix")
    if isinstance(prefix, str):
        return prefix.rstrip("/") or "/"
    root = str(platform.get("tenant_path_prefix", "")).rstrip("/")
    return f"{root}/{tenant.get('id')}"


def platform_claims(platform: Mapping[str, Any], origin_of: Any) -> list[Claim]:
    claims = []
    host = platform.get("host")
    if isinstance(host, str):
        claims.append(Claim("host", host.lower(), PLATFORM_OWNER, origin_of(("host",))))
    config_api = platform.get("config_api")
    api_host = config_api.get("host") if isinstance(config_api, dict) else None
    if isinstance(api_host, str):
        origin = origin_of(("config_api", "host"))
        claims.append(Claim("host", api_host.lower(), PLATFORM_OWNER, origin))
    reserved = platform.get("reserved_paths")
    for index, path in enumerate(reserved if isinstance(reserved, list) else []):
        if isinstance(path, str):
            origin = origin_of(("reserved_paths", index))
            claims.append(
                Claim("prefix", path.rstrip("/") or "/", PLATFORM_OWNER, origin)
            )
    return claims


def conflicts(claims: Iterable[Claim]) -> list[Finding]:
    """One finding per claim that collides with another owner's claim."""
    hosts: dict[str, list[Claim]] = defaultdict(list)
    prefixes: dict[str, list[Claim]] = defaultdict(list)
    for claim in claims:
        (hosts if claim.kind == "host" else prefixes)[claim.value].append(claim)

    findings: list[Finding] = []
    for host, holders in hosts.items():
        findings.extend(_clashes(holders, f"host '{host}'", "host-conflict"))

    for prefix, holders in prefixes.items():
        findings.extend(_clashes(holders, f"path prefix '{prefix}'", "prefix-conflict"))
        for ancestor in _ancestors(prefix):
            for outer in prefixes.get(ancestor, []):
                for inner in holders:
                    if outer.owner != inner.owner:
                        findings.extend(_nested(outer, inner))

    # The platform's own claims are never the ones to move.
    return [finding for finding in findings if finding.tenant is not None]


def _clashes(holders: list[Claim], what: str, code: str) -> Iterable[Finding]:
    owners = {claim.owner for claim in holders}
    if len(owners) < 2:
        return
    for claim in holders:
        others = sorted(
            f"{other.owner} ({other.origin.location})"
            for other in holders
            if other.owner != claim.owner
        )
        yield _finding(
            code,
            claim,
            f"{what} is also claimed by {', '.join(others)}; each host and prefix "
            "routes to exactly one tenant, so choose another",
        )


def _nested(outer: Claim, inner: Claim) -> Iterable[Finding]:
    yield _finding(
        "prefix-conflict",
        outer,
        f"path prefix '{outer.value}' contains '{inner.value}' of {inner.owner} "
        f"({inner.origin.location}); prefixes must not nest, so choose another",
    )
    yield _finding(
        "prefix-conflict",
        inner,
        f"path prefix '{inner.value}' lies inside '{outer.value}' of {outer.owner} "
        f"({outer.origin.location}); prefixes must not nest, so choose another",
    )


def _finding(code: str, claim: Claim, message: str) -> Finding:
    tenant = None if claim.owner == PLATFORM_OWNER else claim.owner
    origin = claim.origin
    return error(code, message, origin.file, origin.line, origin.column, tenant)


def _ancestors(prefix: str) -> Iterable[str]:
    parts = prefix.strip("/").split("/")
    for end in range(len(parts) - 1, 0, -1):
        yield "/" + "/".join(parts[:end])
    if prefix != "/":
        yield "/"
