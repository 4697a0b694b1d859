"""Suggestions attacked from outside: forged agents and ids, foreign parents, bombs, roles.

What ``test_suggestions_http.py`` does not try already: a suggestion's ``{id, patch}``
naming an agent that is not its own (another suggestion's, an accepted one's, a plain
user's), parents outside the document, seq gaps and huge seqs, a deflated patch that
inflates past the bound, ids with odd characters in the body and the path, a link
guest (viewer and commenter) suggesting and deciding, a commenter rejecting another's
suggestion, a suggestion reached through another document's path, and the
``SUGGESTIONS`` notice reaching only sockets of the document it is about.  Every refusal
leaves the stored suggestions and the document text as they were.
"""

from __future__ import annotations

import base64
import zlib
from typing import Any

import pytest

from conftest import Harness
from cowrite.engine import Document, Op, encode_patch
from cowrite.engine.codec.frame import FLAG_DEFLATE, FORMAT_VERSION, PATCH_MAGIC
from cowrite.engine.suggestions import make_suggestion
from cowrite.protocol import decode_frame
from cowrite.protocol.messages import Suggestions
from test_doc_access import User, join, receive_within, text_of

DOC = "notes"
S = f"/api/docs/{DOC}/suggestions"


@pytest.fixture
def team(harness: Harness) -> dict[str, User]:
    """``olive`` owns DOC ("hello world") and ``other``; eddie edits, cora comments,
    vic views, stranger has nothing."""
    users = {n: User(harness, n) for n in ("olive", "eddie", "cora", "vic", "stranger")}
    users["olive"].create(DOC)
    users["olive"].create("other")
    for name, role in (("eddie", "editor"), ("cora", "commenter"), ("vic", "viewer")):
        harness.server.sharing.add_member(DOC, "olive", name, role)
    harness.server.sharing.add_member("other", "olive", "cora", "commenter")
    r = users["olive"].req("POST", f"/api/docs/{DOC}/edit", {"pos": 0, "insert": "hello world"})
    assert r.status_code == 200, r.text
    return users


def server_doc(user: User) -> Document:
    r = user.req("GET", f"/api/docs/{DOC}/snapshot")
    assert r.status_code == 200
    return Document.decode(r.content)


def body_of(ops: list[Op], sid: str | None = None) -> dict[str, str]:
    out = {"patch": base64.b64encode(encode_patch(ops)).decode()}
    return out if sid is None else {"id": sid, **out}


def as_agent(ops: list[Op], agent: str) -> list[Op]:
    """``ops`` relabelled as ``agent``'s (what a forger sends; the engine would not make them)."""
    return [Op(agent, o.seq, o.parents, o.kind, o.pos, o.content, o.length, o.fwd, o.time) for o in ops]


def stored(h: Harness) -> list[Any]:
    return h.store.suggestions(DOC)  # type: ignore[attr-defined, no-any-return]


def unchanged(h: Harness, before: list[Any]) -> None:
    assert stored(h) == before and text_of(h, DOC) == "hello world"


def test_a_patch_for_another_agent_than_its_id_is_refused(harness: Harness, team: dict[str, User]) -> None:
    cora = team["cora"]
    doc = server_doc(cora)
    theirs = make_suggestion(doc, doc.version, "hello there", "sugg:theirs")
    assert team["eddie"].req("POST", S, body_of(theirs, "theirs")).status_code == 201
    before = stored(harness)
    for agent in ("sugg:theirs", "eddie", "api:olive", "sugg:other-id", "sugg:", "olive"):
        ops = as_agent(make_suggestion(doc, doc.version, "hello, world", "sugg:scratch"), agent)
        r = cora.req("POST", S, body_of(ops, "mine"))
        assert r.status_code == 400, (agent, r.text)
    # naming the other suggestion's id is taken, and its own patch cannot be replaced by cora
    mine_as_theirs = make_suggestion(doc, doc.version, "hello, world", "sugg:theirs")  # not in the document
    assert cora.req("POST", S, body_of(mine_as_theirs, "theirs")).status_code == 409
    assert cora.req("PUT", f"{S}/theirs", body_of(mine_as_theirs)).status_code == 403
    unchanged(harness, before)


def test_an_accepted_suggestions_id_cannot_be_reused_by_someone_else(harness: Harness, team: dict[str, User]) -> None:
    doc = server_doc(team["cora"])
    ops = make_suggestion(doc, doc.version, "hello world.", "sugg:once")
    assert team["cora"].req("POST", S, body_of(ops, "once")).status_code == 201
    assert team["olive"].req("POST", f"{S}/once/accept").status_code == 200
    doc = server_doc(team["eddie"])
    again = as_agent(make_suggestion(doc, doc.version, "hello world!?", "sugg:scratch"), "sugg:once")
    r = team["eddie"].req("POST", S, body_of(again, "once"))
    assert r.status_code == 400, r.text
    assert stored(harness) == [] and text_of(harness, DOC) == "hello world."


def test_parents_outside_the_document_seq_gaps_and_huge_seqs_are_refused(harness: Harness, team: dict[str, User]) -> None:
    cora = team["cora"]
    doc = server_doc(cora)
    before = stored(harness)
    # parents the server never saw: a replica with text of its own
    elsewhere = Document("ghost")
    elsewhere.insert(0, "boo")
    fork = doc.copy()
    fork.add_ops(elsewhere.ops_since(()))
    child = Document("sugg:x1")
    child.add_ops(fork.ops_since(()))
    child.insert(0, "!")
    foreign_parents = child.ops_since(fork.version)
    assert cora.req("POST", S, body_of(foreign_parents, "x1")).status_code == 400
    # a seq gap and a start past 0
    child = Document("sugg:x2")
    child.add_ops(doc.ops_since(()))
    child.insert(0, "a")
    child.insert(0, "b")
    ops = child.ops_since(doc.version)
    assert len(ops) == 2  # (the second insertion is before the first: its own op)
    assert cora.req("POST", S, body_of(ops[1:], "x2")).status_code == 400  # seqs from 1, not 0
    first = ops[0]
    shifted = Op(first.agent, 1 << 40, first.parents, first.kind, first.pos, first.content, first.length, first.fwd, first.time)
    assert cora.req("POST", S, body_of([shifted], "x2")).status_code == 400
    # a delete far past the end of the text
    huge = Op("sugg:x3", 0, doc.version, "del", 0, "", 1 << 30, True, 0)
    assert cora.req("POST", S, body_of([huge], "x3")).status_code == 400
    unchanged(harness, before)


def _deflated(body: bytes, stated: int) -> bytes:
    out = bytearray(PATCH_MAGIC)
    out += bytes((FORMAT_VERSION, FLAG_DEFLATE))
    n = stated
    while True:  # the stated body size, as a uvar
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            break
    out += zlib.compress(body, 9)
    out += zlib.crc32(out).to_bytes(4, "little")
    return bytes(out)


def test_a_deflate_bomb_patch_is_refused_before_it_is_inflated(harness: Harness, team: dict[str, User]) -> None:
    cora = team["cora"]
    before = stored(harness)
    bomb = b"\x00" * (64 << 20)
    for stated in (len(bomb), 10):  # honest about its size, and lying low
        data = _deflated(bomb, stated)
        assert len(data) < harness.server.limits.max_request_bytes
        r = cora.req("POST", S, {"id": "bomb", "patch": base64.b64encode(data).decode()})
        assert r.status_code in (400, 413), r.text
    unchanged(harness, before)


def test_oversize_and_deep_bodies_are_refused(harness: Harness, team: dict[str, User]) -> None:
    cora = team["cora"]
    before = stored(harness)
    big = "A" * (harness.server.limits.max_request_bytes + 100)
    assert cora.req("POST", S, {"id": "big", "patch": big}).status_code == 413
    deep = '{"version": ' + "[" * 5000 + "]" * 5000 + ', "text": "x"}'
    cora.h.http.cookies.clear()
    r = cora.h.http.post(S, content=deep, headers={**cora.headers(), "content-type": "application/json"})
    assert r.status_code == 400, r.text
    unchanged(harness, before)


@pytest.mark.parametrize(
    "sid", ["a:b", "../x", "x" * 65, "\u00e9t\u00e9", "a b", "a\x00b", "<script>", "", "a/b", "%2e%2e", "\uff21"]
)
def test_ids_with_odd_characters_are_refused(harness: Harness, team: dict[str, User], sid: str) -> None:
    cora = team["cora"]
    doc = server_doc(cora)
    before = stored(harness)
    ops = make_suggestion(doc, doc.version, "hello world!", "sugg:" + sid)
    r = cora.req("POST", S, body_of(ops, sid))
    assert r.status_code == 400, r.text
    unchanged(harness, before)


@pytest.mark.parametrize("path", ["%2e%2e", "..%2fx", "a%3Ab", "x" * 65, "%C3%A9", "a%00b", "a%20b"])
def test_odd_ids_in_the_path_are_refused(harness: Harness, team: dict[str, User], path: str) -> None:
    before = stored(harness)
    for method, suffix in (("PUT", ""), ("DELETE", ""), ("POST", "/accept")):
        r = team["olive"].req(method, f"{S}/{path}{suffix}", {"version": [], "text": "x"} if method == "PUT" else None)
        assert r.status_code in (400, 404, 405), (method, path, r.status_code, r.text)
        assert r.status_code != 500
    unchanged(harness, before)


def test_a_commenter_cannot_reject_or_accept_anothers_suggestion(harness: Harness, team: dict[str, User]) -> None:
    doc = server_doc(team["eddie"])
    ops = make_suggestion(doc, doc.version, "hello there", "sugg:eds")
    assert team["eddie"].req("POST", S, body_of(ops, "eds")).status_code == 201
    before = stored(harness)
    for who in ("cora", "vic", "stranger"):
        assert team[who].req("DELETE", f"{S}/eds").status_code == 403
        assert team[who].req("POST", f"{S}/eds/accept").status_code == 403
    unchanged(harness, before)


def test_a_suggestion_is_not_reached_through_another_documents_path(harness: Harness, team: dict[str, User]) -> None:
    doc = server_doc(team["cora"])
    ops = make_suggestion(doc, doc.version, "hello there", "sugg:here")
    assert team["cora"].req("POST", S, body_of(ops, "here")).status_code == 201
    before = stored(harness)
    other = "/api/docs/other/suggestions"
    assert team["olive"].req("POST", f"{other}/here/accept").status_code == 404
    assert team["olive"].req("DELETE", f"{other}/here").status_code == 404
    assert team["cora"].req("PUT", f"{other}/here", body_of(ops)).status_code == 404
    assert team["olive"].req("GET", other).json()["suggestions"] == []
    unchanged(harness, before)


def _guest(h: Harness, owner: User, role: str) -> tuple[dict[str, str], str]:
    key = owner.req("PUT", f"/api/docs/{DOC}/link", {"role": role}).json()["key"]
    h.http.cookies.clear()
    r = h.http.post("/api/session", json={"name": "Visitor", "doc": DOC, "share": key})
    assert r.status_code == 200, r.text
    return {"authorization": f"Bearer {r.json()['token']}"}, key


def test_a_viewer_link_guest_cannot_suggest(harness: Harness, team: dict[str, User]) -> None:
    auth, key = _guest(harness, team["olive"], "viewer")
    before = stored(harness)
    doc = server_doc(team["olive"])
    v = [[a, s] for a, s in doc.version]
    r = harness.http.post(f"{S}?share={key}", json={"version": v, "text": "hello guest"}, headers=auth)
    assert r.status_code == 403, r.text
    assert harness.http.get(f"{S}?share={key}", headers=auth).status_code == 200
    unchanged(harness, before)


def test_a_commenter_link_guest_suggests_only_while_the_link_holds_and_never_decides(harness: Harness, team: dict[str, User]) -> None:
    auth, key = _guest(harness, team["olive"], "commenter")
    doc = server_doc(team["olive"])
    v = [[a, s] for a, s in doc.version]
    r = harness.http.post(f"{S}?share={key}", json={"version": v, "text": "hello guest"}, headers=auth)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    # without the key the guest's token opens nothing; it cannot decide with it either
    assert harness.http.post(S, json={"version": v, "text": "hello again"}, headers=auth).status_code == 403
    assert harness.http.post(f"{S}/{sid}/accept?share={key}", headers=auth).status_code == 403
    before = stored(harness)
    assert team["olive"].req("PUT", f"/api/docs/{DOC}/link", {"role": None}).status_code == 200
    r = harness.http.post(f"{S}?share={key}", json={"version": v, "text": "hello late"}, headers=auth)
    assert r.status_code == 403, r.text
    assert harness.http.delete(f"{S}/{sid}?share={key}", headers=auth).status_code == 403
    assert harness.http.get(f"{S}?share={key}", headers=auth).status_code == 403
    unchanged(harness, before)


def test_the_suggestions_notice_reaches_only_the_documents_sockets(harness: Harness, team: dict[str, User]) -> None:
    """A socket on ``other`` (cora may open it) hears nothing of a change to DOC's suggestions."""
    with team["cora"].ws("other") as ws_other, team["vic"].ws(DOC) as ws_doc:
        join(ws_other, "other", "cora-1")
        join(ws_doc, DOC, "vic-1")
        doc = server_doc(team["cora"])
        ops = make_suggestion(doc, doc.version, "hello there", "sugg:live")
        assert team["cora"].req("POST", S, body_of(ops, "live")).status_code == 201
        heard = None
        while heard is None:
            message = receive_within(ws_doc)
            got = decode_frame(message["bytes"])
            if isinstance(got, Suggestions):
                heard = got
        # the other document's socket: nothing of the suggestions (a ping round trip first)
        frames: list[object] = []
        try:
            while True:
                frames.append(decode_frame(receive_within(ws_other, 0.5)["bytes"]))
        except TimeoutError:
            pass
        assert not any(isinstance(f, Suggestions) for f in frames), frames


def test_a_document_made_again_under_the_same_id_inherits_nothing(harness: Harness, team: dict[str, User]) -> None:
    """Suggestions, comments, version labels and the title of a deleted document are gone
    with it: whoever makes a document of the same id next reads none of them."""
    olive = team["olive"]
    doc = server_doc(team["cora"])
    ops = make_suggestion(doc, doc.version, "hello secret plan", "sugg:old")
    assert team["cora"].req("POST", S, body_of(ops, "old")).status_code == 201
    assert olive.req("PUT", f"/api/docs/{DOC}/title", {"title": "Secret title"}).status_code == 200
    assert olive.req("POST", f"/api/docs/{DOC}/versions", {"name": "secret label"}).status_code == 201
    assert olive.req("DELETE", f"/api/docs/{DOC}").status_code in (200, 204)
    stranger = team["stranger"]
    stranger.create(DOC)
    listing = stranger.req("GET", S)
    assert listing.status_code == 200 and listing.json()["suggestions"] == [], listing.text
    assert stored(harness) == []
    assert stranger.req("GET", f"/api/docs/{DOC}/title").json()["title"] == ""
    versions = stranger.req("GET", f"/api/docs/{DOC}/versions")
    assert "secret label" not in versions.text, versions.text
    comments = stranger.req("GET", f"/api/docs/{DOC}/comments")
    assert comments.status_code == 200 and "secret" not in comments.text
    # nor does an old socket-era agent owner carry over: the old suggestion cannot be accepted
    assert stranger.req("POST", f"{S}/old/accept").status_code == 404


def _scattered(doc: Document, agent: str, n: int) -> list[Op]:
    """``n`` one-character insertions, each in another place: ``n`` ops of ``agent``."""
    scratch = Document(agent)
    scratch.add_ops(doc.ops_since(()))
    i = 0
    while len(ops := scratch.ops_since(doc.version)) < n:  # (an insertion beside the last one extends its op)
        for _ in range(n - len(ops)):
            i += 1
            scratch.insert((i * 7919) % (len(scratch.text) + 1), "z")
    return ops


def test_a_suggestion_of_too_many_scattered_ops_is_refused_before_it_is_merged(harness: Harness, team: dict[str, User]) -> None:
    """Laying a suggestion out inline costs the square of its ops: a small patch of many
    one-character ops must not buy minutes of a worker thread at every listing."""
    from cowrite.server.suggestions import MAX_SUGGESTION_OPS

    cora = team["cora"]
    doc = server_doc(cora)
    before = stored(harness)
    many = _scattered(doc, "sugg:many", MAX_SUGGESTION_OPS + 1)
    assert len(encode_patch(many)) < harness.server.limits.max_request_bytes
    r = cora.req("POST", S, body_of(many, "many"))
    assert r.status_code == 413 and r.json()["error"] == "too_large", r.text
    unchanged(harness, before)
    # a suggestion of many places, but within the bound, is taken
    some = _scattered(doc, "sugg:some", 200)
    r = cora.req("POST", S, body_of(some, "some"))
    assert r.status_code == 201, r.text


def test_parallel_creates_do_not_pass_the_bound_on_open_suggestions(harness: Harness, team: dict[str, User], monkeypatch: pytest.MonkeyPatch) -> None:
    """Each listing lays out every open suggestion: many created at once must not get
    past the bound by all counting the rows before any is stored."""
    from concurrent.futures import ThreadPoolExecutor

    import cowrite.server.suggestions as module

    monkeypatch.setattr(module, "MAX_OPEN_SUGGESTIONS", 5)
    cora = team["cora"]
    doc = server_doc(cora)
    bodies = [body_of(make_suggestion(doc, doc.version, f"hello world {i}", f"sugg:p{i}"), f"p{i}") for i in range(30)]
    headers = cora.headers()

    def post(body: dict[str, str]) -> int:
        return int(harness.http.post(S, json=body, headers=headers).status_code)

    harness.http.cookies.clear()
    with ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(post, bodies))
    assert set(codes) <= {201, 409}, codes
    assert len(stored(harness)) <= 5, (len(stored(harness)), codes)
