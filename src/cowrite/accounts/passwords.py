"""Passwords: the rules a new one must meet, and argon2id hashing (argon2-cffi).

Hashes are argon2id with the parameters of RFC 9106's second recommended option
(t=3 passes, m=64 MiB, p=4 lanes; argon2-cffi's ``RFC_9106_LOW_MEMORY``): the first
option's 2 GiB per hash is more than a small server can give every sign-in.  The
parameters travel inside each PHC-format hash, so hashes made with older parameters
still verify; :meth:`Passwords.needs_rehash` tells the caller to store a new hash at
the next successful sign-in, which is the only moment the password is known.

Unknown usernames must cost what known ones cost, or the response time would tell
which accounts exist: :meth:`Passwords.burn` verifies against a dummy hash made
with the same parameters.  The dummy is made at the first unknown user (so building a
:class:`Passwords` costs nothing): that one request costs a hash more, once per process.

Rules for a new password (NIST SP 800-63B's, without composition rules): 8..1024
characters, not only whitespace.  The cap keeps a megabyte "password" from costing
the server anything before it is refused.  Passwords are NFKC-normalised before
hashing, so the same password typed on two systems that compose accents
differently (é as one code point or as e + a combining accent) is the same.
"""

from __future__ import annotations

import threading
import unicodedata

import argon2
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY

from ..errors import InvalidAccount

__all__ = ["MAX_PASSWORD", "MIN_PASSWORD", "RFC_9106", "Passwords", "check_password"]

MIN_PASSWORD = 8
MAX_PASSWORD = 1024
RFC_9106: argon2.Parameters = RFC_9106_LOW_MEMORY
"""The default parameters: argon2id, t=3, m=65536 KiB, p=4, 16-byte salt, 32-byte tag."""


def check_password(password: object) -> str:
    """``password`` (NFKC-normalised) if a new password may be it, else :class:`InvalidAccount`."""
    if not isinstance(password, str):
        raise InvalidAccount(f"a password must be a string, not {type(password).__name__}")
    if len(password) > MAX_PASSWORD:  # before normalising: refused without work
        raise InvalidAccount(f"a password has at most {MAX_PASSWORD} characters")
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in password):
        raise InvalidAccount("a password may not hold lone surrogates (it is not valid text)")
    normal = unicodedata.normalize("NFKC", password)
    if not MIN_PASSWORD <= len(normal) <= MAX_PASSWORD:
        raise InvalidAccount(f"a password has {MIN_PASSWORD}..{MAX_PASSWORD} characters, not {len(normal)}")
    if not normal.strip():
        raise InvalidAccount("a password may not be only whitespace")
    return normal


def _candidate(password: object) -> str | None:
    """``password`` as it was hashed when set, or ``None`` if no stored password can be it
    (so verifying it needs no hashing: a refusal that says nothing about the account)."""
    if not isinstance(password, str) or len(password) > MAX_PASSWORD:
        return None
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in password):
        return None
    return unicodedata.normalize("NFKC", password)


class Passwords:
    """Hashes and verifies passwords with one set of argon2 parameters.

    ``parameters`` defaults to :data:`RFC_9106`; tests pass cheap ones (e.g.
    ``argon2.profiles.CHEAPEST``) to run fast.  Thread-safe.
    """

    def __init__(self, parameters: argon2.Parameters | None = None) -> None:
        self.parameters = RFC_9106 if parameters is None else parameters
        if self.parameters.type is not argon2.Type.ID:
            raise InvalidAccount("passwords are hashed with argon2id only")
        self._hasher = argon2.PasswordHasher.from_parameters(self.parameters)
        self._dummy: str | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        p = self.parameters
        return f"<Passwords argon2id t={p.time_cost} m={p.memory_cost}KiB p={p.parallelism}>"

    def hash(self, password: str) -> str:
        """The PHC-format hash of a new password (checked by :func:`check_password` first)."""
        return self._hasher.hash(check_password(password))

    def verify(self, stored_hash: str, password: str) -> bool:
        """Whether ``password`` is the one ``stored_hash`` was made from.

        A password no rule allows (too long, not text) is refused without hashing; a stored
        hash that is not a valid argon2 hash verifies nothing (and costs a dummy verify,
        like an unknown user)."""
        candidate = _candidate(password)
        if candidate is None:
            return False
        try:
            return self._hasher.verify(stored_hash, candidate)
        except InvalidHashError:
            self.burn(password)
            return False
        except VerificationError:  # VerifyMismatchError and its kin: the wrong password
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """Whether ``stored_hash`` was made with other parameters than ours (store a new one)."""
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    def burn(self, password: object) -> None:
        """Spend the work of one verification, for a user who does not exist."""
        candidate = _candidate(password)
        if candidate is None:
            return
        try:
            self._hasher.verify(self._dummy_hash(), candidate)
        except VerificationError:
            pass

    def _dummy_hash(self) -> str:
        with self._lock:
            if self._dummy is None:  # made on first use: constructing a Passwords stays cheap
                self._dummy = self._hasher.hash("not a password: the dummy that unknown users verify against")
            return self._dummy
