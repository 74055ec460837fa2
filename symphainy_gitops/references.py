"""References between config types, checked inside one tenant's merged config.

Every reference must resolve to something the same tenant defines, after the
merge; role inheritance and workflow steps must not loop. The checks read
data that may also have schema errors, so they skip what has the wrong shape
instead of failing on it (the schema already reports that).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Iterator, Mapping
from functools import cached_property
from typing import Any

from .findings import Finding, error, warning
from .layout import CONFIG_TYPES
from .merge import Origin, Provenance
from .parse import Path

_MODELS, _WORKFLOWS, _USERS = "domain_models", "workflows", "user_management"
_ENDPOINTS, _PERSONAS = "ingestion_endpoints", "ai_agent_personas"


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(value: Any) -> Iterator[tuple[int, str]]:
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str):
                yield index, item


class _Checker:
    def __init__(
        self,
        config: Mapping[str, Any],
        provenance: Provenance,
        tenant: str | None,
        fallback: Origin,
    ) -> None:
        self.config = config
        self.provenance = provenance
        self.tenant = tenant
        self.fallback = fallback
        self.findings: list[Finding] = []

    def collection(self, config_type: str, key: str) -> dict[str, Any]:
        return _mapping(_mapping(self.config.get(config_type)).get(key))

    @cached_property
    def models(self) -> dict[str, Any]:
        return self.collection("domain_models", "models")

    @cached_property
    def workflows(self) -> dict[str, Any]:
        return self.collection("workflows", "workflows")

    @cached_property
    def roles(self) -> dict[str, Any]:
        return self.collection("user_management", "roles")

    @cached_property
    def permissions(self) -> dict[str, Any]:
        return self.collection("user_management", "permissions")

    @cached_property
    def sources(self) -> set[str]:
        """What a widget or a persona may read: workflows and domain models."""
        return set(self.models) | set(self.workflows)

    def origin(self, config_type: str, path: Path) -> Origin:
        return self.provenance.nearest(config_type, path) or self.fallback

    def report(self, code: str, config_type: str, path: Path, message: str) -> None:
        origin = self.origin(config_type, path)
        self.findings.append(
            error(code, message, origin.file, origin.line, origin.column, self.tenant)
        )

    def expect(
        self,
        config_type: str,
        path: Path,
        name: Any,
        what: str,
        known: Collection[str],
        scope: str = "in the merged config (base, plan and tenant)",
    ) -> None:
        """Report ``name`` at ``path`` unless it is one of ``known``.

        A name that is not text is left to the schema, which reports it.
        """
        if not isinstance(name, str) or name in known:
            return
        names = sorted(known)
        dotted = ".".join(str(step) for step in path)
        message = f"{dotted}: '{name}' is not {what} {scope}"
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        if close:
            message += f"; did you mean '{close[0]}'?"
        elif names:
            message += f"; define it, or use one of: {', '.join(names[:12])}"
            message += " …" if len(names) > 12 else ""
        else:
            message += "; none is defined yet"
        self.report("ref-unknown", config_type, path, message)

    def expect_each(
        self,
        config_type: str,
        path: Path,
        names: Any,
        what: str,
        known: Collection[str],
    ) -> None:
        """``expect`` for every item of the list ``names`` at ``path``."""
        for index, name in _strings(names):
            self.expect(config_type, (*path, index), name, what, known)


def check_references(
    config: Mapping[str, Any],
    provenance: Provenance,
    tenant: str,
    fallback: Origin,
    platform: Mapping[str, Any],
    shared: Collection[str] = (),
    cache: dict[str, list[Finding]] | None = None,
) -> list[Finding]:
    """Dangling references, cycles and unreachable steps in one tenant.

    ``shared`` names the config types whose merged document this tenant
    shares with others (it has no overlay of its own for them). A check that
    reads only shared documents has the same result for all of those
    tenants: it runs once, its findings belong to no single tenant, and
    ``cache`` keeps them for the next tenant.
    """
    findings = []
    for name, inputs, run in _CHECKS:
        if cache is not None and inputs <= set(shared):
            if name not in cache:
                check = _Checker(config, provenance, None, fallback)
                run(check)
                cache[name] = check.findings
            findings += cache[name]
            continue
        check = _Checker(config, provenance, tenant, fallback)
        run(check)
        findings += check.findings

    # These read the tenant document with any other type, so they belong to
    # this tenant alone and never go into the shared cache.
    check = _Checker(config, provenance, tenant, fallback)
    _tenant_service(check, platform)
    _cli_aliases(check)
    return findings + check.findings


def _model_mappings(check: _Checker) -> None:
    for model_id, model in check.models.items():
        fields = _mapping(_mapping(model).get("fields"))
        mappings = _mapping(_mapping(model).get("mappings"))
        for mapping_id, mapping in mappings.items():
            for field in _mapping(_mapping(mapping).get("fields")):
                path = ("models", model_id, "mappings", mapping_id, "fields", field)
                check.expect(
                    "domain_models",
                    path,
                    field,
                    f"a field of model '{model_id}'",
                    fields,
                )


def _workflows(check: _Checker) -> None:
    models, roles = check.models, check.roles
    for workflow_id, workflow in check.workflows.items():
        workflow = _mapping(workflow)
        base: Path = ("workflows", workflow_id)
        steps = _mapping(workflow.get("steps"))

        a_step = f"a step of workflow '{workflow_id}'"
        model, start = workflow.get("input_model"), workflow.get("start")
        check.expect(
            "workflows", (*base, "input_model"), model, "a domain model", models
        )
        check.expect("workflows", (*base, "start"), start, a_step, steps)

        graph: dict[str, list[tuple[str, Path]]] = {}
        for step_id, step in steps.items():
            step = _mapping(step)
            step_path = (*base, "steps", step_id)
            edges = graph.setdefault(step_id, [])
            for index, target in _strings(step.get("next")):
                path = (*step_path, "next", index)
                check.expect("workflows", path, target, a_step, steps)
                if target in steps:
                    edges.append((target, path))
            approvers = step.get("approvers")
            check.expect_each(
                "workflows", (*step_path, "approvers"), approvers, "a role", roles
            )

        _cycles(check, "workflows", graph, f"the steps of workflow '{workflow_id}'")
        if isinstance(start, str) and start in steps:
            _unreachable(check, workflow_id, start, graph)


def _unreachable(
    check: _Checker,
    workflow_id: str,
    start: str,
    graph: dict[str, list[tuple[str, Path]]],
) -> None:
    seen = {start}
    pending = [start]
    while pending:
        for target, _ in graph.get(pending.pop(), []):
            if target not in seen:
                seen.add(target)
                pending.append(target)

    for step_id in sorted(set(graph) - seen):
        path: Path = ("workflows", workflow_id, "steps", step_id)
        origin = check.origin("workflows", path)
        check.findings.append(
            warning(
                "workflow-unreachable",
                f"workflow '{workflow_id}': no path from the start step '{start}' "
                f"reaches step '{step_id}'; point a 'next' at it, or remove it",
                origin.file,
                origin.line,
                origin.column,
                check.tenant,
            )
        )


def _cycles(
    check: _Checker,
    config_type: str,
    graph: dict[str, list[tuple[str, Path]]],
    what: str,
) -> None:
    """Report each distinct cycle once, at the edge that closes it."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []
    reported: set[frozenset[str]] = set()

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target, path in graph.get(node, []):
            if state.get(target) == 1:
                loop = [*stack[stack.index(target) :], target]
                if frozenset(loop) not in reported:
                    reported.add(frozenset(loop))
                    check.report(
                        "ref-cycle",
                        config_type,
                        path,
                        f"{what} form a cycle: {' → '.join(loop)}; break it by "
                        "removing one of these links",
                    )
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def _dashboards(check: _Checker) -> None:
    roles, sources = check.roles, check.sources
    for dashboard_id, dashboard in check.collection("dashboards", "dashboards").items():
        dashboard = _mapping(dashboard)
        base: Path = ("dashboards", dashboard_id)
        visible_to = dashboard.get("visible_to")
        check.expect_each(
            "dashboards", (*base, "visible_to"), visible_to, "a role", roles
        )
        for widget_id, widget in _mapping(dashboard.get("widgets")).items():
            source = _mapping(widget).get("source")
            path = (*base, "widgets", widget_id, "source")
            check.expect(
                "dashboards", path, source, "a workflow or domain model", sources
            )


def _endpoints(check: _Checker) -> None:
    models, permissions = check.models, check.permissions
    endpoints = check.collection("ingestion_endpoints", "endpoints")
    for endpoint_id, endpoint in endpoints.items():
        endpoint = _mapping(endpoint)
        base: Path = ("endpoints", endpoint_id)
        model, mapping = endpoint.get("model"), endpoint.get("mapping")
        check.expect(_ENDPOINTS, (*base, "model"), model, "a domain model", models)
        if isinstance(model, str) and model in models:
            mappings = _mapping(_mapping(models[model]).get("mappings"))
            what = f"a mapping of model '{model}'"
            check.expect(_ENDPOINTS, (*base, "mapping"), mapping, what, mappings)
        permission = endpoint.get("required_permission")
        path = (*base, "required_permission")
        check.expect(_ENDPOINTS, path, permission, "a permission", permissions)


def _roles(check: _Checker) -> None:
    roles, permissions = check.roles, check.permissions
    graph: dict[str, list[tuple[str, Path]]] = {}
    for role_id, role in roles.items():
        role = _mapping(role)
        base: Path = ("roles", role_id)
        check.expect_each(
            _USERS,
            (*base, "permissions"),
            role.get("permissions"),
            "a permission",
            permissions,
        )
        edges = graph.setdefault(role_id, [])
        for index, parent in _strings(role.get("inherits")):
            path = (*base, "inherits", index)
            check.expect("user_management", path, parent, "a role", roles)
            if parent in roles:
                edges.append((parent, path))
    _cycles(check, "user_management", graph, "role inheritance links")

    route_permissions = check.collection("user_management", "route_permissions")
    for route_id, route in route_permissions.items():
        required = _mapping(route).get("permission")
        path = ("route_permissions", route_id, "permission")
        check.expect(_USERS, path, required, "a permission", permissions)


def _personas(check: _Checker) -> None:
    permissions, sources = check.permissions, check.sources
    personas = check.collection("ai_agent_personas", "personas")
    for persona_id, persona in personas.items():
        persona = _mapping(persona)
        base: Path = ("personas", persona_id)
        check.expect_each(
            _PERSONAS,
            (*base, "permissions"),
            persona.get("permissions"),
            "a permission",
            permissions,
        )
        check.expect_each(
            _PERSONAS,
            (*base, "workflows"),
            persona.get("workflows"),
            "a workflow or domain model",
            sources,
        )


def _tenant_service(check: _Checker, platform: Mapping[str, Any]) -> None:
    routing = _mapping(_mapping(check.config.get("tenant")).get("routing"))
    check.expect(
        "tenant",
        ("routing", "service"),
        routing.get("service"),
        "a service",
        _mapping(platform.get("services")),
        scope="in base/platform.yaml",
    )


def _cli_aliases(check: _Checker) -> None:
    """Each alias of ``remote run`` must point at something the tenant has."""
    aliases = _mapping(_mapping(check.config.get("tenant")).get("cli")).get("aliases")
    for name, alias in _mapping(aliases).items():
        alias = _mapping(alias)
        config_type, dotted = alias.get("type"), alias.get("path")
        if config_type not in CONFIG_TYPES or not isinstance(dotted, str):
            continue  # The schema reports a missing or unknown type.

        value: Any = check.config.get(config_type)
        walked: list[str] = []
        for key in dotted.split("."):
            if not isinstance(value, dict) or key not in value:
                check.expect(
                    "tenant",
                    ("cli", "aliases", name, "path"),
                    key,
                    f"a key under '{'.'.join([config_type, *walked])}'",
                    list(value) if isinstance(value, dict) else [],
                    scope="in this tenant's merged config",
                )
                break
            value = value[key]
            walked.append(key)


# Each check and the config types it reads.
_CHECKS: tuple[tuple[str, frozenset[str], Callable[[_Checker], None]], ...] = (
    ("model_mappings", frozenset({_MODELS}), _model_mappings),
    ("workflows", frozenset({_WORKFLOWS, _MODELS, _USERS}), _workflows),
    ("dashboards", frozenset({"dashboards", _WORKFLOWS, _MODELS, _USERS}), _dashboards),
    ("endpoints", frozenset({"ingestion_endpoints", _MODELS, _USERS}), _endpoints),
    ("roles", frozenset({_USERS}), _roles),
    (
        "personas",
        frozenset({"ai_agent_personas", _WORKFLOWS, _MODELS, _USERS}),
        _personas,
    ),
)
