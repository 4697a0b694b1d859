"""Access tokens: who a connection is and what it may do to which document.

A token is a JWT signed with HMAC-SHA256 by the server's secret.  Verification
accepts exactly that algorithm (so ``alg: none`` and algorithm-confusion tokens
fail), and requires the signature, an expiry in the future and our audience.
Claims:

* ``sub``: the user id; ``name``: a display name (defaults to ``sub``)
* ``doc``: the document id the token grants, or ``"*"`` for every document
* ``role``: ``owner`` (may also delete the document), ``editor`` or ``viewer``
* ``aud``: ``"cowrite"``; ``exp``/``iat``: Unix seconds

Until accounts exist, ``cowrite token`` issues tokens from the command line with
the same secret the server uses (``--secret``, ``$COWRITE_SECRET``, or a
``<db>.secret`` file created beside the database on first use).
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from ..errors import AuthError

__all__ = ["AuthError", "Grant", "ROLES", "issue_token", "load_secret", "verify_token"]

AUDIENCE = "cowrite"
ROLES = ("viewer", "editor", "owner")
_ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class Grant:
    user: str
    name: str
    doc: str  # a document id, or "*"
    role: str
    expires: int

    def allows(self, doc_id: str) -> bool:
        return self.doc == "*" or self.doc == doc_id

    @property
    def can_write(self) -> bool:
        return self.role in ("editor", "owner")

    @property
    def is_owner(self) -> bool:
        return self.role == "owner"


def issue_token(
    secret: bytes, user: str, *, doc: str = "*", role: str = "editor", ttl: int = 3600, name: str | None = None
) -> str:
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if not user:
        raise AuthError("a token needs a user")
    if ttl <= 0:
        raise AuthError("ttl must be positive")
    now = int(time.time())
    claims = {"sub": user, "name": name or user, "doc": doc, "role": role, "aud": AUDIENCE, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def verify_token(secret: bytes, token: str | None) -> Grant:
    """The grant a token carries; raises AuthError with a reason otherwise."""
    if not token:
        raise AuthError("no token: pass ?token=... or an 'Authorization: Bearer' header")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["exp", "aud", "sub", "role", "doc"]},
        )
    except jwt.ExpiredSignatureError:
        raise AuthError("token expired") from None
    except jwt.InvalidAudienceError:
        raise AuthError("token is not for cowrite (audience)") from None
    except jwt.InvalidSignatureError:
        raise AuthError("token signature is invalid") from None
    except jwt.InvalidAlgorithmError:
        raise AuthError("token algorithm not allowed") from None
    except jwt.PyJWTError as exc:
        raise AuthError(f"invalid token: {exc}") from None
    role = claims.get("role")
    user, doc, name = claims.get("sub"), claims.get("doc"), claims.get("name", claims.get("sub"))
    if role not in ROLES or not isinstance(user, str) or not isinstance(doc, str) or not isinstance(name, str):
        raise AuthError("token claims are malformed")
    return Grant(user, name, doc, role, int(claims["exp"]))


def load_secret(explicit: str | None = None, beside: Path | None = None) -> bytes:
    """The signing secret: explicit, else $COWRITE_SECRET, else ``<beside>.secret``
    (created with 32 random bytes, mode 0600, on first use)."""
    value = explicit or os.environ.get("COWRITE_SECRET")
    if value:
        raw = value.encode()
        if len(raw) < MIN_SECRET_BYTES:
            raise AuthError(f"the secret must be at least {MIN_SECRET_BYTES} bytes")
        return raw
    if beside is None:
        raise AuthError("no secret: pass --secret or set COWRITE_SECRET")
    path = beside.with_name(beside.name + ".secret")
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip().encode()
