"""Host and prefix conflicts: the index finds what comparing every pair finds."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from symphainy_gitops.claims import PLATFORM_OWNER, Claim, ClaimIndex
from symphainy_gitops.findings import Finding
from symphainy_gitops.merge import Origin

# Few values, so that collisions and nesting are common; odd spellings too.
PREFIXES = ["/", "/a", "/a/b", "/a/b/c", "/ab", "a/b", "/a//b", "/b", "/a/bc"]
HOSTS = ["x.test", "y.test"]
OWNERS = ["t1", "t2", "t3", PLATFORM_OWNER]


def _segments(value: str) -> list[str]:
    return value.strip("/").split("/")


def _nests(outer: str, inner: str) -> bool:
    """Whether ``outer`` routes a part of ``inner``'s paths, segment by segment."""
    if outer == "/":
        return inner != "/"
    if not outer.startswith("/"):
        return False
    parts, inside = _segments(outer), _segments(inner)
    return len(parts) < len(inside) and inside[: len(parts)] == parts


def _pairwise(claims: list[Claim]) -> Counter[tuple[str, int]]:
    """The findings expected per tenant claim (owner, line), from every pair:
    one if another owner holds the same value, and one per nesting."""
    found: Counter[tuple[str, int]] = Counter()
    for claim in claims:
        if claim.owner == PLATFORM_OWNER:
            continue
        others = [other for other in claims if other.owner != claim.owner]
        key = (claim.owner, claim.origin.line)
        if any((o.kind, o.value) == (claim.kind, claim.value) for o in others):
            found[key] += 1
        for other in others:
            if claim.kind == other.kind == "prefix":
                found[key] += _nests(other.value, claim.value)
                found[key] += _nests(claim.value, other.value)
    return found


def _counted(findings: list[Finding]) -> Counter[tuple[str, int]]:
    return Counter((str(finding.tenant), finding.line) for finding in findings)


claim_lists = st.lists(
    st.tuples(
        st.sampled_from(OWNERS),
        st.one_of(
            st.tuples(st.just("host"), st.sampled_from(HOSTS)),
            st.tuples(st.just("prefix"), st.sampled_from(PREFIXES)),
        ),
    ),
    max_size=8,
)


def _claims(drawn: list[tuple[str, tuple[str, str]]]) -> list[Claim]:
    return [
        Claim(kind, value, owner, Origin("f.yaml", line, 1, "l"))
        for line, (owner, (kind, value)) in enumerate(drawn, start=1)
    ]


@given(claim_lists, st.sets(st.sampled_from(OWNERS[:3])))
def test_index_finds_the_pairwise_conflicts_of_the_checked_owners(
    drawn: list[tuple[str, tuple[str, str]]], checked_owners: set[str]
) -> None:
    claims = _claims(drawn)
    checked = [c for c in claims if c.owner in checked_owners]
    index = ClaimIndex(c for c in claims if c.owner not in checked_owners)
    index.add(checked)

    findings = index.conflicts(checked)

    expected = _pairwise(claims)
    wanted = Counter({k: n for k, n in expected.items() if k[0] in checked_owners})
    assert _counted(findings) == wanted


@given(claim_lists)
def test_rows_and_claims_give_the_same_findings(
    drawn: list[tuple[str, tuple[str, str]]],
) -> None:
    claims = _claims(drawn)
    checked = [c for c in claims if c.owner == "t1"]
    as_claims = ClaimIndex(claims)
    as_rows = ClaimIndex(checked)
    for claim in claims:
        if claim.owner != "t1":
            origin = claim.origin
            row = [claim.kind, claim.value, origin.file, origin.line, 1, origin.layer]
            as_rows.add_rows(claim.owner, [row])

    assert as_rows.conflicts(checked) == as_claims.conflicts(checked)
