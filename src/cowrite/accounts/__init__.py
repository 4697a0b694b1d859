"""Accounts: who may sign in, their sessions, and sign-up invites (no HTTP here).

:class:`Accounts` is the service the server and the command line use; it keeps
everything in a :class:`cowrite.store.Store`.  One module per job:

* :mod:`.names`: what a username and a display name may be
* :mod:`.passwords`: password rules and argon2id hashing (RFC 9106 parameters)
* :mod:`.throttle`: sign-in backoff per account and per client address
* :mod:`.service`: sign-up, sign-in, sessions, password changes, invites, revocation

Layering: this package imports only :mod:`cowrite.errors`, :mod:`cowrite.store`,
the standard library and ``argon2``; :mod:`cowrite.server` and :mod:`cowrite.cli`
import it (an import-linter contract in ``pyproject.toml`` keeps it so).  Its errors
are the :class:`~cowrite.errors.AccountError` branch of the one tree, re-exported here.
"""

from __future__ import annotations

from ..errors import (
    AccountError,
    AccountExists,
    AccountNotFound,
    InvalidAccount,
    InviteNotFound,
    SignInFailed,
    SignUpRefused,
    Throttled,
)
from .names import (
    GUEST_PREFIX,
    MAX_DISPLAY_NAME,
    MAX_USERNAME,
    check_display_name,
    check_new_username,
    has_control_or_bidi,
    normalize_username,
)
from .passwords import MAX_PASSWORD, MIN_PASSWORD, RFC_9106, Passwords, check_password
from .service import (
    CLI_INVITER,
    SIGNUP_MODES,
    Account,
    Accounts,
    InviteInfo,
    SessionInfo,
    first_start_hint,
    secret_key,
)
from .throttle import Throttle

__all__ = [
    "CLI_INVITER",
    "GUEST_PREFIX",
    "MAX_DISPLAY_NAME",
    "MAX_PASSWORD",
    "MAX_USERNAME",
    "MIN_PASSWORD",
    "RFC_9106",
    "SIGNUP_MODES",
    "Account",
    "AccountError",
    "AccountExists",
    "AccountNotFound",
    "Accounts",
    "InvalidAccount",
    "InviteInfo",
    "InviteNotFound",
    "Passwords",
    "SessionInfo",
    "SignInFailed",
    "SignUpRefused",
    "Throttle",
    "Throttled",
    "check_display_name",
    "check_new_username",
    "check_password",
    "first_start_hint",
    "has_control_or_bidi",
    "normalize_username",
    "secret_key",
]
