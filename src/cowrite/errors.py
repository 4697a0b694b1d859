"""Every error cowrite raises on purpose, in one tree.

Callers catch one type and know what it means: a :class:`CowriteError` is always
a refusal of bad input, a limit, or a failure of something outside cowrite (the
store's disk, the network), and whatever raised it left its state as it was.
Anything else that escapes cowrite is a bug and is not relabelled: it propagates
as itself (the server logs it with a traceback and answers ``internal``)::

    CowriteError
     ├── InvalidOpError          an op (or a value naming ops: a summary, a version entry)
     │                           that is malformed or does not fit the document at its parents
     ├── UnknownParentError      an op names a parent this document has never seen (also KeyError)
     ├── ConflictingOpError      an (agent, seq) already known with other content: a forged or buggy peer
     ├── UnknownVersionError     a version names ops this document does not have (also KeyError)
     ├── DecodeError             bytes that are not a valid cowrite document, patch or position
     │    └── TruncatedError     they end before what they promise (a number, a block)
     ├── TooLargeError           input over a configured limit (an inflated body, a document's
     │                           history, an HTTP body): refused before the work it would cost
     ├── ConfigError             a setting out of range (server limits, client settings; also ValueError)
     ├── ProtocolError           bytes that are not a valid frame, or a field that cannot be sent;
     │                           ``code`` is the :class:`ErrorCode` to answer with
     ├── ChangeMismatch          a text change (the client's journal) does not fit the text it is
     │                           applied to (also ValueError)
     ├── StoreError              a storage operation failed; nothing it was asked to write is durable
     │    ├── InvalidArgument    a malformed argument (also ValueError)
     │    │    └── InvalidDocumentId
     │    ├── DocumentNotFound   (also KeyError)
     │    ├── DocumentExists
     │    ├── CorruptionError    stored data failed verification: what, where
     │    ├── HistoryPruned      log entries asked for were pruned (a snapshot holds them)
     │    ├── SchemaError        schema too new, not a cowrite store, or a failed migration
     │    ├── ConflictingOps     an append whose (agent, seq) ids are stored with other content
     │    │                      (also ConflictingOpError): refused, nothing of it stored
     │    └── UnsupportedBackend a store URL this build cannot open (also NotImplementedError)
     ├── AccountError            an account operation refused (cowrite.accounts); nothing changed
     │    ├── InvalidAccount     a malformed username, display name, password, role, label or
     │    │                      document list: ``reason`` (also ValueError)
     │    ├── AccountExists      sign-up with a username that is taken
     │    ├── AccountNotFound    no account with this username (also KeyError)
     │    ├── SignInFailed       wrong username or password, or a disabled account: one message for all
     │    ├── Throttled          too many failed sign-ins (or sign-ups): try again in ``retry_after`` seconds
     │    ├── SignUpRefused      sign-up closed, or its invite missing, unknown, expired, revoked or used
     │    ├── InviteNotFound     revoking an invite that does not exist (also KeyError)
     │    ├── AccessDenied       a document's sharing changed by someone who is not its owner or an
     │    │                      admin, or a change that would leave it without exactly one owner
     │    ├── NotAMember         changing or removing someone who is not a member (also KeyError)
     │    ├── InviteRefused      a document invite that is unknown, expired, revoked or used
     │    ├── TokenNotFound      revoking an access token that is not the caller's or does not exist
     │    │                      (also KeyError)
     │    └── ChangedMeanwhile   a document's members kept changing under a request: try again
     ├── AuthError               a token is missing, malformed, forged, expired or grants too little
     ├── RequestError            an HTTP API request refused: ``status``, ``code``, message
     ├── ClientError             something the Python client cannot do
     │    ├── FatalError         the server refused this client for good (``code``)
     │    ├── ReadOnlyError      the client is a viewer: its edits cannot be sent
     │    ├── ClientClosed       the client was closed
     │    └── StateFileError     the client's state file is unreadable, someone else's, or in use
     └── TraceError              a file that is not an editing trace (also ValueError)

:class:`ErrorCode` is the machine-readable reason of a refusal, shared by the
protocol's ``ERROR`` frames and the client's :class:`FatalError`.

Each package re-exports the errors it raises (``cowrite.engine``,
``cowrite.protocol``, ``cowrite.store``, ``cowrite.accounts``, ``cowrite.server``,
``cowrite.client``);
this module is where they are defined, and it imports nothing of cowrite.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "AccessDenied",
    "AccountError",
    "AccountExists",
    "AccountNotFound",
    "AuthError",
    "ChangeMismatch",
    "ChangedMeanwhile",
    "ClientClosed",
    "ClientError",
    "ConfigError",
    "ConflictingOpError",
    "ConflictingOps",
    "CorruptionError",
    "CowriteError",
    "DecodeError",
    "DocumentExists",
    "DocumentNotFound",
    "ErrorCode",
    "FatalError",
    "HistoryPruned",
    "InvalidAccount",
    "InvalidArgument",
    "InvalidDocumentId",
    "InvalidOpError",
    "InviteNotFound",
    "InviteRefused",
    "NotAMember",
    "ProtocolError",
    "ReadOnlyError",
    "RequestError",
    "SchemaError",
    "SignInFailed",
    "SignUpRefused",
    "StateFileError",
    "StoreError",
    "Throttled",
    "TokenNotFound",
    "TooLargeError",
    "TraceError",
    "TruncatedError",
    "UnknownParentError",
    "UnknownVersionError",
    "UnsupportedBackend",
]


class ErrorCode(IntEnum):
    """Why a refusal happened (the ``code`` of an ``ERROR`` frame; see PROTOCOL.md)."""

    BAD_FRAME = 1  # not a valid frame of this protocol version
    BAD_OP = 2  # a patch that does not decode or ops the engine rejects
    UNKNOWN_PARENT = 3  # ops whose parents the server does not have
    CONFLICT = 4  # an (agent, seq) the server knows with other content
    FORBIDDEN = 5  # a viewer writing, a forged agent, an agent owned by another user
    RATE_LIMITED = 6
    TOO_LARGE = 7  # frame, batch, history or document over a limit
    NOT_FOUND = 8  # no such document
    UNAUTHORIZED = 9  # no valid token
    BAD_STATE = 10  # a frame that is not allowed now (e.g. OPS before JOIN), superseded
    INTERNAL = 11  # the server failed (a bug, or the store); retry later


class CowriteError(Exception):
    """Base of every error cowrite raises deliberately."""


# -- the engine ------------------------------------------------------------------------


class InvalidOpError(CowriteError, ValueError):
    """An op is malformed or does not fit the document at its parent version."""


class UnknownParentError(CowriteError, KeyError):
    """An op's parents include an (agent, seq) this document does not have yet.

    Delivery must be causal: send the missing ops first (or hold this op until they
    arrive).  ``missing`` lists the unknown ids.
    """

    def __init__(self, message: str, missing: tuple[tuple[str, int], ...] = ()) -> None:
        super().__init__(message)
        self.missing = missing

    def __str__(self) -> str:  # KeyError would repr() the message otherwise
        return str(self.args[0])


class ConflictingOpError(CowriteError, ValueError):
    """An (agent, seq) is already known with different content: a buggy or forged peer."""


class UnknownVersionError(CowriteError, KeyError):
    """A version names ops that this document does not have."""

    def __str__(self) -> str:
        return str(self.args[0])


class DecodeError(CowriteError, ValueError):
    """Bytes could not be decoded as a cowrite document, patch or position."""


class TruncatedError(DecodeError):
    """The bytes end before a number or block they promise (maybe only cut short)."""


class TooLargeError(CowriteError):
    """Input over a configured size limit; refused before doing the work it would cost."""


class ConfigError(CowriteError, ValueError):
    """A setting is out of range (server limits, client settings)."""


# -- the protocol ------------------------------------------------------------------------


class ProtocolError(CowriteError, ValueError):
    """Bytes that are not a valid frame, or a field value that cannot be sent.

    ``code`` is the :class:`ErrorCode` to answer with (``BAD_FRAME`` unless said).
    """

    def __init__(self, message: str, code: ErrorCode = ErrorCode.BAD_FRAME) -> None:
        super().__init__(message)
        self.code = code


class ChangeMismatch(CowriteError, ValueError):
    """A text change does not fit the text it is applied to (wrong length, other deleted text)."""


# -- the store ---------------------------------------------------------------------------


class StoreError(CowriteError):
    """A storage operation failed; nothing it was asked to write is durable."""


class StoreUnavailable(StoreError):
    """The store could not be reached or did not answer in time (connection refused or
    lost, a timeout, a database shutting down).  Nothing is known to be wrong with the
    request: retry once the store answers again.  For a write, whether it was stored
    is unknown unless the message says "nothing stored": never acknowledge it; read
    the store again.  A server stops acknowledging while its store is unavailable."""


class InvalidArgument(StoreError, ValueError):
    """An argument is malformed (wrong type, negative count, empty patch, ...)."""


class InvalidDocumentId(InvalidArgument):
    """A document id is not 1..128 characters of ``[A-Za-z0-9._-]``."""


class DocumentNotFound(StoreError, KeyError):
    """No document with this id."""

    def __init__(self, doc_id: str) -> None:
        super().__init__(f"no document {doc_id!r}")
        self.doc_id = doc_id

    def __str__(self) -> str:  # KeyError would repr() the message otherwise
        return str(self.args[0])


class DocumentExists(StoreError):
    """``create`` of an id that is already taken."""

    def __init__(self, doc_id: str) -> None:
        super().__init__(f"document {doc_id!r} already exists")
        self.doc_id = doc_id


class CorruptionError(StoreError):
    """Stored data failed verification; the document is not served.

    ``what`` is the kind of data (``"snapshot"``, ``"log"``, ``"document"``),
    ``where`` the row (e.g. ``"log seq 7"``), ``detail`` what is wrong with it.
    """

    def __init__(self, doc_id: str, what: str, where: str, detail: str) -> None:
        super().__init__(f"document {doc_id!r}: corrupt {what} at {where}: {detail}")
        self.doc_id = doc_id
        self.what = what
        self.where = where
        self.detail = detail


class HistoryPruned(StoreError):
    """``log_since`` asked for entries removed by a pruning snapshot."""

    def __init__(self, doc_id: str, first_kept: int) -> None:
        super().__init__(
            f"document {doc_id!r}: log entries before seq {first_kept} were pruned (load the snapshot instead)"
        )
        self.doc_id = doc_id
        self.first_kept = first_kept


class SchemaError(StoreError):
    """The database cannot be used with this version of cowrite (too new, foreign, failed migration)."""


class ConflictingOps(StoreError, ConflictingOpError):
    """An append of ops whose ``(agent, seq)`` ids the document already stores with other
    content, parents or positions (e.g. one agent used on two servers at once): refused
    under the append's own lock, and nothing of the batch is stored.  An exact resend of
    stored ops is not an error.  The server answers the batch ``conflict``."""


class UnsupportedBackend(StoreError, NotImplementedError):
    """A store URL names a backend this build does not have (yet)."""


# -- accounts ------------------------------------------------------------------------------


class AccountError(CowriteError):
    """An account operation was refused (sign-up, sign-in, a password, an invite); nothing changed."""


class InvalidAccount(AccountError, ValueError):
    """A username, display name or password that breaks the rules; ``reason`` says which rule."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AccountExists(AccountError):
    """Sign-up (or ``cowrite user add``) with a username that is taken."""

    def __init__(self, username: str) -> None:
        super().__init__(f"the username {username!r} is taken")
        self.username = username


class AccountNotFound(AccountError, KeyError):
    """No account with this username (an administrator's command named it)."""

    def __init__(self, username: str) -> None:
        super().__init__(f"no account {username!r}")
        self.username = username

    def __str__(self) -> str:  # KeyError would repr() the message otherwise
        return str(self.args[0])


class SignInFailed(AccountError):
    """Sign-in refused.  The message is the same whether the username is unknown, the
    password wrong or the account disabled: a refusal must not tell which accounts exist."""

    MESSAGE = "wrong username or password"

    def __init__(self) -> None:
        super().__init__(self.MESSAGE)


class Throttled(AccountError):
    """Too many failed sign-ins for this account or from this address (or sign-ups from this
    address: ``what`` names them): retry in ``retry_after`` seconds.

    Raised before the password is checked, so waiting is the only way through.
    """

    def __init__(self, retry_after: float, what: str = "failed sign-ins") -> None:
        self.retry_after = max(0.0, float(retry_after))
        super().__init__(f"too many {what}: try again in {max(1, round(self.retry_after))} s")


class SignUpRefused(AccountError):
    """Sign-up is closed, or needs an invite that is missing, unknown, expired, revoked or used."""


class InviteNotFound(AccountError, KeyError):
    """Revoking an invite that does not exist."""

    def __str__(self) -> str:
        return str(self.args[0])


class AccessDenied(AccountError):
    """A change to a document's sharing that the caller may not make: only its owner or an
    administrator manages members, the link and invites, and no change may leave a document
    with members but not exactly one owner.  The message says which rule refused it."""


class NotAMember(AccountError, KeyError):
    """Changing the role of, or removing, someone who is not a member of the document."""

    def __init__(self, doc: str, user: str) -> None:
        super().__init__(f"{user!r} is not a member of {doc!r}")
        self.doc = doc
        self.user = user

    def __str__(self) -> str:
        return str(self.args[0])


class InviteRefused(AccountError):
    """A document invite that cannot be used: unknown, expired, revoked or already used."""


class TokenNotFound(AccountError, KeyError):
    """Revoking a personal access token that does not exist or is not the caller's (one answer
    for both, so token ids of others cannot be probed)."""

    def __str__(self) -> str:
        return str(self.args[0])


class ChangedMeanwhile(AccountError):
    """A document's members changed under a request again and again (a write race it lost
    each time); nothing was changed: try again."""


# -- the server --------------------------------------------------------------------------


class AuthError(CowriteError):
    """A token is missing, malformed, forged, expired or does not grant the request."""


class RequestError(CowriteError):
    """An HTTP API request is refused: answered with ``status`` and ``{"error": code, "message"}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


# -- the client --------------------------------------------------------------------------


class ClientError(CowriteError):
    """Something the client cannot do (base class)."""


class FatalError(ClientError):
    """The server refused this client for good (``unauthorized``, ``forbidden``, ``not_found``,
    ...): the client stopped reconnecting.  ``code`` is the server's error code (``None`` for a
    refusal of the WebSocket upgrade itself, e.g. HTTP 404)."""

    def __init__(self, code: ErrorCode | None, message: str) -> None:
        name = code.name.lower() if code is not None else "refused"
        super().__init__(f"{name}: {message}")
        self.code = code
        self.message = message


class ReadOnlyError(ClientError):
    """The server made this client a viewer: its edits cannot be sent."""


class ClientClosed(ClientError):
    """The client was closed."""


class StateFileError(ClientError):
    """The client's state file is unreadable, belongs to another document or agent, or is in use."""


# -- tools -------------------------------------------------------------------------------


class TraceError(CowriteError, ValueError):
    """A file is not an editing trace in the expected format."""
