"""Parse one YAML file into plain data plus the line and column of every value.

PyYAML's C parser composes the node graph; a walk over the nodes then builds
the data. Composing instead of loading lets the walk see duplicate keys, which
``yaml.load`` silently accepts, and enforce the limits below before anything
large is built. Scalars resolve by the YAML 1.2 core schema: ``yes``, ``no``,
``on`` and ``off`` stay strings and dates stay strings.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from .errors import GitopsError
from .findings import Finding, error

LIBYAML_MISSING = (
    "PyYAML was installed without libyaml, so its C parser is missing; install "
    "the libyaml headers (Debian: libyaml-dev) and reinstall PyYAML with "
    "'pip install --force-reinstall --no-binary pyyaml pyyaml'"
)


def require_libyaml(module: Any = yaml) -> None:
    """Stop with a clear message where PyYAML lacks its C parser.

    Called when a pipeline starts rather than at import, so that the CLI can
    say it as one line instead of a traceback.
    """
    if not getattr(module, "__with_libyaml__", False):
        raise GitopsError(LIBYAML_MISSING)


# Without libyaml this base is the pure-Python loader; nothing parses then,
# because require_libyaml() refuses first.
_CLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 32
MAX_NODES = 100_000

Path = tuple[str | int, ...]
Mark = tuple[int, int]

_TAG = "tag:yaml.org,2002:"
_STR, _NULL, _BOOL = _TAG + "str", _TAG + "null", _TAG + "bool"
_INT, _FLOAT = _TAG + "int", _TAG + "float"
_MAP, _SEQ = _TAG + "map", _TAG + "seq"


_CORE_PLAIN = (
    (_NULL, re.compile(r"^(?:~|null|Null|NULL|)$")),
    (_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")),
    (_INT, re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")),
    (
        _FLOAT,
        re.compile(
            r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
        ),
    ),
)


@functools.lru_cache(maxsize=8192)
def _plain_scalar_tag(value: str) -> str:
    for tag, pattern in _CORE_PLAIN:
        if pattern.match(value):
            return tag
    return _STR


class _CoreSchemaLoader(_CLoader):  # type: ignore[misc]
    """The C parser, resolving untagged values by the YAML 1.2 core schema.

    Replaces PyYAML's resolver, which implements YAML 1.1 (``no`` is false,
    ``1:30`` is a number) and walks a list of patterns for every scalar; the
    config's scalars repeat a lot, so the answer is cached by value.
    """

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode:
            return _plain_scalar_tag(value) if implicit[0] else _STR
        return _SEQ if kind is yaml.SequenceNode else _MAP


@dataclass(frozen=True, slots=True)
class Document:
    """One parsed file: its data and the (line, column) of every value in it.

    ``marks`` maps a path of keys and list indexes to the position that set
    the value: the key of a mapping entry, the item of a list, and ``()`` for
    the top-level mapping. Lines and columns count from 1.
    """

    path: str
    data: dict[str, Any]
    marks: Mapping[Path, Mark]

    def mark(self, path: Path) -> Mark | None:
        return self.marks.get(path)


class _Refused(Exception):
    """Stops the walk when a limit is hit; carries the finding to report."""

    def __init__(self, finding: Finding) -> None:
        self.finding = finding


class _Walker:
    def __init__(self, path: str) -> None:
        self.path = path
        self.marks: dict[Path, Mark] = {}
        self.findings: list[Finding] = []
        self.nodes = 0

    def fail(self, code: str, node: yaml.Node, message: str) -> Finding:
        mark = node.start_mark
        return error(code, message, self.path, mark.line + 1, mark.column + 1)

    def walk(self, node: yaml.Node, path: Path, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _Refused(
                self.fail(
                    "yaml-limit",
                    node,
                    f"more than {MAX_NODES:,} values (counting each use of an "
                    "alias); a config file this large is almost certainly an "
                    "alias bomb: write the values out or split the file",
                )
            )
        if depth > MAX_DEPTH:
            raise _Refused(
                self.fail(
                    "yaml-limit",
                    node,
                    f"nested deeper than {MAX_DEPTH} levels (or an alias that "
                    "contains itself); flatten the structure",
                )
            )

        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return self._sequence(node, path, depth)
        return self._scalar(node)

    def _mapping(self, node: yaml.MappingNode, path: Path, depth: int) -> Any:
        if node.tag != _MAP:
            self.findings.append(self._bad_tag(node, "a mapping"))
        result: dict[str, Any] = {}
        first_seen: dict[str, int] = {}

        for key_node, value_node in node.value:
            key = self._key(key_node)
            if key is None:
                continue
            line = key_node.start_mark.line + 1
            if key in first_seen:
                self.findings.append(
                    self.fail(
                        "yaml-duplicate-key",
                        key_node,
                        f"key '{key}' appears twice in this mapping (first on "
                        f"line {first_seen[key]}); keep one of them",
                    )
                )
                continue
            first_seen[key] = line

            child = (*path, key)
            self.marks[child] = (line, key_node.start_mark.column + 1)
            result[key] = self.walk(value_node, child, depth + 1)

        return result

    def _key(self, node: yaml.Node) -> str | None:
        if not isinstance(node, yaml.ScalarNode):
            self.findings.append(
                self.fail(
                    "yaml-key",
                    node,
                    "a key must be a plain name, not a list or mapping",
                )
            )
            return None
        if node.value == "<<" and node.style not in ("'", '"'):
            self.findings.append(
                self.fail(
                    "yaml-key",
                    node,
                    "'<<' merge keys are not part of YAML 1.2; write the keys "
                    "out, or move shared values to base/ or a plan",
                )
            )
            return None
        if node.tag not in (_STR, _NULL, _BOOL, _INT, _FLOAT):
            self.findings.append(self._bad_tag(node, "a key"))
            return None
        return str(node.value)

    def _sequence(self, node: yaml.SequenceNode, path: Path, depth: int) -> Any:
        if node.tag != _SEQ:
            self.findings.append(self._bad_tag(node, "a list"))
        result = []
        for index, item in enumerate(node.value):
            child = (*path, index)
            mark = item.start_mark
            self.marks[child] = (mark.line + 1, mark.column + 1)
            result.append(self.walk(item, child, depth + 1))
        return result

    def _scalar(self, node: yaml.Node) -> Any:
        tag, text = node.tag, node.value
        try:
            if tag == _STR or tag == "!":
                return text
            if tag == _NULL:
                return None
            if tag == _BOOL:
                return _BOOLEANS[text]
            if tag == _INT:
                return _integer(text)
            if tag == _FLOAT:
                return _finite_float(text)
        except (KeyError, ValueError):
            self.findings.append(
                self.fail(
                    "yaml-tag",
                    node,
                    f"'{text}' cannot be read as {tag.removeprefix(_TAG)}; "
                    "quote it to keep it as text",
                )
            )
            return text
        self.findings.append(self._bad_tag(node, "a value"))
        return text

    def _bad_tag(self, node: yaml.Node, what: str) -> Finding:
        return self.fail(
            "yaml-tag",
            node,
            f"tag '{node.tag}' on {what} is not allowed; config uses plain "
            "YAML 1.2 values only (text, numbers, true/false, null, lists, "
            "mappings), so remove the tag",
        )


_BOOLEANS = {
    "true": True,
    "True": True,
    "TRUE": True,
    "false": False,
    "False": False,
    "FALSE": False,
}


def _integer(text: str) -> int:
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)


def _finite_float(text: str) -> float:
    value = float(text.replace(".inf", "inf").replace(".Inf", "inf"))
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def parse_document(path: str, content: bytes) -> tuple[Document | None, list[Finding]]:
    """Parse ``content`` of the file ``path``; the document is None on any error.

    A file with findings yields no document: merging half of a file would
    report confusing errors about the other half.
    """
    if len(content) > MAX_FILE_BYTES:
        return None, [too_large(path, len(content))]

    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        return None, [
            error(
                "yaml-syntax",
                "the file is not UTF-8 text; save it as UTF-8",
                path,
                line,
            )
        ]

    try:
        root = yaml.compose(text, Loader=_CoreSchemaLoader)
    except yaml.MarkedYAMLError as exc:
        return None, [_syntax_finding(path, exc)]
    except yaml.YAMLError as exc:
        return None, [error("yaml-syntax", str(exc), path)]

    if root is None:
        return Document(path, {}, {(): (1, 1)}), []
    if not isinstance(root, yaml.MappingNode):
        mark = root.start_mark
        return None, [
            error(
                "yaml-root",
                "the top level of a config file must be a mapping of keys to "
                "values, not a list or a single value",
                path,
                mark.line + 1,
                mark.column + 1,
            )
        ]

    walker = _Walker(path)
    walker.marks[()] = (root.start_mark.line + 1, root.start_mark.column + 1)
    try:
        data = walker.walk(root, (), 0)
    except _Refused as refused:
        return None, [*walker.findings, refused.finding]
    if walker.findings:
        return None, walker.findings
    return Document(path, data, walker.marks), []


def too_large(path: str, size: int) -> Finding:
    return error(
        "yaml-limit",
        f"the file is {size:,} bytes, over the limit of {MAX_FILE_BYTES:,}; "
        "split it or move shared values to base/",
        path,
    )


def _syntax_finding(path: str, exc: yaml.MarkedYAMLError) -> Finding:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = exc.problem or "invalid YAML"
    if "single document" in str(exc.context):
        problem = "a second document starts here; a config file holds one document"
    elif exc.context:
        problem = f"{problem} ({exc.context})"
    if "nesting depth" in str(exc):
        return error(
            "yaml-limit",
            "nested too deeply; flatten the structure",
            path,
            line,
            column,
        )
    return error("yaml-syntax", problem, path, line, column)
