"""Hosts and path prefixes: who routes what, and where two claims collide.

The gateway sends a request to one tenant by its host, or by its path prefix
on the platform host. A host claimed twice, or a prefix that overlaps
another at a segment boundary (``/a`` and ``/a/b``), would send one tenant's
traffic to another, so both are errors on every claimant.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
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


# A claim as the identity cache keeps it: kind, value, file, line, column and
# layer; its owner is the tenant the cache files it under.
ClaimRow = Sequence[Any]

_Held = tuple[str, Claim | ClaimRow]


class ClaimIndex:
    """Every claim by host and by prefix, to find the collisions of a few.

    A run that validates some tenants must still compare their claims with
    everyone's, but only their own findings are reported, so each checked
    claim looks up its host, its ancestors and its descendants instead of
    every pair being compared. Claims of the other tenants may arrive as
    cache rows and become ``Claim`` objects only when they collide: building
    ten thousand of them costs more than the lookups.
    """

    def __init__(self, claims: Iterable[Claim] = ()) -> None:
        self._hosts: dict[str, list[_Held]] = {}
        self._prefixes: dict[str, list[_Held]] = {}
        self._normalized: list[tuple[str, str]] | None = None
        self.add(claims)

    def add(self, claims: Iterable[Claim]) -> None:
        for claim in claims:
            table = self._hosts if claim.kind == "host" else self._prefixes
            table.setdefault(claim.value, []).append((claim.owner, claim))
        self._normalized = None

    def add_rows(self, owner: str, rows: Iterable[ClaimRow]) -> None:
        hosts, prefixes = self._hosts, self._prefixes
        for row in rows:
            table = hosts if row[0] == "host" else prefixes
            table.setdefault(row[1], []).append((owner, row))
        self._normalized = None

    def conflicts(self, claims: Iterable[Claim]) -> list[Finding]:
        """One finding per collision of each of ``claims`` (already added)
        with another owner's claim; none for the platform's own claims."""
        findings: list[Finding] = []
        for claim in claims:
            if claim.owner == PLATFORM_OWNER:
                continue  # The platform's own claims are never the ones to move.
            if claim.kind == "host":
                holders = self._hosts.get(claim.value, [])
                what, code = f"host '{claim.value}'", "host-conflict"
            else:
                holders = self._prefixes.get(claim.value, [])
                what, code = f"path prefix '{claim.value}'", "prefix-conflict"
            findings.extend(_clash(claim, holders, what, code))
            if claim.kind != "host":
                findings.extend(self._nesting(claim))
        return findings

    def _nesting(self, claim: Claim) -> Iterable[Finding]:
        for ancestor in _ancestors(claim.value):
            for owner, held in self._prefixes.get(ancestor, []):
                if owner != claim.owner:
                    yield _inside(claim, _claim(owner, held))
        for value in self._descendants(claim.value):
            for owner, held in self._prefixes[value]:
                if owner != claim.owner:
                    yield _contains(claim, _claim(owner, held))

    def _descendants(self, prefix: str) -> Iterable[str]:
        """The claimed prefixes that have ``prefix`` among their ancestors."""
        if prefix == "/":
            yield from (value for value in self._prefixes if value != "/")
            return
        # A prefix's ancestors are the parts of "/" + its stripped value that
        # end before a "/", so its descendants share a sorted range.
        if self._normalized is None:
            self._normalized = sorted(
                ("/" + value.strip("/"), value) for value in self._prefixes
            )
        start = prefix + "/"
        index = bisect_left(self._normalized, (start, ""))
        for normalized, value in self._normalized[index:]:
            if not normalized.startswith(start):
                return
            yield value


def _claim(owner: str, held: Claim | ClaimRow) -> Claim:
    if isinstance(held, Claim):
        return held
    kind, value, file, line, column, layer = held
    return Claim(kind, value, owner, Origin(file, line, column, layer))


def _clash(
    claim: Claim, holders: list[_Held], what: str, code: str
) -> Iterable[Finding]:
    others = sorted(
        f"{owner} ({_claim(owner, held).origin.location})"
        for owner, held in holders
        if owner != claim.owner
    )
    if others:
        yield _finding(
            code,
            claim,
            f"{what} is also claimed by {', '.join(others)}; each host and prefix "
            "routes to exactly one tenant, so choose another",
        )


def _contains(outer: Claim, inner: Claim) -> Finding:
    return _finding(
        "prefix-conflict",
        outer,
        f"path prefix '{outer.value}' contains '{inner.value}' of {inner.owner} "
        f"({inner.origin.location}); prefixes must not nest, so choose another",
    )


def _inside(inner: Claim, outer: Claim) -> Finding:
    return _finding(
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
