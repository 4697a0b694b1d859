"""Limits attacked on every JSON route of the writer: body size, JSON depth, ids.

Each route that reads a body (comments, suggestions, titles, versions, restore, import,
members, links, tokens, sign-in) answers a body over ``max_request_bytes`` with ``413``
and a deeply nested one with ``400``, and stores nothing; huge and traversing document
ids are ``400``/``404`` on the API, the pages and the WebSocket, never a file read or a 500.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conftest import Harness
from cowrite.server import Limits
from test_doc_access import User, text_of

CAP = 4096

ROUTES = [
    ("POST", "/api/docs/d/comments"),
    ("PATCH", "/api/docs/d/comments/c1"),
    ("POST", "/api/docs/d/suggestions"),
    ("PUT", "/api/docs/d/suggestions/s1"),
    ("PUT", "/api/docs/d/title"),
    ("POST", "/api/docs/d/versions"),
    ("POST", "/api/docs/d/restore"),
    ("POST", "/api/docs/d/edit"),
    ("POST", "/api/docs/d/import"),
    ("POST", "/api/docs/d/members"),
    ("PATCH", "/api/docs/d/members/bob"),
    ("PUT", "/api/docs/d/link"),
    ("POST", "/api/docs/d/invites"),
    ("POST", "/api/docs/d/transfer"),
    ("POST", "/api/docs"),
    ("POST", "/api/tokens"),
    ("POST", "/api/auth/password"),
    ("POST", "/api/auth/signin"),
    ("POST", "/api/auth/signup"),
    ("POST", "/api/session"),
    ("POST", "/api/invites/redeem"),
]


@pytest.fixture
def small(make_harness: Callable[..., Harness]) -> tuple[Harness, User]:
    h = make_harness(limits=Limits(max_request_bytes=CAP))
    ada = User(h, "ada")
    ada.create("d")
    assert ada.req("POST", "/api/docs/d/edit", {"pos": 0, "insert": "kept"}).status_code == 200
    return h, ada


def _state(h: Harness) -> tuple[object, ...]:
    store = h.store
    return (
        text_of(h, "d"),
        store.comments("d"),  # type: ignore[attr-defined]
        store.suggestions("d"),  # type: ignore[attr-defined]
        store.info("d").title,  # type: ignore[attr-defined]
        sorted(d.id for d in store.documents()),  # type: ignore[attr-defined]
    )


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_a_body_over_the_cap_is_413_on_every_route(small: tuple[Harness, User], method: str, path: str) -> None:
    h, ada = small
    before = _state(h)
    body = '{"body": "' + "x" * (CAP + 10) + '", "title": "t", "text": "t"}'
    h.http.cookies.clear()
    r = h.http.request(method, path, content=body, headers={**ada.headers(), "content-type": "application/json"})
    assert r.status_code == 413, (path, r.status_code, r.text)
    assert _state(h) == before


@pytest.mark.parametrize(("method", "path"), [r for r in ROUTES if not r[1].endswith("/import")])
def test_deep_json_is_400_on_every_route(small: tuple[Harness, User], method: str, path: str) -> None:
    h, ada = small
    before = _state(h)
    body = '{"body": ' + "[" * 1000 + "]" * 1000 + "}"
    h.http.cookies.clear()
    r = h.http.request(method, path, content=body, headers={**ada.headers(), "content-type": "application/json"})
    assert r.status_code in (400, 403, 404), (path, r.status_code, r.text)
    assert r.status_code != 500
    assert _state(h) == before


BAD_IDS = ["x" * 5000, "%2e%2e%2fetc", "a%2Fb", "..%5c..%5cwindows", "%00", "a%00b", "%E2%80%AE", "d%20"]


@pytest.mark.parametrize("doc", BAD_IDS)
def test_huge_and_traversing_ids_are_refused_everywhere(small: tuple[Harness, User], doc: str) -> None:
    h, ada = small
    before = _state(h)
    for method, suffix in (("GET", ""), ("GET", "/text"), ("GET", "/suggestions"), ("GET", "/comments"), ("GET", "/title"),
                           ("GET", "/export"), ("PUT", "/title"), ("POST", "/import?mode=new")):
        r = ada.req(method, f"/api/docs/{doc}{suffix}", {"title": "t"} if method == "PUT" else None)
        assert r.status_code in (400, 403, 404, 405), (doc, suffix, r.status_code, r.text)
        assert "root:" not in r.text
    r = ada.req("POST", "/api/docs", {"id": doc})
    assert r.status_code in (400, 413), r.text
    page = h.http.get(f"/d/{doc}")
    assert page.status_code in (200, 404) and "root:" not in page.text
    assert _state(h)[:4] == before[:4]
