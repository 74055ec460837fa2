"""Write rendered files into Traefik's watched folder, and check them.

Traefik's file provider reloads a folder as a whole, and one file it cannot
parse freezes updates for every file; so each file is replaced atomically
(a temporary file in the same folder, then a rename) and Traefik never sees
half of one.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from symphainy_gitops.render import SOURCE_PREFIX

# The only names this module ever creates or removes in the folder.
MANAGED = re.compile(r"^(platform|tenant-[a-z0-9-]+)\.yml$")


class WriteReport(NamedTuple):
    written: list[str]
    removed: list[str]
    unchanged: list[str]


class Stale(NamedTuple):
    name: str
    reason: str  # "stale", "missing" or "extra"

    def __str__(self) -> str:
        return f"{self.name}: {self.reason}"


def write_tree(
    out_dir: str | os.PathLike[str], files: Mapping[str, str]
) -> WriteReport:
    """Make ``out_dir`` hold exactly ``files`` among its managed names."""
    folder = Path(out_dir)
    _check_names(files)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    unchanged: list[str] = []

    # platform.yml first: tenant files refer to its middleware and services.
    for name in sorted(files, key=lambda n: (n != "platform.yml", n)):
        if _read(folder / name) == files[name]:
            unchanged.append(name)
        else:
            _write_atomic(folder / name, files[name])
            written.append(name)

    removed = [name for name in _managed_names(folder) if name not in files]
    for name in removed:
        (folder / name).unlink()

    if written or removed:
        _fsync_dir(folder)
    return WriteReport(sorted(written), sorted(removed), sorted(unchanged))


def check_tree(
    out_dir: str | os.PathLike[str], files: Mapping[str, str]
) -> list[Stale]:
    """Every managed file of ``out_dir`` that differs from ``files``.

    The ``# Rendered from:`` line is ignored: it changes with every commit,
    while the body must not.
    """
    folder = Path(out_dir)
    found: list[Stale] = []

    for name in sorted(files):
        current = _read(folder / name)
        if current is None:
            found.append(Stale(name, "missing"))
        elif _body(current) != _body(files[name]):
            found.append(Stale(name, "stale"))

    existing = _managed_names(folder) if folder.is_dir() else []
    found.extend(Stale(name, "extra") for name in existing if name not in files)
    return sorted(found)


def _check_names(files: Mapping[str, str]) -> None:
    for name in files:
        if not MANAGED.match(name):
            raise ValueError(f"not a rendered file name: {name!r}")


def _managed_names(folder: Path) -> list[str]:
    return sorted(
        entry.name
        for entry in folder.iterdir()
        if MANAGED.match(entry.name) and entry.is_file()
    )


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _body(text: str) -> str:
    return "".join(
        line
        for line in text.splitlines(keepends=True)
        if not line.startswith(SOURCE_PREFIX)
    )


def _write_atomic(path: Path, text: str) -> None:
    # A dot-name with a .tmp suffix: Traefik loads only .yml/.yaml/.toml.
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def _fsync_dir(folder: Path) -> None:
    # Makes the renames and unlinks themselves durable.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
