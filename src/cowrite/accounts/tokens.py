"""Personal access tokens: what integrations use instead of a password or a session.

A token is ``"cwp_" + secrets.token_urlsafe(32)`` (256 random bits; the prefix lets secret
scanners and people recognise it), shown once, and stored only as its SHA-256: a stolen
database opens nothing.  It acts as its user, capped: ``docs`` lists the documents it may
reach (``("*",)``: every document the user can reach) and ``role`` the most it may do.
What it may do on a document is ``weaker(token role, the user's own role there)``,
checked at every use by the server (:meth:`TokenGrant.role_on`), so a token never
outlives the access of its user.  :meth:`Tokens.verify` refuses (``None``, one answer for
all) an unknown, revoked or expired token and one whose account is disabled or gone.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import AccessDenied, AccountNotFound, InvalidAccount, InvalidDocumentId, TokenNotFound
from ..store.base import Store, TokenRecord, check_doc_id
from .names import display_name_problem, normalize_username
from .roles import DOC_ROLES, check_role, weaker
from .service import Accounts, secret_key

__all__ = [
    "MAX_TOKEN_DOCS",
    "MAX_TOKEN_LABEL",
    "MAX_TOKEN_TTL",
    "MAX_TOKENS_PER_USER",
    "TOKEN_PREFIX",
    "TokenGrant",
    "TokenInfo",
    "Tokens",
]

TOKEN_PREFIX = "cwp_"
MAX_TOKEN_LABEL = 100
MAX_TOKEN_DOCS = 100
MAX_TOKEN_TTL = 5 * 366 * 86400.0
MAX_TOKENS_PER_USER = 100
"""Live (not revoked) tokens one account may hold: a bound on what one user can store."""
TOUCH_INTERVAL = 60.0
"""``last_used`` is written at most this often per token (seconds): verifying stays a read."""
_SECRET_LEN = len(TOKEN_PREFIX) + 43  # token_urlsafe(32) is 43 characters

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as its user's list shows it (never the secret)."""

    id: str
    user: str
    label: str
    docs: tuple[str, ...]
    role: str
    created_at: float
    expires_at: float | None
    last_used: float | None
    revoked: bool


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What a verified token may do: act as ``user`` on ``docs`` (``("*",)``: all the user
    can reach), at most as ``role``."""

    user: str
    docs: tuple[str, ...]
    role: str
    expires_at: float | None
    token_id: str

    def covers(self, doc: str) -> bool:
        """Whether the token may reach ``doc`` at all."""
        return "*" in self.docs or doc in self.docs

    def role_on(self, doc: str, user_role: str | None) -> str | None:
        """The token's effective role on ``doc`` given its user's own role there: the weaker
        of the two, ``None`` if the token does not cover ``doc``."""
        return weaker(self.role, user_role) if self.covers(doc) else None


class Tokens:
    """Personal access tokens over ``store``; ``accounts`` says who exists and who is an admin."""

    def __init__(self, store: Store, accounts: Accounts, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.accounts = accounts
        self.clock = clock
        self._listeners: list[Callable[[str], None]] = []

    def on_revoke(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(user)`` after one of ``user``'s tokens is revoked (the server
        checks the sockets that user has open again: one opened with the token closes).
        A callback that raises is logged and the others still run."""
        self._listeners.append(callback)

    def create(
        self,
        user: str,
        label: str,
        *,
        docs: tuple[str, ...] = ("*",),
        role: str = "editor",
        ttl: float | None = 90 * 86400,
    ) -> tuple[str, TokenInfo]:
        """A new token for the account ``user``: ``(secret, info)``.  The secret is shown
        once.  ``ttl`` ``None``: it does not expire.  :class:`InvalidAccount` for a bad label,
        role, document list or ttl, or too many tokens; :class:`AccountNotFound`."""
        name = normalize_username(user)
        problem = display_name_problem(label)
        if problem is not None:
            raise InvalidAccount(problem.replace("display name", "token label"))
        if len(label) > MAX_TOKEN_LABEL:
            raise InvalidAccount(f"a token label has 1..{MAX_TOKEN_LABEL} characters, not {len(label)}")
        scope = _check_docs(docs)
        check_role(role, DOC_ROLES, "a token's role")
        if ttl is not None and (type(ttl) not in (int, float) or not 0 < ttl <= MAX_TOKEN_TTL):
            raise InvalidAccount(f"a token's ttl is None or 0..{int(MAX_TOKEN_TTL)} seconds, not {ttl!r}")
        account = self.accounts.account(name)
        if account is None:
            raise AccountNotFound(name)
        if account.disabled:
            raise AccessDenied(f"the account {name!r} is disabled")
        if sum(1 for t in self.store.tokens(name) if not t.revoked) >= MAX_TOKENS_PER_USER:
            raise InvalidAccount(f"an account holds at most {MAX_TOKENS_PER_USER} tokens: revoke some first")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = self.clock()
        record = TokenRecord(
            key=secret_key(secret),
            id=secrets.token_hex(8),
            user=name,
            label=label,
            docs=scope,
            role=role,
            created_at=now,
            expires_at=None if ttl is None else now + ttl,
        )
        self.store.add_token(record)
        return secret, _info(record)

    def verify(self, secret: str) -> TokenGrant | None:
        """What ``secret`` grants, or ``None``: not a token, unknown, revoked, expired, or its
        account disabled or gone.  Looked up by its SHA-256 (so timing says nothing about the
        secret); records the use at most once a minute."""
        if not isinstance(secret, str) or len(secret) != _SECRET_LEN or not secret.startswith(TOKEN_PREFIX):
            return None
        key = secret_key(secret)
        record = self.store.token(key)
        if record is None or not hmac.compare_digest(record.key, key) or record.revoked:
            return None
        now = self.clock()
        if record.expires_at is not None and now >= record.expires_at:
            return None
        account = self.accounts.account(record.user)
        if account is None or account.disabled:
            return None
        if record.last_used is None or now - record.last_used >= TOUCH_INTERVAL:
            self.store.touch_token(key, now)
        return TokenGrant(record.user, record.docs, record.role, record.expires_at, record.id)

    def revoke(self, user: str, token_id: str, *, by_admin: bool = False) -> None:
        """``user`` revokes their token ``token_id``; with ``by_admin``, ``user`` is an
        administrator revoking anyone's (checked: :class:`AccessDenied` if not one).
        :class:`TokenNotFound`, one answer for an unknown token and someone else's."""
        name = normalize_username(user)
        if type(by_admin) is not bool:
            raise InvalidAccount("by_admin must be True or False")
        if by_admin:
            account = self.accounts.account(name)
            if account is None or not account.admin or account.disabled:
                raise AccessDenied("only an administrator may revoke other people's tokens")
        if not isinstance(token_id, str) or not 0 < len(token_id) <= 64:
            raise TokenNotFound("no such token")
        record = self.store.token_by_id(token_id)
        if record is None or (record.user != name and not by_admin):
            raise TokenNotFound("no such token")
        self.store.revoke_token(token_id)
        for callback in list(self._listeners):
            try:
                callback(record.user)
            except Exception:
                log.exception("an on_revoke listener failed (the token was revoked anyway)")

    def tokens(self, user: str) -> list[TokenInfo]:
        """The user's tokens, oldest first (revoked and expired ones too, marked so)."""
        return [_info(r) for r in self.store.tokens(normalize_username(user))]


def _check_docs(docs: object) -> tuple[str, ...]:
    if not isinstance(docs, tuple) or not docs:
        raise InvalidAccount("a token's docs are a non-empty tuple of document ids, or ('*',)")
    if "*" in docs:
        if docs != ("*",):
            raise InvalidAccount("a token's docs are ('*',) alone, or document ids")
        return docs
    if len(docs) > MAX_TOKEN_DOCS:
        raise InvalidAccount(f"a token reaches at most {MAX_TOKEN_DOCS} documents (or all: ('*',))")
    out: list[str] = []
    for doc in docs:
        try:
            check_doc_id(doc)
        except InvalidDocumentId as exc:
            raise InvalidAccount(f"a token's docs: {exc}") from exc
        if doc not in out:
            out.append(doc)
    return tuple(out)


def _info(record: TokenRecord) -> TokenInfo:
    return TokenInfo(
        record.id, record.user, record.label, record.docs, record.role, record.created_at, record.expires_at,
        record.last_used, record.revoked,
    )
