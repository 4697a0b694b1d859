"""Titles and pages attacked: what ``/api/shared`` tells, and what the pages let run.

``/api/shared`` carries titles now: a document someone was removed from, one deleted and
made again under the same id by another user, and other users' documents must not show
there; tokens (personal, link guest) do not reach it.  Every HTML page and the app bundle
carry the security headers (CSP without inline script, no framing, nosniff), whatever
Host header an attacker sends; the HTML export's sanitiser drops every way of running
code (nh3, checked here by parsing its output).
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from conftest import Harness
from cowrite.server.transfer import render_markdown
from test_doc_access import User

EVIL_TITLE = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'


def shared_of(user: User) -> list[dict[str, str]]:
    r = user.req("GET", "/api/shared")
    assert r.status_code == 200, r.text
    docs: list[dict[str, str]] = r.json()["documents"]
    return docs


def test_a_removed_member_no_longer_sees_the_title(harness: Harness) -> None:
    ada, bob = User(harness, "ada"), User(harness, "bob")
    ada.create("plan")
    assert ada.req("PUT", "/api/docs/plan/title", {"title": "Layoffs in March"}).status_code == 200
    assert ada.req("POST", "/api/docs/plan/members", {"user": "bob", "role": "viewer"}).status_code == 201
    assert [d["title"] for d in shared_of(bob)] == ["Layoffs in March"]
    assert ada.req("DELETE", "/api/docs/plan/members/bob").status_code in (200, 204)
    assert shared_of(bob) == []
    assert bob.req("GET", "/api/docs/plan/title").status_code == 403


def test_a_document_made_again_under_the_same_id_shows_nothing_to_the_old_members(harness: Harness) -> None:
    ada, bob, carol = User(harness, "ada"), User(harness, "bob"), User(harness, "carol")
    ada.create("plan")
    assert ada.req("POST", "/api/docs/plan/members", {"user": "bob", "role": "editor"}).status_code == 201
    assert ada.req("DELETE", "/api/docs/plan").status_code in (200, 204)
    carol.create("plan")
    assert carol.req("PUT", "/api/docs/plan/title", {"title": "Carol's secret"}).status_code == 200
    assert "Carol's secret" not in str(shared_of(bob))
    assert bob.req("GET", "/api/docs/plan/title").status_code == 403
    # nor anyone else's documents: only what is shared with the caller
    assert shared_of(ada) == [] and shared_of(carol) == []


def test_tokens_do_not_reach_the_shared_list(harness: Harness) -> None:
    ada, bob = User(harness, "ada"), User(harness, "bob")
    ada.create("plan")
    assert ada.req("PUT", "/api/docs/plan/title", {"title": "Layoffs in March"}).status_code == 200
    assert ada.req("POST", "/api/docs/plan/members", {"user": "bob", "role": "viewer"}).status_code == 201
    secret = bob.req("POST", "/api/tokens", {"label": "ci", "role": "viewer"}).json()["secret"]
    harness.http.cookies.clear()
    for auth in (f"Bearer {secret}", f"Bearer {harness.token(user='bob')}"):
        r = harness.http.get("/api/shared", headers={"authorization": auth})
        assert r.status_code in (401, 403) and "Layoffs" not in r.text, r.text


def test_a_hostile_title_is_json_text_and_bounded(harness: Harness) -> None:
    ada, bob = User(harness, "ada"), User(harness, "bob")
    ada.create("plan")
    assert ada.req("PUT", "/api/docs/plan/title", {"title": EVIL_TITLE}).status_code == 200
    assert ada.req("POST", "/api/docs/plan/members", {"user": "bob", "role": "viewer"}).status_code == 201
    r = bob.req("GET", "/api/shared")
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["documents"][0]["title"] == EVIL_TITLE
    assert ada.req("PUT", "/api/docs/plan/title", {"title": "x" * 100_000}).status_code in (400, 413)
    assert ada.req("PUT", "/api/docs/plan/title", {"title": ["x"]}).status_code == 400


PAGES = ["/", "/account", "/admin", "/d/notes", "/d/notes/history", "/d/a%2Fb", "/d/..%2Fetc", "/d/%2e%2e", "/static/index.html", "/static/editor.html", "/static/history.html"]


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("host", ["testserver", "evil.example'; script-src *", "a b", "x" * 300])
def test_every_page_forbids_inline_script_framing_and_sniffing(harness: Harness, path: str, host: str) -> None:
    r = harness.http.get(path, headers={"host": host})
    csp = r.headers.get("content-security-policy", "")
    assert r.headers["content-type"].startswith("text/html"), (path, r.status_code)
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";")[0], csp
    assert "unsafe-eval" not in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp, csp
    assert "*" not in csp and "evil" not in csp, csp
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("path", ["/static/app.js", "/static/app.css", "/sw.js"])
def test_the_bundle_is_not_sniffed_as_something_else(harness: Harness, path: str) -> None:
    r = harness.http.get(path)
    assert r.status_code == 200
    assert r.headers["x-content-type-options"] == "nosniff"
    assert not r.headers["content-type"].startswith("text/html")


def test_the_html_export_is_a_download_with_a_csp(harness: Harness) -> None:
    harness.create("notes")
    r = harness.http.post("/api/docs/notes/edit", json={"pos": 0, "insert": "<script>window.pwned=1</script>hi"}, headers=harness.auth())
    assert r.status_code == 200
    r = harness.http.get("/api/docs/notes/export?format=html", headers=harness.auth())
    assert r.status_code == 200 and r.headers["content-disposition"].startswith("attachment")
    assert "<script" not in r.text and "window.pwned" not in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]


HOSTILE_MARKDOWN = [
    "<svg onload=alert(1)><circle r=5></svg>",
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](java\tscript:alert(1))",
    '<a href="&#x6A;&#x61;vascript:alert(1)">x</a>',
    '<a href=" javascript:alert(1)">x</a>',
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<img src="data:text/html,<script>alert(1)</script>">',
    "![x](javascript:alert(1))",
    '<img src=x onerror="alert(1)">',
    "<iframe srcdoc='<script>alert(1)</script>'></iframe>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table></mtext></math>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></noscript>",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    '<form action="javascript:alert(1)"><button>go</button></form>',
    '<object data="javascript:alert(1)"></object><embed src="javascript:alert(1)">',
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<details open ontoggle=alert(1)>',
    "<a href='vbscript:msgbox(1)'>x</a>",
    "<<script>script>alert(1)<</script>/script>",
    "<link rel=stylesheet href=javascript:alert(1)>",
    '<a href="https://ok.example" target="_blank">ok</a>',
]


class _Found(HTMLParser):
    BAD_TAGS = frozenset({"script", "svg", "math", "iframe", "object", "embed", "form", "button", "meta", "base", "link", "style", "noscript", "input", "animate"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.bad: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BAD_TAGS:
            self.bad.append(tag)
        for name, value in attrs:
            v = "".join((value or "").split()).lower()
            if name.startswith("on") or name in ("style", "srcdoc", "formaction"):
                self.bad.append(f"{tag}[{name}]")
            if name in ("href", "src", "action", "data") and v.startswith(("javascript:", "vbscript:", "data:")):
                self.bad.append(f"{tag}[{name}={value}]")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)


@pytest.mark.parametrize("hostile", HOSTILE_MARKDOWN)
def test_the_sanitised_markdown_holds_nothing_that_runs(hostile: str) -> None:
    out = render_markdown(f"before\n\n{hostile}\n\nafter")
    found = _Found()
    found.feed(out)
    assert found.bad == [], (hostile, out)
    assert "before" in out and "after" in out


def test_a_safe_link_keeps_working_and_cannot_reach_its_opener() -> None:
    out = render_markdown('<a href="https://ok.example" target="_blank">ok</a>')
    assert 'href="https://ok.example"' in out and "noopener" in out
