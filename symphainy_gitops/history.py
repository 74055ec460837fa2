"""A tenant's history: the commits that changed its effective config.

A tenant's effective config is made of its folder, base/ and the plans, so
a commit whose tree ids for those are the same as its parent's cannot have
changed it and is skipped without reading a file. The rest are merged at
both sides and compared, which drops the commits that only moved comments
or changed a value the tenant overrides.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pygit2
from pygit2.enums import SortMode

from .diff import ValueChange, changed_values
from .layout import BASE, SCHEMAS, TENANTS
from .pipeline import Pipeline, TenantConfig
from .source import GitSource


@dataclass(frozen=True, slots=True)
class LogEntry:
    commit: str
    author: str
    time: int
    summary: str
    status: str  # "added", "removed" or "changed"
    changes: tuple[ValueChange, ...]


def tenant_log(
    repo: pygit2.Repository,
    start: pygit2.Commit,
    tenant_id: str,
    limit: int | None = None,
) -> Iterator[LogEntry]:
    """Newest first, the commits reachable from ``start`` that changed the tenant.

    A merge commit is compared with its first parent: the change it brought
    to the branch.
    """
    configs: dict[str, TenantConfig | None] = {}
    found = 0
    walker = repo.walk(start.id, SortMode.TOPOLOGICAL | SortMode.TIME)
    for commit in walker:
        if limit is not None and found >= limit:
            return
        parent = commit.parents[0] if commit.parents else None
        if parent is not None and _inputs(repo, parent.tree, tenant_id) == _inputs(
            repo, commit.tree, tenant_id
        ):
            continue

        new = _config(repo, commit, tenant_id, configs)
        old = _config(repo, parent, tenant_id, configs) if parent else None
        entry = _entry(commit, old, new)
        if entry is not None:
            found += 1
            yield entry


def _entry(
    commit: pygit2.Commit, old: TenantConfig | None, new: TenantConfig | None
) -> LogEntry | None:
    changes: tuple[ValueChange, ...] = ()
    if old is None and new is None:
        return None
    if old is None:
        status = "added"
    elif new is None:
        status = "removed"
    else:
        status = "changed"
        changes = tuple(changed_values(old.config, new.config, old, new))
        if not changes:
            return None
    return LogEntry(
        str(commit.id),
        commit.author.name,
        commit.commit_time,
        commit.message.splitlines()[0] if commit.message else "",
        status,
        changes,
    )


def _inputs(
    repo: pygit2.Repository, tree: pygit2.Tree, tenant_id: str
) -> tuple[str | None, ...]:
    """Ids of everything the tenant's effective config is made of."""
    folder = _id(tree, TENANTS)
    own = None
    if folder is not None:
        tenants = repo[folder]
        assert isinstance(tenants, pygit2.Tree)
        own = _id(tenants, tenant_id)
    # base/ as a whole: the plans live under it, and a plan's folder can only
    # be known after reading the tenant's file.
    return (own, _id(tree, BASE), _id(tree, SCHEMAS))


def _id(tree: pygit2.Tree, name: str) -> str | None:
    return str(tree[name].id) if name in tree else None


def _config(
    repo: pygit2.Repository,
    commit: pygit2.Commit,
    tenant_id: str,
    seen: dict[str, TenantConfig | None],
) -> TenantConfig | None:
    key = str(commit.id)
    if key not in seen:
        pipeline = Pipeline(GitSource(repo, commit))
        present = tenant_id in pipeline.tree.tenant_ids
        seen[key] = pipeline.tenant(tenant_id) if present else None
    return seen[key]
