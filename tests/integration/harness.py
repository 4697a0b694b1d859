"""A real ``cowrite serve`` process on loopback, for the client and integration tests."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import string
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import httpx

from cowrite.server.auth import issue_token

from .netem import Link

SECRET = "integration-test-secret-0123456789abcdef"  # 40 bytes
SECRET_BYTES = SECRET.encode()

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def token(user: str = "admin", *, doc: str = "*", role: str = "owner", ttl: int = 3600) -> str:
    return issue_token(SECRET_BYTES, user, doc=doc, role=role, ttl=ttl)


class ServerProcess:
    """``python -m cowrite.cli serve`` on ``port`` with database ``db``; restartable.
    ``host`` is what it binds (reached at 127.0.0.1 either way); ``args`` more options;
    ``command`` what runs instead of ``python -m cowrite.cli`` (e.g. a script that
    patches the server first), ``env`` more environment variables."""

    def __init__(
        self,
        db: Path,
        port: int | None = None,
        log: Path | None = None,
        *,
        host: str = "127.0.0.1",
        args: tuple[str, ...] = (),
        command: tuple[str, ...] = (sys.executable, "-m", "cowrite.cli"),
        env: dict[str, str] | None = None,
    ) -> None:
        self.db = db
        self.host = host
        self.args = args
        self.command = command
        self.env = env or {}
        self.port = port or free_port()
        self.log = log or db.with_suffix(".log")
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        env = dict(os.environ, COWRITE_SECRET=SECRET, PYTHONUNBUFFERED="1", **self.env)
        logf = open(self.log, "ab")
        logf.write(f"---- start #{self.starts + 1} ----\n".encode())
        logf.flush()
        self.proc = subprocess.Popen(
            [*self.command, "serve", "--host", self.host, "--port", str(self.port),
             "--db", str(self.db), "--log-level", "warning", *self.args],
            env=env,
            stdout=logf,
            stderr=subprocess.STDOUT,
        )
        logf.close()
        self.starts += 1
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_text()}")
            try:
                r = httpx.get(f"{self.http}/health", timeout=1.0, trust_env=False)
                if r.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not come up in {timeout} s:\n{self.log_text()}")
            time.sleep(0.02)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                self.proc.kill()
                self.proc.wait(10)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self, tail: int | None = 5000) -> str:
        """The end of the server's output (all of it if ``tail`` is None)."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return text if tail is None else text[-tail:]

    def metric(self, name: str) -> float:
        """The value of an unlabelled metric on ``/metrics`` (0 if absent)."""
        r = httpx.get(f"{self.http}/metrics", timeout=10, trust_env=False)
        assert r.status_code == 200, r.text
        for line in r.text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return 0.0

    # -- HTTP API ---------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {token()}"}

    def create_doc(self, doc_id: str) -> None:
        r = httpx.post(f"{self.http}/api/docs", json={"id": doc_id}, headers=self._headers(), timeout=10, trust_env=False)
        assert r.status_code == 201, r.text

    def text(self, doc_id: str) -> str:
        r = httpx.get(f"{self.http}/api/docs/{doc_id}/text", headers=self._headers(), timeout=10, trust_env=False)
        assert r.status_code == 200, r.text
        return r.text

    async def atext(self, doc_id: str) -> str:
        async with httpx.AsyncClient(trust_env=False) as c:
            r = await c.get(f"{self.http}/api/docs/{doc_id}/text", headers=self._headers(), timeout=10)
        assert r.status_code == 200, r.text
        return r.text


async def wait_until(predicate: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    """Poll ``predicate`` every 5 ms until it holds; TimeoutError naming ``what`` otherwise."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.005)


def run(coro: Coroutine[Any, Any, T], timeout: float = 45.0) -> T:
    """Run a test coroutine with an overall timeout (no pytest-asyncio needed)."""

    async def main() -> T:
        async with asyncio.timeout(timeout):
            return await coro

    return asyncio.run(main())


def client(
    srv: ServerProcess, doc_id: str, user: str, *, role: str = "editor", url: str | None = None, tok: Any = None, **kw: Any
) -> Any:
    """A :class:`cowrite.client.Client` tuned for tests (fast ticks and reconnects);
    ``tok`` overrides the token, a str or a function (default: ``user``'s for ``doc_id`` with ``role``).
    Keywords that are :class:`~cowrite.client.ClientSettings` fields go into its settings."""
    from cowrite.client import Client

    kw.setdefault("user_name", user)
    return Client(url or srv.url, doc_id, tok or token(user, doc=doc_id, role=role), settings=tuned_settings(kw), **kw)


def tuned_settings(kw: dict[str, Any]) -> Any:
    """:class:`~cowrite.client.ClientSettings` for tests: fast ticks and reconnects, no proxy;
    takes (and removes) the settings fields from ``kw``."""
    import dataclasses

    from cowrite.client import ClientSettings

    names = {f.name for f in dataclasses.fields(ClientSettings)}
    tuned: dict[str, Any] = {
        "backoff_base": 0.02,
        "backoff_cap": 0.25,
        "flush_interval": 0.01,
        "save_delay": 0.05,
        "proxy": None,  # loopback: never through an HTTP proxy from the environment
    }
    tuned.update({k: kw.pop(k) for k in list(kw) if k in names})
    return ClientSettings(**tuned)


class Proxy(Link):
    """A TCP relay in front of the server whose link can be cut (connections reset,
    new ones refused) and restored: a network outage for the clients behind it."""

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


# -- typing helpers -------------------------------------------------------------------

PARAGRAPH = "The quick brown fox jumps over the lazy dog. " + string.ascii_letters + string.digits


def word(rng: random.Random, i: int, n: int) -> str:
    """A run of ``n`` characters with unique delimiters, so ``text.count(run) == 1`` proves it
    is present exactly once and contiguous."""
    return f"<{i}:" + "".join(rng.choice(string.ascii_lowercase) for _ in range(n)) + f":{i}>"


async def type_at(c: Any, run_text: str, start: int, rng: random.Random, pause: float = 0.003) -> None:
    """Type ``run_text`` char by char after the gap at ``start``, following our own last char
    (a stable position), with random pauses so clients interleave on the wire."""
    pos = c.doc.position(start, assoc=-1)  # the gap after character start-1
    for ch in run_text:
        idx = c.doc.resolve(pos)
        c.insert(idx, ch)
        pos = c.doc.position(idx + 1, assoc=-1)  # tied to the char just typed
        c.set_cursor(idx + 1)
        await asyncio.sleep(rng.uniform(0, pause))


async def seed(srv: ServerProcess, doc_id: str, text: str) -> None:
    srv.create_doc(doc_id)
    s = client(srv, doc_id, "seeder")
    await s.start()
    s.insert(0, text)
    await s.synced(15)
    await s.close()


async def converged(clients: list[Any], srv: ServerProcess, doc_id: str, length: int) -> str:
    """Wait until every client and the server hold the same text of ``length``; return it."""
    await asyncio.gather(*(c.synced(20) for c in clients))
    await wait_until(
        lambda: all(len(c.text) == length for c in clients) and len({c.text for c in clients}) == 1,
        20,
        "clients to converge",
    )
    text: str = clients[0].text
    assert await srv.atext(doc_id) == text
    return text


def check_runs(text: str, base: str, runs: list[str]) -> None:
    for r in runs:
        assert text.count(r) == 1, f"run {r!r} is not contiguous in {text!r}"
    rest = text
    for r in runs:
        rest = rest.replace(r, "")
    assert rest == base  # every keystroke present, nothing else


# -- raw protocol connections -------------------------------------------------------


async def raw_connect(srv: ServerProcess, doc_id: str, tok: str | None) -> Any:
    """A bare WebSocket to ``/ws/{doc_id}`` (token in the query, as browsers send it)."""
    import websockets

    query = "" if tok is None else f"?token={tok}"
    return await websockets.connect(f"{srv.url}/ws/{doc_id}{query}", open_timeout=10, compression=None, proxy=None)


async def recv(ws: Any, timeout: float = 10.0) -> Any:
    """The next frame from the server, decoded (a protocol message)."""
    from cowrite.protocol import decode_frame

    data = await asyncio.wait_for(ws.recv(), timeout)
    assert isinstance(data, bytes), f"the server sent a text frame: {data!r}"
    return decode_frame(data)


async def recv_until(ws: Any, kind: type, timeout: float = 10.0) -> Any:
    """Skip frames (e.g. PRESENCE) until one of type ``kind``."""
    async with asyncio.timeout(timeout):
        while True:
            msg = await recv(ws)
            if isinstance(msg, kind):
                return msg


async def closed(ws: Any, timeout: float = 10.0) -> bool:
    """True once the server has closed ``ws`` (frames still queued are drained)."""
    from websockets.exceptions import ConnectionClosed

    try:
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    except ConnectionClosed:
        return True


async def join(srv: ServerProcess, doc_id: str, user: str, agent: str, *, role: str = "editor") -> tuple[Any, Any]:
    """A raw connection that has joined: ``(ws, welcome)``."""
    from cowrite.protocol import Join, Welcome, encode_frame

    ws = await raw_connect(srv, doc_id, token(user, doc=doc_id, role=role))
    await ws.send(encode_frame(Join(doc_id, agent, {})))
    welcome = await recv(ws)
    assert isinstance(welcome, Welcome), welcome
    return ws, welcome
