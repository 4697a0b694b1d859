"""Access tokens: who a connection is and what it may do to which document.

A token is a JWT signed with HMAC-SHA256 by the server's secret.  Verification
accepts exactly that algorithm (so ``alg: none`` and algorithm-confusion tokens
fail), and requires the signature, an expiry in the future and our audience.
Claims:

* ``sub``: the user id (:func:`check_user_id`); ``name``: a display name (defaults to
  ``sub``; :func:`check_display_name`).  Both are checked when a token is issued
  *and* when it is verified.
* ``doc``: the document id the token grants, or ``"*"`` for every document
* ``role``: ``owner`` (may also delete the document), ``editor`` or ``viewer``
* ``aud``: ``"cowrite"``; ``exp``/``iat``: Unix seconds

Until accounts exist, ``cowrite token`` issues tokens from the command line with
the same secret the server uses (``--secret``, ``$COWRITE_SECRET``, or a
``<db>.secret`` file created beside the database on first use).  A secret of
fewer than 32 bytes, wherever it comes from, is refused (:class:`ConfigError`).

A token is at most :data:`MAX_TOKEN_CHARS` long, and its header (which is parsed
before the signature is checked) must be flat JSON: nothing nested reaches the
JSON parser before the signature says who made it.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from ..accounts.names import display_name_problem, has_control_or_bidi
from ..errors import AuthError, ConfigError, CowriteError
from ..store.base import MAX_USER_NAME  # a display name has 1..MAX_USER_NAME characters (as stored)
from .bounds import loads

__all__ = [
    "AuthError",
    "Grant",
    "MAX_TOKEN_CHARS",
    "MAX_USER_ID",
    "MAX_USER_NAME",
    "ROLES",
    "check_display_name",
    "check_user_id",
    "has_control_or_bidi",
    "issue_token",
    "load_secret",
    "verify_token",
]

AUDIENCE = "cowrite"
ROLES = ("viewer", "editor", "owner")
_ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32
MAX_USER_ID = 128
"""A user id has 1..MAX_USER_ID characters."""
MAX_TOKEN_CHARS = 8192
"""Longer tokens are refused unread (a token with the longest id and name is ~6500)."""

def check_user_id(value: object) -> str:
    """``value`` if it is a valid user id, else :class:`AuthError`.

    A user id is 1..128 characters, every one printable (``str.isprintable``: no
    control, format -- bidirectional marks and overrides, zero-width characters --,
    surrogate, private-use, unassigned or separator character but the ASCII space),
    neither starting nor ending with a space.  It names the owner of agents in the
    store and in logs, so it must read as what it is."""
    if not isinstance(value, str):
        raise AuthError(f"a user id must be a string, not {type(value).__name__}")
    if not 1 <= len(value) <= MAX_USER_ID:
        raise AuthError(f"a user id has 1..{MAX_USER_ID} characters, not {len(value)}")
    if not value.isprintable() or value != value.strip():
        raise AuthError("a user id may hold only printable characters (no control or bidirectional ones), not at its ends spaces")
    return value


def check_display_name(value: object) -> str:
    """``value`` if it is a valid display name, else :class:`AuthError`: 1..256
    characters without control, bidirectional or invisible characters, not blank."""
    problem = display_name_problem(value)  # the same rule as an account's display name
    if problem is not None:
        raise AuthError(problem)
    assert isinstance(value, str)
    return value


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
    check_user_id(user)
    if name is not None:
        check_display_name(name)
    if ttl <= 0:
        raise AuthError("ttl must be positive")
    now = int(time.time())
    claims = {"sub": user, "name": name or user, "doc": doc, "role": role, "aud": AUDIENCE, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def verify_token(secret: bytes, token: str | None) -> Grant:
    """The grant a token carries; raises AuthError with a reason otherwise."""
    if not token:
        raise AuthError("no token: pass ?token=... or an 'Authorization: Bearer' header")
    if len(token) > MAX_TOKEN_CHARS:
        raise AuthError(f"invalid token: longer than {MAX_TOKEN_CHARS} characters")
    _check_header(token)
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
    if role not in ROLES or not isinstance(doc, str):
        raise AuthError("token claims are malformed")
    try:
        check_user_id(user)
        check_display_name(name)
    except AuthError as exc:
        raise AuthError(f"token claims are malformed: {exc}") from None
    assert isinstance(user, str) and isinstance(name, str)
    return Grant(user, name, doc, role, int(claims["exp"]))


def _check_header(token: str) -> None:
    """The header is parsed before the signature is checked: it must be a flat JSON object."""
    head = token.split(".", 1)[0]
    try:
        raw = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))
    except (binascii.Error, ValueError):
        raise AuthError("invalid token: its header is not base64url") from None
    try:
        header = loads(raw, max_bytes=MAX_TOKEN_CHARS, max_depth=1, what="the token header")
    except CowriteError as exc:
        raise AuthError(f"invalid token: {exc}") from None
    if not isinstance(header, dict):
        raise AuthError("invalid token: its header is not a JSON object")


def load_secret(explicit: str | None = None, beside: Path | None = None) -> bytes:
    """The signing secret: ``explicit``, else $COWRITE_SECRET, else the file
    ``<beside>.secret`` (created with 32 random bytes, hex, mode 0600, on first use;
    surrounding whitespace is not part of it).

    A secret under 32 bytes, an empty one, or a file that cannot be read raises
    :class:`ConfigError` saying what to do: a short secret makes tokens anyone can forge.
    """
    if explicit is not None:
        return _long_enough(explicit.encode(), "the secret (--secret)")
    value = os.environ.get("COWRITE_SECRET")
    if value:
        return _long_enough(value.encode(), "the secret in $COWRITE_SECRET")
    if beside is None:
        raise ConfigError("no secret: pass --secret or set COWRITE_SECRET")
    path = beside.with_name(beside.name + ".secret")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ConfigError(f"cannot create the secret file {path}: {exc.strerror or exc}") from None
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
            f.flush()
            os.fsync(f.fileno())
    try:
        raw = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the secret file {path}: {exc.strerror or exc}") from None
    return _long_enough(
        raw,
        f"the secret file {path}",
        "write a longer secret into it, or delete it to have a random one made",
    )


def _long_enough(raw: bytes, what: str, fix: str = "use a longer one") -> bytes:
    if len(raw) < MIN_SECRET_BYTES:
        held = "is empty" if not raw else f"holds only {len(raw)} bytes"
        raise ConfigError(f"{what} {held}; a secret must be at least {MIN_SECRET_BYTES} bytes ({fix})")
    return raw
