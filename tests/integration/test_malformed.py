"""Malformed input on the WebSocket gets ERROR frames and never takes the server down."""

from __future__ import annotations

import websockets
import websockets.exceptions

from cowrite.engine import Document, Op
from cowrite.engine import encode_patch
from cowrite.protocol import Error, ErrorCode, Join, Ops, Ping, Pong, Welcome, encode_frame

from .harness import ServerProcess, client, closed, join, raw_connect, recv, run, token

DOC = "malformed"


def _join_frame(agent: str = "raw-1") -> bytes:
    return encode_frame(Join(DOC, agent, {}))


def _ops_frame(agent: str, text: str, batch: int = 1) -> bytes:
    d = Document(agent)
    d.insert(0, text)
    return encode_frame(Ops(batch, encode_patch(d.ops_since())))


async def _first_frame_refused(srv: ServerProcess, frame: bytes | str, code: ErrorCode) -> None:
    ws = await raw_connect(srv, DOC, token("mal", doc=DOC))
    await ws.send(frame)
    err = await recv(ws)
    assert isinstance(err, Error), err
    assert (err.code, err.fatal) == (code, True), err
    assert await closed(ws)


def test_malformed_frames_get_errors_and_the_server_survives(shared_server: ServerProcess) -> None:
    srv = shared_server
    srv.create_doc(DOC)

    async def main() -> None:
        good = client(srv, DOC, "writer")
        await good.start()
        good.insert(0, "before")
        await good.synced(10)

        # -- before JOIN: every bad first frame is a fatal ERROR, then the socket closes
        jf = _join_frame()
        await _first_frame_refused(srv, b"\x00\xffgarbage\x00", ErrorCode.BAD_FRAME)  # unknown version
        await _first_frame_refused(srv, b"", ErrorCode.BAD_FRAME)  # empty
        await _first_frame_refused(srv, "hello, server", ErrorCode.BAD_FRAME)  # a text frame
        await _first_frame_refused(srv, jf[: len(jf) // 2], ErrorCode.BAD_FRAME)  # truncated JOIN
        await _first_frame_refused(srv, jf + b"\x00", ErrorCode.BAD_FRAME)  # trailing bytes
        await _first_frame_refused(srv, _ops_frame("raw-1", "x"), ErrorCode.BAD_STATE)  # OPS before JOIN
        await _first_frame_refused(srv, encode_frame(Ping(7)), ErrorCode.BAD_STATE)  # PING before JOIN
        await _first_frame_refused(srv, encode_frame(Join("another-doc", "raw-1", {})), ErrorCode.BAD_STATE)

        # -- after JOIN: errors that concern one frame keep the connection open
        ws, welcome = await join(srv, DOC, "mal", "raw-2")
        ops = _ops_frame("raw-2", "zzz")
        cases: list[tuple[bytes | str, ErrorCode]] = [
            (b"\x01\x7f", ErrorCode.BAD_FRAME),  # unknown message type
            (b"\x01", ErrorCode.BAD_FRAME),  # no type
            (b"", ErrorCode.BAD_FRAME),
            ("text frame", ErrorCode.BAD_FRAME),
            (ops[:-3], ErrorCode.BAD_FRAME),  # truncated OPS
            (ops + b"\x00\x00", ErrorCode.BAD_FRAME),  # trailing bytes
            (_join_frame("raw-2"), ErrorCode.BAD_STATE),  # a second JOIN
            (encode_frame(Welcome(welcome.role, (), {}, b"")), ErrorCode.BAD_STATE),  # a server's message
            (b"\x01\x03" + b"\x01" + b"\x05CWPxx", ErrorCode.BAD_OP),  # OPS whose patch is garbage
            (b"\x01\x03" + b"\x01\xff" * 9 + b"\x01", ErrorCode.BAD_FRAME),  # overlong uvar
            (b"\x01\x08" + b"\x00" * ((1 << 20) + 100), ErrorCode.TOO_LARGE),  # over the 1 MiB frame limit
        ]
        for frame, code in cases:
            await ws.send(frame)
            err = await recv(ws)
            assert isinstance(err, Error), (frame[:20], err)
            assert err.code == code and not err.fatal, (frame[:20], err)
        # Ops whose parents the server does not have: refused, batch named, nothing stored.
        ghost = Op.insert("raw-2", 0, (("ghost", 3),), 0, "boo")
        await ws.send(encode_frame(Ops(9, encode_patch([ghost]))))
        err = await recv(ws)
        assert isinstance(err, Error) and (err.code, err.batch_id, err.fatal) == (ErrorCode.UNKNOWN_PARENT, 9, False)
        # The connection still works.
        await ws.send(encode_frame(Ping(42)))
        assert await recv(ws) == Pong(42)
        # A frame of another protocol version is fatal.
        await ws.send(b"\x02\x08\x00")
        err = await recv(ws)
        assert isinstance(err, Error) and err.code == ErrorCode.BAD_FRAME and err.fatal
        assert await closed(ws)

        # A message far over the limit is cut off by the WebSocket layer (close 1009).
        ws, _ = await join(srv, DOC, "mal", "raw-3")
        try:
            await ws.send(b"\x01\x08" + b"\x00" * 3_000_000)
        except (websockets.exceptions.ConnectionClosed, ConnectionResetError):
            pass  # the server may cut the connection while the message is still going out
        assert await closed(ws)
        assert ws.close_code in (1009, 1006)  # 1006: the reset won the race against the close frame

        # -- the server is fine: the good client still syncs, a new one joins, nothing leaked in
        assert srv.alive
        good.insert(len(good.text), " after")
        await good.synced(10)
        late = client(srv, DOC, "late")
        await late.start()
        await late.synced(10)
        assert late.text == good.text == "before after" == await srv.atext(DOC)
        await good.close()
        await late.close()

    run(main())

