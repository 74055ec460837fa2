"""The merge laws, and provenance pointing at the layer that set each value."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from symphainy_gitops.merge import Layer, Provenance, explain, merge, merge_layers
from symphainy_gitops.parse import parse_document

keys = st.sampled_from(["a", "b", "c", "d", "e"])
scalars = st.one_of(st.integers(-5, 5), st.text(max_size=3), st.booleans())
values: st.SearchStrategy[Any] = st.recursive(
    scalars | st.lists(scalars, max_size=3),
    lambda children: st.dictionaries(keys, children, max_size=4),
    max_leaves=12,
)
documents = st.dictionaries(keys, values, max_size=5)
overlays: st.SearchStrategy[Any] = st.recursive(
    scalars | st.lists(scalars, max_size=3) | st.none(),
    lambda children: st.dictionaries(keys, children, max_size=4),
    max_leaves=12,
)
overlay_documents = st.dictionaries(keys, overlays, max_size=5)


@given(documents)
def test_empty_overlay_is_identity(base: dict[str, Any]) -> None:
    assert merge(base, {}) == base


@given(documents, overlay_documents)
def test_keys_only_in_base_survive(
    base: dict[str, Any], overlay: dict[str, Any]
) -> None:
    merged = merge(base, overlay)

    for key in base.keys() - overlay.keys():
        assert merged[key] == base[key]


@given(documents, overlay_documents)
def test_overlay_scalars_and_lists_win(
    base: dict[str, Any], overlay: dict[str, Any]
) -> None:
    merged = merge(base, overlay)

    for key, value in overlay.items():
        if value is not None and not isinstance(value, dict):
            assert merged[key] == value


@given(documents, overlay_documents)
def test_null_deletes(base: dict[str, Any], overlay: dict[str, Any]) -> None:
    merged = merge(base, overlay)

    for key, value in overlay.items():
        if value is None:
            assert key not in merged


@given(documents, overlay_documents)
def test_merge_never_modifies_its_inputs(
    base: dict[str, Any], overlay: dict[str, Any]
) -> None:
    before = repr((base, overlay))

    merge(base, overlay)

    assert repr((base, overlay)) == before


@given(overlay_documents)
def test_nulls_of_an_overlay_never_reach_the_result(overlay: dict[str, Any]) -> None:
    def holds_none(value: Any) -> bool:
        if isinstance(value, dict):
            return any(v is None or holds_none(v) for v in value.values())
        return False

    assert not holds_none(merge({}, overlay))


def test_mappings_merge_recursively_and_untouched_subtrees_are_shared() -> None:
    base = {"a": {"b": 1, "c": {"d": 2}}, "big": {"x": [1, 2, 3]}}

    merged = merge(base, {"a": {"b": 5}})

    assert merged == {"a": {"b": 5, "c": {"d": 2}}, "big": {"x": [1, 2, 3]}}
    assert merged["big"] is base["big"]
    assert merged["a"]["c"] is base["a"]["c"]


def layer(name: str, path: str, text: str) -> Layer:
    document, findings = parse_document(path, text.encode())
    assert document is not None, findings
    return Layer(name, {"workflows": document})


def test_provenance_names_the_top_layer_that_set_each_value() -> None:
    layers = [
        layer("base", "base/workflows.yaml", "a:\n  b: 1\n  c: 2\nlist: [1, 2]\n"),
        layer("plan:gold", "base/plans/gold/workflows.yaml", "a:\n  c: 3\n"),
        layer("tenant:acme", "tenants/acme/workflows.yaml", "\nlist: [9]\n"),
    ]
    provenance = Provenance(layers)

    merged = merge_layers(layers, "workflows")

    assert merged == {"a": {"b": 1, "c": 3}, "list": [9]}
    b, c = (
        provenance.origin("workflows", ("a", "b")),
        provenance.origin("workflows", ("a", "c")),
    )
    listed = provenance.origin("workflows", ("list", 0))
    assert b is not None
    assert (b.location, b.layer) == (
        "base/workflows.yaml:2:3",
        "base",
    )
    assert c is not None
    assert c.layer == "plan:gold"
    assert c.line == 2
    assert listed is not None
    assert listed.location == "tenants/acme/workflows.yaml:2:8"


def test_explain_lists_every_leaf_with_its_origin() -> None:
    layers = [
        layer("base", "base/workflows.yaml", "a:\n  b: 1\n  c: 2\n"),
        layer("tenant:acme", "tenants/acme/workflows.yaml", "a:\n  c: 3\n  d: null\n"),
    ]
    provenance = Provenance(layers)

    leaves = explain({"workflows": merge_layers(layers, "workflows")}, provenance)

    assert leaves == {
        "workflows.a.b": {
            "value": 1,
            "file": "base/workflows.yaml",
            "line": 2,
            "column": 3,
            "layer": "base",
        },
        "workflows.a.c": {
            "value": 3,
            "file": "tenants/acme/workflows.yaml",
            "line": 2,
            "column": 3,
            "layer": "tenant:acme",
        },
    }
