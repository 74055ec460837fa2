"""Roll one tenant back: a new commit that restores its folder from a revision.

History is never rewritten: the rollback is a commit on top of the current
branch, reviewed and reverted like any other. It is built in git's object
database first (no file is touched), validated there, and only then
committed and checked out.
"""

from __future__ import annotations

from dataclasses import dataclass

import pygit2
from pygit2.enums import CheckoutStrategy, FileMode

from .errors import GitopsError
from .layout import TENANTS
from .pipeline import Pipeline, Result
from .source import GitSource, resolve_commit


class RollbackRefused(GitopsError):
    """The rolled-back config does not validate; nothing was committed."""

    def __init__(self, tenant_id: str, result: Result) -> None:
        super().__init__(
            f"refusing to roll back {tenant_id}: the result would have "
            f"{result.errors} error(s); fix them first or roll back to another "
            "revision"
        )
        self.result = result


@dataclass(frozen=True, slots=True)
class Rollback:
    commit: str | None  # None when the folder already was as at the revision
    target: str
    removed: bool


def rollback(
    repo: pygit2.Repository,
    tenant_id: str,
    to: str,
    message: str | None = None,
) -> Rollback:
    """Commit ``tenants/<tenant_id>/`` as it was at ``to`` on the current branch."""
    if repo.head_is_unborn:
        raise GitopsError("the repository has no commits yet; nothing to roll back")
    dirty = sorted(repo.status())
    if dirty:
        raise GitopsError(
            f"the working tree has uncommitted changes ({', '.join(dirty[:5])}"
            f"{', …' if len(dirty) > 5 else ''}); commit or stash them first, so "
            "the rollback commit holds the rollback alone"
        )

    head = repo.head.peel(pygit2.Commit)
    target = resolve_commit(repo, to)
    old = _tenant_entry(repo, target.tree, tenant_id)
    if old is None and _tenant_entry(repo, head.tree, tenant_id) is None:
        raise GitopsError(
            f"tenant '{tenant_id}' exists neither now nor at {to}; "
            "'symphainy-gitops tenants' lists the tenants"
        )

    tree = _replace_tenant(repo, head.tree, tenant_id, old)
    if tree.id == head.tree.id:
        return Rollback(None, str(target.id), old is None)

    after = Pipeline(GitSource.from_tree(repo, tree, f"rollback of {tenant_id}"))
    wanted = [tenant_id] if old is not None else []
    result = after.run(wanted, others=Pipeline(GitSource(repo, head)))
    if result.errors:
        raise RollbackRefused(tenant_id, result)

    signature = _signature(repo)
    text = message or (
        f"Roll back tenant {tenant_id} to {str(target.id)[:12]}\n\n"
        f"Restores {TENANTS}/{tenant_id}/ as it was at {target.id}."
    )
    commit = repo.create_commit("HEAD", signature, signature, text, tree.id, [head.id])
    # The tree was clean, so nothing of the user's is overwritten here.
    repo.checkout_head(strategy=CheckoutStrategy.FORCE)  # type: ignore[no-untyped-call]
    return Rollback(str(commit), str(target.id), old is None)


def _tenant_entry(
    repo: pygit2.Repository, tree: pygit2.Tree, tenant_id: str
) -> pygit2.Object | None:
    if TENANTS not in tree:
        return None
    tenants = repo[tree[TENANTS].id]
    assert isinstance(tenants, pygit2.Tree)
    if tenant_id not in tenants:
        return None
    return tenants[tenant_id]


def _replace_tenant(
    repo: pygit2.Repository,
    root: pygit2.Tree,
    tenant_id: str,
    entry: pygit2.Object | None,
) -> pygit2.Tree:
    """``root`` with tenants/<tenant_id> replaced by ``entry`` (or removed)."""
    folder = repo.TreeBuilder(root[TENANTS].id) if TENANTS in root else None
    folder = folder or repo.TreeBuilder()
    if entry is not None:
        folder.insert(tenant_id, entry.id, FileMode.TREE)
    elif folder.get(tenant_id) is not None:
        folder.remove(tenant_id)

    top = repo.TreeBuilder(root)
    top.insert(TENANTS, folder.write(), FileMode.TREE)
    tree = repo[top.write()]
    assert isinstance(tree, pygit2.Tree)
    return tree


def _signature(repo: pygit2.Repository) -> pygit2.Signature:
    try:
        return repo.default_signature
    except (KeyError, pygit2.GitError):
        raise GitopsError(
            "git does not know who you are; set 'git config user.name' and "
            "'git config user.email' and run the rollback again"
        ) from None
