"""JWT verification and the tenant/permission decision, as an attacker tries them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from symphainy_gitops.auth import (
    AuthSettings,
    Identity,
    KeySet,
    Refused,
    Verifier,
    decide,
    mint_token,
    normalise_path,
)
from symphainy_gitops.errors import GitopsError
from symphainy_gitops.snapshot import Snapshot, build_snapshot
from symphainy_gitops.source import open_source

from .app_support import SECRET, ConfigRepo, hmac_keys

ISSUER = "http://127.0.0.1:54321/auth/v1"
PLATFORM_HOST = "platform.localhost"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> ConfigRepo:
    return ConfigRepo(tmp_path_factory.mktemp("config"))


@pytest.fixture(scope="module")
def snapshot(repo: ConfigRepo) -> Snapshot:
    return build_snapshot(open_source(repo.root, "main"))


@pytest.fixture(scope="module")
def settings(snapshot: Snapshot) -> AuthSettings:
    return AuthSettings.from_platform(snapshot.platform)


@pytest.fixture
def verifier(settings: AuthSettings) -> Verifier:
    return Verifier(hmac_keys(), settings)


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": "user-1",
        "aud": "authenticated",
        "iss": ISSUER,
        "iat": now,
        "exp": now + 600,
        "email": "user-1@example.test",
        "role": "authenticated",
        "app_metadata": {"tenant_id": "acme", "roles": ["viewer"]},
        "user_metadata": {},
    }
    for key, value in changes.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return base


def hs256(**changes: Any) -> str:
    return jwt.encode(claims(**changes), SECRET, algorithm="HS256")


def refused(verifier: Verifier, token: str) -> Refused:
    with pytest.raises(Refused) as caught:
        verifier.verify(token)
    return caught.value


def allow(
    identity: Identity,
    snapshot: Snapshot,
    settings: AuthSettings,
    host: str = "acme.localhost",
    uri: str = "/",
    method: str = "GET",
) -> dict[str, str]:
    return decide(identity, snapshot, host, uri, method, settings).headers()


def deny(
    identity: Identity,
    snapshot: Snapshot,
    settings: AuthSettings,
    host: str = "acme.localhost",
    uri: str = "/",
    method: str = "GET",
) -> str:
    with pytest.raises(Refused) as caught:
        decide(identity, snapshot, host, uri, method, settings)
    assert caught.value.status == 403
    return caught.value.code


# ---------------------------------------------------------------------------
# Keys and algorithms


def test_valid_hs256_token_passes_identity_headers(
    verifier: Verifier, snapshot: Snapshot, settings: AuthSettings
) -> None:
    identity = verifier.verify(hs256())

    headers = allow(identity, snapshot, settings, host="ACME.localhost:8081")

    assert headers == {
        "X-User-Id": "user-1",
        "X-Tenant-Id": "acme",
        "X-User-Email": "user-1@example.test",
        "X-User-Roles": "viewer",
        "X-User-Permissions": "claims.read,dashboards.view,policies.read",
    }


def _jwks_file(tmp_path: Path, public: Any, kid: str) -> KeySet:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [_public_jwk(public, kid)]}))
    return KeySet.from_env({"SUPABASE_JWKS_FILE": str(path)})


def _public_jwk(public: Any, kid: str) -> dict[str, Any]:
    if isinstance(public, ec.EllipticCurvePublicKey):
        jwk: dict[str, Any] = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(public))
    else:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public))
    jwk.update(kid=kid, use="sig")
    return jwk


@pytest.mark.parametrize("algorithm", ["ES256", "RS256"])
def test_valid_asymmetric_tokens_from_a_jwks_file(
    tmp_path: Path, settings: AuthSettings, snapshot: Snapshot, algorithm: str
) -> None:
    private: Any = (
        ec.generate_private_key(ec.SECP256R1())
        if algorithm == "ES256"
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    keys = _jwks_file(tmp_path, private.public_key(), "key-1")
    token = jwt.encode(claims(), private, algorithm=algorithm, headers={"kid": "key-1"})

    identity = Verifier(keys, settings).verify(token)

    assert allow(identity, snapshot, settings)["X-Tenant-Id"] == "acme"
    other = jwt.encode(claims(), private, algorithm=algorithm, headers={"kid": "nope"})
    assert refused(Verifier(keys, settings), other).code == "key-unknown"


def test_alg_none_is_refused(verifier: Verifier) -> None:
    token = jwt.encode(claims(), None, algorithm="none")

    assert refused(verifier, token).code in {"algorithm-refused", "token-malformed"}


def test_hs256_signed_with_the_rsa_public_key_is_refused(
    tmp_path: Path, settings: AuthSettings
) -> None:
    # The classic confusion: the attacker knows the public key and signs an
    # HS256 token with its PEM as the HMAC secret.
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = private.public_key()
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [_public_jwk(public, "k")]}))
    keys = KeySet.from_env(
        {"SUPABASE_JWT_SECRET": SECRET, "SUPABASE_JWKS_FILE": str(path)}
    )
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    for header in ({"alg": "HS256", "typ": "JWT"}, {"alg": "HS256", "kid": "k"}):
        signing_input = _b64(header) + "." + _b64(claims())
        signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
        token = signing_input + "." + _b64url(signature)
        assert refused(Verifier(keys, settings), token).code == "signature-invalid"

    # Without a secret configured, HS256 is not even considered.
    only_rsa = KeySet.from_env({"SUPABASE_JWKS_FILE": str(path)})
    token = _b64({"alg": "HS256"}) + "." + _b64(claims()) + ".c2ln"
    assert refused(Verifier(only_rsa, settings), token).code == "algorithm-refused"


def test_a_token_whose_alg_does_not_fit_its_key_is_refused(
    tmp_path: Path, settings: AuthSettings
) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    keys = _jwks_file(tmp_path, private.public_key(), "ec-1")
    token = _b64({"alg": "RS256", "kid": "ec-1"}) + "." + _b64(claims()) + ".c2ln"

    assert refused(Verifier(keys, settings), token).code == "algorithm-refused"


def test_algorithms_are_intersected_with_the_platform_list(
    snapshot: Snapshot,
) -> None:
    platform = {**snapshot.platform}
    platform["auth"] = {**platform["auth"], "algorithms": ["RS256"]}
    settings = AuthSettings.from_platform(platform)

    assert refused(Verifier(hmac_keys(), settings), hs256()).code == "algorithm-refused"


def _b64(data: dict[str, Any]) -> str:
    return _b64url(json.dumps(data).encode())


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# ---------------------------------------------------------------------------
# Claims


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"exp": int(time.time()) - 3600}, "token-expired"),
        ({"nbf": int(time.time()) + 3600}, "token-not-yet-valid"),
        ({"iat": int(time.time()) + 3600}, "token-not-yet-valid"),
        ({"aud": "anon"}, "token-wrong-issuer-or-audience"),
        ({"aud": ["authenticated", "anon"]}, "token-wrong-issuer-or-audience"),
        ({"iss": "http://evil.example/auth/v1"}, "token-wrong-issuer-or-audience"),
        ({"iss": ISSUER + ".evil"}, "token-wrong-issuer-or-audience"),
        ({"iss": ISSUER[:-1]}, "token-wrong-issuer-or-audience"),
        ({"sub": None}, "claim-missing"),
        ({"exp": None}, "claim-missing"),
        ({"iat": None}, "claim-missing"),
        ({"iss": None}, "claim-missing"),
        ({"aud": None}, "claim-missing"),
        ({"app_metadata": {"roles": ["viewer"]}}, "tenant-claim-missing"),
        (
            {
                "app_metadata": {"roles": ["viewer"]},
                "user_metadata": {"tenant_id": "acme", "roles": ["platform_admin"]},
            },
            "tenant-claim-missing",
        ),
        ({"sub": "user-1\r\nX-Tenant-Id: lumen"}, "claim-invalid"),
        ({"email": "a@b.c\nX-User-Roles: tenant_admin"}, "claim-invalid"),
        ({"email": "jöe@example.test"}, "claim-invalid"),
        ({"sub": "user\x00"}, "claim-invalid"),
        ({"app_metadata": {"tenant_id": "acme\r\n", "roles": []}}, "claim-invalid"),
        ({"app_metadata": {"tenant_id": "acme", "roles": ["a,b"]}}, "claim-invalid"),
        ({"app_metadata": {"tenant_id": "acme", "roles": "viewer"}}, "claim-invalid"),
        ({"app_metadata": {"tenant_id": ["acme"], "roles": []}}, "claim-invalid"),
    ],
)
def test_bad_claims_are_refused(
    verifier: Verifier, changes: dict[str, Any], code: str
) -> None:
    refusal = refused(verifier, hs256(**changes))

    assert (refusal.status, refusal.code) == (401, code)
    assert refusal.bearer_error == "invalid_token"


def test_tampered_payload_is_refused(verifier: Verifier) -> None:
    header, _, signature = hs256().split(".")
    forged = claims(app_metadata={"tenant_id": "lumen", "roles": ["platform_admin"]})

    assert (
        refused(verifier, f"{header}.{_b64(forged)}.{signature}").code
        == "signature-invalid"
    )


def test_a_huge_token_is_refused_before_parsing(verifier: Verifier) -> None:
    token = "a" * 1_000_000 + "." + "b.c"

    started = time.perf_counter()
    assert refused(verifier, token).code == "token-too-large"

    assert time.perf_counter() - started < 0.05
    assert verifier.signature_checks == 0


@pytest.mark.parametrize("token", ["", "abc", "a.b", "a.b.c.d", "a.b.c d", "ä.b.c"])
def test_malformed_tokens_are_refused(verifier: Verifier, token: str) -> None:
    assert refused(verifier, token).code == "token-malformed"


def test_settings_refuse_user_metadata_claims(snapshot: Snapshot) -> None:
    platform = {**snapshot.platform}
    platform["auth"] = {**platform["auth"], "tenant_claim": "user_metadata.tenant_id"}

    with pytest.raises(GitopsError, match="user_metadata"):
        AuthSettings.from_platform(platform)


def test_no_key_refuses_to_start_naming_the_variables() -> None:
    with pytest.raises(GitopsError) as caught:
        KeySet.from_env({})

    for name in ("SUPABASE_JWT_SECRET", "SUPABASE_JWKS_URL", "SUPABASE_JWKS_FILE"):
        assert name in str(caught.value)
    with pytest.raises(GitopsError, match="shorter"):
        KeySet.from_env({"SUPABASE_JWT_SECRET": "short"})


def test_unknown_kid_refetches_the_jwks_at_most_once_per_interval(
    settings: AuthSettings,
) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    served = {"keys": [_public_jwk(private.public_key(), "old")]}
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            body = json.dumps(served).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/jwks"
        keys = KeySet.from_env({"SUPABASE_JWKS_URL": url})
        keys.refetch_seconds = 0.5
        verifier = Verifier(keys, settings)
        assert len(hits) == 1

        # A flood of random kids costs no fetch inside the interval.
        for index in range(50):
            token = jwt.encode(claims(), private, "ES256", headers={"kid": f"r{index}"})
            assert refused(verifier, token).code == "key-unknown"
        assert len(hits) <= 2

        # A rotated key appears after the interval, on first use.
        rotated = ec.generate_private_key(ec.SECP256R1())
        served["keys"].append(_public_jwk(rotated.public_key(), "new"))
        time.sleep(0.6)
        token = jwt.encode(claims(), rotated, "ES256", headers={"kid": "new"})
        assert verifier.verify(token).subject == "user-1"
        assert len(hits) <= 3
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


# ---------------------------------------------------------------------------
# Tenant and permission decision


def test_token_of_one_tenant_on_another_tenants_routes_is_refused(
    verifier: Verifier, snapshot: Snapshot, settings: AuthSettings
) -> None:
    identity = verifier.verify(hs256())

    assert deny(identity, snapshot, settings, host="lumen.localhost") == (
        "tenant-mismatch"
    )
    prefix = "/api/v1/tenants/northwind/claims"
    assert (
        deny(identity, snapshot, settings, PLATFORM_HOST, prefix) == "tenant-mismatch"
    )
    # The prefix ends at a segment boundary: acme's token gets nothing of
    # /api/v1/tenants/acme-evil, which routes nowhere.
    evil = "/api/v1/tenants/acme-evil/x"
    assert deny(identity, snapshot, settings, PLATFORM_HOST, evil) == "route-unknown"
    assert allow(identity, snapshot, settings, PLATFORM_HOST, "/api/v1/tenants/acme/x")


@pytest.mark.parametrize(
    "host",
    ["unknown.localhost", "", "acme.localhost, lumen.localhost", "acme .localhost"],
)
def test_unroutable_hosts_are_refused(
    verifier: Verifier, snapshot: Snapshot, settings: AuthSettings, host: str
) -> None:
    identity = verifier.verify(hs256())

    assert deny(identity, snapshot, settings, host=host) == "route-unknown"


def test_platform_admin_may_act_on_any_tenant(
    verifier: Verifier, snapshot: Snapshot, settings: AuthSettings
) -> None:
    token = hs256(app_metadata={"tenant_id": "acme", "roles": ["platform_admin"]})
    identity = verifier.verify(token)

    headers = allow(identity, snapshot, settings, host="lumen.localhost")

    assert headers["X-Tenant-Id"] == "lumen"
    assert headers["X-User-Roles"] == "platform_admin"
    # Without a tenant of its own, too.
    bare = hs256(app_metadata={"roles": ["platform_admin"]})
    assert allow(verifier.verify(bare), snapshot, settings, host="lumen.localhost")


def test_permissions_follow_inheritance(
    verifier: Verifier, snapshot: Snapshot, settings: AuthSettings
) -> None:
    token = hs256(app_metadata={"tenant_id": "acme", "roles": ["senior_adjuster"]})

    headers = allow(verifier.verify(token), snapshot, settings)

    # senior_adjuster (acme) → claims_adjuster → viewer (base).
    assert headers["X-User-Permissions"] == ",".join(
        sorted(
            [
                "claims.approve",
                "claims.read",
                "claims.write",
                "dashboards.view",
                "personas.use",
                "policies.read",
            ]
        )
    )
    unknown = hs256(app_metadata={"tenant_id": "acme", "roles": ["no_such_role"]})
    assert (
        allow(verifier.verify(unknown), snapshot, settings)["X-User-Permissions"] == ""
    )


@pytest.mark.parametrize(
    ("uri", "method"),
    [
        ("/admin", "GET"),
        ("/admin/users?x=1", "DELETE"),
        ("/ADMIN", "GET"),
        ("/%61dmin", "GET"),
        ("/x/../admin", "GET"),
        ("//admin", "GET"),
        ("/./admin/", "GET"),
        ("/ingest", "POST"),
        ("/ingest/claims/csv", "POST"),
        ("/Ingest/policies", "PUT"),
        ("/admin", ""),
    ],
)
def test_gated_routes_need_their_permission(
    verifier: Verifier,
    snapshot: Snapshot,
    settings: AuthSettings,
    uri: str,
    method: str,
) -> None:
    viewer = verifier.verify(hs256())
    admin = verifier.verify(
        hs256(app_metadata={"tenant_id": "acme", "roles": ["tenant_admin"]})
    )

    assert deny(viewer, snapshot, settings, uri=uri, method=method) == (
        "permission-missing"
    )
    assert allow(admin, snapshot, settings, uri=uri, method=method)
    on_prefix = "/api/v1/tenants/acme" + uri
    assert deny(viewer, snapshot, settings, PLATFORM_HOST, on_prefix, method) == (
        "permission-missing"
    )


@pytest.mark.parametrize(
    ("uri", "method"),
    [("/administrator", "GET"), ("/ingest/policies", "GET"), ("/claims", "POST")],
)
def test_ungated_routes_pass_without_permission(
    verifier: Verifier,
    snapshot: Snapshot,
    settings: AuthSettings,
    uri: str,
    method: str,
) -> None:
    viewer = verifier.verify(hs256())

    assert allow(viewer, snapshot, settings, uri=uri, method=method)


@pytest.mark.parametrize(
    "uri", ["/%2561dmin", "/a%0d%0ab", "/a\\b", "relative", "/%ff", "/a%00"]
)
def test_ambiguous_paths_are_refused(uri: str) -> None:
    assert normalise_path(uri) is None


def test_suspended_tenant_is_refused_even_to_admins(
    verifier: Verifier, snapshot: Snapshot, settings: AuthSettings
) -> None:
    own = verifier.verify(hs256(app_metadata={"tenant_id": "harbor", "roles": []}))
    admin = verifier.verify(
        hs256(app_metadata={"tenant_id": "acme", "roles": ["platform_admin"]})
    )

    assert deny(own, snapshot, settings, host="harbor.localhost") == "tenant-suspended"
    assert deny(admin, snapshot, settings, host="harbor.localhost") == (
        "tenant-suspended"
    )
    # Someone else's token learns nothing of the status.
    other = verifier.verify(hs256())
    assert deny(other, snapshot, settings, host="harbor.localhost") == (
        "tenant-mismatch"
    )


# ---------------------------------------------------------------------------
# Cache


def test_cache_hit_skips_the_signature_but_never_outlives_exp(
    settings: AuthSettings,
) -> None:
    no_leeway = Verifier(hmac_keys(), replace(settings, leeway_seconds=0))
    token = hs256(exp=int(time.time()) + 2)

    first = no_leeway.verify(token)
    for _ in range(100):
        assert no_leeway.verify(token) is first
    assert no_leeway.signature_checks == 1

    time.sleep(max(0.0, first.expires_at - time.time()) + 0.05)
    assert no_leeway.cached(token) is None
    assert refused(no_leeway, token).code == "token-expired"


def test_the_cache_is_bounded(settings: AuthSettings) -> None:
    small = Verifier(hmac_keys(), settings, cache_size=3)
    tokens = [hs256(sub=f"user-{n}") for n in range(5)]

    for token in tokens:
        small.verify(token)

    assert small.cached(tokens[0]) is None
    assert small.cached(tokens[-1]) is not None


def test_mint_token_is_supabase_shaped_and_verifies(
    repo: ConfigRepo, verifier: Verifier
) -> None:
    token = mint_token(SECRET, repo.platform, "acme", "u-9", ["viewer"], "u@x.test")

    payload = jwt.decode(token, options={"verify_signature": False})
    assert payload["role"] == "authenticated"
    assert payload["app_metadata"] == {
        "provider": "email",
        "providers": ["email"],
        "tenant_id": "acme",
        "roles": ["viewer"],
    }
    assert payload["user_metadata"] == {}
    assert {"iss", "aud", "iat", "exp", "session_id", "email"} <= set(payload)
    assert verifier.verify(token).tenant == "acme"
