"""Parsing: YAML 1.2 core values, marks, and the refusals that keep bad files out."""

from __future__ import annotations

import time

import pytest

from symphainy_gitops.errors import GitopsError
from symphainy_gitops.parse import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    parse_document,
    require_libyaml,
)


def parse_ok(text: str) -> dict[str, object]:
    document, findings = parse_document("f.yaml", text.encode())
    assert findings == [], findings
    assert document is not None
    return document.data


def codes(text: str | bytes) -> list[tuple[str, int, int]]:
    content = text.encode() if isinstance(text, str) else text
    document, findings = parse_document("f.yaml", content)
    assert document is None
    return [(f.code, f.line, f.column) for f in findings]


def test_core_schema_keeps_yaml11_words_and_dates_as_text() -> None:
    data = parse_ok("a: yes\nb: off\nc: NO\nd: 2024-01-31\ne: 1_000\nf: 0777\n")

    assert data == {
        "a": "yes",
        "b": "off",
        "c": "NO",
        "d": "2024-01-31",
        "e": "1_000",
        "f": 777,
    }


def test_core_schema_numbers_booleans_and_nulls() -> None:
    data = parse_ok(
        "a: true\nb: False\nc: ~\nd: null\ne:\nf: 0x1F\ng: 0o17\nh: -2.5e3\n"
    )

    assert data == {
        "a": True,
        "b": False,
        "c": None,
        "d": None,
        "e": None,
        "f": 31,
        "g": 15,
        "h": -2500.0,
    }


def test_marks_point_at_keys_and_list_items() -> None:
    document, _ = parse_document(
        "f.yaml", b"# comment\nroles:\n  admin:\n    permissions: [a, b]\n"
    )

    assert document is not None
    assert document.marks[("roles",)] == (2, 1)
    assert document.marks[("roles", "admin", "permissions")] == (4, 5)
    assert document.marks[("roles", "admin", "permissions", 1)] == (4, 22)


def test_empty_file_is_an_empty_overlay() -> None:
    assert parse_ok("# only a comment\n") == {}


def test_duplicate_keys_are_all_reported() -> None:
    found = codes("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n")

    assert found == [("yaml-duplicate-key", 4, 3), ("yaml-duplicate-key", 5, 1)]


@pytest.mark.parametrize(
    "text",
    [
        "a: !!python/object/apply:os.system ['id']\n",
        "a: !!python/name:os.system\n",
        "a: !!binary aGVsbG8=\n",
        "a: !!set {x, y}\n",
        "a: !include other.yaml\n",
        "a: !!timestamp 2024-01-01\n",
    ],
)
def test_tags_outside_the_core_schema_are_refused(text: str) -> None:
    assert [code for code, _, _ in codes(text)] == ["yaml-tag"]


def test_explicit_core_tag_that_does_not_fit_its_value() -> None:
    assert codes("a: !!int twelve\n") == [("yaml-tag", 1, 4)]


def test_non_finite_numbers_are_refused() -> None:
    assert [code for code, _, _ in codes("a: .inf\n")] == ["yaml-tag"]


def test_billion_laughs_fails_fast() -> None:
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, 10):
        name, previous = chr(97 + level), chr(96 + level)
        refs = ", ".join([f"*{previous}"] * 10)
        lines.append(f"{name}: &{name} [{refs}]")
    started = time.perf_counter()

    found = codes("\n".join(lines) + "\n")

    assert [code for code, _, _ in found] == ["yaml-limit"]
    # Generous: the walk stops at the node limit instead of expanding 10**10.
    assert time.perf_counter() - started < 5


def test_recursive_alias_is_refused() -> None:
    assert [code for code, _, _ in codes("a: &x [*x]\n")] == ["yaml-limit"]


def test_depth_limit() -> None:
    deep = (
        "".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 2))
        + "  " * (MAX_DEPTH + 2)
        + "v\n"
    )
    shallow = (
        "".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH - 2))
        + "  " * (MAX_DEPTH - 2)
        + "v\n"
    )

    assert [code for code, _, _ in codes(deep)] == ["yaml-limit"]
    assert parse_ok(shallow)


def test_flow_nesting_beyond_libyaml_limit_is_a_limit_finding() -> None:
    assert [code for code, _, _ in codes("a: " + "[" * 2000 + "]" * 2000)] == [
        "yaml-limit"
    ]


def test_size_limit_is_checked_before_parsing() -> None:
    content = b"a: b\n" * (MAX_FILE_BYTES // 5 + 1)

    assert codes(content) == [("yaml-limit", 1, 1)]


def test_merge_key_is_refused_but_a_quoted_one_is_text() -> None:
    assert codes("a:\n  <<: {b: 1}\n") == [("yaml-key", 2, 3)]
    assert parse_ok("a:\n  '<<': 1\n") == {"a": {"<<": 1}}


def test_complex_keys_are_refused() -> None:
    assert [code for code, _, _ in codes("? [a, b]\n: 1\n")] == ["yaml-key"]


def test_top_level_must_be_a_mapping() -> None:
    assert codes("- a\n- b\n") == [("yaml-root", 1, 1)]
    assert codes("just text\n") == [("yaml-root", 1, 1)]


def test_syntax_error_has_line_and_column() -> None:
    found = codes("a:\n  b: [1, 2\nc: 3\n")

    assert found[0][0] == "yaml-syntax"
    assert found[0][1] == 3


def test_second_document_is_refused() -> None:
    assert codes("a: 1\n---\nb: 2\n") == [("yaml-syntax", 2, 1)]


def test_invalid_utf8_is_reported_at_its_line() -> None:
    assert codes(b"a: 1\nb: \xff\xfe\n") == [("yaml-syntax", 2, 1)]


def test_missing_libyaml_is_one_clear_error() -> None:
    class PureYaml:
        __with_libyaml__ = False

    with pytest.raises(GitopsError, match=r"without libyaml.*libyaml-dev"):
        require_libyaml(PureYaml)
    require_libyaml()
