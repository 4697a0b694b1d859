"""HTTP request bodies are capped before they are read: a real server, raw sockets.

``POST /api/session`` needs no token and any web page can post to it, so a body
the server buffers whole would let anyone make it allocate at will.  A declared
``Content-Length`` over the cap is answered ``413`` before a byte of the body is
sent; a chunked body is answered ``413`` once the cap is passed, while the rest
is still unsent (a server that buffered the whole body first would wait for it
for ever: these tests would time out, not fail on a clock).
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest

from .harness import ServerProcess, token

CAP = 256 << 10  # Limits().max_request_bytes


def _connect(srv: ServerProcess) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=15)
    return s


def _response(s: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Read one HTTP response (status, headers, body) from ``s``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
    n = int(headers.get("content-length", "0"))
    while len(body) < n:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body[:n]  # (what follows is the next response)


def _request(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.fixture
def guests_server(tmp_path: Path):  # type: ignore[no-untyped-def]
    srv = ServerProcess(tmp_path / "limits.db", args=("--guests", "editor"))
    srv.start()
    yield srv
    srv.kill()


def _too_large(status: int, body: bytes) -> None:
    assert status == 413, body
    err = json.loads(body)
    assert err["error"] == "too_large" and str(CAP) in err["message"]


def test_a_declared_64_mib_body_is_refused_before_it_is_sent(guests_server: ServerProcess) -> None:
    with _connect(guests_server) as s:
        s.sendall(_request("/api/session", {"Content-Type": "application/json", "Content-Length": str(64 << 20)}))
        status, headers, body = _response(s)  # not one byte of the body was sent
    _too_large(status, body)
    assert headers.get("connection") == "close"


def test_a_chunked_body_is_refused_once_it_passes_the_cap(guests_server: ServerProcess) -> None:
    with _connect(guests_server) as s:
        s.sendall(_request("/api/session", {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}))
        chunk = b"x" * 16384
        for _ in range(CAP // len(chunk)):
            s.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        # One byte over the cap, and the body never ends (every byte sent is read, so the
        # server's close after its answer cannot reset the connection under it).
        s.sendall(b"1\r\nx")
        status, _, body = _response(s)
    _too_large(status, body)


def test_a_chunked_body_under_the_cap_is_read(guests_server: ServerProcess) -> None:
    with _connect(guests_server) as s:
        s.sendall(_request("/api/session", {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}))
        payload = json.dumps({"name": "Ada"}).encode()
        s.sendall(f"{len(payload):x}\r\n".encode() + payload + b"\r\n0\r\n\r\n")
        status, _, body = _response(s)
    assert status == 200, body
    assert json.loads(body)["name"] == "Ada"


def test_a_content_length_that_lies_low_gets_no_more_read_than_it_says(guests_server: ServerProcess) -> None:
    """``Content-Length: 12`` and more after it: the body is 12 bytes (not JSON: 400);
    the rest is not a request, and the server stays up."""
    with _connect(guests_server) as s:
        s.sendall(_request("/api/session", {"Content-Type": "application/json", "Content-Length": "12"}))
        s.sendall(b'{"name": "Ad' + b'a", "x": "' + b"a" * 8000 + b'"}\r\n\r\n')
        status, _, body = _response(s)
    assert status == 400 and json.loads(body)["error"] == "bad_request", body
    assert httpx.get(f"{guests_server.http}/health", timeout=10, trust_env=False).status_code == 200


def test_a_body_without_a_length_is_empty(guests_server: ServerProcess) -> None:
    """No ``Content-Length`` and no chunking: HTTP/1.1 says there is no body; what follows is
    another (bad) request, never a body the server keeps reading."""
    with _connect(guests_server) as s:
        s.sendall(_request("/api/session", {"Content-Type": "application/json"}) + b'{"name": "' + b"y" * 8000 + b'"}\r\n\r\n')
        status, _, body = _response(s)
    assert status == 400 and json.loads(body)["error"] == "bad_request", body
    assert httpx.get(f"{guests_server.http}/health", timeout=10, trust_env=False).status_code == 200


def test_authenticated_endpoints_have_the_same_cap(guests_server: ServerProcess) -> None:
    auth = {"Authorization": f"Bearer {token()}"}
    with _connect(guests_server) as s:
        s.sendall(_request("/api/docs/x/edit", {**auth, "Content-Type": "application/json", "Content-Length": str(CAP + 1)}))
        status, _, body = _response(s)
    _too_large(status, body)
    with httpx.Client(trust_env=False, timeout=15) as c:  # httpx streams a generator chunked
        r = c.post(f"{guests_server.http}/api/docs", content=(b"[" * 8192 for _ in range(64)), headers=auth)
    assert r.status_code == 413 and r.json()["error"] == "too_large"
