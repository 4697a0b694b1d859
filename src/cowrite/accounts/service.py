"""The accounts service: sign-up, sign-in, sessions, passwords, invites, over a :class:`Store`.

What it promises, whatever the caller sends:

* **No enumeration.**  Sign-in answers an unknown username, a wrong password and a
  disabled account with the same :class:`SignInFailed`, after the same work: an
  unknown user is verified against a dummy hash (:meth:`Passwords.burn`).
* **No fixation.**  :meth:`Accounts.sign_in` always makes a new random session id
  (``secrets.token_urlsafe(32)``, 256 bits); nothing a client sends becomes one.
* **Nothing secret at rest.**  The store keeps a session's and an invite's SHA-256,
  never the id or code itself (shown once, to its owner), and passwords only as
  argon2id hashes.  A stolen database opens no session.
* **Throttling before hashing**: a throttled attempt (:class:`Throttled`) costs no
  argon2 work, so guessing cannot be used to load the server either.  Sign-ups are
  throttled per client address too (each one costs a 64 MiB hash): after
  :data:`SIGNUPS_FREE` in a burst, each further one from that address waits.  The
  counts are in the store (by default), so every server of a cluster sees the same
  ones; when the store cannot be read the attempt fails with its
  :class:`~cowrite.errors.StoreError`, before any hashing, rather than going unthrottled.
* **Revocation is immediate.**  Signing out, "everywhere", a password change and
  disabling an account delete the sessions in the same store transaction as the
  change, then tell :meth:`Accounts.on_revoke` listeners (the server closes their
  WebSockets).  :meth:`Accounts.session` rechecks the account on every call, so
  a disabled account's session is refused even if a revocation was missed.
* Sessions end after ``session_idle`` seconds unused and ``session_absolute``
  seconds after sign-in, whichever comes first.
* Bad input raises an :class:`~cowrite.errors.AccountError` saying what is wrong,
  before anything is stored.

Every method is synchronous (the store's are); an asyncio server calls them with
``asyncio.to_thread``.  They are thread-safe.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import (
    AccountExists,
    AccountNotFound,
    ConfigError,
    InvalidAccount,
    InviteNotFound,
    SignInFailed,
    SignUpRefused,
    Throttled,
)
from ..store.base import AccountRecord, DocInviteRecord, InviteRecord, SessionRecord, Store
from .names import check_display_name, check_new_username, has_control_or_bidi, normalize_username
from .passwords import Passwords, check_password
from .throttle import Throttle

__all__ = [
    "CLI_INVITER",
    "SIGNUPS_FREE",
    "SIGNUP_MODES",
    "Account",
    "Accounts",
    "InviteInfo",
    "SessionInfo",
    "first_start_hint",
    "secret_key",
]

log = logging.getLogger(__name__)

SIGNUP_MODES = ("open", "invite", "closed")
CLI_INVITER = "(command line)"
"""``created_by`` of invites made with ``cowrite user invite`` (no username can look like it)."""
TOUCH_INTERVAL = 60.0
"""A session's ``last_seen`` is written at most this often (seconds): reads stay reads."""
PURGE_INTERVAL = 3600.0
"""Ended sessions are deleted from the store at most this often (seconds), at a sign-in."""
MAX_INVITE_TTL = 365 * 86400.0
SIGNUPS_FREE = 10
"""Sign-ups one client address may make in a burst before each further one waits
(2 s, doubling, up to 15 minutes; the count halves every hour)."""
_MAX_SECRET = 256  # longer "session ids" or "invite codes" are refused before hashing
_KEY = re.compile(r"[0-9a-f]{64}")


def secret_key(secret: str) -> str:
    """The key a session id or invite code is stored under: its SHA-256, in hex.

    A plain hash is enough (no salt, no stretching): the secrets are 256 random bits,
    not something a person chose."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class Account:
    """An account as callers see it: never its password hash."""

    username: str
    name: str
    admin: bool
    disabled: bool
    created_at: float


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A live session: who it is, and what the server needs to serve it.

    ``key`` is the SHA-256 (hex) of the session id: it names the session in
    :meth:`Accounts.on_revoke` and in logs, and opens nothing.  ``expires_at`` is the
    absolute end (Unix seconds; it ends earlier if unused for ``session_idle``).
    ``csrf_token`` is a random value made at sign-in and kept with the session, for
    the server's CSRF check of unsafe cookie-authenticated requests.
    """

    key: str
    user: str
    name: str
    admin: bool
    created_at: float
    expires_at: float
    csrf_token: str = field(repr=False)
    last_seen: float = 0.0
    """When the session was last used, as stored (written at most once a minute)."""


@dataclass(frozen=True, slots=True)
class InviteInfo:
    """A sign-up invite, for an administrator's list.  ``key`` is the SHA-256 of its code
    (the code itself was shown once); :meth:`Accounts.revoke_invite` takes either."""

    key: str
    created_by: str
    created_at: float
    expires_at: float
    used_by: str | None
    used_at: float | None
    revoked: bool
    status: str
    """``"open"``, ``"used"``, ``"revoked"`` or ``"expired"`` (when listed)."""


def first_start_hint(accounts: Accounts, *, db: str | None = None) -> str | None:
    """What ``cowrite serve`` prints on a store with no accounts: how to make the first admin."""
    if accounts.count():
        return None
    where = f" --db {db}" if db else ""
    return (
        "cowrite: no accounts yet: create the first administrator with "
        f"`cowrite user add NAME --admin{where}` (it asks for the password)"
    )


RevokeListener = Callable[[str, frozenset[str]], None]


class Accounts:
    """Accounts, sessions and invites over ``store``.

    ``hasher`` defaults to :class:`Passwords` with RFC 9106 parameters; ``clock`` is Unix
    seconds; ``throttle`` and ``signup_throttle`` default to :class:`Throttle` s on the
    same clock that keep their counts in ``store`` (shared by every server using it).
    """

    def __init__(
        self,
        store: Store,
        *,
        hasher: Passwords | None = None,
        clock: Callable[[], float] = time.time,
        session_idle: float = 14 * 86400,
        session_absolute: float = 60 * 86400,
        throttle: Throttle | None = None,
        signup_throttle: Throttle | None = None,
    ) -> None:
        if not 0 < session_idle <= session_absolute:
            raise ConfigError("sessions need 0 < session_idle <= session_absolute (seconds)")
        self.store = store
        self.hasher = Passwords() if hasher is None else hasher
        self.clock = clock
        self.session_idle = float(session_idle)
        self.session_absolute = float(session_absolute)
        self.throttle = Throttle(clock=clock, store=store) if throttle is None else throttle
        self.signup_throttle = (
            Throttle(
                address_failures=SIGNUPS_FREE, base_delay=2.0, half_life=3600.0, clock=clock, store=store, name="signup"
            )
            if signup_throttle is None
            else signup_throttle
        )
        self._listeners: list[RevokeListener] = []
        self._lock = threading.Lock()
        self._purged_at = float("-inf")

    # -- accounts ------------------------------------------------------------------------

    def sign_up(
        self,
        username: str,
        password: str,
        name: str | None = None,
        *,
        admin: bool = False,
        invite: str | None = None,
        mode: str = "open",
        address: str = "",
    ) -> Account:
        """Create an account (and sign nobody in).

        ``mode`` is the server's sign-up mode: ``"open"``, ``"invite"`` (an ``invite``
        code is required) or ``"closed"`` (:class:`SignUpRefused`; administrators add
        accounts with the command line, which passes ``"open"``).  An invite given is
        used up, in the same transaction that creates the account.  ``name`` defaults
        to the username.  Raises :class:`InvalidAccount`, :class:`SignUpRefused` or
        :class:`AccountExists`; nothing is stored then.

        ``address`` is the client's (``""``: none, e.g. the command line).  Each sign-up
        that gets as far as hashing the password counts against it, and once an address
        has made :data:`SIGNUPS_FREE` lately the next waits (:class:`Throttled`, raised
        before any hashing).
        """
        if mode not in SIGNUP_MODES:
            raise ConfigError(f"the sign-up mode is one of {', '.join(SIGNUP_MODES)}, not {mode!r}")
        if type(admin) is not bool:
            raise InvalidAccount("admin must be True or False")
        if not isinstance(address, str):
            raise InvalidAccount("the client address must be a string")
        if mode == "closed":
            raise SignUpRefused("sign-up is closed: an administrator adds accounts (`cowrite user add`)")
        if address:
            wait = self.signup_throttle.address_retry_after(address)
            if wait > 0:
                raise Throttled(wait, "sign-ups from this address")
        user = check_new_username(username)
        display = user if name is None else check_display_name(name)
        check_password(password)
        invite_key: str | None = None
        now = self.clock()
        if invite is not None or mode == "invite":
            invite_key = self._usable_invite(invite, now)
        if self.store.account(user) is not None:
            raise AccountExists(user)
        if address:
            self.signup_throttle.address_attempt(address)
        record = AccountRecord(user, display, self.hasher.hash(password), admin, False, now)
        self.store.add_account(record, invite=invite_key, now=now)  # AccountExists/SignUpRefused on a race
        self.store.set_user_name(user, display)  # history and authorship views show it
        return _public(record)

    def account(self, username: str) -> Account | None:
        """The account, or ``None`` (:class:`InvalidAccount` if ``username`` cannot be one)."""
        record = self.store.account(normalize_username(username))
        return None if record is None else _public(record)

    def accounts(self) -> list[Account]:
        """Every account, by username."""
        return [_public(r) for r in self.store.accounts()]

    def count(self) -> int:
        """How many accounts exist (0: a first start)."""
        return self.store.count_accounts()

    def set_name(self, username: str, name: str) -> Account:
        """Change an account's display name."""
        user = normalize_username(username)
        display = check_display_name(name)
        if self.store.update_account(user, name=display) is None:
            raise AccountNotFound(user)
        self.store.set_user_name(user, display)
        record = self.store.account(user)
        if record is None:  # deleted meanwhile
            raise AccountNotFound(user)
        return _public(record)

    def set_admin(self, username: str, admin: bool) -> None:
        """Make an account an administrator, or not."""
        if type(admin) is not bool:
            raise InvalidAccount("admin must be True or False")
        user = normalize_username(username)
        if self.store.update_account(user, admin=admin) is None:
            raise AccountNotFound(user)

    def disable(self, username: str) -> None:
        """Disable an account: it cannot sign in, and its sessions are revoked."""
        user = normalize_username(username)
        keys = self.store.update_account(user, disabled=True, revoke_sessions=True)
        if keys is None:
            raise AccountNotFound(user)
        self._revoked(user, keys, always=True)  # also with no session: its tokens' sockets close

    def enable(self, username: str) -> None:
        """Let a disabled account sign in again (its old sessions stay revoked)."""
        user = normalize_username(username)
        if self.store.update_account(user, disabled=False) is None:
            raise AccountNotFound(user)

    # -- passwords -----------------------------------------------------------------------

    def change_password(
        self,
        user: str,
        old_password: str,
        new_password: str,
        *,
        keep_session: str | None = None,
    ) -> None:
        """The user changes their own password: ``old_password`` must be right
        (:class:`SignInFailed` otherwise, throttled like a sign-in of that account).
        Every session of the user is revoked but ``keep_session`` (the caller's: its
        session id, or its key)."""
        username = normalize_username(user)
        check_password(new_password)
        keep = None if keep_session is None else self._key_of(keep_session)
        wait = self.throttle.retry_after(username, None)
        if wait > 0:
            raise Throttled(wait)
        record = self.store.account(username)
        if record is None or record.disabled or not self.hasher.verify(record.password_hash, old_password):
            if record is None:
                self.hasher.burn(old_password)
            self.throttle.failed(username, None)
            raise SignInFailed()
        self.throttle.succeeded(username)
        keys = self.store.set_password_hash(
            username,
            self.hasher.hash(new_password),
            expected=record.password_hash,
            revoke_sessions=True,
            keep_session=keep,
        )
        if keys is None:  # changed or deleted meanwhile: the old password may be stale
            raise SignInFailed()
        self._revoked(username, keys)

    def set_password(self, username: str, new_password: str) -> None:
        """An administrator sets a password (``cowrite user passwd``): every session of
        the user is revoked."""
        user = normalize_username(username)
        check_password(new_password)
        if self.store.account(user) is None:
            raise AccountNotFound(user)
        keys = self.store.set_password_hash(user, self.hasher.hash(new_password), revoke_sessions=True)
        if keys is None:
            raise AccountNotFound(user)
        self._revoked(user, keys)

    # -- sessions ------------------------------------------------------------------------

    def sign_in(self, username: str, password: str, address: str) -> tuple[str, SessionInfo]:
        """Check a password and open a new session: ``(session id, info)``.

        The id is new and random every time (shown once: put it in the cookie); the
        store keeps only its SHA-256.  :class:`Throttled` (checked before any hashing)
        if this account or ``address`` failed too often lately; :class:`SignInFailed`,
        one message for an unknown user, a wrong password and a disabled account.
        """
        if not isinstance(address, str):
            raise InvalidAccount("the client address must be a string")
        raw = username if isinstance(username, str) else ""
        try:
            user: str | None = normalize_username(username)
        except InvalidAccount:
            user = None  # cannot exist; answered like any unknown user
        throttle_key = user if user is not None else raw.lower()
        wait = self.throttle.retry_after(throttle_key, address)
        if wait > 0:
            raise Throttled(wait)
        record = self.store.account(user) if user is not None else None
        if record is None:
            self.hasher.burn(password)
            ok = False
        else:
            ok = self.hasher.verify(record.password_hash, password) and not record.disabled
        if not ok or record is None:
            self.throttle.failed(throttle_key, address)
            raise SignInFailed()
        self.throttle.succeeded(record.username)
        if self.hasher.needs_rehash(record.password_hash):
            # the parameters changed since this hash was made: store one with today's (if it
            # is still the hash we checked; a password set meanwhile wins)
            self.store.set_password_hash(record.username, self.hasher.hash(password), expected=record.password_hash)
        now = self.clock()
        self._purge(now)
        session_id = secrets.token_urlsafe(32)
        stored = SessionRecord(
            key=secret_key(session_id),
            user=record.username,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen=now,
            expires_at=now + self.session_absolute,
        )
        self.store.add_session(stored)
        return session_id, _info(stored, record)

    def session(self, session_id: str) -> SessionInfo | None:
        """The live session ``session_id`` opens, or ``None``: unknown, unused for longer
        than ``session_idle``, past its absolute end, or its account disabled or gone.
        Records the use (at most one write a minute per session)."""
        if not isinstance(session_id, str) or not 0 < len(session_id) <= _MAX_SECRET:
            return None
        key = secret_key(session_id)
        stored = self.store.session(key)
        if stored is None:
            return None
        now = self.clock()
        if now >= stored.expires_at or now - stored.last_seen >= self.session_idle:
            self.store.delete_session(key)  # ended: nobody holds it open, no one to tell
            return None
        record = self.store.account(stored.user)
        if record is None or record.disabled:
            return None
        if now - stored.last_seen >= TOUCH_INTERVAL:
            self.store.touch_session(key, now)
            stored = SessionRecord(
                stored.key, stored.user, stored.csrf_token, stored.created_at, now, stored.expires_at
            )
        return _info(stored, record)

    def sessions(self, user: str) -> list[SessionInfo]:
        """The user's live sessions, oldest first (for a "your sessions" page)."""
        username = normalize_username(user)
        record = self.store.account(username)
        if record is None:
            return []
        now = self.clock()
        return [
            _info(s, record)
            for s in self.store.sessions(username)
            if now < s.expires_at and now - s.last_seen < self.session_idle
        ]

    def sign_out(self, session_id: str) -> None:
        """End one session (no error if it already ended)."""
        if not isinstance(session_id, str) or not 0 < len(session_id) <= _MAX_SECRET:
            return
        stored = self.store.delete_session(secret_key(session_id))
        if stored is not None:
            self._revoked(stored.user, [stored.key])

    def sign_out_everywhere(self, user: str) -> None:
        """End every session of ``user``."""
        username = normalize_username(user)
        self._revoked(username, self.store.delete_sessions(username))

    def on_revoke(self, callback: Callable[[str, frozenset[str]], None]) -> None:
        """Call ``callback(user, keys)`` after sessions are revoked (sign-out, everywhere,
        a password change, disabling): ``keys`` are the revoked sessions' keys
        (:attr:`SessionInfo.key`; disabling calls it even with none, so that the
        sockets of the account's personal access tokens are checked too).  A callback
        that raises is logged and the others still run."""
        with self._lock:
            self._listeners.append(callback)

    # -- invites -------------------------------------------------------------------------

    def create_invite(self, created_by: str, *, ttl: float = 7 * 86400) -> str:
        """A new sign-up invite code (random; shown once, stored hashed) that expires in ``ttl`` s."""
        if not isinstance(created_by, str) or not 1 <= len(created_by) <= 128 or has_control_or_bidi(created_by):
            raise InvalidAccount("created_by is 1..128 characters without control characters")
        if type(ttl) not in (int, float) or not 0 < ttl <= MAX_INVITE_TTL:
            raise InvalidAccount(f"an invite's ttl is 0..{int(MAX_INVITE_TTL)} seconds, not {ttl!r}")
        code = secrets.token_urlsafe(32)
        now = self.clock()
        self.store.add_invite(InviteRecord(secret_key(code), created_by, now, now + ttl))
        return code

    def revoke_invite(self, code: str) -> None:
        """Revoke an invite by its code or its key (:class:`InviteNotFound` if neither matches)."""
        if not isinstance(code, str) or not 0 < len(code) <= _MAX_SECRET:
            raise InviteNotFound("no such invite")
        if not self.store.revoke_invite(self._key_of(code)):
            raise InviteNotFound("no such invite")

    def invites(self) -> list[InviteInfo]:
        """Every invite, newest first, with its status now."""
        now = self.clock()
        return [
            InviteInfo(
                r.key, r.created_by, r.created_at, r.expires_at, r.used_by, r.used_at, r.revoked, _status(r, now)
            )
            for r in self.store.invites()
        ]

    # -- internals -----------------------------------------------------------------------

    def _usable_invite(self, code: str | None, now: float) -> str | None:
        """The key of sign-up invite ``code`` if it can be used now (used up with the new
        account), ``None`` if ``code`` is an open *document* invite (someone invited to a
        document may make the account to open it with; the invite is used up when it is
        redeemed, which the page does next), else :class:`SignUpRefused` saying why."""
        if code is None or code == "":
            raise SignUpRefused("sign-up needs an invite: ask an administrator for an invite link")
        if not isinstance(code, str) or len(code) > _MAX_SECRET:
            raise SignUpRefused("this invite is not valid")
        key = secret_key(code)
        record = self.store.invite(key)
        if record is None:
            doc_invite = self.store.doc_invite(key)
            if doc_invite is not None and _doc_invite_open(doc_invite, now):
                return None
            raise SignUpRefused("this invite is not valid")
        status = _status(record, now)
        if status != "open":
            raise SignUpRefused(f"this invite was {status}" if status != "expired" else "this invite has expired")
        return key

    @staticmethod
    def _key_of(secret_or_key: str) -> str:
        """A session's or invite's key, given either its secret or the key itself (64 hex
        digits; a secret from ``token_urlsafe(32)`` has 43 characters, so never looks like one)."""
        if _KEY.fullmatch(secret_or_key):
            return secret_or_key
        return secret_key(secret_or_key)

    def _purge(self, now: float) -> None:
        with self._lock:
            if now - self._purged_at < PURGE_INTERVAL:
                return
            self._purged_at = now
        self.store.purge_sessions(now=now, idle_before=now - self.session_idle)

    def _revoked(self, user: str, keys: list[str], *, always: bool = False) -> None:
        if not keys and not always:
            return
        revoked = frozenset(keys)
        with self._lock:
            listeners = list(self._listeners)
        for callback in listeners:
            try:
                callback(user, revoked)
            except Exception:
                log.exception("an on_revoke listener failed (sessions of %r were revoked anyway)", user)


def _public(record: AccountRecord) -> Account:
    return Account(record.username, record.name, record.admin, record.disabled, record.created_at)


def _info(stored: SessionRecord, account: AccountRecord) -> SessionInfo:
    return SessionInfo(
        key=stored.key,
        user=account.username,
        name=account.name,
        admin=account.admin,
        created_at=stored.created_at,
        expires_at=stored.expires_at,
        csrf_token=stored.csrf_token,
        last_seen=stored.last_seen,
    )


def _doc_invite_open(record: DocInviteRecord, now: float) -> bool:
    """Whether a document invite can still be redeemed (not used, revoked or expired)."""
    return record.used_by is None and not record.revoked and now < record.expires_at


def _status(record: InviteRecord, now: float) -> str:
    if record.used_by is not None:
        return "used"
    if record.revoked:
        return "revoked"
    if now >= record.expires_at:
        return "expired"
    return "open"
