"""The API description of the HTTP app, written by hand.

A test checks it against the app's routes and methods, so it cannot drift
from them unnoticed.
"""

from __future__ import annotations

from typing import Any

from .layout import CONFIG_TYPES

# /auth/verify answers every method: it decides on the forwarded one.
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _op(summary: str, *params: str, auth: bool = True) -> dict[str, Any]:
    parameters = [_PARAMETERS[name] for name in params]
    if auth:
        parameters.append(_PARAMETERS["tenant_header"])
    operation: dict[str, Any] = {
        "summary": summary,
        "parameters": parameters,
        "responses": {
            "200": {"description": "OK"},
            **(
                {"304": {"description": "Not modified (If-None-Match)"}} if auth else {}
            ),
            **(_AUTH_RESPONSES if auth else {}),
        },
    }
    if auth:
        operation["security"] = [{"bearer": []}]
    return {"get": operation}


_AUTH_RESPONSES = {
    "400": {"description": "Bad parameter", "content": {"application/json": {}}},
    "401": {"description": "Missing or bad token", "content": {"application/json": {}}},
    "403": {
        "description": "Tenant suspended, or X-Tenant-Id is not the token's tenant",
        "content": {"application/json": {}},
    },
    "404": {"description": "Unknown or other tenant, unknown ref or type"},
    "422": {"description": "The ref does not validate; its first findings"},
    "503": {"description": "No validated config loaded yet"},
}

_PARAMETERS: dict[str, dict[str, Any]] = {
    "id": {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
    "type": {
        "name": "type",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": list(CONFIG_TYPES)},
    },
    "ref": {
        "name": "ref",
        "in": "query",
        "description": "A commit, tag or branch; default: the served ref",
        "schema": {"type": "string"},
    },
    "tenant_header": {
        "name": "X-Tenant-Id",
        "in": "header",
        "description": "Optional check: must equal the token's tenant (403 if not)",
        "schema": {"type": "string"},
    },
    "explain": {
        "name": "explain",
        "in": "query",
        "description": "Each value with the file, line and layer that set it",
        "schema": {"type": "boolean"},
    },
}

_VERIFY = {
    "summary": "Traefik ForwardAuth: verify the bearer JWT against the routed tenant",
    "parameters": [
        {"name": name, "in": "header", "schema": {"type": "string"}}
        for name in ("X-Forwarded-Host", "X-Forwarded-Uri", "X-Forwarded-Method")
    ],
    "security": [{"bearer": []}],
    "responses": {
        "200": {
            "description": "Allowed; identity headers for the backend",
            "headers": {
                name: {"schema": {"type": "string"}}
                for name in (
                    "X-User-Id",
                    "X-Tenant-Id",
                    "X-User-Email",
                    "X-User-Roles",
                    "X-User-Permissions",
                )
            },
        },
        "401": {"description": "Missing, malformed, expired or unverifiable token"},
        "403": {"description": "Wrong tenant, suspended, no permission, no route"},
        "503": {"description": "No validated config loaded yet"},
    },
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "symphainy-gitops config API", "version": "1"},
    "components": {
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
        }
    },
    "paths": {
        "/healthz": _op("The process runs", auth=False),
        "/readyz": _op("Commit served, load time, last reload error", auth=False),
        "/openapi.json": _op("This description", auth=False),
        "/auth/verify": {method.lower(): _VERIFY for method in ALL_METHODS},
        "/v1/whoami": _op(
            "The caller as the server sees it: user, tenant, roles, permissions"
        ),
        "/v1/tenants": _op("The tenants the caller may see", "ref"),
        "/v1/tenants/{id}": _op("One tenant's identity and status", "id", "ref"),
        "/v1/tenants/{id}/config": _op(
            "A tenant's merged config", "id", "ref", "explain"
        ),
        "/v1/tenants/{id}/config/{type}": _op(
            "One config type of a tenant's merged config",
            "id",
            "type",
            "ref",
            "explain",
        ),
    },
}
