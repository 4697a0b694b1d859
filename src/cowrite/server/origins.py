"""Which web pages may use this server: the ``Origin`` (and ``Referer``) checks.

Two strengths, because tokens and cookies fail differently:

* :meth:`Origins.token_ok` -- for requests that carry a token.  A page from another
  site must not use a token it got hold of; programs send no ``Origin`` and are let
  through; ``--allow-origin '*'`` opens the server to every page.
* :meth:`Origins.cookie_ok` -- for requests a browser authenticates with the session
  cookie on its own.  A page from another site must never ride on that cookie, so
  ``'*'`` does not count here (only origins listed by name, or this server's own).
* :meth:`Origins.login_ok` -- sign-in and sign-up, which have no session yet to hold
  a CSRF token (login CSRF: another site signing you in as its attacker): the request
  must *prove* it comes from this server's pages, by its ``Origin`` or, without one,
  its ``Referer``.

"Same origin" is the page's host and port equal to the request's ``Host``, as the
WebSocket check has always done (a proxy in front keeps ``Host``).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

__all__ = ["Origins"]


class Origins:
    """The origin checks of one server; ``allowed`` are ``--allow-origin`` values."""

    def __init__(self, allowed: tuple[str, ...] = ()) -> None:
        self.allowed = allowed
        self._named = frozenset(o for o in allowed if o != "*")

    @staticmethod
    def _same(url: str, headers: Mapping[str, str]) -> bool:
        try:
            netloc = urlsplit(url).netloc
        except ValueError:
            return False
        host = headers.get("host", "")
        return bool(netloc) and bool(host) and netloc.lower() == host.lower()

    def token_ok(self, headers: Mapping[str, str]) -> bool:
        """A request with a token: no ``Origin`` (not a browser), an allowed one, or ours."""
        origin = headers.get("origin")
        if origin is None:
            return True
        if "*" in self.allowed or origin in self.allowed:
            return True
        return self._same(origin, headers)

    def cookie_ok(self, headers: Mapping[str, str]) -> bool:
        """A request signed in by cookie: no ``Origin``, or ours, or one listed by name."""
        origin = headers.get("origin")
        if origin is None:
            return True
        return origin in self._named or self._same(origin, headers)

    def login_ok(self, headers: Mapping[str, str]) -> bool:
        """Sign-in/sign-up: an ``Origin`` that is ours (or listed by name), or, with no
        ``Origin`` at all, a ``Referer`` from this server.  Neither: refused."""
        origin = headers.get("origin")
        if origin is not None:
            return origin in self._named or self._same(origin, headers)
        referer = headers.get("referer")
        return referer is not None and self._same(referer, headers)
