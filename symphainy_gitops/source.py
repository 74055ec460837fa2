"""Where the files come from: the working tree, or a git revision via pygit2.

Both sources answer the same three questions (what is in this folder, what
is in this file, and which tree id does this folder have), so everything
above this module works on either without a checkout or a subprocess.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

import pygit2

from .errors import GitopsError

WORKING_TREE = "working tree"
STAGED = "index"


class Kind(StrEnum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    kind: Kind


class FileTooLarge(GitopsError):
    """A file over the size limit; refused before its content is read."""

    def __init__(self, path: str, size: int) -> None:
        super().__init__(f"{path} is {size:,} bytes")
        self.path = path
        self.size = size


class Source(Protocol):
    """Read-only access to one version of the repository's files."""

    @property
    def label(self) -> str:
        """The commit id, or ``working tree``."""

    @property
    def commit(self) -> str | None:
        """The full commit id, or None for the working tree."""

    def list(self, folder: str) -> list[Entry] | None:
        """The entries of ``folder`` sorted by name; None if it is missing."""

    def read(self, path: str, limit: int | None = None) -> bytes:
        """The content of the file at ``path``; FileTooLarge past ``limit``."""

    def exists(self, path: str) -> bool:
        """Whether ``path`` names a file or folder."""

    def tree_id(self, folder: str) -> str | None:
        """A content id of the folder when the source has one (git), else None."""


class WorktreeSource:
    """The files on disk below ``root``, as they are now."""

    commit = None
    label = WORKING_TREE

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._root = str(self.root)

    def _path(self, relative: str) -> str:
        # Plain strings: pathlib's parsing costs more than the read itself.
        return os.path.join(self._root, relative) if relative else self._root

    def list(self, folder: str) -> list[Entry] | None:
        try:
            with os.scandir(self._path(folder)) as scan:
                entries = [_worktree_entry(item) for item in scan]
        except (FileNotFoundError, NotADirectoryError):
            return None
        return sorted(entries, key=lambda entry: entry.name)

    def read(self, path: str, limit: int | None = None) -> bytes:
        # O_NOFOLLOW: a file swapped for a link after it was listed is refused.
        fd = os.open(self._path(path), os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if limit is not None and size > limit:
                raise FileTooLarge(path, size)
            return handle.read()

    def exists(self, path: str) -> bool:
        return os.path.lexists(self._path(path))

    def tree_id(self, folder: str) -> str | None:
        return None


def _worktree_entry(item: os.DirEntry[str]) -> Entry:
    # DirEntry answers these from the directory listing, without a stat call.
    if item.is_symlink():
        return Entry(item.name, Kind.SYMLINK)
    if item.is_dir(follow_symlinks=False):
        return Entry(item.name, Kind.DIR)
    if item.is_file(follow_symlinks=False):
        return Entry(item.name, Kind.FILE)
    return Entry(item.name, Kind.OTHER)


_GIT_KINDS = {
    pygit2.enums.FileMode.TREE: Kind.DIR,
    pygit2.enums.FileMode.BLOB: Kind.FILE,
    pygit2.enums.FileMode.BLOB_EXECUTABLE: Kind.FILE,
    pygit2.enums.FileMode.LINK: Kind.SYMLINK,
}


class GitSource:
    """The files of one commit, read from the object database."""

    def __init__(self, repo: pygit2.Repository, commit: pygit2.Commit) -> None:
        self.repo = repo
        self._commit: pygit2.Commit | None = commit
        self._tree = commit.tree
        self._label = str(commit.id)
        self._folders: dict[str, pygit2.Tree | None] = {"": self._tree}

    @classmethod
    def from_tree(
        cls, repo: pygit2.Repository, tree: pygit2.Tree, label: str
    ) -> GitSource:
        """A tree that no commit holds yet, such as the staged index."""
        source = cls.__new__(cls)
        source.repo = repo
        source._commit = None
        source._tree = tree
        source._label = label
        source._folders = {"": tree}
        return source

    @property
    def commit(self) -> str | None:
        return str(self._commit.id) if self._commit is not None else None

    @property
    def label(self) -> str:
        return self._label

    @property
    def tree(self) -> pygit2.Tree:
        return self._tree

    def _folder(self, folder: str) -> pygit2.Tree | None:
        # A path lookup from the root re-reads every tree on the way, and
        # tenants/ holds one entry per tenant: remembering the folders keeps
        # a read of one tenant's file from costing the size of tenants/.
        if folder not in self._folders:
            parent, _, name = folder.rpartition("/")
            above = self._folder(parent)
            found = None
            if above is not None and name in above:
                item = above[name]
                found = item if isinstance(item, pygit2.Tree) else None
            self._folders[folder] = found
        return self._folders[folder]

    def _object(self, path: str) -> pygit2.Object | None:
        if not path:
            return self._tree
        parent, _, name = path.rpartition("/")
        folder = self._folder(parent)
        if folder is None or name not in folder:
            return None
        return folder[name]

    def list(self, folder: str) -> list[Entry] | None:
        tree = self._object(folder)
        if not isinstance(tree, pygit2.Tree):
            return None
        entries = []
        for item in tree:
            # Folders by type: reading filemode builds an enum member, which
            # costs more than the rest of a listing of tenants/.
            if isinstance(item, pygit2.Tree):
                kind = Kind.DIR
            else:
                kind = _GIT_KINDS.get(item.filemode, Kind.OTHER)
            entries.append(Entry(str(item.name), kind))
        return sorted(entries, key=lambda entry: entry.name)

    def read(self, path: str, limit: int | None = None) -> bytes:
        item = self._object(path)
        if item is None or item.type_str != "blob":
            raise GitopsError(f"{path} is not a file at {self.label[:12]}")
        if limit is not None:
            # The header alone: a 50 MB blob is refused without being read.
            _, size = self.repo.odb.read_header(item.id)
            if size > limit:
                raise FileTooLarge(path, int(size))
        blob = self.repo[item.id]
        assert isinstance(blob, pygit2.Blob)
        return bytes(blob.data)

    def exists(self, path: str) -> bool:
        return self._object(path) is not None

    def tree_id(self, folder: str) -> str | None:
        item = self._object(folder)
        return str(item.id) if item is not None else None

    def folder_ids(self, folder: str) -> dict[str, str]:
        """The tree id of each folder directly inside ``folder``, by name."""
        tree = self._object(folder)
        if not isinstance(tree, pygit2.Tree):
            return {}
        # An entry of a tree is a Tree exactly when its mode is a folder's.
        return {
            str(item.name): str(item.id)
            for item in tree
            if isinstance(item, pygit2.Tree)
        }

    def blob_id(self, path: str) -> str | None:
        """The content id of the file at ``path``, without reading it."""
        item = self._object(path)
        return str(item.id) if item is not None and item.type_str == "blob" else None


def open_repository(root: Path) -> pygit2.Repository:
    path = pygit2.discover_repository(str(root))
    if path is None:
        raise GitopsError(
            f"{root} is not inside a git repository; run the command from the "
            "config repository or pass --repo"
        )
    return pygit2.Repository(path)


def resolve_commit(repo: pygit2.Repository, ref: str) -> pygit2.Commit:
    try:
        obj = repo.revparse_single(ref)
        commit = obj.peel(pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
        raise GitopsError(
            f"'{ref}' is not a commit, tag or branch of this repository; "
            "'git log --oneline' lists the commits"
        ) from None
    assert isinstance(commit, pygit2.Commit)
    return commit


def staged_source(repo: pygit2.Repository) -> GitSource:
    """The content of the index: what the next commit would hold."""
    tree = repo[repo.index.write_tree()]
    assert isinstance(tree, pygit2.Tree)
    return GitSource.from_tree(repo, tree, STAGED)


def open_source(root: Path, ref: str | None) -> Source:
    """The working tree at ``root`` when ``ref`` is None, else that revision."""
    if ref is None:
        return WorktreeSource(root)
    repo = open_repository(root)
    return GitSource(repo, resolve_commit(repo, ref))


def repository_root(start: Path) -> Path:
    """The config repository's top folder: the nearest one with base/ and tenants/."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / "base").is_dir() and (folder / "tenants").is_dir():
            return folder
    raise GitopsError(
        f"no config repository at or above {start}: expected folders base/ and "
        "tenants/; run the command from the repository or pass --repo"
    )
