"""Bounds on untrusted HTTP input, enforced before the work it would cost.

* :class:`BodyLimit`, an ASGI middleware: a request body over the limit is
  refused by its ``Content-Length`` before anything is read, and a chunked one
  is counted as it arrives, so no more than the limit is ever buffered.  The
  answer is ``413`` with the API's JSON error shape.
* :func:`loads`: JSON parsed only once its size and nesting depth are known to
  be small.  ``json.loads`` recurses once per level of nesting, so a value
  nested thousands deep must never reach it; the depth is found by a regular
  expression scan that does not recurse.
"""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import DecodeError, TooLargeError

__all__ = ["BodyLimit", "json_depth", "loads"]

# A JSON string (closed or running to the end of the text), or one bracket.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.S)


def json_depth(text: str, limit: int) -> int:
    """How deeply ``text`` nests arrays and objects, counting no further than
    ``limit + 1`` (brackets inside strings do not count).  Not a validator: only
    a bound to check before the parser runs."""
    depth = deepest = 0
    for m in _TOKEN.finditer(text):
        c = m.group()
        if c == "[" or c == "{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        elif c == "]" or c == "}":
            depth -= 1
    return deepest


def loads(raw: bytes | str, *, max_bytes: int, max_depth: int, what: str = "JSON") -> object:
    """``json.loads(raw)`` for untrusted input: :class:`TooLargeError` over
    ``max_bytes`` (UTF-8), :class:`DecodeError` if nested deeper than ``max_depth``
    or not JSON (UTF-8 only)."""
    if len(raw) > max_bytes:
        raise TooLargeError(f"{what} of {len(raw)} bytes is over the limit of {max_bytes}")
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError(f"{what} is not UTF-8") from None
    else:
        text = raw
        if len(text.encode("utf-8", "surrogatepass")) > max_bytes:
            raise TooLargeError(f"{what} is over the limit of {max_bytes} bytes")
    if json_depth(text, max_depth) > max_depth:
        raise DecodeError(f"{what} nests deeper than {max_depth} levels")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError cannot happen at this depth
        raise DecodeError(f"{what} does not parse: {exc}") from None


def _json_response(status: int, code: str, message: str) -> list[Message]:
    body = json.dumps({"error": code, "message": message}).encode()
    return [
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),  # the rest of the body is never read
            ],
        },
        {"type": "http.response.body", "body": body},
    ]


class BodyLimit:
    """ASGI middleware: HTTP request bodies of at most ``max_bytes``.

    A ``Content-Length`` over the limit is answered ``413`` at once, without
    reading the body (a malformed one ``400``); a body without one (chunked) is
    counted as the application reads it, and the read that passes the limit
    raises :class:`TooLargeError` (which the API answers ``413``; if the
    application lets it through, this middleware does).  WebSockets pass through
    (their messages have limits of their own).
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        too_large = f"request bodies are limited to {limit} bytes"
        for name, value in scope.get("headers", ()):
            if name.lower() == b"content-length":
                if not value.isdigit() or len(value) > 18:
                    for m in _json_response(400, "bad_request", "malformed Content-Length"):
                        await send(m)
                    return
                if int(value) > limit:
                    for m in _json_response(413, "too_large", too_large):
                        await send(m)
                    return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise TooLargeError(too_large)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except TooLargeError:
            if started:
                raise
            for m in _json_response(413, "too_large", too_large):
                await send(m)
