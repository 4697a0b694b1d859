"""The Python client's HTTP side (:class:`cowrite.client.DocumentApi`) against a live server:
every route of the writer's features, the refusals the server makes (as RequestError with
its code), and a restore while another client types."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import httpx
import pytest

from cowrite.client import ClientError, DocumentApi, RequestError
from cowrite.engine import InvalidOpError
from cowrite.engine.anchors import Anchor
from integration.harness import Proxy, ServerProcess, client, run, token, wait_until

PASSWORD = "correct horse battery"


def api(srv: ServerProcess, tok: str | None = None, **kw: Any) -> DocumentApi:
    """A DocumentApi on the server's WebSocket URL (as a Client is given), no proxy."""
    return DocumentApi(srv.url, tok or token("admin"), proxy=None, **kw)


class Account:
    """An account signed up on the live server, talking by its session cookie."""

    def __init__(self, srv: ServerProcess, prefix: str) -> None:
        self.srv = srv
        self.username = f"{prefix}{secrets.token_hex(3)}"
        r = httpx.post(
            f"{srv.http}/api/auth/signup",
            json={"username": self.username, "password": PASSWORD},
            headers={"origin": srv.http},
            timeout=30,
            trust_env=False,
        )
        assert r.status_code == 201, r.text
        self.headers = {
            "cookie": f"cowrite_session={r.cookies['cowrite_session']}",
            "origin": srv.http,
            "x-csrf-token": r.json()["csrf_token"],
        }

    def req(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return httpx.request(method, f"{self.srv.http}{path}", json=body, headers=self.headers, timeout=30, trust_env=False)

    def personal_token(self, role: str = "editor") -> str:
        r = self.req("POST", "/api/tokens", {"label": "script", "role": role})
        assert r.status_code == 201, r.text
        return str(r.json()["secret"])


async def typed(srv: ServerProcess, doc_id: str, text: str) -> Any:
    """A started client that typed ``text`` into ``doc_id`` and saw it acknowledged."""
    c = client(srv, doc_id, "writer")
    await c.start()
    c.insert(0, text)
    await c.synced(10)
    return c


def refused(exc: pytest.ExceptionInfo[RequestError], status: int, code: str) -> None:
    assert (exc.value.status, exc.value.code) == (status, code), (exc.value.status, exc.value.code, exc.value.message)
    assert exc.value.message


def test_documents_titles_and_files(live_server: ServerProcess) -> None:
    srv = live_server
    doc_id = "api-files"

    async def main() -> None:
        a = api(srv)
        info = await a.create_document(doc_id)
        assert (info.id, info.ops, info.title) == (doc_id, 0, "")
        with pytest.raises(RequestError) as exc:
            await a.create_document(doc_id)
        refused(exc, 409, "exists")

        assert await a.set_title(doc_id, "  Field notes  ") == "Field notes"  # trimmed by the server
        title = await a.get_title(doc_id)
        assert (title.id, title.title, title.role) == (doc_id, "Field notes", "owner")
        with pytest.raises(RequestError) as exc:
            await a.set_title(doc_id, "bad\u202etitle")
        refused(exc, 400, "bad_request")
        assert (await a.get_title(doc_id)).title == "Field notes"

        imported = await a.import_text(doc_id, "# Notes\r\n\r\nSome *text*.\r\n")
        assert (imported.mode, imported.inserted, imported.deleted) == ("replace", len("# Notes\n\nSome *text*.\n"), 0)
        assert await a.text(doc_id) == "# Notes\n\nSome *text*.\n" == await a.export(doc_id, "md")
        appended = await a.import_text(doc_id, "More.", mode="append")
        assert appended.length == len("# Notes\n\nSome *text*.\nMore.")
        assert await a.export(doc_id) == "# Notes\n\nSome *text*.\nMore."
        page = await a.export(doc_id, "html")
        assert "<h1>Notes</h1>" in page and "<em>text</em>" in page and "<script" not in page

        with pytest.raises(RequestError) as exc:
            await a.export(doc_id, "pdf")  # type: ignore[arg-type]
        refused(exc, 400, "bad_request")
        with pytest.raises(RequestError) as exc:
            await a.import_text(doc_id, b"\xff\xfe not utf-8")
        refused(exc, 400, "bad_encoding")
        assert await a.text(doc_id) == "# Notes\n\nSome *text*.\nMore."  # the refusal changed nothing

        fresh = await a.import_text("api-files-new", "made from a file", mode="new")
        assert (fresh.id, fresh.mode, fresh.length) == ("api-files-new", "new", len("made from a file"))
        assert await a.text("api-files-new") == "made from a file"
        with pytest.raises(RequestError) as exc:
            await a.import_text("api-files-new", "again", mode="new")
        refused(exc, 409, "exists")
        assert await a.text("api-files-new") == "made from a file"

    run(main())


def test_restore_named_versions_and_diff(live_server: ServerProcess) -> None:
    srv = live_server
    doc_id = "api-versions"
    srv.create_doc(doc_id)

    async def main() -> None:
        a = api(srv)
        c = await typed(srv, doc_id, "Hello world")
        first = await a.name_version(doc_id, "first draft")
        assert first.name == "first draft" and first.version == tuple(sorted(c.doc.version))
        assert first.created_by == "admin"
        c.replace(0, 5, "Goodbye")
        await c.synced(10)
        second = await a.name_version(doc_id, "second", c.doc.version)
        with pytest.raises(RequestError) as exc:
            await a.name_version(doc_id, "second")
        refused(exc, 409, "exists")
        assert sorted(v.name for v in await a.named_versions(doc_id)) == ["first draft", "second"]

        diff = await a.diff(doc_id, first.version, second.version)
        assert diff.old_text == "Hello world" and diff.new_text == "Goodbye world"
        assert {r.kind for r in diff.runs} == {"same", "insert", "delete"}
        assert "".join(r.text for r in diff.runs if r.kind == "same").endswith(" world")
        assert all(r.agent == c.agent for r in diff.runs if r.kind != "same")
        assert (await a.diff(doc_id)).new_text == "Goodbye world"  # from the empty document to now

        restored = await a.restore(doc_id, first.version)
        assert restored.edits >= 1 and restored.length == len("Hello world")
        assert await a.text(doc_id) == "Hello world"
        await wait_until(lambda: c.text == "Hello world", 10, "the client to receive the restore")
        assert await a.text(doc_id, second.version) == "Goodbye world"  # the past is still there
        again = await a.restore(doc_id, first.version)
        assert again.edits == 0 and again.version == restored.version  # nothing to change: no ops

        await a.delete_named_version(doc_id, "second")
        assert [v.name for v in await a.named_versions(doc_id)] == ["first draft"]
        with pytest.raises(RequestError) as exc:
            await a.delete_named_version(doc_id, "second")
        refused(exc, 404, "not_found")
        await c.close()

    run(main())


def test_unknown_and_malformed_versions_are_refused(live_server: ServerProcess) -> None:
    srv = live_server
    doc_id = "api-bad-versions"
    srv.create_doc(doc_id)

    async def main() -> None:
        a = api(srv)
        c = await typed(srv, doc_id, "stays")
        unknown = (("nobody", 7),)
        for call in (
            a.restore(doc_id, unknown),
            a.name_version(doc_id, "ghost", unknown),
            a.diff(doc_id, unknown),
            a.suggest(doc_id, unknown, "other"),
        ):
            with pytest.raises(RequestError) as exc:
                await call
            assert exc.value.status in (400, 404), exc.value.message
        with pytest.raises(RequestError) as exc:
            await a.restore(doc_id, unknown)
        refused(exc, 404, "not_found")
        with pytest.raises(RequestError) as exc:
            await a.restore(doc_id, (("", 1),))  # an empty agent: the server's bad_version
        refused(exc, 400, "bad_version")
        with pytest.raises(InvalidOpError):
            await a.restore(doc_id, "[['writer', 1]]")  # type: ignore[arg-type]
        with pytest.raises(InvalidOpError):
            await a.diff(doc_id, (("writer", "1"),))  # type: ignore[arg-type]
        with pytest.raises(RequestError) as exc:
            await a.name_version(doc_id, "   ")
        refused(exc, 400, "bad_request")
        assert await a.named_versions(doc_id) == []
        assert await a.text(doc_id) == "stays" == c.text
        with pytest.raises(RequestError) as exc:
            await a.get_title("no-such-document-here")
        assert exc.value.status in (403, 404)
        await c.close()

    run(main())


def test_comments_threads_replies_resolve_edit_delete(live_server: ServerProcess) -> None:
    srv = live_server
    doc_id = "api-comments"
    srv.create_doc(doc_id)

    async def main() -> None:
        ann = api(srv, token("ann", doc=doc_id, role="editor"))
        ben = api(srv, token("ben", doc=doc_id, role="editor"))
        c = await typed(srv, doc_id, "The quick brown fox")
        listed = await ann.comments(doc_id)
        assert listed.comments == () and listed.can_comment and listed.role == "editor"

        thread = await ann.add_comment(doc_id, Anchor.over(c.doc, 4, 9), "which quick?")
        assert thread.is_thread and thread.quote == "quick" and thread.range == (4, 9) and not thread.resolved
        assert thread.author == "ann" and thread.anchor == Anchor.over(c.doc, 4, 9)
        reply = await ben.reply(doc_id, thread.id, "the fast one")
        assert reply.thread == thread.id and not reply.is_thread and reply.author == "ben"

        c.insert(0, ">> ")  # the thread stays on its words
        await c.synced(10)
        listed = await ben.comments(doc_id)
        assert [x.id for x in listed.thread(thread.id)] == [thread.id, reply.id]
        assert listed.thread(thread.id)[0].range == (7, 12) and listed.revision >= 2

        edited = await ben.edit_comment(doc_id, reply.id, "the fastest one")
        assert edited.body == "the fastest one" and edited.edited_at is not None
        with pytest.raises(RequestError) as exc:
            await ann.edit_comment(doc_id, reply.id, "not yours")  # only its author edits a comment
        refused(exc, 403, "forbidden")
        assert (await ben.resolve(doc_id, thread.id)).resolved  # anyone who may comment resolves
        assert not (await ann.reopen(doc_id, thread.id)).resolved
        with pytest.raises(RequestError) as exc:
            await ann.resolve(doc_id, reply.id)  # a reply is not a thread
        refused(exc, 400, "bad_request")
        with pytest.raises(RequestError) as exc:
            await ann.delete_comment(doc_id, reply.id)  # neither its author nor an owner
        refused(exc, 403, "forbidden")
        await ben.delete_comment(doc_id, reply.id)
        await ben.delete_comment(doc_id, reply.id)  # twice: no error
        after = {x.id: x for x in (await ann.comments(doc_id)).comments}
        assert after[reply.id].deleted and after[thread.id].body == "which quick?"

        with pytest.raises(RequestError) as exc:
            await ann.add_comment(doc_id, Anchor.over(c.doc, 0, 3), "   ")
        refused(exc, 400, "bad_request")
        with pytest.raises(RequestError) as exc:
            await ann.reply(doc_id, "cnosuchthread", "hello?")
        refused(exc, 404, "not_found")
        with pytest.raises(RequestError) as exc:
            await ann.edit_comment(doc_id, "cnosuchcomment", "x")
        refused(exc, 404, "not_found")
        with pytest.raises(InvalidOpError):
            await ann.add_comment(doc_id, {"start": 0, "end": 3}, "a dict is not an anchor")  # type: ignore[arg-type]

        c.delete(0, len(c.text))  # the commented text goes: the thread is detached, not dropped
        await c.synced(10)
        (gone,) = [x for x in (await ann.comments(doc_id)).comments if x.is_thread]
        assert gone.detached and gone.quote == "quick"
        await c.close()

    run(main())


def test_suggestions_suggest_list_accept_reject_withdraw(live_server: ServerProcess) -> None:
    srv = live_server
    doc_id = "api-suggestions"
    srv.create_doc(doc_id)

    async def main() -> None:
        editor = api(srv, token("ed", doc=doc_id, role="editor"))
        viewer = api(srv, token("vi", doc=doc_id, role="viewer"))
        c = await typed(srv, doc_id, "colour and flavour")
        seen = c.doc.version
        s1 = await editor.suggest(doc_id, seen, "color and flavour")
        assert s1.author == "ed" and s1.problem is None and s1.text == "color and flavour"
        assert ("delete", "u") in s1.runs
        c.insert(len(c.text), "!")  # the document moves on: the suggestion still applies
        await c.synced(10)
        listed = await editor.suggestions(doc_id)
        assert [s.id for s in listed.suggestions] == [s1.id] and listed.can_decide and listed.can_suggest
        assert listed.suggestions[0].text == "color and flavour!" and listed.text_length == len(c.text)

        s1b = await editor.update_suggestion(doc_id, s1.id, seen, "color and flavor")
        assert s1b.id == s1.id and s1b.text == "color and flavor!"
        state = await editor.accept(doc_id, s1.id)
        assert state.length == len("color and flavor!") and await editor.text(doc_id) == "color and flavor!"
        await wait_until(lambda: c.text == "color and flavor!", 10, "the client to see the accepted suggestion")
        with pytest.raises(RequestError) as exc:
            await editor.accept(doc_id, s1.id)  # never twice
        assert exc.value.status in (404, 409)

        s2 = await editor.suggest(doc_id, c.doc.version, "colors")
        await editor.reject(doc_id, s2.id)
        s3 = await editor.suggest(doc_id, c.doc.version, "flavors")
        await editor.withdraw(doc_id, s3.id)
        assert (await viewer.suggestions(doc_id)).suggestions == ()
        with pytest.raises(RequestError) as exc:
            await editor.reject(doc_id, s3.id)
        refused(exc, 404, "not_found")
        with pytest.raises(RequestError) as exc:
            await editor.suggest(doc_id, c.doc.version, c.text)
        refused(exc, 400, "no_change")
        assert await editor.text(doc_id) == "color and flavor!"
        await c.close()

    run(main())


def test_a_viewer_reads_but_may_not_change_anything(live_server: ServerProcess) -> None:
    srv = live_server
    doc_id = "api-viewer"
    srv.create_doc(doc_id)

    async def main() -> None:
        owner = api(srv)
        viewer = api(srv, token("vic", doc=doc_id, role="viewer"))
        c = await typed(srv, doc_id, "read only for some")
        v = await owner.name_version(doc_id, "v1")
        thread = await owner.add_comment(doc_id, Anchor.over(c.doc, 0, 4), "hm")
        c.insert(0, "now ")
        await c.synced(10)
        assert (await viewer.get_title(doc_id)).role == "viewer"
        assert [x.name for x in await viewer.named_versions(doc_id)] == ["v1"]
        assert (await viewer.diff(doc_id, v.version)).new_text == c.text
        assert await viewer.export(doc_id) == c.text
        listed = await viewer.comments(doc_id)
        assert not listed.can_comment and [x.id for x in listed.comments] == [thread.id]
        writes = [
            viewer.restore(doc_id, v.version),
            viewer.name_version(doc_id, "mine"),
            viewer.delete_named_version(doc_id, "v1"),
            viewer.set_title(doc_id, "taken over"),
            viewer.import_text(doc_id, "replaced"),
            viewer.add_comment(doc_id, Anchor.over(c.doc, 0, 3), "may I?"),
            viewer.reply(doc_id, thread.id, "may I?"),
            viewer.resolve(doc_id, thread.id),
            viewer.suggest(doc_id, c.doc.version, "suggested"),
        ]
        for call in writes:
            with pytest.raises(RequestError) as exc:
                await call
            refused(exc, 403, "forbidden")
        assert await owner.text(doc_id) == "now read only for some"
        assert [x.name for x in await owner.named_versions(doc_id)] == ["v1"]
        assert (await owner.get_title(doc_id)).title == ""
        assert len((await owner.comments(doc_id)).comments) == 1
        assert (await owner.suggestions(doc_id)).suggestions == ()
        await c.close()

    run(main())


def test_a_commenter_comments_and_suggests_but_does_not_edit(live_server: ServerProcess) -> None:
    """Roles between viewer and editor come from accounts: the owner shares the document
    with a commenter, who works through a personal access token."""
    srv = live_server

    async def main() -> None:
        ada, cy = Account(srv, "ada"), Account(srv, "cy")
        doc_id = f"api-commenter-{ada.username}"
        owner = api(srv, ada.personal_token("owner"))
        await owner.create_document(doc_id)
        r = ada.req("POST", f"/api/docs/{doc_id}/members", {"user": cy.username, "role": "commenter"})
        assert r.status_code == 201, r.text
        await owner.import_text(doc_id, "a shared draft")
        v = await owner.name_version(doc_id, "start")
        commenter = api(srv, cy.personal_token("editor"))  # capped at cy's role: commenter

        c = client(srv, doc_id, "reader", tok=token("reader", doc=doc_id, role="viewer"))
        await c.start()
        await wait_until(lambda: c.text == "a shared draft", 10, "the reader's replica")
        thread = await commenter.add_comment(doc_id, Anchor.over(c.doc, 2, 8), "shared with whom?")
        assert thread.author == cy.username and thread.quote == "shared"
        assert (await commenter.comments(doc_id)).can_comment
        s = await commenter.suggest(doc_id, c.doc.version, "a shared first draft")
        assert s.author == cy.username
        for call in (
            commenter.restore(doc_id, v.version),
            commenter.import_text(doc_id, "mine now"),
            commenter.set_title(doc_id, "mine"),
            commenter.name_version(doc_id, "cy's"),
            commenter.accept(doc_id, s.id),
        ):
            with pytest.raises(RequestError) as exc:
                await call
            refused(exc, 403, "forbidden")
        assert await owner.text(doc_id) == "a shared draft"
        await commenter.withdraw(doc_id, s.id)  # one's own suggestion, whatever the role
        assert (await owner.suggestions(doc_id)).suggestions == ()
        await c.close()

    run(main())


def test_refusals_of_the_server_and_the_network(live_server: ServerProcess, tmp_path: Any) -> None:
    srv = live_server
    doc_id = "api-refusals"
    srv.create_doc(doc_id)

    async def main() -> None:
        with pytest.raises(RequestError) as exc:
            await api(srv, "not-a-token").text(doc_id)
        refused(exc, 401, "unauthorized")
        with pytest.raises(RequestError) as exc:
            await api(srv, token("eve", doc="another-doc")).comments(doc_id)
        refused(exc, 403, "forbidden")
        tokens = iter([token("t1", doc=doc_id), token("t2", doc=doc_id)])
        rotating = DocumentApi(srv.http, lambda: next(tokens), proxy=None)  # asked per request
        assert (await rotating.get_title(doc_id)).role == "owner"
        assert (await rotating.get_title(doc_id)).id == doc_id
        with pytest.raises(ClientError, match="could not reach the server"):
            await DocumentApi(f"http://127.0.0.1:{_closed_port()}", token(), proxy=None, timeout=5).text(doc_id)

    run(main())


def test_settings_are_checked_when_made() -> None:
    from cowrite.errors import ConfigError

    for bad in ("ftp://x", "127.0.0.1:8000", ""):
        with pytest.raises(ConfigError):
            DocumentApi(bad, "t")
    with pytest.raises(ConfigError):
        DocumentApi("http://127.0.0.1:1", "t", timeout=0)
    with pytest.raises(ConfigError):
        DocumentApi("http://127.0.0.1:1", 42)  # type: ignore[arg-type]
    assert DocumentApi("wss://example.org/base/", "t").base == "https://example.org/base"


def _closed_port() -> int:
    from integration.harness import free_port

    return free_port()


def test_a_restore_merges_with_concurrent_typing(live_server: ServerProcess) -> None:
    """Typing the server has not seen when the restore is made (a client offline, and one
    typing on while it happens) is kept; everyone converges on one text.

    The restore takes "Hello world\nGoodbye\n" back to "Hello world\n" (deletions only),
    while one client types at the start of the text and another, offline, at its end."""
    srv = live_server
    doc_id = "api-restore-concurrent"
    srv.create_doc(doc_id)

    async def main() -> None:
        a = api(srv)
        writer = await typed(srv, doc_id, "Hello world\n")
        v1 = await a.name_version(doc_id, "v1")
        writer.insert(len(writer.text), "Goodbye\n")
        await writer.synced(10)
        later = "Hello world\nGoodbye\n"

        proxy = Proxy(srv.port)
        await proxy.start()
        away = client(srv, doc_id, "away", url=proxy.url)
        await away.start()
        await wait_until(lambda: away.text == later, 10, "the offline client's replica")
        proxy.cut()
        await wait_until(lambda: away.state == "offline", 10, "the cut")
        away.insert(len(away.text), "typed offline")  # concurrent with the restore

        typist = client(srv, doc_id, "typist")
        await typist.start()
        await wait_until(lambda: typist.text == later, 10, "the typist's replica")
        typed_online: list[str] = []
        restore_done = asyncio.Event()

        async def keep_typing() -> None:
            """Type at the start, each letter after our own last one (a stable position, so
            the restore's deletions do not move where the next letter goes), until a little
            after the restore has been answered."""
            pos = typist.doc.position(0, assoc=1)  # the gap before "Hello"
            after = 0
            while after < 8:
                ch = "abcdefghij"[len(typed_online) % 10]
                idx = typist.doc.resolve(pos)
                typist.insert(idx, ch)
                pos = typist.doc.position(idx + 1, assoc=-1)
                typed_online.append(ch)
                after += restore_done.is_set()
                await asyncio.sleep(0.005)

        typing = asyncio.create_task(keep_typing())
        while (await a.text(doc_id)).startswith("H"):  # some letters on the server first
            await asyncio.sleep(0.005)
        restored = await a.restore(doc_id, v1.version)
        restore_done.set()
        await typing
        assert restored.edits >= 1
        proxy.restore()
        await asyncio.gather(writer.synced(15), away.synced(15), typist.synced(15))
        everyone = [writer, away, typist]
        await wait_until(lambda: len({c.text for c in everyone}) == 1, 15, "everyone to converge")
        final = writer.text
        assert await a.text(doc_id) == final
        # The restore made the text v1's and kept what it had not seen: the offline typing
        # at the end, and the typist's letters that reached the server after it was made
        # (those it had are gone, as "Goodbye" is), in order, before "Hello".
        assert final.endswith("Hello world\ntyped offline"), final
        head = final[: -len("Hello world\ntyped offline")]
        assert head and "".join(typed_online).endswith(head), (head, typed_online)
        assert len(head) < len(typed_online)  # some letters were on the server: restored away
        for c in everyone:
            await c.close()
        await proxy.close()

    run(main(), timeout=90)
