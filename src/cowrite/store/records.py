"""What a store checks of the account records it is given, for every backend alike.

The records (:mod:`cowrite.store.base`) come from the accounts service, which keeps far
stricter rules; a store checks only that each field has the type and bounds its table
can hold, so a wrong value is refused (:class:`~cowrite.errors.InvalidArgument`) rather
than stored -- the same refusal, with the same message, whichever backend holds it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import InvalidArgument
from .base import AccountRecord, DocInviteRecord, InviteRecord, MemberRecord, SessionRecord, TokenRecord

__all__ = [
    "account_from_row",
    "doc_invite_from_row",
    "invite_from_row",
    "member_from_row",
    "session_from_row",
    "check_doc_invite_fields",
    "check_account",
    "check_count",
    "check_doc_invite",
    "check_expected",
    "check_flag",
    "check_invite",
    "check_key",
    "check_member",
    "check_session",
    "check_text",
    "check_time",
    "check_token",
]

_KEY = re.compile(r"[0-9a-f]{64}")
_MAX_TEXT = 4096  # any text field of an account record; the accounts service keeps far stricter rules


def check_key(value: object) -> str:
    """A session or invite key: the SHA-256 of the secret, as 64 lowercase hex digits (so the
    secret itself, passed by mistake, is refused rather than stored)."""
    if not isinstance(value, str) or _KEY.fullmatch(value) is None:
        raise InvalidArgument("a session or invite key is a SHA-256 digest in 64 lowercase hex digits")
    return value


def check_text(what: str, value: object, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not isinstance(value, str) or not 1 <= len(value) <= _MAX_TEXT:
        raise InvalidArgument(f"{what} must be a string of 1..{_MAX_TEXT} characters")


def check_time(what: str, value: object, optional: bool = False) -> None:
    if optional and value is None:
        return
    if type(value) not in (int, float) or value != value or value in (float("inf"), float("-inf")):
        raise InvalidArgument(f"{what} must be a finite number of Unix seconds, not {value!r}")


def check_flag(what: str, value: object, optional: bool = False) -> None:
    if optional and value is None:
        return
    if type(value) is not bool:
        raise InvalidArgument(f"{what} must be a bool, not {value!r}")


def check_count(name: str, value: object, optional: bool = False) -> None:
    if optional and value is None:
        return
    if type(value) is not int or value < 0:
        raise InvalidArgument(f"{name} must be a non-negative int, not {value!r}")


def check_expected(expected: object) -> dict[str, str]:
    """The membership a compare-and-set expects: usernames to roles."""
    if not isinstance(expected, Mapping) or not all(
        isinstance(u, str) and isinstance(r, str) for u, r in expected.items()
    ):
        raise InvalidArgument("expected must map usernames to roles (str to str)")
    return dict(expected)


def check_account(account: object) -> AccountRecord:
    if not isinstance(account, AccountRecord):
        raise InvalidArgument(f"add_account takes an AccountRecord, not {type(account).__name__}")
    check_text("username", account.username)
    check_text("name", account.name)
    check_text("password_hash", account.password_hash)
    check_flag("admin", account.admin)
    check_flag("disabled", account.disabled)
    check_time("created_at", account.created_at)
    return account


def check_session(session: object) -> SessionRecord:
    if not isinstance(session, SessionRecord):
        raise InvalidArgument(f"add_session takes a SessionRecord, not {type(session).__name__}")
    check_key(session.key)
    check_text("user", session.user)
    check_text("csrf_token", session.csrf_token)
    for what in ("created_at", "last_seen", "expires_at"):
        check_time(what, getattr(session, what))
    return session


def check_invite(invite: object) -> InviteRecord:
    if not isinstance(invite, InviteRecord):
        raise InvalidArgument(f"add_invite takes an InviteRecord, not {type(invite).__name__}")
    check_key(invite.key)
    check_text("created_by", invite.created_by)
    check_time("created_at", invite.created_at)
    check_time("expires_at", invite.expires_at)
    check_text("used_by", invite.used_by, optional=True)
    check_time("used_at", invite.used_at, optional=True)
    check_flag("revoked", invite.revoked)
    return invite


def check_member(doc_id: str, member: object) -> MemberRecord:
    if not isinstance(member, MemberRecord):
        raise InvalidArgument(f"members are MemberRecords, not {type(member).__name__}")
    if member.doc != doc_id:
        raise InvalidArgument(f"a member record of {member.doc!r} put into {doc_id!r}")
    check_text("user", member.user)
    check_text("role", member.role)
    check_text("added_by", member.added_by)
    check_time("added_at", member.added_at)
    return member


def check_doc_invite_fields(invite: DocInviteRecord) -> None:
    """The fields of a document invite but its document (checked first, by the caller)."""
    check_key(invite.key)
    check_text("role", invite.role)
    check_text("created_by", invite.created_by)
    check_time("created_at", invite.created_at)
    check_time("expires_at", invite.expires_at)
    check_text("used_by", invite.used_by, optional=True)
    check_time("used_at", invite.used_at, optional=True)
    check_flag("revoked", invite.revoked)


def check_doc_invite(invite: object) -> DocInviteRecord:
    if not isinstance(invite, DocInviteRecord):
        raise InvalidArgument(f"add_doc_invite takes a DocInviteRecord, not {type(invite).__name__}")
    return invite


def check_token(token: object) -> TokenRecord:
    if not isinstance(token, TokenRecord):
        raise InvalidArgument(f"add_token takes a TokenRecord, not {type(token).__name__}")
    check_key(token.key)
    for what in ("id", "user", "label", "role"):
        check_text(what, getattr(token, what))
    if not isinstance(token.docs, tuple) or not token.docs or not all(isinstance(d, str) and d for d in token.docs):
        raise InvalidArgument("a token's docs are a non-empty tuple of document ids (or '*')")
    check_time("created_at", token.created_at)
    check_time("expires_at", token.expires_at, optional=True)
    check_time("last_used", token.last_used, optional=True)
    check_flag("revoked", token.revoked)
    return token


# -- rows as records (the column orders of each backend's SELECTs) -------------------------


def account_from_row(row: tuple[Any, ...]) -> AccountRecord:
    return AccountRecord(row[0], row[1], row[2], bool(row[3]), bool(row[4]), row[5])


def session_from_row(row: tuple[Any, ...]) -> SessionRecord:
    return SessionRecord(row[0], row[1], row[2], row[3], row[4], row[5])


def invite_from_row(row: tuple[Any, ...]) -> InviteRecord:
    return InviteRecord(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]))


def member_from_row(row: tuple[Any, ...]) -> MemberRecord:
    return MemberRecord(row[0], row[1], row[2], row[3], row[4])


def doc_invite_from_row(row: tuple[Any, ...]) -> DocInviteRecord:
    return DocInviteRecord(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], bool(row[8]))
