"""A server in-process (Starlette TestClient) over a temporary SQLite store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2.profiles import CHEAPEST
from starlette.testclient import TestClient

from cowrite.accounts import Accounts, Passwords, Throttle
from cowrite.server import Limits, Server, issue_token
from cowrite.store import SQLiteStore

SECRET = b"s" * 40
FAST_HASHER = Passwords(CHEAPEST)
"""argon2id at its cheapest: the tests exercise the server, not the hash's cost."""


class Harness:
    def __init__(
        self,
        tmp: Path,
        limits: Limits | None = None,
        store: object | None = None,
        guests: str = "none",
        guest_hosts: tuple[str, ...] = (),
        signup: str = "invite",
        secure_cookies: bool = False,
        throttle: Throttle | None = None,
        base_url: str = "http://testserver",
        allowed_origins: tuple[str, ...] = (),
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.db = tmp / "server.db"
        self.store = store if store is not None else SQLiteStore(self.db)
        more: dict[str, Any] = {} if clock is None else {"clock": clock}
        self.accounts = Accounts(self.store, hasher=FAST_HASHER, throttle=throttle, **more)  # type: ignore[arg-type]
        self.server = Server(
            self.store,  # type: ignore[arg-type]
            SECRET,
            limits=limits,
            guests=guests,
            guest_hosts=guest_hosts,
            signup=signup,
            accounts=self.accounts,
            secure_cookies=secure_cookies,
            allowed_origins=allowed_origins,
        )
        self.http = TestClient(self.server.app, base_url=base_url)

    def token(self, user: str = "admin", doc: str = "*", role: str = "owner", ttl: int = 600) -> str:
        return issue_token(SECRET, user, doc=doc, role=role, ttl=ttl)

    def close(self) -> None:
        self.store.close()  # type: ignore[attr-defined]

    def auth(self, **kw: object) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token(**kw)}"}  # type: ignore[arg-type]

    def create(self, doc_id: str = "notes") -> None:
        """A document made with an owner token: it has no members (only admins and tokens reach it)."""
        r = self.http.post("/api/docs", json={"id": doc_id}, headers=self.auth())
        assert r.status_code == 201, r.text

    def give(self, doc_id: str, user: str, role: str = "editor") -> None:
        """Give the account ``user`` ``role`` on ``doc_id``; on a document without members
        ``user`` becomes its owner (whatever ``role``)."""
        sharing = self.server.sharing
        members = sharing.members(doc_id)
        if not members:
            sharing.create_owner(doc_id, user)
            return
        owner = next(m.user for m in members if m.role == "owner")
        sharing.add_member(doc_id, owner, user, role)


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path)
    with h.http:
        yield h
    h.store.close()  # type: ignore[attr-defined]


@pytest.fixture
def make_harness(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    """``make_harness(guests=...)``: a started harness with other settings (closed after the test)."""
    made: list[Harness] = []

    def make(**kw: Any) -> Harness:
        where = tmp_path / f"server-{len(made)}"
        where.mkdir()
        h = Harness(where, **kw)
        h.http.__enter__()
        made.append(h)
        return h

    yield make
    for h in made:
        h.http.__exit__(None, None, None)
        h.close()
