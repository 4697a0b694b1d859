"""Holes an outsider found in accounts and sharing (issue 12), each pinned by the attack
that opened it, against the real app (Starlette's TestClient over a real SQLite store).

* Sign-up over HTTP did not back off per client address (the service can, but the route
  never told it the address): one address could make accounts, and 64 MiB argon2 hashes,
  without end.
* A personal access token capped at ``viewer`` read the key of an ``editor`` share link
  (its user, the owner, may see it), and with that key a link guest's token edits: the
  token's role cap was worth nothing.
* A WebSocket opened with a personal access token stayed open, and kept writing, after
  the token was revoked, after it expired and after its account was disabled; one
  opened with an HS256 token outlived the token's expiry.
* Display names shown to everyone in a document could be blank or invisible (spaces only,
  zero-width characters, bidi marks, Hangul fillers).
* Sign-up invite codes (``/?invite=CODE``, a page address) were written to the access log
  in the clear (``token=``, ``share=`` and ``join=`` were blanked).
* Password hashes ran in the worker threads every store call of the server shares, with
  no bound: a flood of sign-ins (correct passwords never back off) stalled every
  document, socket and page of the server.
* The pages' files, also served as ``/static/*.html``, came without the pages' CSP and
  anti-framing headers.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2.profiles import CHEAPEST
from uvicorn.logging import AccessFormatter

from conftest import SECRET, Harness
from cowrite.accounts import SIGNUPS_FREE, Accounts, Passwords
from cowrite.engine import encode_patch
from cowrite.protocol import ErrorCode, Ops, Role, encode_frame
from cowrite.server import Limits, RedactTokens, Server, issue_token
from cowrite.server.signin import HASHING_QUEUE, HASHING_SLOTS
from cowrite.store import SQLiteStore
from test_doc_access import ORIGIN, PASSWORD, User, bearer, expect_closed, join, next_error, text_of, type_and_ack

WITHIN = 5.0


class Clock:
    """A settable Unix clock for the accounts service (sessions, tokens, throttles)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world(harness: Harness) -> tuple[Harness, User, User, User]:
    """ada owns ``a`` (text "ada's"), bob owns ``b``; carol has nothing."""
    ada, bob, carol = User(harness, "ada"), User(harness, "bob"), User(harness, "carol")
    ada.create("a")
    assert ada.req("POST", "/api/docs/a/edit", {"pos": 0, "insert": "ada's"}).status_code == 200
    bob.create("b")
    return harness, ada, bob, carol


# -- sign-up flood -----------------------------------------------------------------------------


def test_signups_from_one_address_back_off(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(signup="open")
    made = 0
    for i in range(30):
        h.http.cookies.clear()
        r = h.http.post(
            "/api/auth/signup", json={"username": f"flood{i}", "password": PASSWORD}, headers={"origin": ORIGIN}
        )
        if r.status_code == 429:
            assert r.json()["error"] == "throttled" and int(r.headers["retry-after"]) >= 1
            break
        assert r.status_code == 201, r.text
        made += 1
    else:
        raise AssertionError("30 sign-ups from one address in a row, none throttled")
    assert SIGNUPS_FREE <= made <= SIGNUPS_FREE + 1  # (the count decays a little between tries)
    assert h.accounts.account(f"flood{made}") is None  # the throttled one made nothing
    assert h.accounts.count() == made


# -- a token's role cap and the share link -------------------------------------------------------


def test_a_viewer_token_does_not_learn_an_editor_link(world: Any) -> None:
    h, ada, bob, carol = world
    key = ada.req("PUT", "/api/docs/a/link", {"role": "editor"}).json()["key"]
    viewer = ada.req("POST", "/api/tokens", {"label": "reader", "docs": ["a"], "role": "viewer"}).json()["secret"]
    r = bearer(h, viewer, "GET", "/api/docs/a/link")
    assert r.status_code == 200 and r.json()["role"] == "editor"
    assert r.json()["key"] is None, "a viewer token read the key of an editor link"
    # What the key would have given it: a link guest's token that edits.
    h.http.cookies.clear()
    guest = h.http.post("/api/session", json={"name": "bot", "doc": "a", "share": key}).json()["token"]
    assert h.http.post(f"/api/docs/a/edit?share={key}", json={"pos": 0, "insert": "x"},
                       headers={"authorization": f"Bearer {guest}"}).status_code == 200
    # A token with a role at least the link's still sees it (the share dialog's use).
    editor = ada.req("POST", "/api/tokens", {"label": "writer", "docs": ["a"], "role": "editor"}).json()["secret"]
    assert bearer(h, editor, "GET", "/api/docs/a/link").json()["key"] == key
    owner = ada.req("POST", "/api/tokens", {"label": "admin", "docs": ["a"], "role": "owner"}).json()["secret"]
    assert bearer(h, owner, "GET", "/api/docs/a/link").json()["key"] == key
    # A viewer link's key is no more than a viewer token may do.
    ada.req("PUT", "/api/docs/a/link", {"role": "viewer"})
    assert bearer(h, viewer, "GET", "/api/docs/a/link").json()["key"] == key


# -- personal access token sockets ---------------------------------------------------------------


def _pat(h: Harness, user: str, docs: tuple[str, ...] = ("a",), role: str = "editor", ttl: float | None = 3600) -> tuple[str, str]:
    secret, info = h.server.tokens.create(user, "bot", docs=docs, role=role, ttl=ttl)
    return secret, info.id


def _writes_refused_after(ws: Any, doc: Any, s: Any, h: Harness, before: str, *, send: bool = True) -> None:
    """The socket gets a fatal refusal within seconds and closes; an edit sent then
    (``send``) is not applied."""
    started = time.monotonic()
    if send:
        base = doc.version
        doc.insert(len(doc.text), " and more")
        ws.send_bytes(encode_frame(Ops(99, encode_patch(doc.ops_since(base)))))
    err = next_error(ws)
    assert err.fatal and err.code in (ErrorCode.FORBIDDEN, ErrorCode.UNAUTHORIZED), err
    expect_closed(ws)
    assert time.monotonic() - started < WITHIN
    assert text_of(h, "a") == before


def test_revoking_a_token_closes_its_open_socket(world: Any) -> None:
    h, ada, bob, carol = world
    secret, token_id = _pat(h, "ada")
    h.http.cookies.clear()
    with h.http.websocket_connect(f"/ws/a?token={secret}") as ws:
        doc, s, welcome = join(ws, "a", "ada-bot")
        assert welcome.role is Role.EDITOR
        type_and_ack(ws, doc, s, " and the bot's")
        assert ada.req("DELETE", f"/api/tokens/{token_id}").status_code == 204
        _writes_refused_after(ws, doc, s, h, "ada's and the bot's")
    assert bearer(h, secret, "GET", "/api/docs/a/text").status_code == 401


def test_disabling_an_account_closes_its_token_sockets(world: Any) -> None:
    h, ada, bob, carol = world
    h.accounts.sign_out(ada.sid)  # no session of ada's is open: only the token
    secret, _ = _pat(h, "ada")
    h.http.cookies.clear()
    with h.http.websocket_connect(f"/ws/a?token={secret}") as ws:
        doc, s, _ = join(ws, "a", "ada-bot")
        type_and_ack(ws, doc, s, "!")
        boss = User(h, "boss", admin=True)
        assert boss.req("POST", "/api/admin/users/ada/disable").status_code == 204
        _writes_refused_after(ws, doc, s, h, "ada's!")


def test_an_expired_tokens_socket_is_closed_by_the_recheck(make_harness: Callable[..., Harness]) -> None:
    clock = Clock()
    h = make_harness(clock=clock, limits=Limits(session_check_seconds=0.2))
    ada = User(h, "ada")
    ada.create("a")
    secret, _ = _pat(h, "ada", ttl=60)
    h.http.cookies.clear()
    with h.http.websocket_connect(f"/ws/a?token={secret}") as ws:
        doc, s, _ = join(ws, "a", "ada-bot")
        type_and_ack(ws, doc, s, "ok")
        clock.now += 120  # the token's end has passed: the next recheck (0.2 s) finds it
        _writes_refused_after(ws, doc, s, h, "ok", send=False)
    assert bearer(h, secret, "GET", "/api/docs/a/text").status_code == 401


def test_an_expired_hs256_tokens_socket_is_closed_by_the_recheck(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(limits=Limits(session_check_seconds=0.2))
    h.create("a")
    token = h.token(user="bot", doc="a", role="editor", ttl=2)
    with h.http.websocket_connect(f"/ws/a?token={token}") as ws:
        doc, s, _ = join(ws, "a", "bot-1")
        type_and_ack(ws, doc, s, "ok")
        time.sleep(2.2)  # it expires within 2 s (whole seconds); the recheck runs every 0.2 s
        err = next_error(ws)
        assert err.fatal and err.code is ErrorCode.FORBIDDEN, err
        expect_closed(ws)
    assert text_of(h, "a") == "ok"


# -- names others see --------------------------------------------------------------------------

INVISIBLE_NAMES = ["   ", "\u200b", "ada\u200b", "\u3164", "Ada\u200f Lovelace", "\u2060bob", "\ufeff"]


@pytest.mark.parametrize("name", INVISIBLE_NAMES)
def test_a_blank_or_invisible_display_name_is_refused(make_harness: Callable[..., Harness], name: str) -> None:
    """Display names are shown to the others in a document (cursors, presence, history): a
    blank one, or one with characters that show as nothing, hides who typed or copies a name."""
    h = make_harness(signup="open", guests="editor")
    r = h.http.post("/api/auth/signup", json={"username": "eve", "password": PASSWORD, "name": name},
                    headers={"origin": ORIGIN})
    assert r.status_code == 400 and r.json()["error"] == "bad_account", r.text
    assert h.accounts.account("eve") is None
    h.http.cookies.clear()
    r = h.http.post("/api/session", json={"name": name})
    assert r.status_code == 400 and "token" not in r.json(), r.text


def test_names_that_need_joiners_are_kept(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(signup="open", guests="editor")
    for i, name in enumerate(["\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", "Ada \U0001f469\u200d\U0001f4bb"]):
        r = h.http.post("/api/auth/signup", json={"username": f"user{i}", "password": PASSWORD, "name": name},
                        headers={"origin": ORIGIN})
        assert r.status_code == 201 and r.json()["name"] == name, r.text
        h.http.cookies.clear()
        assert h.http.post("/api/session", json={"name": name}).status_code == 200


# -- secrets in logs ----------------------------------------------------------------------------


def test_a_signup_invite_in_a_page_address_is_blanked_in_the_access_log(make_harness: Callable[..., Harness]) -> None:
    """The documents page makes ``/?invite=CODE`` links; opening one is a GET that uvicorn logs
    with its query.  An unused code in a log is an account for whoever reads the log."""
    h = make_harness(signup="invite")
    code = h.accounts.create_invite("boss")
    h.http.cookies.clear()
    assert h.http.get(f"/?invite={code}").status_code == 200  # the page that signs up with it
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("10.0.0.9:5", "GET", f"/?invite={code}", "1.1", 200), None,
    )
    assert RedactTokens().filter(record)
    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False).format(record)
    assert code not in line and "/?invite=[redacted]" in line
    # (the code still works: nothing was used up by the page or the log)
    r = h.http.post("/api/auth/signup", json={"username": "newbie", "password": PASSWORD, "invite": code},
                    headers={"origin": ORIGIN})
    assert r.status_code == 201, r.text


# -- password hashing floods -----------------------------------------------------------------------


class _SlowHasher(Passwords):
    """Cheap argon2id whose verifications wait until released: a hash that takes long."""

    def __init__(self) -> None:
        super().__init__(CHEAPEST)
        self.release = threading.Event()
        self.started = 0
        self._count = threading.Lock()

    def verify(self, stored_hash: str, password: str) -> bool:
        with self._count:
            self.started += 1
        self.release.wait(20)
        return super().verify(stored_hash, password)


def test_a_flood_of_sign_ins_does_not_stall_the_rest_of_the_server(tmp_path: Path) -> None:
    """Every argon2id hash holds one of the worker threads every store call of the server
    uses; failures back off per address, correct passwords never do.  48 sign-ins at once
    (more than any default pool has threads) must leave the server able to serve a document."""
    store = SQLiteStore(tmp_path / "flood.db")
    hasher = _SlowHasher()
    accounts = Accounts(store, hasher=hasher)
    accounts.sign_up("ada", PASSWORD, mode="open")
    server = Server(store, SECRET, accounts=accounts)
    auth = {"authorization": f"Bearer {issue_token(SECRET, 'bot', doc='*', role='owner')}"}

    async def main() -> tuple[float, list[int]]:
        transport = httpx.ASGITransport(app=server.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            assert (await c.post("/api/docs", json={"id": "a"}, headers=auth)).status_code == 201
            flood = [
                asyncio.ensure_future(
                    c.post("/api/auth/signin", json={"username": "ada", "password": PASSWORD}, headers={"origin": ORIGIN})
                )
                for _ in range(48)
            ]
            while hasher.started < 2:  # the first hashes are running (the rest wait or run too)
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)
            started = time.monotonic()
            try:
                r = await asyncio.wait_for(c.get("/api/docs/a/text", headers=auth), 3.0)
                assert r.status_code == 200
                took = time.monotonic() - started
            except asyncio.TimeoutError:
                took = float("inf")
            finally:
                hasher.release.set()
            statuses = [r.status_code for r in await asyncio.gather(*flood)]
            return took, statuses

    try:
        took, statuses = asyncio.run(main())
    finally:
        hasher.release.set()
        store.close()
    assert took < 2.0, "a document read waited for the password hashes"
    assert set(statuses) == {200}, statuses  # each got its turn (64 may wait)
    assert hasher.started <= 48


def test_beyond_the_queue_sign_ins_are_told_to_retry(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "queue.db")
    hasher = _SlowHasher()
    accounts = Accounts(store, hasher=hasher)
    accounts.sign_up("ada", PASSWORD, mode="open")
    server = Server(store, SECRET, accounts=accounts)

    async def main() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=server.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            body = {"username": "ada", "password": PASSWORD}
            flood = [asyncio.ensure_future(c.post("/api/auth/signin", json=body, headers={"origin": ORIGIN})) for _ in range(HASHING_SLOTS + HASHING_QUEUE + 5)]
            while hasher.started < HASHING_SLOTS:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)
            hasher.release.set()
            return list(await asyncio.gather(*flood))

    try:
        answers = asyncio.run(main())
    finally:
        hasher.release.set()
        store.close()
    busy = [r for r in answers if r.status_code == 429]
    assert len(busy) == 5 and all(r.json()["error"] == "throttled" and r.headers["retry-after"] == "1" for r in busy)
    assert sum(r.status_code == 200 for r in answers) == HASHING_SLOTS + HASHING_QUEUE


# -- page headers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/static/index.html", "/static/editor.html", "/static/history.html"])
def test_the_pages_files_carry_the_page_headers_as_static_files_too(harness: Harness, path: str) -> None:
    """``/static/editor.html`` is the editor page's file: framed by another site or run
    without the CSP, it must not be any weaker than ``/d/{doc}``."""
    page = harness.http.get("/d/notes")
    r = harness.http.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    for name in ("content-security-policy", "x-frame-options", "referrer-policy"):
        assert r.headers.get(name) == page.headers[name], name
    assert r.headers.get_list("content-security-policy") == [page.headers["content-security-policy"]]
