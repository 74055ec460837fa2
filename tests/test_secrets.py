"""Secrets in clear are found by key name or by shape; look-alikes pass."""

from __future__ import annotations

import pytest

from symphainy_gitops.parse import parse_document
from symphainy_gitops.secrets import plaintext_secrets


def found(text: str) -> list[tuple[int, str]]:
    content = text.encode()
    document, problems = parse_document("f.yaml", content)
    assert document is not None, problems
    with_hint = plaintext_secrets(document, content)
    without_hint = plaintext_secrets(document)
    assert with_hint == without_hint
    return [
        (f.line, f.message.split(" holds ")[1].split(" in clear")[0]) for f in with_hint
    ]


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("db:\n  password: hunter2-but-longer\n", "a secret"),
        ("auth_token: abc\n", "a secret"),
        ("x:\n  api_key: abc\n", "a secret"),
        ("signing_secret: s3cr3t\n", "a secret"),
        ("note: -----BEGIN OPENSSH PRIVATE KEY----- abc\n", "a private key"),
        ("note: AKIAABCDEFGHIJKLMNOP is ours\n", "an AWS access key id"),
        (
            "note: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl\n",
            "a JSON Web Token",
        ),
        ("h: 'Bearer abcdefghijklmnopqrstuvwxyz0123'\n", "a bearer token"),
    ],
)
def test_secrets_are_found(text: str, what: str) -> None:
    assert [w for _, w in found(text)] == [what]


@pytest.mark.parametrize(
    "text",
    [
        "signing_secret: ${secret:acme_hmac}\n",
        "token_ttl: 1h\n",
        "password_policy: strict\n",
        "max_tokens: 2048\n",
        "description: rotate the token every month and never share a password\n",
        "secret: ''\n",
    ],
)
def test_references_and_look_alikes_pass(text: str) -> None:
    assert found(text) == []


def test_finding_points_at_the_key_line() -> None:
    assert found("# comment\na:\n  b:\n    password: xyz\n") == [(4, "a secret")]
