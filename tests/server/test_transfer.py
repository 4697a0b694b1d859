"""Export (txt, md, html) and import (replace, append, new) over HTTP (issue 15, item 6).

Who may do what (a viewer exports but does not import; a new document needs the
rights of ``POST /api/docs``), what the html export lets through (nothing that runs),
and that every refused import changes nothing.  In-process, over a real SQLite store.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest

from conftest import Harness
from cowrite.server import Limits
from cowrite.engine.textdiff import replace_span
from cowrite.server.transfer import render_markdown

PASSWORD = "correct horse battery"
ORIGIN = "http://testserver"

HOSTILE_MD = """# Notes

<script>window.pwned = 1</script>
<img src="x" onerror="window.pwned = 2">
<a href="javascript:window.pwned=3">click</a>
[md link](javascript:window.pwned=4)
[data link](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)
<iframe src="https://example.com"></iframe>
<div onclick="window.pwned=5" style="background:url(javascript:x)">div</div>
<svg><script>window.pwned=6</script></svg>
<form action="https://evil.example"><input name="p"></form>

Fine **bold** and [a real link](https://example.com/page).
"""


def text_of(h: Harness, doc: str) -> str:
    return h.store.load(doc).text  # type: ignore[attr-defined, no-any-return]


def seed(h: Harness, doc: str, text: str) -> None:
    h.create(doc)
    if text:
        r = h.http.post(f"/api/docs/{doc}/edit", json={"pos": 0, "insert": text}, headers=h.auth())
        assert r.status_code == 200, r.text


def put(h: Harness, doc_id: str, body: bytes, mode: str | None = None, **auth: Any) -> Any:
    q = "" if mode is None else f"?mode={mode}"
    return h.http.post(f"/api/docs/{doc_id}/import{q}", content=body, headers={**h.auth(**auth), "content-type": "text/markdown"})


# -- export ------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "ctype"), [("txt", "text/plain"), ("md", "text/markdown"), ("html", "text/html")])
def test_export_is_a_download_named_after_the_document(harness: Harness, fmt: str, ctype: str) -> None:
    seed(harness, "notes", "# Title\n\nSome *text* with ünïcode 🦊.\n")
    r = harness.http.get(f"/api/docs/notes/export?format={fmt}", headers=harness.auth(doc="notes", role="viewer"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(ctype)
    assert "charset=utf-8" in r.headers["content-type"]
    assert r.headers["content-disposition"] == f'attachment; filename="notes.{fmt}"'
    if fmt == "html":
        assert r.text.startswith("<!doctype html>")
        assert "<h1>Title</h1>" in r.text and "<em>text</em>" in r.text and "🦊" in r.text
        assert "<title>notes</title>" in r.text
        assert "script-src" not in r.text and "default-src 'none'" in r.text  # the page runs no script
    else:
        assert r.text == "# Title\n\nSome *text* with ünïcode 🦊.\n"


def test_export_defaults_to_text_and_refuses_unknown_formats(harness: Harness) -> None:
    seed(harness, "notes", "plain")
    r = harness.http.get("/api/docs/notes/export", headers=harness.auth())
    assert r.status_code == 200 and r.text == "plain"
    r = harness.http.get("/api/docs/notes/export?format=pdf", headers=harness.auth())
    assert r.status_code == 400 and r.json()["error"] == "bad_request"


def test_export_needs_access(harness: Harness) -> None:
    seed(harness, "notes", "secret")
    r = harness.http.get("/api/docs/notes/export?format=md", headers=harness.auth(doc="other", role="owner"))
    assert r.status_code == 403
    assert "secret" not in r.text
    assert harness.http.get("/api/docs/notes/export?format=md").status_code == 401


class _Tags(HTMLParser):
    """Every tag and attribute of a page, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [(k, v or "") for k, v in attrs]


def dangers(page: str) -> list[str]:
    """What in ``page`` could run or navigate to code: script-ish tags, handlers,
    style attributes, links and sources to ``javascript:``/``vbscript:``/``data:``."""
    p = _Tags()
    p.feed(page)
    found = [t for t in p.tags if t in ("script", "iframe", "object", "embed", "form", "svg", "math", "meta", "base", "link")]
    for k, v in p.attrs:
        scheme = "".join(v.split()).lower()
        if k.startswith("on") or k in ("style", "srcdoc", "formaction", "xlink:href"):
            found.append(f"{k}={v}")
        elif k in ("href", "src", "action") and scheme.startswith(("javascript:", "vbscript:", "data:")):
            found.append(f"{k}={v}")
    return found


def test_html_export_strips_everything_that_could_run(harness: Harness) -> None:
    seed(harness, "evil", HOSTILE_MD)
    page = harness.http.get("/api/docs/evil/export?format=html", headers=harness.auth()).text
    body = page[page.index("<body>") :]  # the page's own head has a meta (its CSP) and a style
    assert dangers(body) == [], page
    assert "window.pwned = 1" not in page  # a script's content goes with it
    assert '<a href="https://example.com/page" rel="noopener noreferrer">a real link</a>' in page
    assert "<strong>bold</strong>" in page


@pytest.mark.parametrize(
    "hostile",
    [
        "<img src=x onerror=alert(1)>",
        "<a href='JaVaScRiPt:alert(1)'>x</a>",
        "<a href='&#106;avascript:alert(1)'>x</a>",
        "[x](  javascript:alert(1) )",
        "<scr<script>ipt>alert(1)</script>",
        "<iframe srcdoc='<script>alert(1)</script>'></iframe>",
        "<object data='x.swf'></object><embed src='x'>",
        "<math><mi xlink:href='javascript:alert(1)'>x</mi></math>",
        "<a href='vbscript:msgbox(1)'>x</a>",
        "<meta http-equiv='refresh' content='0;url=javascript:alert(1)'>",
    ],
)
def test_render_markdown_never_lets_script_through(hostile: str) -> None:
    out = render_markdown(hostile)
    assert dangers(out) == [], (hostile, out)
    assert "<script" not in out.lower(), out


# -- import into an existing document -------------------------------------------------


def test_import_replaces_only_what_differs(harness: Harness) -> None:
    seed(harness, "notes", "keep this line\nold middle\nkeep the end\n")
    r = put(harness, "notes", b"keep this line\nnew middle!\nkeep the end\n")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["mode"] == "replace" and body["length"] == len("keep this line\nnew middle!\nkeep the end\n")
    # one span between the common start and end: "old middle" -> "new middle!"
    assert (body["deleted"], body["inserted"]) == (10, 11)
    assert text_of(harness, "notes") == "keep this line\nnew middle!\nkeep the end\n"
    # the kept text is still the seeder's: blame shows the import only where it changed
    runs = harness.http.get("/api/docs/notes/blame", headers=harness.auth()).json()["runs"]
    assert runs[0]["start"] == 0 and runs[0]["end"] >= len("keep this line\n")


def test_replace_span_keeps_common_start_and_end() -> None:
    assert replace_span("abcXdef", "abcYYdef") == (3, 1, "YY")
    assert replace_span("same", "same") == (4, 0, "")
    assert replace_span("", "new") == (0, 0, "new")
    assert replace_span("old", "") == (0, 3, "")
    assert replace_span("aaaa", "aa") == (2, 2, "")  # overlapping start and end never double-count
    assert replace_span("🦊a🦊", "🦊b🦊") == (1, 1, "b")


def test_import_the_same_text_changes_nothing(harness: Harness) -> None:
    seed(harness, "notes", "unchanged\n")
    before = harness.http.get("/api/docs/notes", headers=harness.auth()).json()["version"]
    r = put(harness, "notes", b"unchanged\r\n")  # CRLF is the same text once line endings are made \n
    assert r.status_code == 200 and (r.json()["deleted"], r.json()["inserted"]) == (0, 0)
    assert r.json()["version"] == before


def test_import_append_adds_a_line_at_the_end(harness: Harness) -> None:
    seed(harness, "notes", "first line")
    r = put(harness, "notes", "\ufeffsecond 🦊\r\nthird\r".encode(), mode="append")
    assert r.status_code == 200, r.text
    assert text_of(harness, "notes") == "first line\nsecond 🦊\nthird\n"


def test_an_import_reaches_everyone_connected(harness: Harness) -> None:
    """An import is ops through the room: a connected client gets them as REMOTE_OPS."""
    from cowrite.engine import Document
    from cowrite.protocol import Welcome, decode_frame
    from cowrite.protocol.client import ClientSession

    seed(harness, "live", "hello\n")
    with harness.http.websocket_connect("/ws/live", headers=harness.auth(user="watcher")) as ws:
        doc = Document("watcher-tab")
        s = ClientSession(doc, "live", user="watcher")
        for f in s.data_to_send():
            ws.send_bytes(f)
        first = ws.receive_bytes()
        assert isinstance(decode_frame(first), Welcome)
        s.receive(first)
        assert put(harness, "live", b"hello\nworld\n").status_code == 200
        while doc.text != "hello\nworld\n":
            s.receive(ws.receive_bytes())
    assert text_of(harness, "live") == "hello\nworld\n"


# -- refusals: nothing changes ---------------------------------------------------------


def test_a_viewer_or_commenter_may_export_but_not_import(harness: Harness) -> None:
    seed(harness, "notes", "as it was")
    r = put(harness, "notes", b"overwritten", doc="notes", role="viewer")
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    r = harness.http.get("/api/docs/notes/export?format=txt", headers=harness.auth(doc="notes", role="viewer"))
    assert r.status_code == 200 and r.text == "as it was"
    # a commenter (accounts only): a member with that role
    harness.accounts.sign_up("cora", PASSWORD, "Cora", mode="open")
    harness.accounts.sign_up("olga", PASSWORD, "Olga", mode="open")
    harness.give("notes", "olga")
    harness.give("notes", "cora", "commenter")
    sid, info = harness.accounts.sign_in("cora", PASSWORD, "10.0.0.1")
    cookie = {"cookie": f"cowrite_session={sid}", "origin": ORIGIN, "x-csrf-token": info.csrf_token}
    harness.http.cookies.clear()
    r = harness.http.post("/api/docs/notes/import", content=b"overwritten", headers=cookie)
    assert r.status_code == 403, r.text
    harness.http.cookies.clear()
    r = harness.http.get("/api/docs/notes/export?format=md", headers=cookie)
    assert r.status_code == 200 and r.text == "as it was"
    assert text_of(harness, "notes") == "as it was"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"caf\xe9", "bad_encoding"),  # Latin-1, not UTF-8
        (b"\xff\xfeh\x00i\x00", "bad_encoding"),  # UTF-16
        (b"half a fox \xf0\x9f\xa6", "bad_encoding"),  # a truncated sequence
        (b"bin\x00ary", "bad_encoding"),
    ],
)
def test_a_file_that_is_not_utf8_text_is_refused(harness: Harness, body: bytes, code: str) -> None:
    seed(harness, "notes", "as it was")
    r = put(harness, "notes", body)
    assert r.status_code == 400 and r.json()["error"] == code, r.text
    assert text_of(harness, "notes") == "as it was"


def test_unknown_mode_is_refused(harness: Harness) -> None:
    seed(harness, "notes", "as it was")
    r = put(harness, "notes", b"x", mode="merge")
    assert r.status_code == 400
    assert text_of(harness, "notes") == "as it was"


def test_a_file_over_the_size_limit_is_refused(make_harness: Any) -> None:
    h = make_harness(limits=Limits(max_request_bytes=1024))
    seed(h, "notes", "as it was")
    r = put(h, "notes", b"x" * 1025)
    assert r.status_code == 413 and r.json()["error"] == "too_large"
    r = put(h, "notes", b"x" * 1024)
    assert r.status_code == 200
    assert text_of(h, "notes") == "x" * 1024


def test_import_into_a_document_that_does_not_exist_is_not_found(harness: Harness) -> None:
    r = put(harness, "nowhere", b"text")
    assert r.status_code == 404
    assert not harness.store.exists("nowhere")


# -- import as a new document ----------------------------------------------------------


def test_import_as_a_new_document(harness: Harness) -> None:
    r = put(harness, "imported", "# From a file\n\nwith 🦊\n".encode(), mode="new")
    assert r.status_code == 201, r.text
    assert r.json()["id"] == "imported"
    assert text_of(harness, "imported") == "# From a file\n\nwith 🦊\n"
    again = put(harness, "imported", b"second time", mode="new")
    assert again.status_code == 409 and again.json()["error"] == "exists"
    assert text_of(harness, "imported") == "# From a file\n\nwith 🦊\n"


def test_an_account_that_imports_a_new_document_owns_it(harness: Harness) -> None:
    harness.accounts.sign_up("ann", PASSWORD, "Ann", mode="open")
    sid, info = harness.accounts.sign_in("ann", PASSWORD, "10.0.0.1")
    harness.http.cookies.clear()
    r = harness.http.post(
        "/api/docs/anns/import?mode=new",
        content=b"mine",
        headers={"cookie": f"cowrite_session={sid}", "origin": ORIGIN, "x-csrf-token": info.csrf_token},
    )
    assert r.status_code == 201, r.text
    assert {m.user: m.role for m in harness.server.sharing.members("anns")} == {"ann": "owner"}
    # without the CSRF header the same request is refused, and nothing is made
    harness.http.cookies.clear()
    r = harness.http.post("/api/docs/other/import?mode=new", content=b"x", headers={"cookie": f"cowrite_session={sid}", "origin": ORIGIN})
    assert r.status_code == 403 and r.json()["error"] == "csrf"
    assert not harness.store.exists("other")


def test_a_new_document_needs_the_rights_to_create_one(harness: Harness) -> None:
    # a token for one document cannot create others; a viewer token for every one neither
    assert put(harness, "fresh", b"x", mode="new", doc="notes", role="owner").status_code == 403
    assert put(harness, "fresh", b"x", mode="new", role="viewer").status_code == 403
    assert not harness.store.exists("fresh")


def test_a_bad_file_as_a_new_document_creates_nothing(harness: Harness) -> None:
    r = put(harness, "fresh", b"\xc3\x28", mode="new")
    assert r.status_code == 400
    assert not harness.store.exists("fresh")


def test_a_bad_document_id_is_refused(harness: Harness) -> None:
    r = put(harness, "a%20b", b"x", mode="new")
    assert r.status_code in (400, 404)
    assert harness.store.documents() == []
