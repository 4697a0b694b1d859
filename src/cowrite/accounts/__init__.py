"""Accounts: who may sign in, their sessions, and sign-up invites (no HTTP here).

:class:`Accounts` is the service the server and the command line use; it keeps
everything in a :class:`cowrite.store.Store`.  One module per job:

* :mod:`.names`: what a username and a display name may be
* :mod:`.passwords`: password rules and argon2id hashing (RFC 9106 parameters)
* :mod:`.throttle`: sign-in backoff per account and per client address
* :mod:`.service`: sign-up, sign-in, sessions, password changes, invites, revocation
* :mod:`.roles`: document roles (owner > editor > commenter > viewer) and their order
* :mod:`.sharing`: per-document members, link sharing, document invites (:class:`Sharing`)
* :mod:`.tokens`: personal access tokens for integrations (:class:`Tokens`)

Layering: this package imports only :mod:`cowrite.errors`, :mod:`cowrite.store`,
the standard library and ``argon2``; :mod:`cowrite.server` and :mod:`cowrite.cli`
import it (an import-linter contract in ``pyproject.toml`` keeps it so).  Its errors
are the :class:`~cowrite.errors.AccountError` branch of the one tree, re-exported here.
"""

from __future__ import annotations

from ..errors import (
    AccessDenied,
    AccountError,
    AccountExists,
    AccountNotFound,
    ChangedMeanwhile,
    InvalidAccount,
    InviteNotFound,
    InviteRefused,
    NotAMember,
    SignInFailed,
    SignUpRefused,
    Throttled,
    TokenNotFound,
)
from .names import (
    GUEST_PREFIX,
    MAX_DISPLAY_NAME,
    MAX_USERNAME,
    RESERVED_USERNAMES,
    check_display_name,
    check_new_username,
    has_control_or_bidi,
    normalize_username,
)
from .passwords import MAX_PASSWORD, MIN_PASSWORD, RFC_9106, Passwords, check_password
from .roles import DOC_ROLES, INVITE_ROLES, LINK_ROLES, at_least, check_role, stronger, weaker
from .service import (
    CLI_INVITER,
    SIGNUPS_FREE,
    SIGNUP_MODES,
    Account,
    Accounts,
    InviteInfo,
    SessionInfo,
    first_start_hint,
    secret_key,
)
from .sharing import CLI_OPERATOR, MAX_DOC_INVITE_TTL, DocInvite, LinkInfo, Member, Sharing
from .throttle import Throttle
from .tokens import TOKEN_PREFIX, TokenGrant, TokenInfo, Tokens

__all__ = [
    "CLI_INVITER",
    "CLI_OPERATOR",
    "DOC_ROLES",
    "GUEST_PREFIX",
    "INVITE_ROLES",
    "LINK_ROLES",
    "MAX_DISPLAY_NAME",
    "MAX_DOC_INVITE_TTL",
    "MAX_PASSWORD",
    "MAX_USERNAME",
    "MIN_PASSWORD",
    "RESERVED_USERNAMES",
    "RFC_9106",
    "SIGNUPS_FREE",
    "SIGNUP_MODES",
    "TOKEN_PREFIX",
    "AccessDenied",
    "Account",
    "AccountError",
    "AccountExists",
    "AccountNotFound",
    "Accounts",
    "ChangedMeanwhile",
    "DocInvite",
    "InvalidAccount",
    "InviteInfo",
    "InviteNotFound",
    "InviteRefused",
    "LinkInfo",
    "Member",
    "NotAMember",
    "Passwords",
    "SessionInfo",
    "Sharing",
    "SignInFailed",
    "SignUpRefused",
    "Throttle",
    "Throttled",
    "TokenGrant",
    "TokenInfo",
    "TokenNotFound",
    "Tokens",
    "at_least",
    "check_display_name",
    "check_new_username",
    "check_password",
    "check_role",
    "first_start_hint",
    "has_control_or_bidi",
    "normalize_username",
    "secret_key",
    "stronger",
    "weaker",
]
