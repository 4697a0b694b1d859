"""The bound on a document's comments holds against many sent at once.

Each add counts the document's comments and then stores one; without a lock around
the two, adds arriving together all count the rows before any is stored and all pass
(as parallel suggestions once did).  Here threads and replies are fired together at a
document with room for a few: exactly that many are stored, the rest refused."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from conftest import Harness
from test_comments import C, anchor_over, start_thread, stored, team  # noqa: F401  (team: a fixture)
from test_doc_access import User


def test_parallel_adds_do_not_pass_the_bound_on_comments(harness: Harness, team: dict[str, User], monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    import cowrite.server.comments as module

    cora = team["cora"]
    thread = start_thread(cora)
    monkeypatch.setattr(module, "MAX_COMMENTS_PER_DOC", 6)  # the thread above, and room for five more
    anchor = anchor_over(cora, 0, 5)
    bodies: list[dict[str, Any]] = []
    for i in range(30):
        bodies.append({"body": f"reply {i}", "thread": thread["id"]} if i % 2 else {"body": f"thread {i}", "anchor": anchor})
    headers = cora.headers()

    def post(body: dict[str, Any]) -> int:
        return int(harness.http.post(C, json=body, headers=headers).status_code)

    harness.http.cookies.clear()
    with ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(post, bodies))
    assert set(codes) <= {201, 413}, codes
    assert codes.count(201) == 5, codes
    assert len(stored(harness)) == 6, (len(stored(harness)), codes)
    # and the bound is still a bound for the next one alone
    assert cora.req("POST", C, {"body": "one more", "thread": thread["id"]}).status_code == 413
