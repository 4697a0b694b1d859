"""Access control on the live server: viewers cannot write, no connection can send ops as
another agent, and bad tokens are refused (ERROR unauthorized/forbidden, then close)."""

from __future__ import annotations

import asyncio

import base64
import json
import time
import warnings
from typing import Any

import jwt
import pytest

from cowrite.client import FatalError, ReadOnlyError
from cowrite.engine import Document, Op
from cowrite.engine import encode_patch
from cowrite.protocol import Ack, Error, ErrorCode, Join, Ops, Ping, Pong, Role, encode_frame

from .harness import SECRET_BYTES, ServerProcess, client, closed, join, raw_connect, recv, recv_until, run, token, wait_until


def _claims(**over: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": "eve", "name": "Eve", "doc": "*", "role": "owner", "aud": "cowrite", "iat": now, "exp": now + 600}
    claims.update(over)
    return {k: v for k, v in claims.items() if v is not None}


def _b64(obj: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def _bad_tokens() -> dict[str, tuple[str | None, ErrorCode]]:
    good = _claims()
    return {
        "no token": (None, ErrorCode.UNAUTHORIZED),
        "not a JWT": ("this.is.not-a-token", ErrorCode.UNAUTHORIZED),
        "bad signature": (jwt.encode(good, b"another-secret-of-forty-bytes-0123456789", algorithm="HS256"), ErrorCode.UNAUTHORIZED),
        "tampered claims": (_retarget(token("eve", role="viewer")), ErrorCode.UNAUTHORIZED),
        "alg none": (f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(good)}.", ErrorCode.UNAUTHORIZED),
        "alg HS512": (_hs512(good), ErrorCode.UNAUTHORIZED),
        "expired": (jwt.encode(_claims(iat=int(time.time()) - 600, exp=int(time.time()) - 60), SECRET_BYTES, algorithm="HS256"), ErrorCode.UNAUTHORIZED),
        "no expiry": (jwt.encode(_claims(exp=None), SECRET_BYTES, algorithm="HS256"), ErrorCode.UNAUTHORIZED),
        "wrong audience": (jwt.encode(_claims(aud="some-other-service"), SECRET_BYTES, algorithm="HS256"), ErrorCode.UNAUTHORIZED),
        "no audience": (jwt.encode(_claims(aud=None), SECRET_BYTES, algorithm="HS256"), ErrorCode.UNAUTHORIZED),
        "unknown role": (jwt.encode(_claims(role="admin"), SECRET_BYTES, algorithm="HS256"), ErrorCode.UNAUTHORIZED),
        "another document": (token("eve", doc="some-other-doc"), ErrorCode.FORBIDDEN),
    }


def _hs512(claims: dict[str, Any]) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyJWT: the key is short for SHA-512
        return jwt.encode(claims, SECRET_BYTES, algorithm="HS512")


def _retarget(tok: str) -> str:
    """A valid viewer token whose payload was rewritten to say owner (signature kept)."""
    header, payload, sig = tok.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "owner"
    return f"{header}.{_b64(claims)}.{sig}"


def test_bad_tokens_are_refused(shared_server: ServerProcess) -> None:
    srv, doc_id = shared_server, "guarded"
    srv.create_doc(doc_id)

    async def main() -> None:
        for name, (tok, code) in _bad_tokens().items():
            ws = await raw_connect(srv, doc_id, tok)
            # The refusal comes before the client says anything, and the socket closes.
            err = await recv(ws)
            assert isinstance(err, Error), name
            assert (err.code, err.fatal) == (code, True), (name, err)
            assert await closed(ws), name
        # The Client surfaces these as a FatalError from synced() and stops for good.
        expired = jwt.encode(
            _claims(sub="late", exp=int(time.time()) - 1, iat=int(time.time()) - 100), SECRET_BYTES, algorithm="HS256"
        )
        cases = [
            (client(srv, doc_id, "late", tok=expired), ErrorCode.UNAUTHORIZED),
            (client(srv, doc_id, "x", tok=token("x", doc="some-other-doc")), ErrorCode.FORBIDDEN),
            (client(srv, "no-such-doc", "x"), ErrorCode.NOT_FOUND),
        ]
        for c, code in cases:
            await c.start()
            with pytest.raises(FatalError) as info:
                await c.synced(10)
            assert info.value.code == code
            assert c.state == "error" and c.error is info.value
            # It stopped reconnecting: over several of its backoff periods (0.25 s at most)
            # the server sees no more refusals.
            refusals = f'cowrite_errors_total{{code="{code.name.lower()}"}}'
            seen = await asyncio.to_thread(srv.metric, refusals)
            await asyncio.sleep(1.0)
            assert await asyncio.to_thread(srv.metric, refusals) == seen
            await c.close()
        assert await srv.atext(doc_id) == ""

    run(main())


def test_viewers_cannot_write(shared_server: ServerProcess) -> None:
    srv, doc_id = shared_server, "viewed"
    srv.create_doc(doc_id)

    async def main() -> None:
        owner = client(srv, doc_id, "olga", role="owner")
        await owner.start()
        owner.insert(0, "read me")
        await owner.synced(10)

        # Raw protocol: a viewer's OPS is refused (batch named, connection kept), nothing changes.
        ws, welcome = await join(srv, doc_id, "vic", "vic-agent", role="viewer")
        assert welcome.role == Role.VIEWER
        d = Document("vic-agent")
        d.apply_patch(welcome.patch)
        d.insert(0, "HACKED ")
        await ws.send(encode_frame(Ops(1, encode_patch(d.ops_since(welcome.version)))))
        err = await recv_until(ws, Error)
        assert (err.code, err.batch_id, err.fatal) == (ErrorCode.FORBIDDEN, 1, False)
        await ws.send(encode_frame(Ping(1)))
        assert await recv_until(ws, Pong) == Pong(1)
        await ws.close()

        # An editor asking for read-only is a viewer too.
        ws, welcome = await join(srv, doc_id, "ed", "ed-agent")
        assert welcome.role == Role.EDITOR
        await ws.close()
        ro = client(srv, doc_id, "ed", read_only=True)
        await ro.start()
        await ro.synced(10)
        assert ro.role == Role.VIEWER and ro.text == "read me"
        with pytest.raises(ReadOnlyError):
            ro.insert(0, "x")
        await ro.close()

        # The Client: edits made before it knew its role stay local and synced() says so.
        viewer = client(srv, doc_id, "vic2", role="viewer")
        viewer.insert(0, "offline scribble ")
        await viewer.start()
        with pytest.raises(ReadOnlyError):
            await viewer.synced(10)
        assert viewer.role == Role.VIEWER
        with pytest.raises(ReadOnlyError):
            viewer.insert(0, "more")
        await viewer.close()

        assert await srv.atext(doc_id) == "read me" == owner.text
        await owner.close()

    run(main())


def test_forged_agents_are_refused(shared_server: ServerProcess) -> None:
    srv, doc_id = shared_server, "forgery"
    srv.create_doc(doc_id)

    async def main() -> None:
        alice = client(srv, doc_id, "alice", agent="alice-agent")
        await alice.start()
        alice.insert(0, "alice wrote this")
        await alice.synced(10)
        seen_by_alice: list[object] = []
        alice.on_change(seen_by_alice.append)

        # Mallory joins as herself and sends an op in alice's name: refused, nothing stored.
        ws, welcome = await join(srv, doc_id, "mallory", "mallory-agent")
        forged = Op.insert("alice-agent", alice.doc.oplog.cg.next_seq("alice-agent"), welcome.version, 0, "FORGED ")
        await ws.send(encode_frame(Ops(1, encode_patch([forged]))))
        err = await recv_until(ws, Error)
        assert (err.code, err.batch_id, err.fatal) == (ErrorCode.FORBIDDEN, 1, False)
        # A batch mixing her own op with a forged one is refused as a whole.
        own = Op.insert("mallory-agent", 0, welcome.version, 0, "mine ")
        forged2 = Op.insert("alice-agent", forged.seq, (("mallory-agent", 4),), 0, "x")
        await ws.send(encode_frame(Ops(2, encode_patch([own, forged2]))))
        err = await recv_until(ws, Error)
        assert (err.code, err.batch_id) == (ErrorCode.FORBIDDEN, 2)
        # Her own op alone is fine (the connection stayed usable).
        await ws.send(encode_frame(Ops(3, encode_patch([own]))))
        ack = await recv_until(ws, Ack)
        assert ack.batch_id == 3
        await ws.close()

        # Joining with alice's agent under mallory's token: fatal, and alice is not displaced.
        ws = await raw_connect(srv, doc_id, token("mallory", doc=doc_id))
        await ws.send(encode_frame(Join(doc_id, "alice-agent", {})))
        err = await recv(ws)
        assert (err.code, err.fatal) == (ErrorCode.FORBIDDEN, True)
        assert await closed(ws)

        await wait_until(lambda: alice.text == "mine alice wrote this", 10, "alice to see mallory's own op")
        assert alice.state == "connected"
        alice.insert(len(alice.text), "!")
        await alice.synced(10)
        assert await srv.atext(doc_id) == "mine alice wrote this!" == alice.text
        await alice.close()

    run(main())
