"""The one validation pipeline: parse → merge → schema → rules → render.

The CLI, the pre-commit hook, CI and the server's reload all call
``Pipeline``; none has a check of its own. A run reports every finding it
can, not the first.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from . import claims as claim_rules
from .errors import GitopsError
from .findings import Finding, Severity, error
from .layout import CONFIG_TYPES, PLATFORM, SCHEMA_TYPES, TENANT_ID, TENANTS, ConfigTree
from .merge import Layer, Origin, Provenance, merge, merge_layers
from .parse import MAX_FILE_BYTES, Document, parse_document, require_libyaml
from .references import check_references
from .render import unsafe_values
from .schema import SchemaSet
from .source import FileTooLarge, Source


@dataclass(frozen=True, slots=True)
class TenantConfig:
    """One tenant's merged config, where each value came from, and its findings."""

    tenant_id: str
    config: dict[str, Any]
    provenance: Provenance
    findings: tuple[Finding, ...]
    claims: tuple[claim_rules.Claim, ...]

    @property
    def tenant(self) -> dict[str, Any]:
        tenant = self.config.get("tenant")
        return tenant if isinstance(tenant, dict) else {}

    @property
    def valid(self) -> bool:
        return not any(f.severity is Severity.ERROR for f in self.findings)


@dataclass(frozen=True, slots=True)
class Identity:
    """What other tenants need of a tenant: its plan and its host/prefix claims.

    It comes from ``tenant.yaml`` merged over base and plan alone, whatever
    the tenant's other files hold, so it is the same whether or not the
    tenant itself is validated in a run.
    """

    plan: str | None
    claims: tuple[claim_rules.Claim, ...]


class Identities(Protocol):
    """What a run needs of the tenants it does not validate (see ``run``)."""

    @property
    def tenant_ids(self) -> Collection[str]: ...

    def plan(self, tenant_id: str) -> str | None: ...

    def add_claims(
        self, tenant_ids: Iterable[str], index: claim_rules.ClaimIndex
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class Result:
    """The findings of a run over some tenants, sorted and without repeats."""

    findings: tuple[Finding, ...]
    tenants: tuple[str, ...]
    # Before collapsing: the repository-wide findings, and each tenant's own
    # (conflicts included). ``restricted`` rebuilds a smaller run from them.
    shared: tuple[Finding, ...] = ()
    by_tenant: Mapping[str, tuple[Finding, ...]] = field(default_factory=dict)

    def restricted(self, tenant_ids: Iterable[str]) -> Result:
        """This result as a run over ``tenant_ids`` alone would have reported it.

        Repository-wide findings stay; of the tenants, only those named. A
        finding that several of them share is reported once with no tenant,
        so "shared" is relative to the tenants kept, as in every run.
        """
        kept = sorted(set(tenant_ids) & set(self.by_tenant))
        findings = [*self.shared]
        for tenant_id in kept:
            findings.extend(self.by_tenant[tenant_id])
        return Result(
            _collapse(findings),
            tuple(kept),
            self.shared,
            {tenant_id: self.by_tenant[tenant_id] for tenant_id in kept},
        )

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity is Severity.ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity is Severity.WARNING)


class Pipeline:
    """Validates the tenants of one source; shared layers are read once."""

    def __init__(self, source: Source) -> None:
        require_libyaml()
        self.source = source
        self.tree = ConfigTree(source)
        self.schemas = SchemaSet(source, SCHEMA_TYPES)
        self.platform = self.tree.platform_data
        self.findings = [*self.tree.findings, *self.schemas.findings]
        self._shared_layers: dict[str | None, _Shared] = {}
        self.identities: dict[str, Identity] = {}
        self._check_platform()

    def _check_platform(self) -> None:
        document = self.tree.platform
        if document is None:
            return
        provenance = Provenance([Layer("platform", {PLATFORM: document})])
        fallback = Origin(document.path, 1, 1, "platform")
        self.findings += self.schemas.validate(
            PLATFORM, document.data, provenance, fallback, None
        )

    def tenant(self, tenant_id: str) -> TenantConfig:
        """Merge and check one tenant (without the checks across tenants)."""
        documents, findings = self.tree.tenant_documents(tenant_id)
        tenant_file = f"{TENANTS}/{tenant_id}/tenant.yaml"
        fallback = Origin(tenant_file, 1, 1, f"tenant:{tenant_id}")

        findings += _identity(tenant_id, documents.get("tenant"), fallback)
        if not TENANT_ID.match(tenant_id) or any(
            finding.code in _UNMERGEABLE for finding in findings
        ):
            # A tenant whose own files do not parse is not merged: the rest of
            # its config would be checked against half of what was meant.
            claims = self._identity_from(tenant_id, documents.get("tenant")).claims
            return TenantConfig(tenant_id, {}, Provenance([]), tuple(findings), claims)

        plan, plan_findings = self._plan(tenant_id, documents, fallback)
        findings += plan_findings
        shared = self._shared(plan)
        provenance = Provenance(
            [*shared.layers, Layer(f"tenant:{tenant_id}", documents)]
        )
        findings += shared.findings

        config: dict[str, Any] = {}
        for config_type in CONFIG_TYPES:
            below = shared.merged.get(config_type)
            document = documents.get(config_type)
            if document is None:
                if below is not None:
                    config[config_type] = below
                    findings += shared.schema_findings(config_type)
                continue
            findings += self.schemas.locked(config_type, document, tenant_id)
            config[config_type] = merge(below, document.data)
            findings += self.schemas.validate(
                config_type, config[config_type], provenance, fallback, tenant_id
            )

        findings += check_references(
            config,
            provenance,
            tenant_id,
            fallback,
            self.platform,
            shared=set(CONFIG_TYPES) - set(documents),
            cache=shared.references,
        )
        findings += self._render(tenant_id, config, provenance, fallback)
        claims = tuple(_claims(tenant_id, config, provenance, self.platform, fallback))
        return TenantConfig(tenant_id, config, provenance, tuple(findings), claims)

    def _shared(self, plan: str | None) -> _Shared:
        """base/ merged with a plan, checked once for all tenants on that plan."""
        if plan not in self._shared_layers:
            layers = [self.tree.base]
            if plan is not None:
                layers.append(self.tree.plans[plan])
            self._shared_layers[plan] = _Shared(layers, self.schemas)
        return self._shared_layers[plan]

    def _render(
        self,
        tenant_id: str,
        config: dict[str, Any],
        provenance: Provenance,
        fallback: Origin,
    ) -> list[Finding]:
        """The render step: every value that cannot reach Traefik safely.

        Schema and reference checks already hold the rest of what rendering
        needs (a DNS-label id, known services), so render itself cannot fail
        on a tenant that passes; ``render`` refuses what does not.
        """
        problems = []
        for (config_type, *path), message in unsafe_values(config):
            origin = provenance.nearest(str(config_type), tuple(path)) or fallback
            dotted = ".".join(str(step) for step in path)
            problems.append(
                error(
                    "render-unsafe",
                    f"{dotted}: {message}",
                    origin.file,
                    origin.line,
                    origin.column,
                    tenant_id,
                )
            )
        return problems

    def _plan(
        self,
        tenant_id: str,
        documents: dict[str, Document],
        fallback: Origin,
    ) -> tuple[str | None, list[Finding]]:
        """The tenant's plan (its own choice, else base's default), if it exists."""
        layers = [self.tree.base, Layer("tenant", documents)]
        provenance = Provenance(layers)
        chosen = [
            layer.documents["tenant"].data
            for layer in layers
            if "plan" in layer.documents.get("tenant", _EMPTY).data
        ]
        plan = chosen[-1]["plan"] if chosen else None
        if not isinstance(plan, str):
            return None, []
        if plan in self.tree.plans:
            return plan, []

        origin = provenance.origin("tenant", ("plan",)) or fallback
        known = ", ".join(sorted(self.tree.plans)) or "none"
        finding = error(
            "plan-unknown",
            f"plan '{plan}' has no folder base/plans/{plan}/; the plans are: {known}",
            origin.file,
            origin.line,
            origin.column,
            tenant_id,
        )
        return None, [finding]

    @property
    def tenant_ids(self) -> list[str]:
        return self.tree.tenant_ids

    def identity(self, tenant_id: str) -> Identity:
        """The tenant's plan and claims, from its tenant.yaml alone."""
        if tenant_id not in self.identities:
            document = self._tenant_file(tenant_id)
            self.identities[tenant_id] = self._identity_from(tenant_id, document)
        return self.identities[tenant_id]

    def plan(self, tenant_id: str) -> str | None:
        return self.identity(tenant_id).plan

    def add_claims(
        self, tenant_ids: Iterable[str], index: claim_rules.ClaimIndex
    ) -> None:
        for tenant_id in tenant_ids:
            index.add(self.identity(tenant_id).claims)

    def _tenant_file(self, tenant_id: str) -> Document | None:
        path = f"{TENANTS}/{tenant_id}/tenant.yaml"
        try:
            content = self.source.read(path, limit=MAX_FILE_BYTES)
        except (FileTooLarge, OSError, GitopsError):
            return None
        document, _ = parse_document(path, content)
        return document

    def _identity_from(self, tenant_id: str, document: Document | None) -> Identity:
        # The same rules as a full merge: no claims from a tenant whose id is
        # not a DNS label or whose tenant.yaml does not parse.
        if document is None or not TENANT_ID.match(tenant_id):
            return Identity(None, ())
        documents = {"tenant": document}
        fallback = Origin(document.path, 1, 1, f"tenant:{tenant_id}")
        plan, _ = self._plan(tenant_id, documents, fallback)

        layers = [self.tree.base]
        if plan is not None:
            layers.append(self.tree.plans[plan])
        layers.append(Layer(f"tenant:{tenant_id}", documents))
        tenant = merge_layers(layers, "tenant") or {}
        provenance = Provenance(layers)
        claims = _claims(
            tenant_id, {"tenant": tenant}, provenance, self.platform, fallback
        )
        return Identity(plan, tuple(claims))

    def run(
        self,
        tenant_ids: Iterable[str] | None = None,
        keep: dict[str, TenantConfig] | None = None,
        others: Identities | None = None,
    ) -> Result:
        """Validate the given tenants (all by default) and the checks across them.

        Host and prefix claims are compared across every tenant even when only
        some are validated, so that a new claim cannot collide unseen; the
        tenants not validated contribute their claims only (``identity``),
        taken from ``others`` when given: a pipeline or cache over a revision
        where those tenants are known to be the same. The merged configs of the
        wanted tenants go into ``keep`` when given.
        """
        wanted = set(self.tree.tenant_ids if tenant_ids is None else tenant_ids)
        wanted &= set(self.tree.tenant_ids)
        lender = self if others is None else others
        index = claim_rules.ClaimIndex(
            claim_rules.platform_claims(self.platform, self._platform_origin)
        )
        lender.add_claims((t for t in self.tenant_ids if t not in wanted), index)
        by_tenant: dict[str, list[Finding]] = {}
        checked: list[claim_rules.Claim] = []

        for tenant_id in self.tree.tenant_ids:
            if tenant_id not in wanted:
                continue
            tenant = self.tenant(tenant_id)
            checked.extend(tenant.claims)
            by_tenant[tenant_id] = list(tenant.findings)
            if keep is not None:
                keep[tenant_id] = tenant

        # Only the checked tenants' own findings are reported, so only their
        # claims are looked up; each finding names one of them.
        index.add(checked)
        for finding in index.conflicts(checked):
            by_tenant[str(finding.tenant)].append(finding)

        shared = tuple(self.findings)
        frozen = {key: tuple(value) for key, value in sorted(by_tenant.items())}
        findings = [*shared, *(f for value in frozen.values() for f in value)]
        return Result(_collapse(findings), tuple(sorted(wanted)), shared, frozen)

    def _platform_origin(self, path: tuple[str | int, ...]) -> Origin:
        document = self.tree.platform
        if document is None:
            return Origin("base/platform.yaml", 1, 1, "platform")
        line, column = document.marks.get(path, (1, 1))
        return Origin(document.path, line, column, "platform")


class _Shared:
    """The layers below the tenant (base, and a plan): merged and checked once.

    Most tenants override a few values; everything they do not override is
    the same object for all of them, so its schema and reference checks run
    once per plan instead of once per tenant. Findings here belong to no one
    tenant (their tenant is None): the file to fix is in base/ or the plan.
    """

    def __init__(self, layers: list[Layer], schemas: SchemaSet) -> None:
        self.layers = layers
        self.schemas = schemas
        self.provenance = Provenance(layers)
        self.merged: dict[str, Any] = {}
        self.findings: list[Finding] = []
        self.references: dict[str, list[Finding]] = {}
        self._schema_findings: dict[str, list[Finding]] = {}

        for config_type in CONFIG_TYPES:
            merged = merge_layers(layers, config_type)
            if merged is not None:
                self.merged[config_type] = merged
        for layer in layers[1:]:
            for config_type, document in layer.documents.items():
                self.findings += schemas.locked(config_type, document, None)

    def schema_findings(self, config_type: str) -> list[Finding]:
        """Schema findings of a shared document, for a tenant that uses it as is.

        Checked on first use only: a document that every tenant overlays (the
        tenant type, which holds each tenant's id) is never complete alone.
        """
        if config_type not in self._schema_findings:
            origin = self.provenance.nearest(config_type, ())
            assert origin is not None
            self._schema_findings[config_type] = self.schemas.validate(
                config_type, self.merged[config_type], self.provenance, origin, None
            )
        return self._schema_findings[config_type]


_EMPTY = Document("", {}, {})

# Findings after which a tenant is not merged: a file is missing or unreadable.
_UNMERGEABLE = {
    "yaml-syntax",
    "yaml-duplicate-key",
    "yaml-tag",
    "yaml-key",
    "yaml-limit",
    "yaml-root",
    "file-symlink",
    "file-missing",
}


def _identity(
    tenant_id: str, document: Document | None, fallback: Origin
) -> list[Finding]:
    if not TENANT_ID.match(tenant_id):
        return [
            error(
                "tenant-id-mismatch",
                f"folder name '{tenant_id}' is not a valid tenant id: use lowercase "
                "letters, digits and '-', starting with a letter, 3 to 63 characters",
                fallback.file,
                tenant=tenant_id,
            )
        ]
    if document is None:
        return []
    declared = document.data.get("id")
    if declared is None or declared == tenant_id:
        return []
    line, column = document.marks.get(("id",), (1, 1))
    return [
        error(
            "tenant-id-mismatch",
            f"id '{declared}' differs from the folder name '{tenant_id}'; set "
            f"id: {tenant_id}, or rename the folder to tenants/{declared}/",
            document.path,
            line,
            column,
            tenant_id,
        )
    ]


def _claims(
    tenant_id: str,
    config: dict[str, Any],
    provenance: Provenance,
    platform: dict[str, Any],
    fallback: Origin,
) -> Iterable[claim_rules.Claim]:
    tenant = config.get("tenant")
    if not isinstance(tenant, dict):
        return
    domains = tenant.get("domains")
    for index, host in enumerate(domains if isinstance(domains, list) else []):
        if isinstance(host, str):
            origin = provenance.nearest("tenant", ("domains", index)) or fallback
            yield claim_rules.Claim("host", host.lower(), tenant_id, origin)

    prefix = claim_rules.tenant_prefix(tenant, platform)
    if prefix is not None:
        origin = (
            provenance.origin("tenant", ("routing", "path_prefix"))
            or provenance.origin("tenant", ("id",))
            or fallback
        )
        yield claim_rules.Claim("prefix", prefix, tenant_id, origin)


def _collapse(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """Sort, and report once what a shared layer caused in many tenants."""
    unique: dict[tuple[str, str, int, int, str], Finding] = {}
    for finding in findings:
        key = (
            finding.code,
            finding.file,
            finding.line,
            finding.column,
            finding.message,
        )
        if key in unique:
            if unique[key].tenant != finding.tenant:
                unique[key] = replace(unique[key], tenant=None)
            continue
        unique[key] = finding
    return tuple(sorted(unique.values(), key=Finding.sort_key))
