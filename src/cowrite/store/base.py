"""The storage contract: the :class:`Store` protocol, its records and its errors.

A store keeps, per document, an **append-only log** of acknowledged batches
(engine patch bytes, numbered ``seq`` = 1, 2, 3, ... without gaps) and
**snapshots** (``Document.encode()`` bytes: history *and* current text) each
covering the log up to some ``seq``.  Loading decodes the newest snapshot (no
history replay) and applies the log entries after it.

Guarantees every backend gives (``tests/store/contract.py`` checks them):

* ``append`` returns only once the entry is durable: after a crash (even
  ``SIGKILL`` right after it returned) it is there.  Acknowledge only after it.
* Every stored blob carries a checksum verified on read.  A mismatch, a blob the
  engine cannot decode or apply, or a gap in the log raises
  :class:`CorruptionError` naming the document and the row: a wrong document is
  never served.
* Methods are synchronous and thread-safe; an asyncio server calls them from a
  worker thread (``await asyncio.to_thread(store.append, ...)``).

Accounts, sessions and invites (what :mod:`cowrite.accounts` builds on) are plain
records.  The store checks only their shape; the rules (what a username is, how
passwords are hashed, when a session expires) are the accounts service's.  Secrets
never reach the store: a session or invite is stored under the SHA-256 of its id
(``key``, hex), and a password only as its argon2 hash.  Steps that must not half
happen are one call each: an account is created *and* its invite used up, or
neither; a password is replaced only if it is still the one that was checked, with
the sessions it revokes.

Document access (members, the share link, document invites) and personal access tokens
are plain records too.  A member and a token belong to an account (the store refuses
others), and a document's members, link and invites go with it when it is deleted, in
the same transaction.  Changes to a document's members are a **compare-and-set** on its
whole membership (:meth:`Store.update_members`): the service reads the members, checks
its rules against them (who may do what, one owner), and writes only if nobody changed
them meanwhile, so two racing changes can never together break a rule each one kept.
Redeeming a document invite is one such call that also uses the invite up.

A document's title and its named versions (labels on versions) are plain records too,
deleted with the document.

Op ids are unique per document: an append whose ``(agent, seq)`` ids are stored with
other content is refused (:class:`~cowrite.errors.ConflictingOps`), so a document is
never poisoned by two servers (or one agent on two servers) minting the same ids.

Errors: the :class:`~cowrite.errors.StoreError` branch of the one tree in
:mod:`cowrite.errors` (re-exported here); :meth:`Store.add_account` also raises
:class:`~cowrite.errors.AccountExists` and :class:`~cowrite.errors.SignUpRefused`, and
:meth:`Store.update_members` :class:`~cowrite.errors.InviteRefused`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, Self, runtime_checkable

from ..engine import Document
from .comments import CommentRecord
from .suggestions import SuggestionRecord
from .throttle import ThrottleChange, ThrottleRecord
from ..errors import (
    AccountExists,
    ConflictingOps,
    CorruptionError,
    DocumentExists,
    DocumentNotFound,
    HistoryPruned,
    InvalidArgument,
    InvalidDocumentId,
    InviteRefused,
    SchemaError,
    SignUpRefused,
    StoreError,
    UnsupportedBackend,
)

__all__ = [
    "AccountExists",
    "AccountRecord",
    "ConflictingOps",
    "CorruptionError",
    "DocInfo",
    "DocInviteRecord",
    "DocumentExists",
    "DocumentNotFound",
    "HistoryPruned",
    "InvalidArgument",
    "InvalidDocumentId",
    "InviteRecord",
    "InviteRefused",
    "LinkRecord",
    "MAX_DOC_ID_LEN",
    "MAX_USER_NAME",
    "MAX_NAMED_VERSION_HEADS",
    "MAX_TITLE",
    "MAX_VERSION_NAME",
    "MemberRecord",
    "NamedVersionRecord",
    "SchemaError",
    "SessionRecord",
    "SignUpRefused",
    "Store",
    "StoreError",
    "TokenRecord",
    "UnsupportedBackend",
    "check_doc_id",
]

MAX_DOC_ID_LEN = 128
MAX_USER_NAME = 256  # code points, like the protocol's PRESENCE user name
_DOC_ID = re.compile(r"[A-Za-z0-9._-]{1,%d}" % MAX_DOC_ID_LEN)


def check_doc_id(doc_id: object) -> str:
    """``doc_id`` if it is a valid document id, else :class:`InvalidDocumentId`."""
    if not isinstance(doc_id, str):
        raise InvalidDocumentId(f"a document id must be a str, not {type(doc_id).__name__}")
    if _DOC_ID.fullmatch(doc_id) is None:
        shown = doc_id if len(doc_id) <= 40 else doc_id[:40] + "..."
        raise InvalidDocumentId(
            f"bad document id {shown!r} ({len(doc_id)} chars): "
            f"use 1..{MAX_DOC_ID_LEN} characters of A-Z a-z 0-9 . _ -"
        )
    return doc_id


@dataclass(frozen=True, slots=True)
class DocInfo:
    """What a store knows about a document without loading it."""

    id: str
    created_at: float
    """Unix seconds."""
    updated_at: float
    """Unix seconds of the last create/append/snapshot."""
    seq: int
    """The newest log entry's seq (0: nothing appended yet)."""
    ops_count: int
    """Sum of ``op_count`` over the appends (a deduplicated re-append counts once)."""
    snapshot_seq: int
    """The log seq the newest snapshot covers (0: no snapshot)."""
    text_length: int | None
    """Code points in the text as last reported (by ``append(text_length=)`` or a
    snapshot); ``None`` if never reported."""
    snapshot_bytes: int = 0
    """Size of the newest snapshot (0: no snapshot)."""
    log_bytes_since_snapshot: int = 0
    """Bytes of the log entries after the newest snapshot (what loading replays)."""
    title: str = ""
    """The document's title for people ("": none set; the id stands for it)."""


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """An account as stored.  ``username`` is the user id (already normalised by the caller)."""

    username: str
    name: str
    """Display name."""
    password_hash: str = field(repr=False)
    """The argon2 hash (PHC string); never the password."""
    admin: bool
    disabled: bool
    created_at: float
    """Unix seconds."""


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A signed-in session as stored: ``key`` is the SHA-256 (hex) of its id, never the id."""

    key: str
    user: str
    csrf_token: str = field(repr=False)
    created_at: float
    last_seen: float
    """Unix seconds of the last use that was written (writes are rate-limited by the caller)."""
    expires_at: float
    """The absolute end of the session, Unix seconds."""


@dataclass(frozen=True, slots=True)
class InviteRecord:
    """A sign-up invite as stored: ``key`` is the SHA-256 (hex) of its code, never the code."""

    key: str
    created_by: str
    created_at: float
    expires_at: float
    used_by: str | None = None
    """The account it created (``None``: not used)."""
    used_at: float | None = None
    revoked: bool = False


@dataclass(frozen=True, slots=True)
class MemberRecord:
    """A member of a document: ``user`` (an account's username) has ``role`` there."""

    doc: str
    user: str
    role: str
    added_by: str
    """Who added them (a username, or a marker such as ``"(invite)"``)."""
    added_at: float


@dataclass(frozen=True, slots=True)
class LinkRecord:
    """A document's share link: anyone holding ``key`` gets ``role``.  Stored as is (owners
    are shown the link again); compared in constant time by the service."""

    doc: str
    role: str
    key: str = field(repr=False)
    set_by: str
    set_at: float


@dataclass(frozen=True, slots=True)
class DocInviteRecord:
    """An invite to a document as stored: ``key`` is the SHA-256 (hex) of its code, never the code."""

    key: str
    doc: str
    role: str
    created_by: str
    created_at: float
    expires_at: float
    used_by: str | None = None
    used_at: float | None = None
    revoked: bool = False


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A personal access token as stored: ``key`` is the SHA-256 (hex) of its secret, never the
    secret; ``id`` is a public name for it (lists, revocation)."""

    key: str = field(repr=False)
    id: str
    user: str
    label: str
    docs: tuple[str, ...]
    """Document ids it may reach; ``("*",)``: every document its user can reach."""
    role: str
    created_at: float
    expires_at: float | None
    """``None``: it does not expire."""
    last_used: float | None = None
    revoked: bool = False


MAX_TITLE = 200
"""Longest document title, in code points."""
MAX_VERSION_NAME = 100
"""Longest name of a named version, in code points."""
MAX_NAMED_VERSION_HEADS = 256
"""Most ``(agent, seq)`` heads a named version may hold (one per concurrent branch)."""


@dataclass(frozen=True, slots=True)
class NamedVersionRecord:
    """A label ``name`` a user put on one version of a document: its frontier
    ``version`` (``(agent, seq)`` heads, sorted; ``()``: the empty document)."""

    doc: str
    name: str
    version: tuple[tuple[str, int], ...]
    created_by: str
    created_at: float


@runtime_checkable
class Store(Protocol):
    """Durable storage of documents: an append-only op log plus snapshots.

    Every method is synchronous and safe to call from several threads at once.
    Document ids are checked by :func:`check_doc_id` everywhere.  A store is a
    context manager (``with open_store(url) as store: ...`` closes it).
    """

    def create(self, doc_id: str) -> DocInfo:
        """Create an empty document.  :class:`DocumentExists` if the id is taken."""
        ...

    def delete(self, doc_id: str) -> None:
        """Remove a document with its log, snapshots, agents, members, share link and document
        invites, in one transaction.  :class:`DocumentNotFound`."""
        ...

    def agent_owners(self, doc_id: str) -> dict[str, str]:
        """``{agent: user}``: who owns each agent that has joined this document."""
        ...

    def claim_agent(self, doc_id: str, agent: str, user: str) -> str:
        """Give ``agent`` to ``user`` unless someone owns it already; returns the owner (durably)."""
        ...

    def set_user_name(self, user: str, name: str) -> None:
        """Remember ``user``'s display name (1..MAX_USER_NAME characters; the latest wins)."""
        ...

    def user_names(self, users: Iterable[str]) -> dict[str, str]:
        """``{user: name}`` for those of ``users`` whose name is known."""
        ...

    def exists(self, doc_id: str) -> bool:
        ...

    def info(self, doc_id: str) -> DocInfo:
        """One document's :class:`DocInfo`.  :class:`DocumentNotFound`."""
        ...

    def documents(self) -> list[DocInfo]:
        """Every document, ordered by id."""
        ...

    def load(self, doc_id: str, agent: str | None = None) -> Document:
        """The document: newest snapshot decoded (no replay) + the log after it applied.

        ``agent`` is the agent of the returned replica (random if ``None``).
        Raises :class:`DocumentNotFound` or :class:`CorruptionError`.
        """
        ...

    def append(self, doc_id: str, patch: bytes, *, op_count: int, text_length: int | None = None) -> int:
        """Log one acknowledged batch (engine patch bytes); durable when this returns.

        Returns the entry's seq.  The patch must decode (``InvalidArgument``
        otherwise): nothing unreadable is ever stored.  Its ``(agent, seq)`` ids are
        checked against the ops the document already holds, under the lock that gives
        the seq (see :mod:`cowrite.store.runs`): an op stored under the same id with
        other content, position or parents is refused with :class:`ConflictingOps`
        and nothing of the batch is stored.  Re-appending ops that are all stored
        already, identically (the newest entry's bytes again: a retry; or any resend)
        stores nothing and returns the newest seq that holds them -- when the batch
        holds every op that entry brought first; a mere part of that entry is stored
        as an entry of its own that brings nothing new, so that the seq returned
        always names an entry the caller's batch can stand for (a server's room
        takes itself to hold that entry, and its commit notice says the batch is
        it).  A batch whose stored part is identical and that brings new ops is stored.
        ``op_count`` (ops in the patch) and ``text_length`` (the text's length
        after the batch, if known) only feed :class:`DocInfo`.  Entries of one
        document are logged in the order the calls enter the store; loading
        tolerates any causal-order permutation anyway.
        """
        ...

    def snapshot(self, doc_id: str, doc: Document, *, prune: bool = False) -> int:
        """Store ``doc.encode()`` as the document's newest snapshot; returns the seq it covers.

        The covered seq is the longest run of log entries after the previous
        snapshot that ``doc`` already contains (checked by applying them to the
        decoded snapshot, so a snapshot can never lose an appended op); ``doc``
        may hold more ops than the log (e.g. a batch still being appended).
        ``doc`` must contain the previous snapshot (:class:`StoreError`
        otherwise) and must not be mutated during the call: from asyncio, pass
        ``doc.copy()``.  Log entries it covers are kept as history unless
        ``prune``; older snapshots are dropped (each one holds the whole history).
        """
        ...

    def log_since(self, doc_id: str, seq: int = 0) -> list[tuple[int, bytes]]:
        """The log entries after ``seq``, as ``(seq, patch)`` in seq order, verified.

        :class:`HistoryPruned` if some of them were pruned.
        """
        ...

    # -- titles and named versions ----------------------------------------------------

    def set_title(self, doc_id: str, title: str) -> None:
        """Set the document's title (``""``: none; at most :data:`MAX_TITLE` code points,
        :class:`InvalidArgument` otherwise).  :class:`DocumentNotFound`.  Read it in
        :attr:`DocInfo.title`."""
        ...

    def add_named_version(self, record: NamedVersionRecord) -> bool:
        """Store a named version; ``False`` (nothing stored) if the document has one of
        that name already.  :class:`DocumentNotFound`; :class:`InvalidArgument` for a
        malformed record (an empty or too long name, a version that is not sorted
        ``(agent, seq)`` pairs).  The store does not check that the document has the version."""
        ...

    def named_versions(self, doc_id: str) -> list[NamedVersionRecord]:
        """The document's named versions, oldest first (``[]`` for an unknown document)."""
        ...

    def delete_named_version(self, doc_id: str, name: str) -> bool:
        """Delete one named version; ``False`` if the document has none of that name."""
        ...

    # -- accounts ---------------------------------------------------------------------

    def add_account(self, account: AccountRecord, *, invite: str | None = None, now: float | None = None) -> None:
        """Create an account, and, in the same transaction, use up the invite whose key is
        ``invite`` (``used_by`` = the account).  Durable on return.

        :class:`AccountExists` if the username is taken; :class:`SignUpRefused` if the invite
        is unknown, revoked, used or expired at ``now`` (default: the account's
        ``created_at``).  Either way nothing is stored.
        """
        ...

    def account(self, username: str) -> AccountRecord | None:
        """The account, or ``None``.  Usernames are compared exactly (the caller normalises)."""
        ...

    def accounts(self) -> list[AccountRecord]:
        """Every account, ordered by username."""
        ...

    def count_accounts(self) -> int:
        ...

    def update_account(
        self,
        username: str,
        *,
        name: str | None = None,
        admin: bool | None = None,
        disabled: bool | None = None,
        revoke_sessions: bool = False,
    ) -> list[str] | None:
        """Change the fields given (``None``: keep); with ``revoke_sessions``, delete all the
        account's sessions in the same transaction.  Returns the deleted sessions' keys,
        or ``None`` if there is no such account (nothing changed)."""
        ...

    def set_password_hash(
        self,
        username: str,
        password_hash: str,
        *,
        expected: str | None = None,
        revoke_sessions: bool = False,
        keep_session: str | None = None,
    ) -> list[str] | None:
        """Replace the password hash, only if the stored one is ``expected`` (when given: a
        compare-and-set, so a password checked against an old hash never overwrites one set
        meanwhile).  With ``revoke_sessions``, delete the account's sessions but the one keyed
        ``keep_session``, in the same transaction.  Returns the deleted keys, or ``None`` if
        there is no such account or the hash was not ``expected`` (nothing changed)."""
        ...

    # -- sessions ---------------------------------------------------------------------

    def add_session(self, session: SessionRecord) -> None:
        """Store a new session.  :class:`InvalidArgument` if its account does not exist or its
        key is taken.  Deleting an account's sessions is the only other way they go."""
        ...

    def session(self, key: str) -> SessionRecord | None:
        """The session stored under ``key``, or ``None``."""
        ...

    def sessions(self, user: str) -> list[SessionRecord]:
        """The user's sessions, oldest first."""
        ...

    def touch_session(self, key: str, last_seen: float) -> None:
        """Record a use of the session (``last_seen`` only moves forward).  No error if it is gone."""
        ...

    def delete_session(self, key: str) -> SessionRecord | None:
        """Delete one session; returns what was deleted, or ``None`` if there was none."""
        ...

    def delete_sessions(self, user: str, *, keep: str | None = None) -> list[str]:
        """Delete the user's sessions but the one keyed ``keep``; returns the deleted keys."""
        ...

    def purge_sessions(self, *, now: float, idle_before: float) -> int:
        """Delete sessions that ended (``expires_at <= now``) or went unused
        (``last_seen < idle_before``); returns how many."""
        ...

    # -- sign-in throttling ------------------------------------------------------------

    def throttle_records(self, scope: str, keys: Sequence[str]) -> dict[str, ThrottleRecord]:
        """The stored throttle counts of ``keys`` in ``scope`` (keys without one are absent).
        Every server of a cluster reads the same counts (:mod:`cowrite.store.throttle`)."""
        ...

    def update_throttle(self, scope: str, key: str, change: ThrottleChange) -> ThrottleRecord | None:
        """Replace the count of ``key`` in ``scope`` by ``change(stored)`` (None: delete it),
        in one transaction that locks the row against every other server's update of it;
        returns what is stored now.  ``change`` may be called more than once (a retried
        transaction): it must only compute.  An exception it raises propagates, nothing stored."""
        ...

    def purge_throttle(self, *, before: float) -> int:
        """Delete the throttle counts last updated before ``before`` (``at < before``)
        whose wait has run out by then (``until <= before``); returns how many."""
        ...

    # -- invites ----------------------------------------------------------------------

    def add_invite(self, invite: InviteRecord) -> None:
        """Store a new invite.  :class:`InvalidArgument` if its key is taken."""
        ...

    def invite(self, key: str) -> InviteRecord | None:
        ...

    def invites(self) -> list[InviteRecord]:
        """Every invite, newest first."""
        ...

    def revoke_invite(self, key: str) -> bool:
        """Mark the invite revoked; ``False`` if there is no such invite."""
        ...

    # -- document access --------------------------------------------------------------

    def members(self, doc_id: str) -> list[MemberRecord]:
        """The document's members, oldest first (``[]`` for an unknown document)."""
        ...

    def memberships(self, user: str) -> list[MemberRecord]:
        """The documents ``user`` is a member of, by document id."""
        ...

    def owners(self) -> dict[str, str]:
        """``{doc: user}`` for every member whose role is ``"owner"``."""
        ...

    def update_members(
        self,
        doc_id: str,
        *,
        expected: Mapping[str, str],
        put: Sequence[MemberRecord] = (),
        remove: Sequence[str] = (),
        use_invite: str | None = None,
        now: float | None = None,
    ) -> bool:
        """Compare-and-set of a document's membership, in one transaction.

        Only if its members are exactly ``expected`` (``{user: role}``, all of them) right
        now: add or replace the records in ``put`` (all for ``doc_id``), delete the users
        in ``remove``, and, with ``use_invite`` (a document invite's key), use that invite
        up (``used_by`` = the one user put, who must be exactly one; ``used_at`` = ``now``).  Returns ``False`` and
        changes nothing if the membership is not ``expected``.
        :class:`DocumentNotFound`; :class:`InvalidArgument` if a user put has no account or
        a record is malformed; :class:`InviteRefused` if the invite is unknown, of another
        document, used, revoked or expired at ``now``.  Nothing changes on an error.
        """
        ...

    def clear_access(self, doc_id: str) -> list[MemberRecord]:
        """Delete the document's members, link and invites; returns the members deleted
        (no error for an unknown document: :meth:`delete` already removed them)."""
        ...

    def link(self, doc_id: str) -> LinkRecord | None:
        """The document's share link, or ``None`` (off, or an unknown document)."""
        ...

    def set_link(self, doc_id: str, link: LinkRecord | None, *, expected: Mapping[str, str] | None = None) -> bool:
        """Replace the document's share link (``None``: off).  With ``expected``, only if the
        document's members are exactly that (see :meth:`update_members`); returns whether it
        was written.  :class:`DocumentNotFound`."""
        ...

    def add_doc_invite(self, invite: DocInviteRecord, *, expected: Mapping[str, str] | None = None) -> bool:
        """Store a new document invite; with ``expected``, only if the document's members are
        exactly that.  Returns whether it was stored.  :class:`DocumentNotFound`;
        :class:`InvalidArgument` if its key is taken."""
        ...

    def doc_invite(self, key: str) -> DocInviteRecord | None:
        ...

    def doc_invites(self, doc_id: str) -> list[DocInviteRecord]:
        """The document's invites, newest first."""
        ...

    def revoke_doc_invite(self, doc_id: str, key: str) -> bool:
        """Mark the document's invite revoked; ``False`` if it has no such invite."""
        ...

    # -- personal access tokens -------------------------------------------------------

    def add_token(self, token: TokenRecord) -> None:
        """Store a new token.  :class:`InvalidArgument` if its account does not exist or its
        key or id is taken."""
        ...

    def token(self, key: str) -> TokenRecord | None:
        """The token stored under ``key`` (the SHA-256 of its secret), or ``None``."""
        ...

    def token_by_id(self, token_id: str) -> TokenRecord | None:
        ...

    def tokens(self, user: str) -> list[TokenRecord]:
        """The user's tokens, oldest first."""
        ...

    def revoke_token(self, token_id: str) -> bool:
        """Mark the token revoked; ``False`` if there is no such token."""
        ...

    def touch_token(self, key: str, last_used: float) -> None:
        """Record a use (``last_used`` only moves forward).  No error if it is gone."""
        ...

    # -- comments (store/comments.py: the record and its checks) -----------------------

    def add_comment(self, doc_id: str, comment: CommentRecord) -> CommentRecord:
        """Store a new comment (:func:`~cowrite.store.comments.check_comment`); returns it
        with its revision.  A reply's ``thread`` must be a thread of the document that is
        not deleted (:class:`InvalidArgument` otherwise, as for an id already used).
        :class:`DocumentNotFound` if there is no such document."""
        ...

    def comments(self, doc_id: str) -> list[CommentRecord]:
        """Every comment of the document (deleted ones too, with blank bodies), oldest
        first.  :class:`DocumentNotFound` if there is no such document."""
        ...

    def comment(self, doc_id: str, comment_id: str) -> CommentRecord | None:
        """One comment of the document, or ``None``."""
        ...

    def update_comment(
        self,
        doc_id: str,
        comment_id: str,
        *,
        body: str | None = None,
        resolved: bool | None = None,
        delete: bool = False,
        now: float,
    ) -> CommentRecord | None:
        """Change a comment in one step (a new ``body`` sets ``edited_at`` to ``now``;
        ``resolved`` only on a thread's first comment; ``delete`` blanks the body and marks
        it deleted) and give it the document's next revision; returns the new record, or
        ``None`` if there is no such comment.  A deleted comment cannot be changed
        (:class:`InvalidArgument`); an update that changes nothing writes nothing and
        returns the comment as it is."""
        ...

    def comments_revision(self, doc_id: str) -> int:
        """The document's comment revision: 0 before its first comment, then raised by
        every change.  :class:`DocumentNotFound` if there is no such document."""
        ...

    # -- suggestions (store/suggestions.py: the record and its checks) ------------------

    def put_suggestion(self, doc_id: str, suggestion: SuggestionRecord) -> SuggestionRecord:
        """Save a suggestion (:func:`~cowrite.store.suggestions.check_suggestion_record`):
        a new one, or a new patch for one of the same author (its ``created_at`` stays).
        Returns it as stored.  :class:`InvalidArgument` if the id is another author's;
        :class:`DocumentNotFound` if there is no such document."""
        ...

    def suggestions(self, doc_id: str) -> list[SuggestionRecord]:
        """The document's open suggestions, oldest first.  :class:`DocumentNotFound`
        if there is no such document."""
        ...

    def suggestion(self, doc_id: str, suggestion_id: str) -> SuggestionRecord | None:
        """One open suggestion of the document, or ``None``."""
        ...

    def delete_suggestion(self, doc_id: str, suggestion_id: str) -> bool:
        """Drop a suggestion (rejected, withdrawn, or accepted: its ops are in the log
        now); ``False`` if there was none."""
        ...

    def close(self) -> None:
        """Release the store; further calls raise :class:`StoreError`.  Idempotent."""
        ...

    # A backend that subclasses Store explicitly inherits these (and mypy then checks
    # that it implements every method above).
    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
