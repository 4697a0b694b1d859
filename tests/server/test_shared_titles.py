"""``GET /api/shared`` names each document by its title, as ``GET /api/docs`` does."""

from __future__ import annotations

from conftest import Harness
from test_doc_access import User


def test_shared_documents_carry_their_titles(harness: Harness) -> None:
    ada, bob = User(harness, "ada"), User(harness, "bob")
    for doc in ("plan", "notes", "mine"):
        ada.create(doc)
    assert ada.req("PUT", "/api/docs/plan/title", {"title": "Quarterly plan"}).status_code == 200
    for doc, role in (("plan", "editor"), ("notes", "viewer")):
        assert ada.req("POST", f"/api/docs/{doc}/members", {"user": "bob", "role": role}).status_code == 201
    bob.create("own")
    assert bob.req("PUT", "/api/docs/own/title", {"title": "Bob's own"}).status_code == 200

    shared = bob.req("GET", "/api/shared").json()["documents"]
    assert sorted((d["id"], d["role"], d["title"]) for d in shared) == [
        ("notes", "viewer", ""),
        ("plan", "editor", "Quarterly plan"),
    ]
    # The same title the owner's own list shows; a new title shows at once.
    own = {d["id"]: d["title"] for d in ada.req("GET", "/api/docs").json()["documents"]}
    assert own["plan"] == "Quarterly plan"
    assert ada.req("PUT", "/api/docs/notes/title", {"title": "Meeting notes"}).status_code == 200
    titles = {d["id"]: d["title"] for d in bob.req("GET", "/api/shared").json()["documents"]}
    assert titles == {"plan": "Quarterly plan", "notes": "Meeting notes"}
    # Nothing shared with ada: her own documents are not "shared".
    assert ada.req("GET", "/api/shared").json() == {"documents": []}


def test_many_shared_documents_carry_their_titles_too(harness: Harness) -> None:
    """Past a few dozen documents the titles come from one read of the document list."""
    ada, bob = User(harness, "ada"), User(harness, "bob")
    for i in range(70):
        doc = f"d{i:02d}"
        ada.create(doc)
        if i % 3 == 0:
            assert ada.req("PUT", f"/api/docs/{doc}/title", {"title": f"Title {i}"}).status_code == 200
        assert ada.req("POST", f"/api/docs/{doc}/members", {"user": "bob", "role": "viewer"}).status_code == 201
    shared = bob.req("GET", "/api/shared").json()["documents"]
    assert len(shared) == 70
    assert {d["id"]: d["title"] for d in shared} == {f"d{i:02d}": (f"Title {i}" if i % 3 == 0 else "") for i in range(70)}
