"""Safe edits: change one value, or scaffold a tenant, keeping the file's layout.

ruamel.yaml's round-trip mode keeps comments, key order, quoting and
indentation, so an edited file differs from the original only where the
value changed and a review shows one line. Every edit is validated before
anything is written: the pipeline runs over the repository as it would be,
with the new text overlaid in memory, and the file is replaced atomically
only when the tenant validates.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from .errors import GitopsError
from .layout import CONFIG_TYPES, TENANT_ID, TENANTS, config_file
from .pipeline import Pipeline, Result
from .source import Entry, Kind, Source, WorktreeSource


class EditRefused(GitopsError):
    """The edited config would not validate; nothing was written."""

    def __init__(self, what: str, result: Result) -> None:
        super().__init__(
            f"refusing to {what}: the result would have {result.errors} error(s); "
            "nothing was written"
        )
        self.result = result


class OverlaySource:
    """A source with some files replaced or added, in memory."""

    def __init__(self, below: Source, files: Mapping[str, bytes]) -> None:
        self.below = below
        self.files = dict(files)
        self.commit = below.commit
        self.label = f"{below.label} (edited)"

    def list(self, folder: str) -> list[Entry] | None:
        entries = {entry.name: entry for entry in self.below.list(folder) or []}
        prefix = f"{folder}/" if folder else ""
        for path in self.files:
            if path.startswith(prefix):
                first, _, rest = path[len(prefix) :].partition("/")
                entries[first] = Entry(first, Kind.DIR if rest else Kind.FILE)
        if not entries and not self.below.exists(folder):
            return None
        return sorted(entries.values(), key=lambda entry: entry.name)

    def read(self, path: str, limit: int | None = None) -> bytes:
        if path in self.files:
            return self.files[path]
        return self.below.read(path, limit)

    def exists(self, path: str) -> bool:
        inside = any(name.startswith(f"{path}/") for name in self.files)
        return path in self.files or inside or self.below.exists(path)

    def tree_id(self, folder: str) -> str | None:
        return None


def _yaml() -> YAML:
    yaml = YAML()  # round-trip, YAML 1.2
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def modeline(config_type: str) -> str:
    return f"# yaml-language-server: $schema=../../schemas/{config_type}.schema.json\n"


def parse_value(text: str) -> Any:
    """A VALUE given in YAML syntax: ``100``, ``true``, ``[a, b]``, ``null``."""
    try:
        return YAML(typ="safe", pure=True).load(text)
    except YAMLError as exc:
        raise GitopsError(
            f"'{text}' is not a YAML value; quote text that contains ':' or "
            f"'#', e.g. '\"a: b\"' ({exc})"
        ) from None


def set_value(
    root: Path, tenant_id: str, config_type: str, dotted: str, value: Any
) -> Path:
    """Set ``dotted`` in the tenant's overlay of ``config_type``; returns the file.

    A ``None`` value writes ``null``, which deletes the key from the merged
    config. Missing intermediate mappings, and the file itself (with its
    schema modeline), are created.
    """
    if config_type not in CONFIG_TYPES:
        raise GitopsError(
            f"'{config_type}' is not a config type; use one of: "
            + ", ".join(CONFIG_TYPES)
        )
    keys = [key for key in dotted.split(".") if key]
    if not keys:
        raise GitopsError(
            "PATH is empty; give a dotted path such as rate_limit.average"
        )
    folder = root / TENANTS / tenant_id
    if not (folder / "tenant.yaml").is_file():
        raise GitopsError(
            f"no tenant '{tenant_id}' (tenants/{tenant_id}/tenant.yaml is missing); "
            "'symphainy-gitops new-tenant' creates one"
        )

    relative = f"{TENANTS}/{tenant_id}/{config_file(config_type)}"
    path = root / relative
    original = path.read_text() if path.exists() else modeline(config_type)
    text = _with_value(original, keys, value, relative)

    _validate(root, {relative: text.encode()}, tenant_id, f"set {dotted}")
    write_atomic(path, text)
    return path


def _with_value(original: str, keys: list[str], value: Any, where: str) -> str:
    yaml = _yaml()
    try:
        document = yaml.load(original)
    except YAMLError as exc:
        raise GitopsError(f"{where} is not valid YAML; fix it first ({exc})") from None
    # A file of comments alone (a new overlay: its modeline) loads as None
    # and its comments with it; they are put back in front below.
    header = original if document is None else ""
    if document is None:
        document = CommentedMap()
    if not isinstance(document, dict):
        raise GitopsError(f"{where} does not hold a mapping at the top level")

    node = document
    for depth, key in enumerate(keys[:-1]):
        child = node.get(key)
        if child is None:
            child = node[key] = CommentedMap()
        elif not isinstance(child, dict):
            above = ".".join(keys[: depth + 1])
            raise GitopsError(
                f"{above} in {where} is a value, not a mapping; set {above} itself"
            )
        node = child
    node[keys[-1]] = value

    out = io.StringIO()
    yaml.dump(document, out)
    return header + out.getvalue()


def new_tenant(
    root: Path,
    tenant_id: str,
    name: str,
    domains: list[str],
    plan: str | None,
) -> Path:
    """Scaffold tenants/<id>/tenant.yaml, validated before it is written."""
    if not TENANT_ID.match(tenant_id):
        raise GitopsError(
            f"'{tenant_id}' is not a valid tenant id: use lowercase letters, digits "
            "and '-', starting with a letter, 3 to 63 characters"
        )
    folder = root / TENANTS / tenant_id
    if folder.exists():
        raise GitopsError(f"tenants/{tenant_id}/ already exists; choose another id")

    text = scaffold(tenant_id, name, domains, plan)
    relative = f"{TENANTS}/{tenant_id}/tenant.yaml"
    _validate(root, {relative: text.encode()}, tenant_id, f"create {tenant_id}")
    folder.mkdir(parents=True)
    write_atomic(folder / "tenant.yaml", text)
    return folder / "tenant.yaml"


def scaffold(tenant_id: str, name: str, domains: list[str], plan: str | None) -> str:
    yaml = _yaml()
    out = io.StringIO()
    fields: dict[str, Any] = {"id": tenant_id, "name": name}
    yaml.dump(fields, out)
    lines = [
        modeline("tenant").rstrip("\n"),
        f"# {name}. Values not set here come from base/tenant.yaml and the",
        "# plan's tenant.yaml; 'symphainy-gitops show "
        f"{tenant_id} tenant --explain' says which.",
        "",
        out.getvalue().rstrip("\n"),
    ]
    if plan is not None:
        lines += ["# A folder under base/plans/.", f"plan: {plan}"]
    lines.append("# Hosts routed to this tenant.")
    if domains:
        lines.append("domains:")
        lines += [f"  - {host}" for host in domains]
    else:
        lines.append("domains: []")
    return "\n".join(lines) + "\n"


def _validate(
    root: Path, files: Mapping[str, bytes], tenant_id: str, what: str
) -> None:
    source = OverlaySource(WorktreeSource(root), files)
    result = Pipeline(source).run([tenant_id])
    if result.errors:
        raise EditRefused(what, result)


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` in one step: a reader sees the old file or the new one."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o777)
        else:
            os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
