"""Server bugs found while writing the client, pinned on the live server."""

from __future__ import annotations

import asyncio

import httpx

from .harness import ServerProcess, run, token


def test_concurrent_http_edits_of_one_user_are_all_applied(shared_server: ServerProcess) -> None:
    """POST /api/docs/{id}/edit twenty times at once with one token: every 200 is an edit
    that is in the document (they used to take the same seq and all but one vanished)."""
    srv, doc_id = shared_server, "http-burst"
    srv.create_doc(doc_id)
    headers = {"Authorization": f"Bearer {token('bot', doc=doc_id)}"}

    async def main() -> None:
        async with httpx.AsyncClient(timeout=20, trust_env=False) as c:
            url = f"{srv.http}/api/docs/{doc_id}/edit"
            replies = await asyncio.gather(*(c.post(url, json={"pos": 0, "insert": f"<{i}>"}, headers=headers) for i in range(20)))
            assert [r.status_code for r in replies] == [200] * 20
        text = await srv.atext(doc_id)
        assert sorted(text.replace("><", ">\n<").split("\n")) == sorted(f"<{i}>" for i in range(20))

    run(main())
