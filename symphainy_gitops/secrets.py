"""Find secrets written in clear; config refers to them as ``${secret:NAME}``.

Each file is checked as written, before any merge: a secret in a file is a
leak even when another layer overrides it. Two signals count: a key whose
name says it holds a secret, and a value that looks like a well-known kind
of credential wherever it stands.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from .findings import Finding, error
from .parse import Document, Path

SECRET_REFERENCE = re.compile(r"^\$\{secret:[A-Za-z0-9_.-]+\}$")

# The last word of a key, or the whole key, that names a secret. The last word
# only, so that ``token_ttl`` or ``password_policy`` are not taken for one.
_SECRET_WORDS = {"password", "passwd", "secret", "token", "apikey", "credentials"}
_SECRET_KEYS = {"api_key", "private_key", "access_key", "secret_key", "signing_key"}

_CREDENTIAL_SHAPES = (
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    (
        "a JSON Web Token",
        re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
    ),
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b")),
    ("a Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
    ("a Stripe secret key", re.compile(r"\b[sr]k_live_[A-Za-z0-9]{16,}\b")),
    ("a bearer token", re.compile(r"\bBearer\s+[A-Za-z0-9._~+/-]{20,}")),
)


def is_secret_key(key: str) -> bool:
    lowered = key.lower()
    words = re.split(r"[_.-]", lowered)
    return lowered in _SECRET_KEYS or words[-1] in _SECRET_WORDS


# Any of the signals above leaves one of these in the lower-cased raw text. A
# file with none of them (most files) skips the walk over its values.
_HINTS = (
    b"passw",
    b"secret",
    b"token",
    b"apikey",
    b"api_key",
    b"credential",
    b"private_key",
    b"access_key",
    b"signing_key",
    b"-----begin",
    b"eyj",
    b"akia",
    b"asia",
    b"ghp_",
    b"gho_",
    b"ghu_",
    b"ghs_",
    b"ghr_",
    b"xox",
    b"k_live_",
    b"bearer",
)


def plaintext_secrets(
    document: Document, content: bytes | None = None
) -> list[Finding]:
    """Secrets in clear in ``document``; ``content``, its raw text, speeds it up."""
    if content is not None:
        lowered = content.lower()
        if not any(hint in lowered for hint in _HINTS):
            return []

    findings = []
    for path, what in _scan(document.data, ()):
        line, column = document.marks.get(path, (1, 1))
        dotted = ".".join(str(step) for step in path)
        findings.append(
            error(
                "secret-plaintext",
                f"{dotted} holds {what} in clear; store it in the secret store "
                "and write a reference such as '${secret:NAME}' instead, then "
                "rotate the leaked value",
                document.path,
                line,
                column,
            )
        )
    return findings


def _scan(value: Any, path: Path) -> Iterator[tuple[Path, str]]:
    if isinstance(value, dict):
        for key, child in value.items():
            child_path = (*path, key)
            if (
                isinstance(child, str)
                and child
                and is_secret_key(key)
                and not SECRET_REFERENCE.match(child)
            ):
                yield child_path, "a secret"
            else:
                yield from _scan(child, child_path)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _scan(child, (*path, index))
    elif isinstance(value, str) and len(value) >= 20:
        for what, shape in _CREDENTIAL_SHAPES:
            if shape.search(value):
                yield path, what
                return
