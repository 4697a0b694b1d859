"""Server load benchmark: cowrite's server beside pycrdt-websocket, real sockets on loopback.

    python bench/server_load.py --quick                      # smoke run, under a minute
    python bench/server_load.py --write BENCHMARKS.md        # full ramp, ~6-8 minutes
    python bench/server_load.py --steps 50,100,200 --duration 12 --servers cowrite

N simulated clients across M = N / --clients-per-doc documents type at human speed
(``--rate`` keystrokes/s each, jittered, with occasional short pauses) at their own
cursor in a shared paragraph; every keystroke is its own update on the wire
(cowrite: ``Document.insert`` + ``ClientSession.flush``; Yjs: one transaction, one
y-sync update message).  Each load step, for each server:

1. the server starts in its own subprocess (fresh database), the documents are
   created and seeded with a paragraph;
2. ``--gen-procs`` load-generator subprocesses (asyncio, ``websockets`` client,
   no compression) connect every client and wait until all are synced;
3. everyone types for ``--warmup`` + ``--duration`` seconds; only the last
   ``--duration`` seconds are measured;
4. typing stops, the generators wait until every keystroke has reached every other
   client of its document (``--drain`` seconds at most), then compare the texts of
   all clients of each document with the server's own copy (cowrite:
   ``GET /api/docs/{id}/text``; pycrdt-websocket: a fresh client syncing from the
   server).

Latency is keystroke-to-remote-apply: from just before the typing client changes its
local document to just after another client of the same document has applied the
update carrying it (one sample per keystroke per receiving client; all clients of
a document live in the same generator process, so one ``perf_counter`` serves
both ends).  Keystrokes typed in the window that never arrived count as infinitely
late.  Throughput is the keystrokes the server relayed during the window (remote
applies in the window / (clients per doc - 1) / duration).  Server and generator
CPU (user + system, all threads, from ``/proc``) are reported for the window; a
generator near 100 % of a core means the step measures the generator, not the server.

pycrdt-websocket runs as documented: ``WebsocketServer`` + ``ASGIServer`` on the same
uvicorn as cowrite; ``--pycrdt-store memory`` (its default: rooms only in memory) or
``sqlite`` (a ``pycrdt.store.SQLiteYStore`` per room, written after the broadcast).
cowrite uses its SQLite store: each batch committed (WAL, ``synchronous=FULL``,
group commit) before it is acknowledged and broadcast.

With ``--write FILE`` the results replace the part of FILE between
``<!-- bench-server:start -->`` and ``<!-- bench-server:end -->`` (appended if absent).
Internal modes (``--serve-pycrdt``, ``--worker``) are how the subprocesses start.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import hashlib
import json
import math
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
START, END = "<!-- bench-server:start -->", "<!-- bench-server:end -->"
SECRET = "bench-server-load-secret-0123456789abcdef"
P99_TARGET_MS = 50.0
SEED = (
    "The quick brown fox jumps over the lazy dog while five people edit this paragraph at "
    "once, each at their own cursor, typing at a human pace. "
)
ALPHABET = "abcdefghijklmnopqrstuvwxyz      "


# -- shared helpers ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads), from /proc."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds spent busy by the whole machine (all cores), from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return (sum(v[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def read_varuint(buf: bytes, i: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            return n, i
        shift += 7


def decode_state_vector(sv: bytes) -> dict[int, int]:
    count, i = read_varuint(sv, 0)
    out = {}
    for _ in range(count):
        client, i = read_varuint(sv, i)
        clock, i = read_varuint(sv, i)
        out[client] = clock
    return out


# -- the pycrdt-websocket server (subprocess) ----------------------------------------


async def serve_pycrdt(port: int, store: str, db_dir: str) -> None:
    import uvicorn
    from pycrdt.websocket import ASGIServer, WebsocketServer, YRoom, exception_logger

    class Server(WebsocketServer):
        async def get_room(self, name: str) -> YRoom:
            if store == "sqlite" and name not in self.rooms:
                from pycrdt.store import SQLiteYStore

                class Store(SQLiteYStore):  # one file per room: rooms sharing a file race on its setup
                    db_path = os.path.join(db_dir, name.strip("/").replace("/", "_") + ".ystore.db")

                self.rooms[name] = YRoom(ready=True, ystore=Store(path=name), exception_handler=exception_logger, log=self.log)
            return await super().get_room(name)

    ws_server = Server(exception_handler=exception_logger)
    app = ASGIServer(ws_server)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    async with ws_server:
        await uvicorn.Server(config).serve()


# -- clients (in the generator subprocesses) -------------------------------------------


@dataclass
class DocState:
    """Everything the clients of one document share inside a generator process."""

    doc_id: str
    sent: dict[tuple[Any, int], float] = field(default_factory=dict)  # (agent, end) -> keystroke time
    typed: dict[Any, int] = field(default_factory=dict)  # agent -> end of its last keystroke
    server_of: dict[Any, int] = field(default_factory=dict)  # agent -> index of the server it is on


class Stats:
    def __init__(self) -> None:
        self.window = (math.inf, math.inf)
        self.lat: list[float] = []
        self.lat_same: list[float] = []  # sender and receiver on the same server process
        self.lat_cross: list[float] = []  # on different servers (a cluster run)
        self.in_window_applies = 0
        self.keystrokes_in_window = 0
        self.keystrokes = 0

    def delivered(self, t_sent: float, now: float, same_server: bool = True) -> None:
        w0, w1 = self.window
        if w0 <= t_sent < w1:
            self.lat.append(now - t_sent)
            (self.lat_same if same_server else self.lat_cross).append(now - t_sent)
        if w0 <= now < w1:
            self.in_window_applies += 1


class BaseClient:
    def __init__(self, ds: DocState, stats: Stats, url: str, index: int, clients_per_doc: int, server: int = 0) -> None:
        self.ds = ds
        self.server = server
        self.stats = stats
        self.url = url
        self.index = index
        self.k = clients_per_doc
        self.cursor = 0
        self.seen: dict[Any, int] = {}
        self.ws: Any = None
        self.reader: asyncio.Task[None] | None = None
        self.synced = asyncio.Event()

    def place_cursor(self, length: int) -> None:
        self.cursor = (length * self.index) // self.k

    def shift_cursor(self, pos: int, n: int) -> None:
        if pos <= self.cursor:
            self.cursor += n

    def note_remote(self, agent: Any, end: int, now: float) -> None:
        last = self.seen.get(agent, 0)
        if end <= last:
            return
        self.seen[agent] = end
        sent = self.ds.sent
        same = self.ds.server_of.get(agent, 0) == self.server
        for e in range(last + 1, end + 1):
            t = sent.get((agent, e))
            if t is not None:
                self.stats.delivered(t, now, same)

    def caught_up(self) -> bool:
        me = self.agent
        return all(self.seen.get(a, 0) >= end for a, end in self.ds.typed.items() if a != me)

    async def connect(self) -> None:
        from websockets.asyncio.client import connect

        self.ws = await connect(self.url, compression=None, max_size=None, ping_interval=None, open_timeout=60)
        self.reader = asyncio.create_task(self.read())

    async def read(self) -> None:
        try:
            async for frame in self.ws:
                self.on_frame(frame)
        except Exception as exc:  # noqa: BLE001 - report, don't hang the run
            print(f"client {self.agent}: {type(exc).__name__}: {exc}", file=sys.stderr)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()

    # per server
    agent: Any

    def on_frame(self, frame: bytes) -> None:
        raise NotImplementedError

    async def keystroke(self, ch: str) -> None:
        raise NotImplementedError

    def text(self) -> str:
        raise NotImplementedError


class CowriteClient(BaseClient):
    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        from cowrite.engine import Document
        from cowrite.protocol.client import ClientSession

        self.agent = f"{self.ds.doc_id}-c{self.index}"
        self.doc = Document(self.agent)
        self.cg = self.doc.oplog.cg
        self.session = ClientSession(self.doc, self.ds.doc_id, user=self.agent)
        self.peers: list[str] = []

    async def connect(self) -> None:
        await super().connect()
        for f in self.session.data_to_send():
            await self.ws.send(f)

    def on_frame(self, frame: bytes) -> None:
        from cowrite.protocol.client import ProtocolFailure, RemoteChange, ServerError, Welcomed

        for ev in self.session.receive(frame):
            if isinstance(ev, RemoteChange):
                for kind, pos, arg in ev.edits:
                    if kind == 0:
                        self.shift_cursor(pos, len(arg))  # type: ignore[arg-type]
                    elif pos < self.cursor:
                        self.cursor = max(pos, self.cursor - int(arg))
                now = time.perf_counter()
                for a in self.peers:
                    self.note_remote(a, self.cg.next_seq(a), now)
            elif isinstance(ev, Welcomed):
                self.place_cursor(len(self.doc))
                self.synced.set()
            elif isinstance(ev, (ServerError, ProtocolFailure)):
                print(f"client {self.agent}: {ev}", file=sys.stderr)
        out = self.session.data_to_send()
        if out:
            asyncio.ensure_future(self._send_all(out))

    async def _send_all(self, frames: list[bytes]) -> None:
        for f in frames:
            await self.ws.send(f)

    async def keystroke(self, ch: str) -> None:
        t = time.perf_counter()
        pos = min(self.cursor, len(self.doc))
        self.doc.insert(pos, ch)
        self.cursor = pos + 1
        end = self.cg.next_seq(self.agent)
        self.ds.sent[(self.agent, end)] = t
        self.ds.typed[self.agent] = end
        self.session.flush()
        for f in self.session.data_to_send():
            await self.ws.send(f)

    def text(self) -> str:
        return self.doc.text


class YClient(BaseClient):
    """A Yjs client speaking raw y-sync (what y-websocket's provider sends) with pycrdt."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        from pycrdt import Doc, Text

        self.doc = Doc()
        self.ytext = self.doc.get("text", type=Text)
        self.agent = self.doc.client_id
        self.remote = False
        self.last_update: bytes | None = None
        self.doc.observe(self._on_txn)
        self.ytext.observe(self._on_text)
        self.got_step2 = False

    def _on_txn(self, event: Any) -> None:
        self.last_update = event.update

    def _on_text(self, event: Any) -> None:
        if not self.remote:
            return
        pos = 0
        for d in event.delta:
            if "retain" in d:
                pos += d["retain"]
            elif "insert" in d:
                n = len(d["insert"])
                self.shift_cursor(pos, n)
                pos += n
            elif "delete" in d:
                if pos < self.cursor:
                    self.cursor = max(pos, self.cursor - d["delete"])

    async def connect(self) -> None:
        from pycrdt import create_sync_message

        await super().connect()
        await self.ws.send(create_sync_message(self.doc))

    def on_frame(self, frame: bytes) -> None:
        from pycrdt import YMessageType, YSyncMessageType, handle_sync_message

        if not frame or frame[0] != YMessageType.SYNC:
            return
        self.remote = True
        try:
            reply = handle_sync_message(frame[1:], self.doc)
        finally:
            self.remote = False
        if reply is not None:
            asyncio.ensure_future(self.ws.send(reply))
        kind = frame[1]
        if kind == YSyncMessageType.SYNC_STEP2 and not self.got_step2:
            self.got_step2 = True
            self.place_cursor(len(self.ytext))
            self.synced.set()
        elif kind == YSyncMessageType.SYNC_UPDATE:
            now = time.perf_counter()
            me = self.agent
            for a, end in decode_state_vector(self.doc.get_state()).items():
                if a != me:
                    self.note_remote(a, end, now)

    async def keystroke(self, ch: str) -> None:
        from pycrdt import create_update_message

        t = time.perf_counter()
        pos = min(self.cursor, len(self.ytext))
        self.ytext.insert(pos, ch)  # one transaction: one update
        self.cursor = pos + 1
        update = self.last_update
        assert update is not None
        end = decode_state_vector(self.doc.get_state())[self.agent]
        self.ds.sent[(self.agent, end)] = t
        self.ds.typed[self.agent] = end
        await self.ws.send(create_update_message(update))

    def text(self) -> str:
        return str(self.ytext)


async def type_loop(c: BaseClient, rng: random.Random, rate: float, t_start: float, t_stop: float) -> None:
    """Human-ish typing: mean interval 1/rate (jitter ±50 %), a 0.3-1 s pause 3 % of the time."""
    period = 1.0 / rate
    nxt = t_start + rng.uniform(0, period)
    while True:
        now = time.perf_counter()
        if nxt > now:
            await asyncio.sleep(nxt - now)
        if time.perf_counter() >= t_stop:
            return
        await c.keystroke(rng.choice(ALPHABET))
        gap = period * rng.uniform(0.5, 1.5)
        if rng.random() < 0.03:
            gap += rng.uniform(0.3, 1.0)
        nxt = max(nxt + gap, time.perf_counter() - 1.0)  # catch up at most 1 s of lag


async def worker(cfg: dict[str, Any]) -> dict[str, Any]:
    kind = cfg["server"]
    k = cfg["clients_per_doc"]
    stats = Stats()
    cls = CowriteClient if kind == "cowrite" else YClient
    docs = [DocState(d) for d in cfg["docs"]]
    if kind == "cowrite":
        for ds in docs:
            for i in range(k):
                ds.server_of[f"{ds.doc_id}-c{i}"] = i % len(cfg["ports"])
    clients: list[BaseClient] = []
    rng = random.Random(cfg["seed"])
    ports = cfg["ports"]
    base = f"ws://127.0.0.1:{ports[0]}"
    t0 = time.perf_counter()
    for ds in docs:
        group = []
        for i in range(k):
            s = i % len(ports)  # a cluster run spreads each document's clients over the servers
            # each cowrite client is a user of its own, as people typing together are (one
            # user's sockets are bounded: Limits.max_sockets_per_user)
            url = f"ws://127.0.0.1:{ports[s]}/ws/{ds.doc_id}?token={_typist_token(f'{ds.doc_id}-c{i}')}" if kind == "cowrite" else f"{base}/{ds.doc_id}"
            group.append(cls(ds, stats, url, i, k, s))
        if kind != "cowrite":  # the first client seeds the paragraph before the others join
            first = group[0]
            await first.connect()
            await asyncio.wait_for(first.synced.wait(), 60)
            first.ytext.insert(0, SEED)
            assert first.last_update is not None
            from pycrdt import create_update_message

            await first.ws.send(create_update_message(first.last_update))
            group_rest = group[1:]
        else:
            group_rest = group
        await asyncio.gather(*(c.connect() for c in group_rest))
        clients += group
    await asyncio.wait_for(asyncio.gather(*(c.synced.wait() for c in clients)), 120)
    if kind == "cowrite":
        for c in clients:
            assert isinstance(c, CowriteClient)
            c.peers = [o.agent for o in clients if o.ds is c.ds and o is not c]
    else:  # wait for the seed everywhere, then put the cursors in place
        deadline = time.perf_counter() + 30
        while any(len(c.text()) < len(SEED) for c in clients) and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        for c in clients:
            c.place_cursor(len(c.text()))
            c.seen = {a: e for a, e in decode_state_vector(c.doc.get_state()).items()}  # type: ignore[attr-defined]
    setup = time.perf_counter() - t0
    # tell the orchestrator we are ready, wait for the go (a wall-clock start time)
    print(json.dumps({"ready": True, "setup_s": setup}), flush=True)
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    start_wall = float(json.loads(line)["start"])
    t_start = time.perf_counter() + max(0.0, start_wall - time.time())
    w0 = t_start + cfg["warmup"]
    w1 = w0 + cfg["duration"]
    stats.window = (w0, w1)
    tasks = [asyncio.create_task(type_loop(c, random.Random(rng.random()), cfg["rate"], t_start, w1)) for c in clients]
    await asyncio.sleep(max(0.0, w0 - time.perf_counter()))
    cpu0 = time.process_time()
    await asyncio.sleep(max(0.0, w1 - time.perf_counter()))
    cpu1 = time.process_time()
    await asyncio.gather(*tasks)
    # drain: until every keystroke has reached every other client of its document
    deadline = time.perf_counter() + cfg["drain"]
    while not all(c.caught_up() for c in clients) and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    drain_s = time.perf_counter() - w1
    typed_in_window = sum(1 for ds in docs for t in ds.sent.values() if w0 <= t < w1)
    delivered_in_window = sum(1 for _ in stats.lat)
    expected = typed_in_window * (k - 1)
    doc_texts: dict[str, str] = {}
    diverged = []
    for ds in docs:
        texts = {c.text() for c in clients if c.ds is ds}
        if len(texts) != 1:
            diverged.append(ds.doc_id)
        doc_texts[ds.doc_id] = digest(next(iter(texts)))
    if kind != "cowrite":  # what the server holds: a fresh client syncs from it
        for ds in docs:
            probe = YClient(DocState(ds.doc_id), Stats(), f"{base}/{ds.doc_id}", 0, k)
            await probe.connect()
            await asyncio.wait_for(probe.synced.wait(), 30)
            await asyncio.sleep(0.05)
            if digest(probe.text()) != doc_texts[ds.doc_id]:
                diverged.append(ds.doc_id + "@server")
            await probe.close()
    total_keys = sum(len(ds.sent) for ds in docs)
    await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
    lat = sorted(stats.lat)
    return {
        "latencies": [round(x * 1000, 3) for x in lat],
        "latencies_same": sorted(round(x * 1000, 3) for x in stats.lat_same),
        "latencies_cross": sorted(round(x * 1000, 3) for x in stats.lat_cross),
        "missing": expected - delivered_in_window,
        "typed_in_window": typed_in_window,
        "remote_applies_in_window": stats.in_window_applies,
        "keystrokes": total_keys,
        "gen_cpu_s": cpu1 - cpu0,
        "drain_s": drain_s,
        "diverged": diverged,
        "texts": doc_texts,
        "setup_s": setup,
    }


# -- orchestration --------------------------------------------------------------------


@dataclass
class StepResult:
    server: str
    clients: int
    docs: int
    offered: float  # keystrokes/s typed in the window
    relayed: float  # keystrokes/s the server relayed in the window
    p50: float
    p99: float
    mx: float
    missing: int
    server_cpu: float  # fraction of one core
    gen_cpu: float  # fraction of one core, summed over generator processes
    other_cpu: float  # the rest of the machine during the window (other processes, kernel)
    converged: bool
    note: str = ""
    servers: int = 1  # server processes sharing the load (a cluster run: 2, on PostgreSQL)
    p50_same: float = math.nan  # keystroke-to-remote, sender and receiver on one server
    p99_same: float = math.nan
    p50_cross: float = math.nan  # ... on different servers (through PostgreSQL + Redis or polling)
    p99_cross: float = math.nan

    @property
    def ok(self) -> bool:
        return self.converged and self.missing == 0 and self.p99 < P99_TARGET_MS


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return math.inf
    i = min(len(xs) - 1, max(0, math.ceil(q * len(xs)) - 1))
    return xs[i]


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start listening")


def _typist_token(name: str) -> str:
    """A token of the user ``name``, editor of every document (the servers share SECRET)."""
    from cowrite.server import issue_token

    return issue_token(SECRET.encode(), name, doc="*", role="editor", ttl=3600)


def http(method: str, url: str, token: str, body: dict[str, Any] | None = None) -> bytes:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Authorization": f"Bearer {token}"})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as r:
        return bytes(r.read())


CLUSTER = {
    # kind: (server processes, fan-out through Redis)
    "cowrite-pg": (1, False),
    "cowrite-pg2": (2, True),
    "cowrite-pg2-polling": (2, False),
}
"""cowrite on PostgreSQL: one server, two with Redis fan-out, and two without it (what the
servers do while Redis is down: poll PostgreSQL every ``poll_seconds``)."""


def is_cowrite(kind: str) -> bool:
    return kind == "cowrite" or kind in CLUSTER


class PgSchema:
    """A fresh schema in ``--pg`` per step (dropped after), so every step starts empty."""

    def __init__(self, admin_url: str) -> None:
        import uuid

        import psycopg

        self.admin_url = admin_url
        self.name = f"cw_bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{self.name}"'.encode())
        self.url = f"{admin_url}{'&' if '?' in admin_url else '?'}options=-csearch_path%3D{self.name}"

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE'.encode())


def start_server(
    kind: str, port: int, tmp: str, args: argparse.Namespace, *, db: str | None = None, extra: tuple[str, ...] = ()
) -> subprocess.Popen[bytes]:
    env = dict(os.environ, COWRITE_SECRET=SECRET)
    if is_cowrite(kind):
        exe = shutil.which("cowrite", path=str(Path(sys.executable).parent)) or shutil.which("cowrite")
        cmd = [exe] if exe else [sys.executable, "-c", "import sys; from cowrite.cli import main; sys.exit(main())"]
        cmd += ["serve", "--host", "127.0.0.1", "--port", str(port), "--db", db or os.path.join(tmp, "cowrite.db"), "--log-level", "warning"]
        for pair in args.server_limit:
            cmd += ["--limit", pair]
        cmd += list(extra)
    else:
        store = "sqlite" if kind == "pycrdt-sqlite" else "memory"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--serve-pycrdt", str(port), "--pycrdt-store", store, "--db-dir", tmp]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=sys.stderr)


def run_step(kind: str, n_clients: int, args: argparse.Namespace) -> StepResult:
    k = args.clients_per_doc
    n_docs = max(1, n_clients // k)
    n_clients = n_docs * k
    tmp = tempfile.mkdtemp(prefix="cowrite-load-", dir=args.tmp_dir)
    n_servers, fanout = CLUSTER.get(kind, (1, False))
    schema = PgSchema(args.pg) if kind in CLUSTER else None
    ports = [free_port() for _ in range(n_servers)]
    procs: list[subprocess.Popen[bytes]] = []
    workers: list[subprocess.Popen[str]] = []
    try:
        for i, port in enumerate(ports):
            extra: tuple[str, ...] = ()
            if schema is not None:
                extra = ("--server-id", f"s{i}")
                if fanout:
                    extra += ("--redis", args.redis, "--redis-prefix", schema.name)
            procs.append(start_server(kind, port, tmp, args, db=schema.url if schema else None, extra=extra))
        for port, proc in zip(ports, procs):
            wait_port(port, proc)
        port = ports[0]
        server = procs[0]
        base = f"http://127.0.0.1:{port}"
        token = ""
        doc_ids = [f"d{n_clients}-{i}" for i in range(n_docs)]
        if is_cowrite(kind):
            os.environ["COWRITE_SECRET"] = SECRET
            from cowrite.server import issue_token

            token = issue_token(SECRET.encode(), "admin", doc="*", role="owner", ttl=3600)
            for d in doc_ids:
                http("POST", f"{base}/api/docs", token, {"id": d})
                http("POST", f"{base}/api/docs/{d}/edit", token, {"pos": 0, "insert": SEED})
        g = max(1, min(args.gen_procs, n_docs))
        for w in range(g):
            cfg = {
                "server": "cowrite" if is_cowrite(kind) else kind,
                "ports": ports,
                "token": token,
                "docs": doc_ids[w::g],
                "clients_per_doc": k,
                "rate": args.rate,
                "warmup": args.warmup,
                "duration": args.duration,
                "drain": args.drain,
                "seed": args.seed * 1000 + w,
            }
            workers.append(
                subprocess.Popen(
                    [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(cfg)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
        setup = []
        for p in workers:
            assert p.stdout is not None
            line = p.stdout.readline()
            if not line:
                raise RuntimeError(f"a generator failed during setup (exit {p.wait()})")
            setup.append(json.loads(line)["setup_s"])
        start = time.time() + 0.5
        for p in workers:
            assert p.stdin is not None
            p.stdin.write(json.dumps({"start": start}) + "\n")
            p.stdin.flush()
        # server CPU over the measured window
        time.sleep(max(0.0, start + args.warmup - time.time()))
        spies = []
        if args.profile_server:  # py-spy samples each server process over the window
            args.profile_server.mkdir(parents=True, exist_ok=True)
            spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
            if spy is None:
                raise RuntimeError("--profile-server needs py-spy (pip install py-spy)")
            for i, proc in enumerate(procs):
                out = args.profile_server / f"{kind}-{n_clients}-s{i}.txt"
                spies.append(subprocess.Popen(
                    [spy, "record", "--pid", str(proc.pid), "--duration", str(int(args.duration)), "--rate", "200",
                     "--format", "raw", "--output", str(out), "--nonblocking", *(["--gil"] if args.profile_gil else [])],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                ))
        s0, m0 = sum(proc_cpu_seconds(p.pid) for p in procs), machine_busy_seconds()
        time.sleep(max(0.0, start + args.warmup + args.duration - time.time()))
        s1, m1 = sum(proc_cpu_seconds(p.pid) for p in procs), machine_busy_seconds()
        for spy_proc in spies:
            spy_proc.wait(timeout=60)
        results = []
        for p in workers:
            out, _ = p.communicate(timeout=args.drain + 120)
            if p.returncode != 0:
                raise RuntimeError(f"a generator failed (exit {p.returncode})")
            results.append(json.loads(out.strip().splitlines()[-1]))
        lat = sorted(x for r in results for x in r["latencies"])
        same = sorted(x for r in results for x in r.get("latencies_same", []))
        cross = sorted(x for r in results for x in r.get("latencies_cross", []))
        missing = sum(r["missing"] for r in results)
        diverged = [d for r in results for d in r["diverged"]]
        if is_cowrite(kind):
            for r in results:
                for d, h in r["texts"].items():
                    for p in ports:  # every server of a cluster must hold the same text
                        if digest(http("GET", f"http://127.0.0.1:{p}/api/docs/{d}/text", token).decode()) != h:
                            diverged.append(d + f"@server:{p}")
        if missing > 0:
            lat = lat + [math.inf] * missing
        dur = args.duration
        res = StepResult(
            server=kind,
            clients=n_clients,
            docs=n_docs,
            offered=sum(r["typed_in_window"] for r in results) / dur,
            relayed=sum(r["remote_applies_in_window"] for r in results) / (k - 1) / dur,
            p50=pct(lat, 0.50),
            p99=pct(lat, 0.99),
            mx=lat[-1] if lat else math.inf,
            missing=missing,
            server_cpu=(s1 - s0) / dur,
            gen_cpu=sum(r["gen_cpu_s"] for r in results) / dur,
            other_cpu=max(0.0, (m1 - m0) - (s1 - s0) - sum(r["gen_cpu_s"] for r in results)) / dur,
            converged=not diverged,
            note=(f"diverged: {', '.join(diverged[:3])}" if diverged else ""),
            servers=n_servers,
            p50_same=pct(same, 0.50) if same else math.nan,
            p99_same=pct(same, 0.99) if same else math.nan,
            p50_cross=pct(cross, 0.50) if cross else math.nan,
            p99_cross=pct(cross, 0.99) if cross else math.nan,
        )
        print(
            f"{kind:18} {res.clients:4} clients {res.docs:3} docs  offered {res.offered:7.1f}/s relayed {res.relayed:7.1f}/s  "
            f"p50 {res.p50:8.2f} ms  p99 {res.p99:8.2f} ms  max {res.mx:8.1f} ms  server cpu {res.server_cpu:4.0%} "
            f"({1000 * res.server_cpu / res.relayed if res.relayed else math.nan:.2f} ms/relayed keystroke)  "
            f"gen cpu {res.gen_cpu:4.0%}  other cpu {res.other_cpu:4.0%}  setup {max(setup):4.1f}s  {'converged' if res.converged else 'DIVERGED'}"
            f"{'' if not missing else f'  missing {missing}'}"
            + (f"  same p50/p99 {res.p50_same:.1f}/{res.p99_same:.1f} cross {res.p50_cross:.1f}/{res.p99_cross:.1f} ms" if n_servers > 1 else ""),
            file=sys.stderr,
            flush=True,
        )
        return res
    finally:
        for p in workers:
            if p.poll() is None:
                p.kill()
                p.wait()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if schema is not None:
            schema.drop()
        shutil.rmtree(tmp, ignore_errors=True)


LABELS = {
    "cowrite": "cowrite",
    "pycrdt": "pycrdt-websocket",
    "pycrdt-sqlite": "pycrdt-websocket+SQLiteYStore",
    "cowrite-pg": "cowrite, 1 server, PostgreSQL",
    "cowrite-pg2": "cowrite, 2 servers, PostgreSQL + Redis",
    "cowrite-pg2-polling": "cowrite, 2 servers, PostgreSQL, polling (no Redis)",
}


def label(kind: str, args: argparse.Namespace) -> str:
    return LABELS[kind]


def headline(rows: list[StepResult]) -> StepResult | None:
    """The highest load with p99 under the target, every keystroke delivered, all docs converged."""
    good = [r for r in rows if r.ok]
    return max(good, key=lambda r: r.clients) if good else None


def fmt_ms(x: float) -> str:
    return "∞" if math.isinf(x) else (f"{x:.1f}" if x < 100 else f"{x:.0f}")


def render(results: dict[str, list[StepResult]], args: argparse.Namespace, started: float) -> str:
    import pycrdt
    import uvicorn
    import websockets

    from machine import cpu_model

    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    pw, cw = installed("pycrdt-websocket"), installed("cowrite")
    lines = [
        START,
        f"### Server under load (bench/server_load.py, {datetime.date.today()})",
        "",
        f"Machine: {cpu_model()}, {os.cpu_count()} cores; CPython {platform.python_version()}; cowrite {cw}, "
        f"pycrdt-websocket {pw} (pycrdt {getattr(pycrdt, '__version__', '?')}), uvicorn {uvicorn.__version__}, "
        f"websockets {websockets.__version__}. Command: `python bench/server_load.py {' '.join(args.argv)}` "
        f"({(time.time() - started) / 60:.1f} min).",
        "",
        f"Method: N clients over N/{args.clients_per_doc} documents ({args.clients_per_doc} per document), each typing "
        f"{args.rate:g} chars/s (interval jittered ±50 %, a 0.3–1 s pause 3 % of the time) at its own cursor in a "
        f"shared seeded paragraph, every keystroke its own update (cowrite: `insert` + `ClientSession.flush`; Yjs: "
        f"one transaction → one y-sync update). Each server runs in its own subprocess on loopback; "
        f"{args.gen_procs} asyncio load-generator process(es) (`websockets` client, no compression) hold all clients; "
        f"fresh server and database per step; {args.warmup:g} s warm-up, then {args.duration:g} s measured. "
        "Latency = keystroke on one client → update applied on another client of the same document "
        "(every receiver counts; a keystroke that never arrives counts as ∞). "
        "Relayed = keystrokes/s the server delivered during the window. CPU = share of one core over the window "
        "(server: all threads; generators: summed; other = everything else on the machine, e.g. concurrent test runs). Converged = after the drain every client of each document has "
        "the same text and it equals the server's (cowrite: `GET /api/docs/{id}/text`; pycrdt-websocket: a fresh "
        "client synced from the server).",
        "",
        "Storage: cowrite commits every batch to SQLite (WAL, `synchronous=FULL`, group commit) *before* it acks "
        "and broadcasts; "
        + "pycrdt-websocket runs with its default: no YStore, documents only in memory (nothing durable)"
        + (
            "; pycrdt-websocket+SQLiteYStore gives each room a `pycrdt.store.SQLiteYStore` (default settings), "
            "which writes each update *after* broadcasting it (a background task per update)."
            if "pycrdt-sqlite" in results
            else "."
        ),
        "",
        "| server | clients | docs | offered ops/s | relayed ops/s | p50 ms | p99 ms | max ms | server CPU | generator CPU | other CPU | converged |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for kind, rows in results.items():
        for r in rows:
            lines.append(
                f"| {label(kind, args)} | {r.clients} | {r.docs} | {r.offered:.0f} | {r.relayed:.0f} | {fmt_ms(r.p50)} "
                f"| {fmt_ms(r.p99)} | {fmt_ms(r.mx)} | {r.server_cpu:.0%} | {r.gen_cpu:.0%} | {r.other_cpu:.0%} | "
                f"{'yes' if r.converged else 'NO'}{'' if not r.missing else f' ({r.missing} undelivered)'} |"
            )
    cluster = {kind: rows for kind, rows in results.items() if kind in CLUSTER}
    if cluster:
        lines += [
            "",
            "Several servers on one PostgreSQL database (`cowrite serve --db postgresql://…`, a fresh schema per step): "
            "each document's clients alternate between the servers, so every keystroke reaches some receivers on the "
            "sender's server and some on the other one. Same = sender and receiver on one server process (commit, "
            "then broadcast); cross = on different ones (commit, a notice through Redis, the other server applies "
            "it; polling: the other server reads the log every `poll_seconds` = 0.5 s, what every server does while "
            "Redis is down). Server CPU is the sum over the server processes.",
            "",
            "| servers | clients | relayed ops/s | p50 ms | p99 ms | same-server p50 / p99 ms | cross-server p50 / p99 ms | server CPU | generator CPU | converged |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for kind, rows in cluster.items():
            for r in rows:
                cross = "–" if math.isnan(r.p50_cross) else f"{fmt_ms(r.p50_cross)} / {fmt_ms(r.p99_cross)}"
                same = "–" if math.isnan(r.p50_same) else f"{fmt_ms(r.p50_same)} / {fmt_ms(r.p99_same)}"
                lines.append(
                    f"| {label(kind, args)} | {r.clients} | {r.relayed:.0f} | {fmt_ms(r.p50)} | {fmt_ms(r.p99)} | {same} | "
                    f"{cross} | {r.server_cpu:.0%} | {r.gen_cpu:.0%} | "
                    f"{'yes' if r.converged else 'NO'}{'' if not r.missing else f' ({r.missing} undelivered)'} |"
                )
    lines += ["", headline_text(results, args), END]
    return "\n".join(lines)


def headline_text(results: dict[str, list[StepResult]], args: argparse.Namespace) -> str:
    best = {kind: headline(rows) for kind, rows in results.items()}
    parts = []
    for kind, b in best.items():
        tested = max((r.clients for r in results[kind]), default=0)
        if b is None:
            parts.append(f"{label(kind, args)}: no step met p99 < {P99_TARGET_MS:g} ms")
        else:
            top = " (the largest step run: its limit is higher)" if b.clients == tested else ""
            parts.append(
                f"{label(kind, args)}: {b.clients} clients / {b.relayed:.0f} ops/s (p99 {fmt_ms(b.p99)} ms){top}"
            )
    text = f"**Highest load with p99 < {P99_TARGET_MS:g} ms** (all keystrokes delivered, all documents converged): " + "; ".join(parts) + "."
    c = best.get("cowrite")
    for other in ("pycrdt", "pycrdt-sqlite"):
        p = best.get(other)
        if c is not None and p is not None:
            text += (
                f" Ratio cowrite / {label(other, args)} = {c.clients / p.clients:.2f}× in clients "
                f"({c.relayed / p.relayed:.2f}× in ops/s)."
            )
    one, two = best.get("cowrite-pg"), best.get("cowrite-pg2")
    if one is not None and two is not None:
        text += (
            f" On PostgreSQL, 2 server processes / 1 = {two.relayed / one.relayed:.2f}× in relayed ops/s at p99 < "
            f"{P99_TARGET_MS:g} ms (on 2 cores shared with the load generator)."
        )
    text += (
        " A step whose server CPU + generator CPU nears 200 % saturates this 2-core machine: "
        "beyond it the figures measure the machine, not one server."
    )
    return text


def replace_section(path: Path, section: str, start: str = START, end: str = END) -> None:
    """Put ``section`` (which begins with ``start`` and ends with ``end``) in place of the
    part of ``path`` between those markers, or append it if they are absent."""
    text = path.read_text() if path.exists() else ""
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small steps, short windows: a smoke run under a minute")
    ap.add_argument("--steps", help="comma-separated total client counts (default 10,25,50,100,150,200,300,400)")
    ap.add_argument("--duration", type=float, help="measured seconds per step (default 10; --quick 4)")
    ap.add_argument("--warmup", type=float, help="unmeasured seconds before the window (default 2; --quick 1)")
    ap.add_argument("--drain", type=float, default=15.0, help="max seconds to wait for stragglers after typing")
    ap.add_argument("--rate", type=float, default=5.0, help="keystrokes per second per client")
    ap.add_argument("--clients-per-doc", type=int, default=5)
    ap.add_argument("--gen-procs", type=int, default=2, help="load-generator processes (default 2)")
    ap.add_argument("--servers", default="cowrite,pycrdt", help="comma-separated: cowrite, pycrdt (in-memory, its default), pycrdt-sqlite")
    ap.add_argument("--pycrdt-store", choices=["memory", "sqlite"], default="memory", help=argparse.SUPPRESS)
    ap.add_argument("--stop-after-fail", type=int, default=1, help="stop a server's ramp after this many steps over the target in a row (0: never)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--pg",
        default=os.environ.get("COWRITE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"),
        help="PostgreSQL for the cowrite-pg* servers (a fresh schema per step)",
    )
    ap.add_argument(
        "--redis", default=os.environ.get("COWRITE_TEST_REDIS", "redis://127.0.0.1:6379/0"), help="Redis for cowrite-pg2"
    )
    ap.add_argument("--tmp-dir", help="where the databases go (default: the system temp dir; must be a real disk)")
    ap.add_argument("--write", type=Path, help="replace the bench-server section of this markdown file")
    ap.add_argument(
        "--profile-server", type=Path, metavar="DIR",
        help="sample each cowrite server with py-spy over each step's window (collapsed stacks into DIR)",
    )
    ap.add_argument(
        "--profile-gil", action="store_true",
        help="with --profile-server: only samples of threads holding the GIL (closer to CPU than wall-clock)",
    )
    ap.add_argument("--json", type=Path, help="also write the raw rows as JSON")
    ap.add_argument(
        "--server-limit", action="append", default=[], metavar="NAME=VALUE",
        help="pass `--limit NAME=VALUE` to each cowrite server (e.g. commit_gather_seconds=0.003); repeatable",
    )
    # internal modes
    ap.add_argument("--serve-pycrdt", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--db-dir", help=argparse.SUPPRESS)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.argv = argv
    if args.serve_pycrdt:
        asyncio.run(serve_pycrdt(args.serve_pycrdt, args.pycrdt_store, args.db_dir or "."))
        return 0
    if args.worker:
        res = asyncio.run(worker(json.loads(args.worker)))
        print(json.dumps(res), flush=True)
        return 0
    steps = [int(s) for s in args.steps.split(",")] if args.steps else ([10, 25, 50] if args.quick else [10, 25, 50, 100, 150, 200, 300, 400])
    args.duration = args.duration or (4.0 if args.quick else 10.0)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if args.quick else 2.0)
    if args.quick:
        args.drain = min(args.drain, 5.0)
    started = time.time()
    results: dict[str, list[StepResult]] = {}
    for kind in [s.strip() for s in args.servers.split(",") if s.strip()]:
        if kind not in LABELS:
            ap.error(f"unknown server {kind!r}")
        rows = results.setdefault(kind, [])
        fails = 0
        for n in steps:
            r = run_step(kind, n, args)
            rows.append(r)
            fails = 0 if r.ok else fails + 1
            if args.stop_after_fail and fails >= args.stop_after_fail and r.p99 > 4 * P99_TARGET_MS:
                print(f"{kind}: p99 far over target; stopping its ramp", file=sys.stderr)
                break
    section = render(results, args, started)
    print(section)
    if args.json:
        args.json.write_text(json.dumps({k: [vars(r) for r in v] for k, v in results.items()}, indent=1, default=str))
    if args.write:
        replace_section(args.write, section)
    return 0 if all(r.converged for rows in results.values() for r in rows) else 1


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    raise SystemExit(main(sys.argv[1:]))
