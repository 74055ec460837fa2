"""Compare the effective config of two versions, tenant by tenant.

What matters in review is not which file changed but which tenants end up
different: a one-line edit in base/ can change fifty tenants, or none when
all of them override the value. So each tenant's merged config and its
rendered Traefik routes are compared at both versions, and every changed
value is reported with the file:line that caused it.

Only the tenants that the change can affect are merged (see ``changes``);
the others are the same by construction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pygit2
from deepdiff import DeepDiff

from .cache import RevisionIdentities
from .changes import affected, since
from .errors import GitopsError
from .parse import Path
from .pipeline import Pipeline, Result, TenantConfig
from .render import render_tenant
from .secrets import SECRET_REFERENCE, is_secret_key
from .source import GitSource, Source

HIDDEN = "(secret, changed)"
_MISSING: Any = object()


@dataclass(frozen=True, slots=True)
class ValueChange:
    """One changed value: its dotted path, both sides, and who set it."""

    path: str
    kind: str  # "added", "removed" or "changed"
    old: Any
    new: Any
    origin: str | None
    secret: bool = False


@dataclass(frozen=True, slots=True)
class TenantDiff:
    tenant_id: str
    status: str  # "added", "removed" or "changed"
    config: tuple[ValueChange, ...] = ()
    routes: tuple[ValueChange, ...] = ()


@dataclass(frozen=True, slots=True)
class Comparison:
    old_label: str
    new_label: str
    tenants: tuple[TenantDiff, ...]
    findings: Result


def compare(
    repo: pygit2.Repository,
    old_commit: pygit2.Commit,
    old: GitSource,
    new: Source,
    new_ref: str | None,
    only: str | None = None,
) -> Comparison:
    """The tenants whose effective config differs between ``old`` and ``new``.

    ``new_ref`` names ``new`` for change detection: a revision, or None for
    the working tree. ``only`` limits the comparison to one tenant id.
    """
    lender, after = RevisionIdentities(repo, old), Pipeline(new)
    change = since(repo, old_commit, new_ref)
    candidates = set(affected(change, after, lender))
    candidates |= set(lender.tenant_ids) - set(after.tree.tenant_ids)
    if only is not None:
        candidates &= {only}

    diffs = []
    for tenant_id in sorted(candidates):
        found = _tenant_diff(tenant_id, lender, after)
        if found is not None:
            diffs.append(found)

    present = [d.tenant_id for d in diffs if d.status != "removed"]
    findings = after.run(present, others=lender)
    lender.save()
    return Comparison(old.label, new.label, tuple(diffs), findings)


def _tenant_diff(
    tenant_id: str, lender: RevisionIdentities, after: Pipeline
) -> TenantDiff | None:
    was = tenant_id in lender.tenant_ids
    now = tenant_id in after.tree.tenant_ids
    if not was:
        return TenantDiff(tenant_id, "added")
    if not now:
        return TenantDiff(tenant_id, "removed")

    before = lender.pipeline
    old, new = before.tenant(tenant_id), after.tenant(tenant_id)
    config = tuple(changed_values(old.config, new.config, old, new))
    routes = tuple(
        changed_values(
            _routes(before.platform, old), _routes(after.platform, new), None, None
        )
    )
    if not config and not routes:
        return None
    return TenantDiff(tenant_id, "changed", config, routes)


def _routes(platform: Mapping[str, Any], tenant: TenantConfig) -> dict[str, Any]:
    # A tenant that cannot render has no routes; validate says why.
    if "tenant" not in tenant.config:
        return {}
    try:
        return render_tenant(platform, tenant.config) or {}
    except (GitopsError, KeyError, TypeError):
        return {}


def changed_values(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    old_tenant: TenantConfig | None,
    new_tenant: TenantConfig | None,
) -> Iterable[ValueChange]:
    """Each changed path of two nested documents, in path order.

    Lists are values (they replace, never merge), so a change inside a list
    is reported as the whole list changing.
    """
    # DeepDiff walks everything it is given; the config types that are the
    # same on both sides cannot hold a change, so it is given the others.
    differing = [
        key
        for key in old.keys() | new.keys()
        if not _same(old.get(key, _MISSING), new.get(key, _MISSING))
    ]
    found = DeepDiff(
        {key: old[key] for key in differing if key in old},
        {key: new[key] for key in differing if key in new},
        view="tree",
        verbose_level=2,
    )
    paths: set[Path] = set()
    for items in found.values():
        for item in items:
            paths.add(_up_to_list(tuple(item.path(output_format="list"))))

    for path in sorted(paths, key=lambda p: [str(step) for step in p]):
        before, after = _lookup(old, path), _lookup(new, path)
        if before is _MISSING:
            kind, source = "added", new_tenant
        elif after is _MISSING:
            kind, source = "removed", old_tenant
        else:
            kind, source = "changed", new_tenant
        yield _value_change(path, kind, before, after, source)


def _same(old: Any, new: Any) -> bool:
    """Equal, with the same types all the way down: Python holds 1 == True
    == 1.0, while YAML and the rendered output tell them apart."""
    if type(old) is not type(new):
        return False
    if isinstance(old, dict):
        return old.keys() == new.keys() and all(_same(old[k], new[k]) for k in old)
    if isinstance(old, list):
        return len(old) == len(new) and all(map(_same, old, new))
    return bool(old == new)


def _value_change(
    path: Path, kind: str, before: Any, after: Any, source: TenantConfig | None
) -> ValueChange:
    origin = None
    if source is not None and path:
        found = source.provenance.nearest(str(path[0]), path[1:])
        origin = found.location if found is not None else None

    dotted = ".".join(str(step) for step in path)
    secret = any(isinstance(s, str) and is_secret_key(s) for s in path) or any(
        isinstance(v, str) and SECRET_REFERENCE.match(v) for v in (before, after)
    )
    if secret:
        return ValueChange(dotted, kind, HIDDEN, HIDDEN, origin, secret=True)
    return ValueChange(dotted, kind, _redact(before), _redact(after), origin)


def _redact(value: Any) -> Any:
    """``value`` with anything secret-like inside it replaced by a marker."""
    if value is _MISSING:
        return None
    if isinstance(value, dict):
        return {
            key: HIDDEN if is_secret_key(str(key)) else _redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact(item) for item in value]
    if isinstance(value, str) and SECRET_REFERENCE.match(value):
        return HIDDEN
    return value


def _up_to_list(path: Path) -> Path:
    for index, step in enumerate(path):
        if isinstance(step, int):
            return path[:index]
    return path


def _lookup(document: Any, path: Path) -> Any:
    for step in path:
        if not isinstance(document, dict) or step not in document:
            return _MISSING
        document = document[step]
    return document


# --------------------------------------------------------------------------
# Output


def show(value: Any) -> str:
    """A value as one line of JSON: stable, and unambiguous about types."""
    if value == HIDDEN:
        return HIDDEN
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def as_text(comparison: Comparison) -> str:
    lines = []
    for tenant in comparison.tenants:
        lines.append(f"{tenant.tenant_id}: {tenant.status}")
        for change in tenant.config:
            lines.append(f"  {_text_change(change)}")
        for change in tenant.routes:
            lines.append(f"  route {_text_change(change)}")
    count = len(comparison.tenants)
    lines.append(
        f"{count} tenant{'s' if count != 1 else ''} changed between "
        f"{comparison.old_label[:12]} and {comparison.new_label[:12]}"
    )
    return "\n".join(lines) + "\n"


def _text_change(change: ValueChange) -> str:
    where = f"  ({change.origin})" if change.origin else ""
    if change.secret:
        return f"{change.path}: {HIDDEN}{where}"
    if change.kind == "added":
        return f"{change.path}: added {show(change.new)}{where}"
    if change.kind == "removed":
        return f"{change.path}: removed (was {show(change.old)}){where}"
    return f"{change.path}: {show(change.old)} -> {show(change.new)}{where}"


def as_json(comparison: Comparison) -> str:
    document = {
        "old": comparison.old_label,
        "new": comparison.new_label,
        "tenants": [
            {
                "tenant": tenant.tenant_id,
                "status": tenant.status,
                "config": [_json_change(c) for c in tenant.config],
                "routes": [_json_change(c) for c in tenant.routes],
            }
            for tenant in comparison.tenants
        ],
        "findings": {
            "errors": comparison.findings.errors,
            "warnings": comparison.findings.warnings,
        },
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _json_change(change: ValueChange) -> dict[str, Any]:
    return {
        "path": change.path,
        "kind": change.kind,
        "old": change.old,
        "new": change.new,
        "origin": change.origin,
        "secret": change.secret,
    }


def as_markdown(comparison: Comparison) -> str:
    """A pull-request summary: affected tenants, route changes, findings."""
    out = [
        f"## Effective config: {comparison.old_label[:12]} → "
        f"{comparison.new_label[:12]}",
        "",
    ]
    if not comparison.tenants:
        out += ["No tenant's effective config changes.", ""]
    else:
        out += [
            "| Tenant | Change | Values | Routes |",
            "| --- | --- | ---: | ---: |",
        ]
        for tenant in comparison.tenants:
            out.append(
                f"| `{tenant.tenant_id}` | {tenant.status} | {len(tenant.config)} "
                f"| {len(tenant.routes)} |"
            )
        out.append("")
    for tenant in comparison.tenants:
        if not tenant.config and not tenant.routes:
            continue
        out += [
            f"### `{tenant.tenant_id}`",
            "",
            "| Path | Old | New | Set at |",
            "| --- | --- | --- | --- |",
        ]
        for change in tenant.config:
            out.append(_markdown_row(change.path, change))
        for change in tenant.routes:
            out.append(_markdown_row(f"route {change.path}", change))
        out.append("")

    result = comparison.findings
    out += ["### Findings", ""]
    if not result.findings:
        out.append("No findings in the changed tenants.")
    for finding in result.findings:
        out.append(
            f"- **{finding.severity}** `{finding.code}` at "
            f"`{finding.location}`: {_cell(finding.message)}"
        )
    return "\n".join(out) + "\n"


def _markdown_row(path: str, change: ValueChange) -> str:
    old = "" if change.kind == "added" else f"`{_cell(show(change.old))}`"
    new = "" if change.kind == "removed" else f"`{_cell(show(change.new))}`"
    where = f"`{change.origin}`" if change.origin else ""
    return f"| `{path}` | {old} | {new} | {where} |"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("`", "'")


FORMATS = {"text": as_text, "json": as_json, "markdown": as_markdown}
