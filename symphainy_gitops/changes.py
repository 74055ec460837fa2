"""What a change can affect: which tenants need validating again.

A tenant's effective config depends on its own folder, on base/ (which
holds platform.yaml and the defaults), on its plan's folder, and on the
schemas. So a change to base/ or schemas/ affects every tenant, a change to
a plan affects the tenants on that plan, and a change to a tenant's folder
affects that tenant. ``incremental`` validates those tenants and keeps
the host and prefix checks whole: the other tenants' claims are read from
the old revision, where they are the same by definition of "unaffected".
The result is the full run's restricted to the affected tenants (see
``Result.restricted``).

Changes are found by comparing git tree ids and descending only where they
differ: tenants/ is one tree, and finding the one tenant that changed among
ten thousand costs one pass over its entries, never a read of their files.
The working tree has no tree ids; git's index remembers each file's size
and modification time, and libgit2's status uses that to hash only the
files that were touched since they were staged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pygit2
from pygit2.enums import DiffOption

from .cache import RevisionIdentities
from .layout import BASE, PLANS, SCHEMAS, TENANTS
from .pipeline import Identities, Pipeline, Result
from .source import (
    STAGED,
    GitSource,
    Source,
    WorktreeSource,
    open_repository,
    resolve_commit,
    staged_source,
)

_PLANS_NAME = PLANS.removeprefix(f"{BASE}/")


@dataclass(frozen=True, slots=True)
class Change:
    """The parts of the repository that differ between two versions."""

    everything: bool = False
    plans: frozenset[str] = field(default_factory=frozenset)
    tenants: frozenset[str] = field(default_factory=frozenset)

    def __or__(self, other: Change) -> Change:
        return Change(
            self.everything or other.everything,
            self.plans | other.plans,
            self.tenants | other.tenants,
        )

    @property
    def empty(self) -> bool:
        return not (self.everything or self.plans or self.tenants)


def between_trees(
    repo: pygit2.Repository, old: pygit2.Tree, new: pygit2.Tree
) -> Change:
    """What differs between two trees of the repository, by tree ids alone."""
    if old.id == new.id:
        return Change()

    if _entry_id(old, SCHEMAS) != _entry_id(new, SCHEMAS):
        return Change(everything=True)
    old_base, new_base = _subtree(repo, old, BASE), _subtree(repo, new, BASE)
    if _differing(old_base, new_base, skip={_PLANS_NAME}):
        return Change(everything=True)

    plans = _differing(
        _subtree(repo, old_base, _PLANS_NAME), _subtree(repo, new_base, _PLANS_NAME)
    )
    tenants = _differing(_subtree(repo, old, TENANTS), _subtree(repo, new, TENANTS))
    return Change(plans=frozenset(plans), tenants=frozenset(tenants))


def from_paths(paths: Iterable[str]) -> Change:
    """What a list of changed file paths (relative, with '/') touches."""
    everything = False
    plans: set[str] = set()
    tenants: set[str] = set()
    for path in paths:
        parts = path.rstrip("/").split("/")
        if parts[0] == SCHEMAS:
            everything = True
        elif parts[0] == BASE and len(parts) > 2 and parts[1] == _PLANS_NAME:
            plans.add(parts[2])
        elif parts[0] == BASE:
            everything = True
        elif parts[0] == TENANTS and len(parts) > 1:
            tenants.add(parts[1])
    return Change(everything, frozenset(plans), frozenset(tenants))


def since(repo: pygit2.Repository, old: pygit2.Commit, new: str | None) -> Change:
    """The change from commit ``old`` to ``new``: a revision, the index
    (``"index"``), or the working tree (None)."""
    if new == STAGED:
        return between_trees(repo, old.tree, _index_tree(repo))
    if new is not None:
        commit = repo.revparse_single(new).peel(pygit2.Commit)
        return between_trees(repo, old.tree, commit.tree)

    # The working tree: from old to HEAD by tree ids; then what the index
    # holds that HEAD does not, and the files that differ from the index,
    # which libgit2 finds by the size and time the index recorded for each
    # file (it hashes only those that moved). An index written without its
    # tree cache would make a tree of it cost a hash of every folder.
    if repo.head_is_unborn:
        return Change(everything=True)
    head = repo.head.peel(pygit2.Commit)
    committed = between_trees(repo, old.tree, head.tree)
    if committed.everything:
        return committed
    staged = repo.index.diff_to_tree(head.tree)
    flags = DiffOption.INCLUDE_UNTRACKED | DiffOption.SKIP_BINARY_CHECK
    unstaged = repo.diff(flags=flags)
    paths = [
        path
        for found in (staged, unstaged)
        for delta in found.deltas
        for path in (delta.old_file.path, delta.new_file.path)
    ]
    return committed | from_paths(paths)


def _index_tree(repo: pygit2.Repository) -> pygit2.Tree:
    tree = repo[repo.index.write_tree()]
    assert isinstance(tree, pygit2.Tree)
    return tree


def affected(change: Change, new: Pipeline, old: Identities) -> list[str]:
    """The tenants of ``new`` whose effective config the change can alter.

    A tenant on a changed plan is found through its plan at ``old``: had its
    own tenant.yaml changed, the tenant would be in the change already.
    """
    present = new.tree.tenant_ids
    if change.everything:
        return list(present)

    known = old.tenant_ids
    chosen = []
    for tenant_id in present:
        own = tenant_id in change.tenants or tenant_id not in known
        if own or (change.plans and old.plan(tenant_id) in change.plans):
            chosen.append(tenant_id)
    return chosen


def incremental(root: Path, since_ref: str, ref: str | None, staged: bool) -> Result:
    """Validate the tenants that changed between ``since_ref`` and the target.

    The target is the revision ``ref``, the index when ``staged``, else the
    working tree at ``root``.
    """
    repo = open_repository(root)
    old_commit = resolve_commit(repo, since_ref)
    new: Source
    if staged:
        new = staged_source(repo)
    elif ref is not None:
        new = GitSource(repo, resolve_commit(repo, ref))
    else:
        new = WorktreeSource(root)

    change = since(repo, old_commit, STAGED if staged else ref)
    # The old side only lends plans and claims, mostly from the cache.
    before = RevisionIdentities(repo, GitSource(repo, old_commit))
    after = Pipeline(new)
    result = after.run(affected(change, after, before), others=before)
    before.save()
    return result


def _subtree(
    repo: pygit2.Repository, tree: pygit2.Tree | None, name: str
) -> pygit2.Tree | None:
    if tree is None or name not in tree:
        return None
    item = repo[tree[name].id]
    return item if isinstance(item, pygit2.Tree) else None


def _entry_id(tree: pygit2.Tree, name: str) -> str | None:
    return str(tree[name].id) if name in tree else None


def _differing(
    old: pygit2.Tree | None, new: pygit2.Tree | None, skip: set[str] | None = None
) -> set[str]:
    """Names of the entries that were added, removed or changed."""
    if old is not None and new is not None and old.id == new.id:
        return set()
    before = {str(e.name): (e.id, e.filemode) for e in old} if old else {}
    after = {str(e.name): (e.id, e.filemode) for e in new} if new else {}
    names = {
        name
        for name in before.keys() | after.keys()
        if before.get(name) != after.get(name)
    }
    return names - (skip or set())
