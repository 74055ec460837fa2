"""Reading one tenant's config over the HTTP API, with that tenant's own token.

The client checks what it can before it sends anything (a token at all, its
shape and expiry, its tenant against the one the user named), because those
mistakes deserve a sentence, not a 401. The token is read without verifying
it: the server verifies. It is sent as a bearer header and nowhere else —
never logged, printed or cached.

Config lookups reuse ETags: the last body of each URL and tenant is kept in
a small cache folder, and a 304 answer is served from it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from .errors import GitopsError
from .layout import TENANT_ID

DEFAULT_URL = "http://localhost/api"
URL_VARIABLE = "SYMPHAINY_API_URL"
TOKEN_VARIABLE = "SYMPHAINY_API_TOKEN"  # noqa: S105 (a variable name, not a secret)
TENANT_VARIABLE = "SYMPHAINY_TENANT_ID"
DEFAULT_TIMEOUT = 10.0
# Where Supabase puts the custom claim (base/platform.yaml auth.tenant_claim).
TENANT_CLAIM = ("app_metadata", "tenant_id")
ALIASES = ("cli", "aliases")


class RemoteError(GitopsError):
    """A remote command that cannot go on; ``exit_code`` says whose fault.

    2: what the user gave (no token, an expired one, the wrong tenant, an
    unknown alias). 1: what the server or the network did with the request.
    """

    exit_code = 1


class UsageProblem(RemoteError):
    exit_code = 2


class Refused(RemoteError):
    """The server answered with an error status and a reason code."""

    def __init__(self, url: str, status: int, code: str) -> None:
        words = REASONS.get(code, "see the server's documentation for this code")
        super().__init__(f"{url} refused the request ({status} {code}): {words}")
        self.status = status
        self.code = code


# The server's reason codes in plain words, for the person at the terminal.
REASONS = {
    "token-missing": "no token reached the server",
    "token-malformed": "the token is not a well-formed JWT",
    "token-too-large": "the token is larger than the server accepts",
    "token-expired": "the token has expired; sign in again for a new one",
    "token-not-yet-valid": "the token is not valid yet; check your clock",
    "token-wrong-issuer-or-audience": (
        "the token was issued by another auth server or for another audience "
        "than this platform's"
    ),
    "signature-invalid": (
        "the token's signature does not verify: it was not issued by this "
        "platform's auth server, or it was changed"
    ),
    "algorithm-refused": "the token is signed with an algorithm the server refuses",
    "key-unknown": "the token is signed with a key the server does not know",
    "claim-missing": "the token lacks a claim the server requires (exp, sub, …)",
    "claim-invalid": "a claim of the token has a value the server cannot accept",
    "tenant-claim-missing": "the token names no tenant (app_metadata.tenant_id)",
    "token-invalid": "the server could not verify the token",
    "tenant-header-mismatch": (
        f"the tenant you named ({TENANT_VARIABLE}) is not the tenant of the token"
    ),
    "tenant-suspended": "the tenant is suspended; ask the platform team",
    "tenant-unknown": "the server has no tenant by that id that this token may see",
    "ref-unknown": "no commit, tag or branch by that name",
    "ref-invalid": "--ref must be one commit id, tag or branch name",
    "ref-invalid-config": "the config at that ref does not validate",
    "config-type-unknown": "no config type by that name",
    "parameter-invalid": "a query parameter has a value the server refuses",
    "not-found": f"no such API route; check {URL_VARIABLE} (it ends in /api)",
    "not-ready": "the server has no validated config loaded yet; try again soon",
    "method-not-allowed": "the API is read-only",
}


# ---------------------------------------------------------------------------
# The token, read without verifying


@dataclass(frozen=True, slots=True)
class TokenFacts:
    """What the client may know of its token before the server verifies it."""

    subject: str | None
    tenant: str | None
    expires_at: float | None


def read_token(token: str) -> TokenFacts:
    """The unverified claims of a JWT; raises ``UsageProblem`` if it is not one."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        raise UsageProblem(
            f"{TOKEN_VARIABLE} is not a JWT (three base64url parts separated by "
            "dots); use the access token of a Supabase session"
        )
    try:
        payload = json.loads(
            base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        )
    except (binascii.Error, ValueError):
        payload = None
    if not isinstance(payload, dict):
        raise UsageProblem(
            f"{TOKEN_VARIABLE} is not a JWT: its payload is not a JSON object"
        )

    tenant: Any = payload
    for step in TENANT_CLAIM:
        tenant = tenant.get(step) if isinstance(tenant, dict) else None
    expires = payload.get("exp")
    subject = payload.get("sub")
    return TokenFacts(
        subject=subject if isinstance(subject, str) else None,
        tenant=tenant if isinstance(tenant, str) else None,
        expires_at=float(expires) if isinstance(expires, int | float) else None,
    )


def _moment(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# ---------------------------------------------------------------------------
# The ETag cache


class EtagCache:
    """The last body of each lookup, by URL and tenant; never the token.

    One file per key, written whole under a temporary name and renamed, mode
    0600 in a folder of mode 0700: a tenant's config is not for other users
    of the machine.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _file(self, url: str, tenant: str) -> Path:
        key = hashlib.sha256(f"{url}\n{tenant}".encode()).hexdigest()
        return self.folder / f"{key[:40]}.json"

    def load(self, url: str, tenant: str) -> tuple[str, bytes] | None:
        try:
            entry = json.loads(self._file(url, tenant).read_bytes())
            if entry["url"] != url or entry["tenant"] != tenant:
                return None
            return str(entry["etag"]), str(entry["body"]).encode()
        except (OSError, ValueError, KeyError, TypeError):
            return None  # A missing or damaged entry is only a cache miss.

    def store(self, url: str, tenant: str, etag: str, body: bytes) -> None:
        entry = {"url": url, "tenant": tenant, "etag": etag, "body": body.decode()}
        target = self._file(url, tenant)
        temporary = target.with_suffix(f".{os.getpid()}.tmp")
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            descriptor = os.open(
                temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600
            )
            with os.fdopen(descriptor, "w") as stream:
                json.dump(entry, stream)
            os.replace(temporary, target)
        except OSError:
            # A cache that cannot be written only costs the next request a
            # full answer; leave no half-written file behind.
            with contextlib.suppress(OSError):
                temporary.unlink()


def default_cache_folder(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "symphainy-gitops"


# ---------------------------------------------------------------------------
# The client


@dataclass(frozen=True, slots=True)
class Answer:
    """A lookup's JSON, and whether it came from the cache after a 304."""

    data: dict[str, Any]
    cached: bool = False


class Client:
    """One tenant's view of the config API, with one token."""

    def __init__(
        self,
        url: str,
        token: str,
        tenant: str,
        cache: EtagCache | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.url = url.rstrip("/")
        self.tenant = tenant
        self.cache = cache
        self.timeout = timeout
        self._headers = {
            "Authorization": f"Bearer {token}",
            "X-Tenant-Id": tenant,
            "Accept": "application/json",
        }

    def whoami(self) -> dict[str, Any]:
        return self._get("/v1/whoami", {}, cache=False).data

    def config(
        self,
        config_type: str | None = None,
        ref: str | None = None,
        explain: bool = False,
    ) -> Answer:
        """The merged config (key ``config``), or its provenance (``explain``)."""
        path = f"/v1/tenants/{self.tenant}/config"
        if config_type is not None:
            path += f"/{config_type}"
        params = {"ref": ref} if ref else {}
        if explain:
            params["explain"] = "true"
        return self._get(path, params, cache=True)

    def aliases(self, ref: str | None = None) -> dict[str, dict[str, Any]]:
        """The tenant's shortcuts: ``cli.aliases`` of its merged tenant.yaml."""
        tenant = self.config("tenant", ref).data["config"].get("tenant", {})
        found = _at(tenant, ALIASES)
        return found if isinstance(found, dict) else {}

    def run(self, alias: str, ref: str | None = None) -> dict[str, Any]:
        """What an alias points at, nested under its type and path as ``show``."""
        aliases = self.aliases(ref)
        if alias not in aliases:
            known = ", ".join(sorted(aliases)) or "none"
            raise UsageProblem(
                f"tenant {self.tenant} has no alias '{alias}'; its aliases are: "
                f"{known} (see 'symphainy-gitops remote commands')"
            )

        spec = aliases[alias]
        config_type = str(spec["type"])
        document = self.config(config_type, ref).data["config"].get(config_type, {})
        keys = tuple(str(spec["path"]).split(".")) if spec.get("path") else ()
        value = _at(document, keys)
        if value is _MISSING:
            # Validation refuses such a config, so the server should never serve it.
            raise RemoteError(
                f"alias '{alias}' points at {config_type}.{spec['path']}, which "
                f"tenant {self.tenant}'s config does not have"
            )
        for key in reversed(keys):
            value = {key: value}
        return {config_type: value}

    def _get(self, path: str, params: dict[str, str], cache: bool) -> Answer:
        url = str(httpx.URL(self.url + path, params=params))
        headers = dict(self._headers)
        kept = self.cache.load(url, self.tenant) if cache and self.cache else None
        if kept is not None:
            headers["If-None-Match"] = kept[0]

        try:
            response = httpx.get(
                url, headers=headers, timeout=self.timeout, follow_redirects=False
            )
        except httpx.TimeoutException:
            raise RemoteError(
                f"no answer from {url} within {self.timeout:g} s; is the API "
                f"running, and is {URL_VARIABLE} right?"
            ) from None
        except httpx.TransportError as exc:
            raise RemoteError(
                f"cannot reach {url} ({type(exc).__name__}: connection refused or "
                f"host unreachable); is the API running, and is {URL_VARIABLE} "
                "right?"
            ) from None

        if response.status_code == 304 and kept is not None:
            return Answer(_json(url, kept[1]), cached=True)
        if response.status_code != 200:
            raise Refused(url, response.status_code, _code(response))

        etag = response.headers.get("etag")
        if cache and self.cache is not None and etag:
            self.cache.store(url, self.tenant, etag, response.content)
        return Answer(_json(url, response.content))


def connect(
    url: str | None,
    token: str | None,
    tenant: str | None,
    cache: EtagCache | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    now: float | None = None,
) -> Client:
    """A client after the checks that need no server; raises ``UsageProblem``."""
    if not token:
        raise UsageProblem(
            f"no API token: set {TOKEN_VARIABLE} (or --token) to the access token "
            "of your Supabase session"
        )
    facts = read_token(token)

    moment = time.time() if now is None else now
    if facts.expires_at is not None and facts.expires_at <= moment:
        raise UsageProblem(
            f"the token in {TOKEN_VARIABLE} expired at {_moment(facts.expires_at)}; "
            "sign in again for a new one"
        )
    if tenant and facts.tenant and tenant != facts.tenant:
        raise UsageProblem(
            f"{TENANT_VARIABLE} is '{tenant}' but the token is for tenant "
            f"'{facts.tenant}'; use a token of '{tenant}', or unset {TENANT_VARIABLE}"
        )
    chosen = tenant or facts.tenant
    if not chosen:
        raise UsageProblem(
            f"the token names no tenant (app_metadata.tenant_id): set "
            f"{TENANT_VARIABLE} (or --tenant)"
        )
    if not TENANT_ID.fullmatch(chosen):
        # It goes into the URL's path: nothing but a tenant id may.
        raise UsageProblem(
            f"'{chosen}' is not a tenant id (lowercase letters, digits and '-')"
        )
    url = url or DEFAULT_URL
    _refuse_clear_text(url)
    return Client(url, token, chosen, cache, timeout)


_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def _refuse_clear_text(url: str) -> None:
    """A bearer token goes over plain http only to this machine."""
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise UsageProblem(
            f"{URL_VARIABLE} must be an http(s) URL such as {DEFAULT_URL}, not {url!r}"
        )
    loopback = parsed.host in _LOOPBACK or parsed.host.startswith("127.")
    if parsed.scheme == "http" and not loopback:
        raise UsageProblem(
            f"{url} is plain http to another machine, which would send your "
            "token in clear; use its https URL"
        )


_MISSING: Any = object()


def _at(document: Any, keys: tuple[str, ...]) -> Any:
    value = document
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    return value


def _code(response: httpx.Response) -> str:
    try:
        code = response.json().get("error")
    except (ValueError, AttributeError):
        code = None
    return code if isinstance(code, str) else f"http-{response.status_code}"


def _json(url: str, body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise RemoteError(f"{url} answered with something that is not a JSON object")
    return data
