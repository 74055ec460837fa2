"""diff: the effective config per tenant at two revisions, not the files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from symphainy_gitops.diff import changed_values

from .conftest import commit_all, edit, run


def as_json(repo: Path, *args: str) -> dict[str, object]:
    result = run(repo, "diff", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def tenants_of(document: dict[str, object]) -> dict[str, dict[str, object]]:
    return {t["tenant"]: t for t in document["tenants"]}  # type: ignore[attr-defined,index]


def test_base_change_lists_only_tenants_that_do_not_override(
    config_repo: Path,
) -> None:
    edit(
        config_repo,
        "base/tenant.yaml",
        "allowed_origins: []",
        "allowed_origins: [https://portal.localhost]",
    )

    changed = tenants_of(as_json(config_repo))

    # acme sets its own allowed origins, so the default does not reach it.
    assert sorted(changed) == ["brightside", "harbor", "lumen", "northwind"]
    [value] = changed["lumen"]["config"]  # type: ignore[misc]
    assert value == {
        "path": "tenant.cors.allowed_origins",
        "kind": "changed",
        "old": [],
        "new": ["https://portal.localhost"],
        "origin": value["origin"],
        "secret": False,
    }
    assert value["origin"].startswith("base/tenant.yaml:")


def test_plan_change_lists_the_plans_tenants_with_routes(config_repo: Path) -> None:
    edit(
        config_repo, "base/plans/enterprise/tenant.yaml", "average: 200", "average: 250"
    )
    commit_all(config_repo, "Raise the enterprise rate limit")

    document = as_json(config_repo, "HEAD~1", "HEAD")
    changed = tenants_of(document)

    assert sorted(changed) == ["acme", "lumen"]
    config = changed["acme"]["config"]
    assert config[0]["path"] == "tenant.rate_limit.average"  # type: ignore[index]
    assert config[0]["old"] == 200  # type: ignore[index]
    assert config[0]["origin"].startswith("base/plans/enterprise/tenant.yaml:")  # type: ignore[index]
    routes = [r["path"] for r in changed["acme"]["routes"]]  # type: ignore[attr-defined]
    assert routes == ["http.middlewares.tenant-acme-ratelimit.rateLimit.average"]


def test_renamed_and_removed_tenants(config_repo: Path) -> None:
    (config_repo / "tenants" / "lumen").rename(config_repo / "tenants" / "lumen-labs")
    edit(config_repo, "tenants/lumen-labs/tenant.yaml", "id: lumen", "id: lumen-labs")
    for path in (config_repo / "tenants" / "harbor").iterdir():
        path.unlink()
    (config_repo / "tenants" / "harbor").rmdir()

    changed = tenants_of(as_json(config_repo))

    assert {name: t["status"] for name, t in changed.items()} == {
        "harbor": "removed",
        "lumen": "removed",
        "lumen-labs": "added",
    }


def test_secret_paths_are_never_shown(config_repo: Path) -> None:
    edit(
        config_repo,
        "tenants/brightside/ingestion_endpoints.yaml",
        "${secret:brightside_ams_hmac}",
        "${secret:brightside_ams_hmac_v2}",
    )

    text = run(config_repo, "diff").stdout
    markdown = run(config_repo, "diff", "--format", "markdown").stdout

    assert "brightside_ams_hmac" not in text + markdown
    assert (
        "ingestion_endpoints.endpoints.ams_policies.signing_secret: "
        "(secret, changed)  (tenants/brightside/ingestion_endpoints.yaml:14:5)"
    ) in text


def test_secret_inside_an_added_value_is_hidden(config_repo: Path) -> None:
    edit(
        config_repo,
        "tenants/brightside/ingestion_endpoints.yaml",
        "endpoints:\n",
        "endpoints:\n  extra:\n    path: /ingest/extra\n    format: json\n"
        "    model: policy\n    required_permission: ingestion.write\n"
        "    signing_secret: '${secret:extra_hmac}'\n",
    )

    text = run(config_repo, "diff").stdout

    assert "extra_hmac" not in text
    assert "ingestion_endpoints.endpoints.extra: added" in text


def test_markdown_summary_has_table_routes_and_findings(
    config_repo: Path, write: Callable[[str, str], Path]
) -> None:
    edit(
        config_repo, "tenants/acme/tenant.yaml", "- acme.localhost", "- acme2.localhost"
    )
    write(
        "tenants/lumen/workflows.yaml",
        "workflows:\n  claims_intake:\n    input_model: nothing_here\n",
    )

    markdown = run(config_repo, "diff", "--format", "markdown").stdout

    assert "| `acme` | changed | 1 | 1 |" in markdown
    assert "route http.routers.tenant-acme-host.rule" in markdown
    assert "### Findings" in markdown
    assert "`ref-unknown`" in markdown


def test_one_tenant_and_no_change(config_repo: Path) -> None:
    edit(
        config_repo, "tenants/acme/tenant.yaml", "- acme.localhost", "- acme2.localhost"
    )

    only_lumen = as_json(config_repo, "--tenant", "lumen")
    nothing = run(config_repo, "diff", "HEAD", "HEAD")

    assert only_lumen["tenants"] == []
    assert nothing.exit_code == 0
    assert nothing.stdout.startswith("0 tenants changed between")


def test_unknown_revision_is_a_usage_error(config_repo: Path) -> None:
    result = run(config_repo, "diff", "no-such-branch")

    assert result.exit_code == 2
    assert "is not a commit, tag or branch" in result.stderr


def test_a_change_of_type_alone_is_a_change() -> None:
    old = {"tenant": {"limit": 1, "names": ["a"]}, "workflows": {"w": {"on": 1}}}
    new = {"tenant": {"limit": 1, "names": ["a"]}, "workflows": {"w": {"on": True}}}

    changes = list(changed_values(old, new, None, None))

    assert [(c.path, c.old, c.new) for c in changes] == [("workflows.w.on", 1, True)]
