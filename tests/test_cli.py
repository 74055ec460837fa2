"""The CLI as people, pre-commit and CI use it: output, formats and exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pygit2
import pytest
import yaml

from .conftest import commit_all, run

UNREACHABLE_STEP = """\
# yaml-language-server: $schema=../../schemas/workflows.schema.json
workflows:
  claims_intake:
    steps:
      parked:
        kind: task
        description: A step nothing leads to.
        next: [settle]
"""

DANGLING = """\
# yaml-language-server: $schema=../../schemas/workflows.schema.json
workflows:
  claims_intake:
    input_model: claimz
"""


def test_validate_clean_repository(config_repo: Path) -> None:
    result = run(config_repo, "validate")

    assert (result.exit_code, result.stdout) == (0, "ok: 5 tenants valid\n")


def test_validate_text_points_at_the_overlay_line(
    config_repo: Path, write: Callable[[str, str], Path]
) -> None:
    write("tenants/acme/workflows.yaml", DANGLING)

    result = run(config_repo, "validate")

    assert result.exit_code == 1
    first = result.stdout.splitlines()[0]
    assert first.startswith("tenants/acme/workflows.yaml:4:5: error[ref-unknown] ")
    assert "workflows.claims_intake.input_model" in first
    assert result.stdout.splitlines()[-1] == "1 error, 0 warnings in 5 tenants"


def test_validate_json_and_named_tenants(
    config_repo: Path, write: Callable[[str, str], Path]
) -> None:
    write("tenants/acme/workflows.yaml", DANGLING)

    everyone = json.loads(run(config_repo, "validate", "--format", "json").stdout)
    others = run(config_repo, "validate", "brightside", "northwind", "--format", "json")

    assert everyone["valid"] is False
    assert everyone["errors"] == 1
    assert everyone["findings"][0] | {"message": ""} == {
        "code": "ref-unknown",
        "severity": "error",
        "message": "",
        "file": "tenants/acme/workflows.yaml",
        "line": 4,
        "column": 5,
        "tenant": "acme",
    }
    assert others.exit_code == 0
    assert json.loads(others.stdout)["tenants"] == ["brightside", "northwind"]


def test_validate_github_annotations_escape_their_data(
    config_repo: Path, write: Callable[[str, str], Path]
) -> None:
    write(
        "tenants/acme/workflows.yaml",
        DANGLING.replace("claimz", '"claim, with 100% coverage"'),
    )

    result = run(config_repo, "validate", "--format", "github")

    line = result.stdout.splitlines()[0]
    assert line.startswith(
        "::error file=tenants/acme/workflows.yaml,line=4,col=5,title=ref-unknown::"
    )
    assert "100%25 coverage" in line


def test_warnings_fail_only_with_strict(
    config_repo: Path, write: Callable[[str, str], Path]
) -> None:
    write("tenants/acme/workflows.yaml", UNREACHABLE_STEP)

    relaxed = run(config_repo, "validate")
    strict = run(config_repo, "validate", "--strict")

    assert relaxed.exit_code == 0
    assert "warning[workflow-unreachable]" in relaxed.stdout
    assert strict.exit_code == 1


def test_validate_at_a_ref(
    config_repo: Path, write: Callable[[str, str], Path]
) -> None:
    write("tenants/acme/workflows.yaml", DANGLING)
    commit_all(config_repo, "Break acme")
    write("tenants/acme/workflows.yaml", UNREACHABLE_STEP)

    assert run(config_repo, "validate", "--ref", "HEAD").exit_code == 1
    assert run(config_repo, "validate", "--ref", "HEAD~1").exit_code == 0
    assert run(config_repo, "validate").exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("validate", "--ref", "nope"), "Error: 'nope' is not a commit, tag or branch"),
        (("validate", "nobody"), "no tenant 'nobody'"),
        (("show", "nobody"), "no tenant 'nobody'"),
        (("show", "acme", "widgets"), "'widgets' is not a config type"),
        (("validate", "--format", "xml"), "'xml' is not one of"),
    ],
)
def test_usage_and_library_errors_exit_2_in_one_line(
    config_repo: Path, args: tuple[str, ...], message: str
) -> None:
    result = run(config_repo, *args)

    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_outside_a_config_repository(tmp_path: Path) -> None:
    result = run(tmp_path, "validate")

    assert result.exit_code == 2
    assert result.stderr.startswith("Error: no config repository at or above")


def test_show_prints_the_merged_config(config_repo: Path) -> None:
    as_yaml = yaml.safe_load(run(config_repo, "show", "acme", "workflows").stdout)
    as_json = json.loads(run(config_repo, "show", "acme", "--output", "json").stdout)

    steps = as_yaml["workflows"]["workflows"]["claims_intake"]["steps"]
    assert steps["triage"]["next"] == ["senior_review"]
    assert "adjuster_approval" in steps
    assert as_json["tenant"]["plan"] == "enterprise"
    assert set(as_json) >= {"tenant", "workflows", "user_management"}


def test_show_explain_names_file_line_and_layer(config_repo: Path) -> None:
    text = run(config_repo, "show", "acme", "workflows", "--explain").stdout
    data = json.loads(
        run(
            config_repo, "show", "acme", "tenant", "--explain", "--output", "json"
        ).stdout
    )

    lines = {line.split(" = ")[0]: line for line in text.splitlines()}
    triage = lines["workflows.workflows.claims_intake.steps.triage.next"]
    assert triage.endswith("# tenants/acme/workflows.yaml:10:9 (tenant:acme)")
    receive = lines["workflows.workflows.claims_intake.steps.receive.kind"]
    assert receive.endswith("(base)")
    assert "base/workflows.yaml:" in receive
    assert data["tenant.rate_limit.average"]["layer"] == "plan:enterprise"
    assert data["tenant.audit.enabled"]["file"] == "base/tenant.yaml"


def test_show_at_an_older_ref(
    config_repo: Path, write: Callable[[str, str], Path]
) -> None:
    write(
        "tenants/acme/tenant.yaml",
        (config_repo / "tenants/acme/tenant.yaml")
        .read_text()
        .replace("Acme Mutual Insurance", "Acme Mutual"),
    )
    commit_all(config_repo, "Rename acme")

    now = yaml.safe_load(run(config_repo, "show", "acme", "tenant").stdout)
    before = yaml.safe_load(
        run(config_repo, "show", "acme", "tenant", "--ref", "HEAD~1").stdout
    )

    assert (now["tenant"]["name"], before["tenant"]["name"]) == (
        "Acme Mutual",
        "Acme Mutual Insurance",
    )


def test_tenants_lists_status_plan_and_domains(config_repo: Path) -> None:
    rows = json.loads(run(config_repo, "tenants", "--output", "json").stdout)
    text = run(config_repo, "tenants").stdout.splitlines()

    by_id = {row["id"]: row for row in rows}
    assert by_id["harbor"]["status"] == "suspended"
    assert by_id["northwind"]["domains"] == []
    assert by_id["acme"]["plan"] == "enterprise"
    assert text[0].split() == ["ID", "STATUS", "PLAN", "DOMAINS"]
    assert text[1].split()[:3] == ["acme", "active", "enterprise"]


def test_render_writes_checks_and_removes(config_repo: Path) -> None:
    out = config_repo / "traefik" / "dynamic"

    first = run(config_repo, "render")
    clean = run(config_repo, "render", "--check")
    shutil.rmtree(config_repo / "tenants" / "lumen")
    stale = run(config_repo, "render", "--check")
    again = run(config_repo, "render")

    assert first.exit_code == 0
    assert clean.exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "platform.yml",
        "tenant-acme.yml",
        "tenant-brightside.yml",
        "tenant-northwind.yml",
    ]
    assert stale.exit_code == 1
    assert f"{out / 'tenant-lumen.yml'}: left over" in stale.stdout
    assert again.exit_code == 0
    assert f"removed {out / 'tenant-lumen.yml'}" in again.stdout


def test_render_check_names_a_stale_file(config_repo: Path) -> None:
    run(config_repo, "render")
    path = config_repo / "tenants/acme/tenant.yaml"
    path.write_text(
        path.read_text().replace("acme.localhost\n", "acme2.localhost\n", 1)
    )

    result = run(config_repo, "render", "--check")

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{config_repo / 'traefik/dynamic/tenant-acme.yml'}: differs from what the "
        "config renders"
    ]


def test_render_refuses_to_write_an_invalid_config(
    config_repo: Path, write: Callable[[str, str], Path]
) -> None:
    run(config_repo, "render")
    out = config_repo / "traefik" / "dynamic"
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    write(
        "tenants/acme/tenant.yaml",
        (config_repo / "tenants/acme/tenant.yaml")
        .read_text()
        .replace("- acme.localhost", "- '{{ .Env.SECRET }}.localhost'"),
    )

    result = run(config_repo, "render")

    assert result.exit_code == 1
    assert "refusing to render" in result.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_render_is_deterministic_and_names_its_commit(config_repo: Path) -> None:
    head = str(pygit2.Repository(str(config_repo)).head.target)

    one, two = config_repo / "one", config_repo / "two"

    first_run = run(config_repo, "render", "--ref", "HEAD", "--out", str(one))
    second_run = run(config_repo, "render", "--ref", head, "--out", str(two))

    assert first_run.exit_code == second_run.exit_code == 0
    first = {p.name: p.read_bytes() for p in one.iterdir()}
    second = {p.name: p.read_bytes() for p in two.iterdir()}
    assert first == second
    assert f"# Rendered from: {head}\n".encode() in first["platform.yml"]


def test_render_kv_prints_traefik_keys(config_repo: Path) -> None:
    result = run(config_repo, "render", "--format", "kv")

    pairs = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert pairs["traefik/http/routers/tenant-acme-host/rule"] == (
        "Host(`acme.localhost`) || Host(`claims.acme.localhost`)"
    )
    assert pairs["traefik/http/routers/tenant-acme-host/middlewares/2"] == (
        "platform-forward-auth"
    )
    assert not any("harbor" in key for key in pairs)


def test_console_script_has_help_with_examples() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "symphainy_gitops", "validate", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0
    assert "Examples:" in result.stdout
    assert "--format" in result.stdout


def test_persona_safety_is_the_platforms_for_plan_added_personas(
    config_repo: Path,
) -> None:
    shown = run(config_repo, "show", "acme", "ai_agent_personas", "--explain")

    lines = {line.split(" = ")[0]: line for line in shown.stdout.splitlines()}
    assert "ai_agent_personas.personas.underwriting_assistant.display_name" in lines
    for control in ("pii_redaction", "human_handoff"):
        line = lines[f"ai_agent_personas.safety.{control}"]
        assert line.startswith(f"ai_agent_personas.safety.{control} = true")
        assert line.endswith("(base)")
