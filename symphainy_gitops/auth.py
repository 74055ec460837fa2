"""Who is calling, and may they reach this tenant's route: Supabase JWTs.

A token is verified once (signature, algorithm, issuer, audience, expiry)
into an ``Identity``; the identity is cached by the whole token until its
``exp``. The tenant and permission decision is made on every request against
the snapshot being served, because the config can change under a cached
identity. Nothing here knows HTTP frameworks: the app maps ``Refused`` to a
response.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .errors import GitopsError
from .snapshot import Snapshot

# Refused before any parsing: a ForwardAuth call carries the client's header,
# and decoding a megabyte of base64 per request is an easy way to burn CPU.
MAX_TOKEN_BYTES = 8192
MIN_SECRET_BYTES = 32
JWKS_TIMEOUT_SECONDS = 5.0
JWKS_MAX_BYTES = 1_000_000
JWKS_REFETCH_SECONDS = 60.0

_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_TENANT_ID = re.compile(r"[a-z][a-z0-9-]{1,61}[a-z0-9]")
_ROLE_ID = re.compile(r"[a-z][a-z0-9_]{0,62}")
# Printable ASCII without spaces or commas: safe in a header value and in a
# comma-separated list, whatever the backend's header parser does.
_HEADER_SAFE = re.compile(r"[\x21-\x2b\x2d-\x7e]{1,320}")
_KEY_ALGORITHMS = {"HS256": "hmac", "ES256": "ec", "RS256": "rsa"}
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class Refused(Exception):
    """A request the gateway must not let through; ``status`` is 401 or 403."""

    def __init__(self, status: int, code: str, tenant: str | None = None) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.tenant = tenant

    @property
    def bearer_error(self) -> str:
        return "invalid_request" if self.code == "token-missing" else "invalid_token"


def _invalid(code: str) -> Refused:
    return Refused(401, code)


# ---------------------------------------------------------------------------
# Settings from base/platform.yaml


@dataclass(frozen=True, slots=True)
class AuthSettings:
    issuer: str
    audience: str
    algorithms: frozenset[str]
    tenant_claim: tuple[str, ...]
    roles_claim: tuple[str, ...]
    platform_admin_role: str
    leeway_seconds: int

    @classmethod
    def from_platform(cls, platform: Mapping[str, Any]) -> AuthSettings:
        auth = platform.get("auth")
        if not isinstance(auth, Mapping):
            raise GitopsError("base/platform.yaml has no auth section")

        tenant_claim = _claim_path(auth.get("tenant_claim"), "tenant_claim")
        roles_claim = _claim_path(auth.get("roles_claim"), "roles_claim")
        algorithms = frozenset(auth.get("algorithms") or ()) & set(_KEY_ALGORITHMS)
        if not algorithms:
            raise GitopsError(
                "auth.algorithms in base/platform.yaml names none of "
                + ", ".join(sorted(_KEY_ALGORITHMS))
            )
        return cls(
            issuer=str(auth["issuer"]),
            audience=str(auth["audience"]),
            algorithms=algorithms,
            tenant_claim=tenant_claim,
            roles_claim=roles_claim,
            platform_admin_role=str(auth.get("platform_admin_role", "")),
            leeway_seconds=int(auth.get("leeway_seconds", 0)),
        )


def _claim_path(value: Any, name: str) -> tuple[str, ...]:
    if not isinstance(value, str) or not value:
        raise GitopsError(f"auth.{name} in base/platform.yaml must be a claim path")
    path = tuple(value.split("."))
    # Users can write their own user_metadata through the Supabase API, so a
    # claim there proves nothing about tenant or roles.
    if path[0] == "user_metadata":
        raise GitopsError(
            f"auth.{name} points into user_metadata, which users can edit; "
            "use app_metadata"
        )
    return path


# ---------------------------------------------------------------------------
# Keys


@dataclass(slots=True)
class KeySet:
    """The verification keys: an HMAC secret and/or public keys by ``kid``."""

    secret: bytes | None = None
    public: dict[str, Any] = field(default_factory=dict)
    jwks_url: str | None = None
    refetch_seconds: float = JWKS_REFETCH_SECONDS
    fetches: int = 0
    _last_fetch: float = -1e9
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> KeySet:
        """Keys from SUPABASE_JWT_SECRET, SUPABASE_JWKS_URL, SUPABASE_JWKS_FILE."""
        keys = cls()
        secret = env.get("SUPABASE_JWT_SECRET")
        if secret:
            keys.secret = _checked_secret(secret)
        jwks_file = env.get("SUPABASE_JWKS_FILE")
        if jwks_file:
            keys.public.update(parse_jwks(_read_jwks_file(Path(jwks_file))))
        jwks_url = env.get("SUPABASE_JWKS_URL")
        if jwks_url:
            if not jwks_url.startswith(("https://", "http://")):
                raise GitopsError("SUPABASE_JWKS_URL must be an http(s) URL")
            keys.jwks_url = jwks_url
            keys.refresh()
        if keys.secret is None and not keys.public:
            raise GitopsError(
                "no JWT verification key: set SUPABASE_JWT_SECRET (HS256), or "
                "SUPABASE_JWKS_URL or SUPABASE_JWKS_FILE (ES256/RS256)"
            )
        return keys

    def refresh(self) -> None:
        """Fetch the JWKS from its URL; keys from a file stay."""
        if self.jwks_url is None:
            return
        self.fetches += 1
        self._last_fetch = time.monotonic()
        try:
            answer = httpx.get(
                self.jwks_url, timeout=JWKS_TIMEOUT_SECONDS, follow_redirects=False
            )
            answer.raise_for_status()
            if len(answer.content) > JWKS_MAX_BYTES:
                raise GitopsError("the JWKS is larger than 1 MB")
            self.public.update(parse_jwks(answer.json()))
        except (httpx.HTTPError, ValueError) as exc:
            raise GitopsError(
                f"cannot fetch the JWKS from {self.jwks_url}: {type(exc).__name__}"
            ) from None

    def public_key(self, kid: str | None) -> Any | None:
        """The key for ``kid``; an unknown kid refetches at most once per interval."""
        key = self._lookup(kid)
        if key is not None or self.jwks_url is None:
            return key

        with self._lock:
            # Random kids must not turn every forged token into a JWKS fetch.
            if time.monotonic() - self._last_fetch < self.refetch_seconds:
                return self._lookup(kid)
            try:
                self.refresh()
            except GitopsError:
                return None
        return self._lookup(kid)

    def _lookup(self, kid: str | None) -> Any | None:
        if kid is not None:
            return self.public.get(kid)
        # Without a kid, only an unambiguous single key will do.
        if len(self.public) == 1:
            return next(iter(self.public.values()))
        return None


def _checked_secret(secret: str) -> bytes:
    raw = secret.encode()
    if len(raw) < MIN_SECRET_BYTES:
        raise GitopsError(
            f"SUPABASE_JWT_SECRET is shorter than {MIN_SECRET_BYTES} bytes; use the "
            "project's JWT secret from the Supabase dashboard"
        )
    return raw


def _read_jwks_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise GitopsError(
            f"SUPABASE_JWKS_FILE {path} is not a readable JSON file: {exc}"
        ) from None


def parse_jwks(document: Any) -> dict[str, Any]:
    """Usable signing keys of a JWKS, by kid: EC P-256 and RSA ≥ 2048 bits."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise GitopsError('a JWKS is a JSON object with a "keys" list')

    keys: dict[str, Any] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(entry).key
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            continue
        if _key_kind(key) is None:
            continue
        kid = entry.get("kid")
        keys[str(kid) if kid is not None else f"#{len(keys)}"] = key
    return keys


def _key_kind(key: Any) -> str | None:
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "ec" if isinstance(key.curve, ec.SECP256R1) else None
    if isinstance(key, rsa.RSAPublicKey):
        return "rsa" if key.key_size >= 2048 else None
    return None


# ---------------------------------------------------------------------------
# Verification


@dataclass(frozen=True, slots=True)
class Identity:
    """The verified facts of a token that the gateway passes on."""

    subject: str
    tenant: str | None
    email: str
    roles: tuple[str, ...]
    expires_at: float


class Verifier:
    """Verifies tokens with one key set and one platform's auth settings."""

    def __init__(self, keys: KeySet, settings: AuthSettings, cache_size: int = 4096):
        self.keys = keys
        self.settings = settings
        self.signature_checks = 0
        self._cache: OrderedDict[str, Identity] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def cached(self, token: str) -> Identity | None:
        """The identity of a token verified before and not yet expired."""
        with self._lock:
            identity = self._cache.get(token)
            if identity is None:
                return None
            if time.time() >= identity.expires_at:
                del self._cache[token]
                return None
            self._cache.move_to_end(token)
            return identity

    def verify(self, token: str) -> Identity:
        """The token's identity; raises ``Refused`` (401) if it is not good."""
        identity = self.cached(token)
        if identity is not None:
            return identity

        identity = self._verify(token)
        with self._lock:
            self._cache[token] = identity
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return identity

    def _verify(self, token: str) -> Identity:
        if len(token) > MAX_TOKEN_BYTES:
            raise _invalid("token-too-large")
        if not _TOKEN_SHAPE.fullmatch(token):
            raise _invalid("token-malformed")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _invalid("token-malformed") from None

        algorithm, key = self._key_for(header)
        self.signature_checks += 1
        payload = self._decode(token, key, algorithm)
        return self._identity(payload)

    def _key_for(self, header: Mapping[str, Any]) -> tuple[str, Any]:
        # The algorithm decides the key type, and the key type allows exactly
        # one algorithm: an HS256 token is never checked with a public key.
        algorithm = header.get("alg")
        if algorithm not in self.settings.algorithms:
            raise _invalid("algorithm-refused")
        kind = _KEY_ALGORITHMS[algorithm]

        if kind == "hmac":
            if self.keys.secret is None:
                raise _invalid("algorithm-refused")
            return algorithm, self.keys.secret

        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise _invalid("token-malformed")
        key = self.keys.public_key(kid)
        if key is None:
            raise _invalid("key-unknown")
        if _key_kind(key) != kind:
            raise _invalid("algorithm-refused")
        return algorithm, key

    def _decode(self, token: str, key: Any, algorithm: str) -> dict[str, Any]:
        settings = self.settings
        try:
            payload: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=settings.audience,
                issuer=settings.issuer,
                leeway=settings.leeway_seconds,
                options={
                    "require": ["exp", "iat", "sub", "iss", "aud"],
                    "strict_aud": True,
                },
            )
        except jwt.ExpiredSignatureError:
            raise _invalid("token-expired") from None
        except jwt.ImmatureSignatureError:
            raise _invalid("token-not-yet-valid") from None
        except (jwt.InvalidAudienceError, jwt.InvalidIssuerError):
            raise _invalid("token-wrong-issuer-or-audience") from None
        except jwt.MissingRequiredClaimError:
            raise _invalid("claim-missing") from None
        except jwt.InvalidSignatureError:
            raise _invalid("signature-invalid") from None
        except jwt.PyJWTError:
            raise _invalid("token-invalid") from None

        # Belt and braces: the issuer is compared exactly, never as a prefix.
        if payload.get("iss") != settings.issuer:
            raise _invalid("token-wrong-issuer-or-audience")
        return payload

    def _identity(self, payload: Mapping[str, Any]) -> Identity:
        subject = payload.get("sub")
        if not isinstance(subject, str) or not _HEADER_SAFE.fullmatch(subject):
            raise _invalid("claim-invalid")

        roles = _claim(payload, self.settings.roles_claim)
        if roles is None:
            roles = []
        if not isinstance(roles, list) or not all(
            isinstance(role, str) and _ROLE_ID.fullmatch(role) for role in roles
        ):
            raise _invalid("claim-invalid")

        tenant = _claim(payload, self.settings.tenant_claim)
        if tenant is not None and (
            not isinstance(tenant, str) or not _TENANT_ID.fullmatch(tenant)
        ):
            raise _invalid("claim-invalid")
        if tenant is None and self.settings.platform_admin_role not in roles:
            raise _invalid("tenant-claim-missing")

        email = payload.get("email", "")
        if email and (not isinstance(email, str) or not _HEADER_SAFE.fullmatch(email)):
            raise _invalid("claim-invalid")

        return Identity(
            subject=subject,
            tenant=tenant,
            email=email or "",
            roles=tuple(sorted(set(roles))),
            expires_at=float(payload["exp"]),
        )


def _claim(payload: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = payload
    for step in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(step)
    return value


# ---------------------------------------------------------------------------
# The tenant and permission decision


@dataclass(frozen=True, slots=True)
class Grant:
    """What the gateway passes to the backend for an allowed request."""

    identity: Identity
    tenant: str
    permissions: tuple[str, ...]

    def headers(self) -> dict[str, str]:
        return {
            "X-User-Id": self.identity.subject,
            "X-Tenant-Id": self.tenant,
            "X-User-Email": self.identity.email,
            "X-User-Roles": ",".join(self.identity.roles),
            "X-User-Permissions": ",".join(self.permissions),
        }


def normalise_host(forwarded_host: str | None) -> str | None:
    """The lower-cased host without its port; None if it is not one host name."""
    if not forwarded_host:
        return None
    host = forwarded_host.strip().lower()
    name, _, port = host.rpartition(":")
    if name and port.isdigit():
        host = name
    if not host or not re.fullmatch(r"[a-z0-9.-]{1,253}", host):
        return None
    return host


def normalise_path(forwarded_uri: str | None) -> str | None:
    """The decoded, dot-free path of a forwarded URI; None if it is ambiguous.

    Backends decode the path, so ``/%61dmin`` is ``/admin`` to them and must be
    to the permission check too. What a backend might read two ways (a second
    level of encoding, control characters, backslashes) is refused instead.
    """
    raw = (forwarded_uri or "/").split("?", 1)[0].split("#", 1)[0]
    if not raw.startswith("/"):
        return None
    try:
        path = unquote(raw, errors="strict") if "%" in raw else raw
    except UnicodeDecodeError:
        return None
    if "%" in path or "\\" in path or any(ord(c) < 0x21 or c == "\x7f" for c in path):
        return None

    segments: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    trailing = "/" if path.endswith("/") and segments else ""
    return "/" + "/".join(segments) + trailing


def permissions_for(
    user_management: Mapping[str, Any], roles: Iterable[str]
) -> set[str]:
    """The union of the roles' permissions, inherited roles followed."""
    defined = user_management.get("roles")
    defined = defined if isinstance(defined, Mapping) else {}
    granted: set[str] = set()
    seen: set[str] = set()
    pending = list(roles)

    while pending:
        role = pending.pop()
        if role in seen or not isinstance(defined.get(role), Mapping):
            continue
        seen.add(role)
        granted.update(defined[role].get("permissions") or ())
        pending.extend(defined[role].get("inherits") or ())
    return granted


def required_permissions(
    config: Mapping[str, Any], relative_path: str, method: str | None
) -> set[str]:
    """Every permission that a gated route or ingestion endpoint asks for.

    Paths match at a segment boundary, case-insensitively: a backend that
    treats ``/ADMIN`` as ``/admin`` must not get it ungated. A missing method
    counts as any method, so a rule is never skipped for lack of one.
    """
    path = relative_path.lower()
    method = method.upper() if method else None
    required: set[str] = set()

    users = config.get("user_management") or {}
    for rule in (users.get("route_permissions") or {}).values():
        methods = {str(m).upper() for m in rule.get("methods") or ()}
        if "GET" in methods:
            methods.add("HEAD")
        if methods and method is not None and method not in methods:
            continue
        if _under(path, str(rule.get("path_prefix", "")).lower()):
            required.add(str(rule["permission"]))

    endpoints = (config.get("ingestion_endpoints") or {}).get("endpoints") or {}
    for endpoint in endpoints.values():
        if method in _SAFE_METHODS:
            continue
        permission = endpoint.get("required_permission")
        if permission and _under(path, str(endpoint.get("path", "")).lower()):
            required.add(str(permission))
    return required


def _under(path: str, prefix: str) -> bool:
    prefix = prefix.rstrip("/")
    if not prefix:
        return True
    return path == prefix or path.startswith(prefix + "/")


def decide(
    identity: Identity,
    snapshot: Snapshot,
    forwarded_host: str | None,
    forwarded_uri: str | None,
    method: str | None,
    settings: AuthSettings,
) -> Grant:
    """Allow the request to its tenant's route, or raise ``Refused`` (403)."""
    host = normalise_host(forwarded_host)
    path = normalise_path(forwarded_uri)
    if host is None or path is None:
        raise Refused(403, "route-unknown")

    tenant_id = snapshot.tenant_for(host, path)
    if tenant_id is None:
        raise Refused(403, "route-unknown")
    tenant = snapshot.tenants[tenant_id]

    admin = settings.platform_admin_role in identity.roles
    if identity.tenant != tenant_id and not admin:
        raise Refused(403, "tenant-mismatch", tenant_id)
    if tenant.tenant.get("status") != "active":
        raise Refused(403, "tenant-suspended", tenant_id)

    config = tenant.config
    granted = permissions_for(config.get("user_management") or {}, identity.roles)
    relative = _relative(path, host, tenant_id, snapshot)
    missing = required_permissions(config, relative, method) - granted
    if missing:
        raise Refused(403, "permission-missing", tenant_id)
    return Grant(identity, tenant_id, tuple(sorted(granted)))


def _relative(path: str, host: str, tenant_id: str, snapshot: Snapshot) -> str:
    """The path below the tenant's root: the host root, or its platform prefix."""
    if snapshot.hosts.get(host) == tenant_id:
        return path
    for prefix, owner in snapshot.prefixes.items():
        if owner == tenant_id and (path == prefix or path.startswith(prefix + "/")):
            return path[len(prefix) :] or "/"
    return path


# ---------------------------------------------------------------------------
# Development tokens


def mint_token(
    secret: str,
    platform: Mapping[str, Any],
    tenant: str,
    subject: str,
    roles: Iterable[str] = (),
    email: str | None = None,
    ttl_seconds: int = 3600,
) -> str:
    """An HS256 token shaped as Supabase issues them; for local testing only."""
    settings = AuthSettings.from_platform(platform)
    now = int(time.time())
    claims = {
        "aud": settings.audience,
        "exp": now + ttl_seconds,
        "iat": now,
        "iss": settings.issuer,
        "sub": subject,
        "email": email or "",
        "phone": "",
        "role": "authenticated",
        "aal": "aal1",
        "session_id": str(uuid.UUID(bytes=secrets.token_bytes(16), version=4)),
        "is_anonymous": False,
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": {},
    }
    _set_claim(claims, settings.tenant_claim, tenant)
    _set_claim(claims, settings.roles_claim, list(roles))
    return jwt.encode(
        claims, _checked_secret(secret), algorithm="HS256", headers={"typ": "JWT"}
    )


def _set_claim(claims: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for step in path[:-1]:
        claims = claims.setdefault(step, {})
    claims[path[-1]] = value
