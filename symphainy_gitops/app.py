"""The read-only HTTP app: ForwardAuth for the gateway and config lookups.

It serves one immutable snapshot of a git ref (see ``serving`` for the
reload loop). Routes are composed explicitly from a list; every response is
JSON and errors carry a stable code.

Decisions:

- An unroutable host or path on ``/auth/verify`` is 403 ``route-unknown``:
  the gateway refuses it like any other request it may not pass, and the
  answer does not tell a prober which hosts exist.
- ``/auth/verify`` answers every method, because the decision is about the
  forwarded method (``X-Forwarded-Method``), not about how the gateway asks.
- Lookups are GET and HEAD only; another tenant's id answers exactly like an
  unknown one (404, same body).
- A client's ``X-Tenant-Id`` on a lookup is a consistency check, never
  identity: when present it must equal the token's tenant, or the answer is
  403 ``tenant-header-mismatch``. Platform admins get no exception: the
  header names the tenant the client believes it has, and a client that is
  wrong about that should hear so.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygit2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from .auth import (
    MAX_TOKEN_BYTES,
    Identity,
    KeySet,
    Refused,
    decide,
    permissions_for,
)
from .errors import GitopsError
from .layout import CONFIG_TYPES
from .merge import explain
from .openapi import OPENAPI
from .pipeline import TenantConfig
from .serving import ConfigState, RefUnknown, Served, findings_summary
from .snapshot import Snapshot, SnapshotRejected
from .source import open_repository

logger = logging.getLogger("symphainy_gitops.app")

_JSON = "application/json"
_HEALTHY = b'{"status":"ok"}'
_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/~^-]{0,199}")
_LOOKUP_METHODS = ["GET"]  # Starlette adds HEAD to every GET route.


# ---------------------------------------------------------------------------
# Errors and responses


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class RefRejected(Exception):
    def __init__(self, rejected: SnapshotRejected) -> None:
        super().__init__(rejected.label)
        self.rejected = rejected


def _body(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def _error(
    status: int, code: str, message: str | None = None, **extra: Any
) -> Response:
    data: dict[str, Any] = {"error": code, **extra}
    if message is not None:
        data["message"] = message
    return Response(
        _body(data),
        status,
        headers={"Cache-Control": "no-store"},
        media_type="application/json",
    )


@dataclass(frozen=True, slots=True)
class Encoded:
    """A response body and its strong ETag, computed once."""

    body: bytes
    etag: str

    @classmethod
    def of(cls, data: Any) -> Encoded:
        body = json.dumps(data, separators=(",", ":")).encode()
        return cls(body, '"' + hashlib.sha256(body).hexdigest()[:40] + '"')


class _Bodies:
    """Encoded config documents by (commit, tenant, type, explain).

    A snapshot never changes, so neither does a body keyed by its commit:
    repeated lookups cost a dictionary hit instead of a JSON encoding and a
    hash of the whole config.
    """

    def __init__(self, size: int = 1024) -> None:
        self._items: OrderedDict[tuple[Any, ...], Encoded] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], make: Callable[[], Any]) -> Encoded:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        encoded = Encoded.of(make())
        with self._lock:
            self._items[key] = encoded
            if len(self._items) > self._size:
                self._items.popitem(last=False)
        return encoded


_BODIES = _Bodies()


def _document(request: Request, data: Any, private: bool = True) -> Response:
    """200 with a strong ETag of the exact body, or 304 if the client has it.

    Keys keep the merge order, as ``show`` prints them: a snapshot's order
    is fixed by its commit, so the body and its ETag still are too.
    """
    encoded = data if isinstance(data, Encoded) else Encoded.of(data)
    body, etag = encoded.body, encoded.etag
    headers = {
        "ETag": etag,
        "Cache-Control": "private, no-cache" if private else "no-cache",
        "Vary": "Authorization",
    }
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, 200, headers=headers, media_type="application/json")


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


def _refusal(refused: Refused, path: str) -> Response:
    # The path only: a query string may carry a token (?access_token=...).
    logger.info(
        "refused %s tenant=%s path=%s",
        refused.code,
        refused.tenant or "-",
        _printable(path.split("?", 1)[0]),
    )
    response = _error(refused.status, refused.code)
    if refused.status == 401:
        response.headers["WWW-Authenticate"] = f'Bearer error="{refused.bearer_error}"'
    return response


def _printable(text: str) -> str:
    # Forwarded paths come from clients: no forged log lines, no floods.
    return "".join(c if " " < c < "\x7f" else "?" for c in text[:200])


# ---------------------------------------------------------------------------
# Authentication shared by ForwardAuth and lookups


def _bearer(values: list[str]) -> str:
    if not values:
        raise Refused(401, "token-missing")
    if len(values) > 1:
        raise Refused(401, "token-malformed")

    value = values[0]
    if len(value) > MAX_TOKEN_BYTES + 16:
        raise Refused(401, "token-too-large")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token or " " in token:
        raise Refused(401, "token-malformed")
    return token


async def _verified(served: Served, token: str) -> Identity:
    identity = served.verifier.cached(token)
    if identity is not None:
        return identity
    # A miss may refetch the JWKS: keep network waits off the event loop.
    return await run_in_threadpool(served.verifier.verify, token)


async def _identity(served: Served, request: Request) -> Identity:
    identity = await _verified(
        served, _bearer(request.headers.getlist("authorization"))
    )

    # Identity comes from the verified token only; the header just has to agree.
    claimed = request.headers.getlist("x-tenant-id")
    if claimed and (len(claimed) > 1 or claimed[0] != identity.tenant):
        raise Refused(403, "tenant-header-mismatch", identity.tenant)
    return identity


# ---------------------------------------------------------------------------
# Handlers


def _state(request: Request) -> ConfigState:
    state: ConfigState = request.app.state.config
    return state


async def healthz(request: Request) -> Response:
    # Bare on purpose: the benchmark's baseline for what a route costs here.
    return Response(_HEALTHY, headers={"Cache-Control": "no-store"}, media_type=_JSON)


async def readyz(request: Request) -> Response:
    state = _state(request)
    served = state.served
    data = {
        "ready": served is not None,
        "ref": state.ref,
        "commit": served.snapshot.commit if served else None,
        "loaded_at": served.snapshot.loaded_at if served else None,
        "last_error": state.last_error,
    }
    body = _body(data)
    status = 200 if served is not None else 503
    return Response(
        body,
        status,
        headers={"Cache-Control": "no-store"},
        media_type="application/json",
    )


async def openapi(request: Request) -> Response:
    return _document(request, OPENAPI, private=False)


_FORWARDED = (b"authorization", b"x-forwarded-host", b"x-forwarded-uri")
_FORWARDED_METHOD = b"x-forwarded-method"


class ForwardAuth:
    """``/auth/verify`` as a plain ASGI app.

    Traefik calls it on every request with no cache of its own, so it skips
    the Request object and reads the four headers it needs in one pass.
    """

    def __init__(self, state: ConfigState) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        served = self.state.served
        if served is None:
            response = _error(503, "not-ready", "no validated config loaded yet")
            await response(scope, receive, send)
            return

        found: dict[bytes, list[str]] = {}
        for name, value in scope["headers"]:
            if name in _FORWARDED or name == _FORWARDED_METHOD:
                found.setdefault(name, []).append(value.decode("latin-1"))
        try:
            identity = await _verified(served, _bearer(found.get(b"authorization", [])))
            grant = decide(
                identity,
                served.snapshot,
                _single(found, b"x-forwarded-host"),
                _single(found, b"x-forwarded-uri"),
                _single(found, _FORWARDED_METHOD),
                served.verifier.settings,
            )
        except Refused as refused:
            path = _single_or_none(found, b"x-forwarded-uri") or scope["path"]
            await _refusal(refused, path)(scope, receive, send)
            return

        headers = [
            (name.lower().encode(), value.encode())
            for name, value in grant.headers().items()
        ]
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [*headers, *_VERIFY_HEADERS],
            }
        )
        await send({"type": "http.response.body", "body": b""})


_VERIFY_HEADERS = [(b"cache-control", b"no-store"), (b"content-length", b"0")]


def _single(found: dict[bytes, list[str]], name: bytes) -> str | None:
    values = found.get(name)
    if values is not None and len(values) > 1:
        # Two hosts or two URIs: which one would the backend believe?
        raise Refused(403, "route-unknown")
    return values[0] if values else None


def _single_or_none(found: dict[bytes, list[str]], name: bytes) -> str | None:
    values = found.get(name)
    return values[0] if values else None


Handler = Callable[[Request, Served, Identity, Snapshot], dict[str, Any] | Encoded]


def _lookup(handler: Handler) -> Callable[[Request], Any]:
    """Authenticate, resolve ``?ref=``, and turn library answers into JSON."""

    async def endpoint(request: Request) -> Response:
        served = _state(request).served
        if served is None:
            return _error(503, "not-ready", "no validated config loaded yet")

        try:
            identity = await _identity(served, request)
            snapshot = await _snapshot(request, served)
            data = handler(request, served, identity, snapshot)
        except Refused as refused:
            return _refusal(refused, request.url.path)
        except ApiError as exc:
            return _error(exc.status, exc.code, exc.message)
        except RefRejected as exc:
            return _rejected(exc.rejected, served, identity)
        return _document(request, data)

    return endpoint


async def _snapshot(request: Request, served: Served) -> Snapshot:
    refs = request.query_params.getlist("ref")
    if not refs:
        return served.snapshot
    if len(refs) > 1 or not _REF.fullmatch(refs[0]) or ".." in refs[0]:
        raise ApiError(400, "ref-invalid", "ref must be one commit id, tag or branch")
    try:
        return await run_in_threadpool(_state(request).at, refs[0])
    except RefUnknown:
        raise ApiError(
            404, "ref-unknown", "no commit, tag or branch by that name"
        ) from None
    except SnapshotRejected as rejected:
        raise RefRejected(rejected) from None


def _rejected(
    rejected: SnapshotRejected, served: Served, identity: Identity
) -> Response:
    # Findings name files; a tenant sees its own and the shared layers' only.
    findings = findings_summary(rejected)
    if not _is_admin(served, identity):
        findings = [
            f
            for f in findings
            if f["tenant"] == identity.tenant
            or (f["tenant"] is None and not f["location"].startswith("tenants/"))
        ]
    return _error(
        422,
        "ref-invalid-config",
        f"{rejected.label[:12]} does not validate",
        commit=rejected.label,
        findings=[{"location": f["location"], "code": f["code"]} for f in findings],
    )


def _is_admin(served: Served, identity: Identity) -> bool:
    return served.verifier.settings.platform_admin_role in identity.roles


def _tenant_config(
    served: Served, identity: Identity, snapshot: Snapshot, tenant_id: str
) -> TenantConfig:
    """The tenant if the caller may see it; another tenant's id is just unknown."""
    admin = _is_admin(served, identity)
    tenant = snapshot.tenants.get(tenant_id)
    if tenant is None or (not admin and tenant_id != identity.tenant):
        raise ApiError(404, "tenant-unknown", "no tenant with this id")
    if not admin and tenant.tenant.get("status") != "active":
        raise ApiError(403, "tenant-suspended", "this tenant is suspended")
    return tenant


def _summary(tenant: TenantConfig) -> dict[str, Any]:
    fields = tenant.tenant
    return {
        "id": tenant.tenant_id,
        "name": fields.get("name"),
        "status": fields.get("status"),
        "plan": fields.get("plan"),
        "domains": fields.get("domains") or [],
    }


def _explain_wanted(request: Request) -> bool:
    values = request.query_params.getlist("explain")
    if not values:
        return False
    if len(values) == 1 and values[0] in ("true", "false"):
        return values[0] == "true"
    raise ApiError(400, "parameter-invalid", "explain must be true or false")


def list_tenants(
    request: Request, served: Served, identity: Identity, snapshot: Snapshot
) -> dict[str, Any]:
    if _is_admin(served, identity):
        visible = sorted(snapshot.tenants)
    else:
        visible = [t for t in snapshot.tenants if t == identity.tenant]
    rows = [_summary(snapshot.tenants[tenant_id]) for tenant_id in visible]
    return {"commit": snapshot.commit, "tenants": rows}


def whoami(
    request: Request, served: Served, identity: Identity, snapshot: Snapshot
) -> dict[str, Any]:
    """The caller as the server sees it, for the token's own tenant."""
    current = served.snapshot
    data: dict[str, Any] = {
        "commit": current.commit,
        "user": identity.subject,
        "email": identity.email,
        "tenant": identity.tenant,
        "roles": list(identity.roles),
        "platform_admin": _is_admin(served, identity),
        "permissions": [],
    }
    if identity.tenant is not None:
        tenant = _tenant_config(served, identity, current, identity.tenant)
        users = tenant.config.get("user_management") or {}
        data["permissions"] = sorted(permissions_for(users, identity.roles))
    return data


def get_tenant(
    request: Request, served: Served, identity: Identity, snapshot: Snapshot
) -> dict[str, Any]:
    tenant = _tenant_config(served, identity, snapshot, request.path_params["id"])
    return {"commit": snapshot.commit, "tenant": _summary(tenant)}


def get_config(
    request: Request, served: Served, identity: Identity, snapshot: Snapshot
) -> Encoded:
    tenant = _tenant_config(served, identity, snapshot, request.path_params["id"])
    wanted = _explain_wanted(request)
    config_type = request.path_params.get("type")
    if config_type is not None and config_type not in CONFIG_TYPES:
        raise ApiError(404, "config-type-unknown", "no config type by that name")

    def make() -> dict[str, Any]:
        config: Mapping[str, Any] = tenant.config
        if config_type is not None:
            config = {config_type: tenant.config.get(config_type, {})}
        data: dict[str, Any] = {"commit": snapshot.commit, "tenant": tenant.tenant_id}
        if wanted:
            data["explain"] = explain(config, tenant.provenance)
        else:
            data["config"] = config
        return data

    # The app serves git revisions only, and a commit's config never changes,
    # so the commit id keys the body for every snapshot built from it.
    key = (snapshot.label, tenant.tenant_id, config_type, wanted)
    return _BODIES.get(key, make)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "not-found", 405: "method-not-allowed"}
    response = _error(
        exc.status_code, codes.get(exc.status_code, "http-error"), exc.detail
    )
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


# ---------------------------------------------------------------------------
# The app


def create_app(root: Path, ref: str, keys: KeySet, poll: float = 2.0) -> Starlette:
    """The app for the config repository at ``root``, serving ``ref``."""
    state = ConfigState(root, ref, keys, poll)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(state.reload)
        state.start()
        try:
            yield
        finally:
            state.stop()

    routes = [
        Route("/healthz", healthz, methods=_LOOKUP_METHODS),
        Route("/readyz", readyz, methods=_LOOKUP_METHODS),
        Route("/openapi.json", openapi, methods=_LOOKUP_METHODS),
        # Every method: the decision is on X-Forwarded-Method, not on this call.
        Route("/auth/verify", ForwardAuth(state)),
        Route("/v1/whoami", _lookup(whoami), methods=_LOOKUP_METHODS),
        Route("/v1/tenants", _lookup(list_tenants), methods=_LOOKUP_METHODS),
        Route("/v1/tenants/{id}", _lookup(get_tenant), methods=_LOOKUP_METHODS),
        Route("/v1/tenants/{id}/config", _lookup(get_config), methods=_LOOKUP_METHODS),
        Route(
            "/v1/tenants/{id}/config/{type}",
            _lookup(get_config),
            methods=_LOOKUP_METHODS,
        ),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error},
    )
    app.state.config = state
    return app


def check_repository(root: Path) -> None:
    """Fail early, with words, when ``root`` is not a git repository."""
    try:
        open_repository(root)
    except pygit2.GitError as exc:
        raise GitopsError(f"cannot open the git repository at {root}: {exc}") from None
