"""What users of a cowrite cluster see when a server dies or is cut off (issue 13).

    python bench/cluster_failures.py                     # both scenarios, 3 rounds each
    python bench/cluster_failures.py --rounds 5 --write BENCHMARKS.md

Two servers (``cowrite serve --db postgresql://… --redis redis://…``, a fresh schema per
round) serve one document; six Python clients (``cowrite.client.Client``, each given
both servers' URLs, its own first) type 5 characters a second each at random places.

* **kill**: after 3 s of typing, server 0 is killed with SIGKILL.  Its clients' *write
  gap* is, per client, the time between the last acknowledgement they got before the
  kill and the first one after (from the other server, once they have moved and
  resent); also how long until a character typed after the kill by a client of the
  dead server reaches a client of the other one.  Typing goes on for 5 s more, then
  everyone must converge on a text holding every character typed (none lost).
* **partition**: server 1 reaches PostgreSQL and Redis through relays in this process.
  After 3 s of typing both relays black-hole (accept, never forward: what a network
  partition looks like from the server — no RST, only silence) for ``--cut`` seconds
  while everyone keeps typing; then the links heal and typing stops.  Reported: how
  long server 1 kept acknowledging after the cut (it must stop: it cannot commit), and
  the *convergence time* from the heal until every client has everything acknowledged
  and all clients and both servers hold the same text.

With ``--write FILE`` the results replace the part of FILE between
``<!-- bench-cluster-failures:start -->`` and ``<!-- bench-cluster-failures:end -->``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
START, END = "<!-- bench-cluster-failures:start -->", "<!-- bench-cluster-failures:end -->"
SECRET = "bench-cluster-failures-secret-0123456789abcdef"
DOC = "bench-failures"
SEED = "Two servers, six writers, one paragraph: what happens when a server goes away. "
ALPHABET = "abcdefghijklmnopqrstuvwxyz "


# -- a relay that can black-hole its traffic ------------------------------------------------


class Relay:
    """TCP relay 127.0.0.1:<port> -> 127.0.0.1:<target>.  ``cut()`` black-holes it: live
    connections stay open but nothing crosses any more and new ones are accepted and
    never answered; ``heal()`` resets those connections (as a router that lost its state
    would after a long partition) and forwards again."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = 0
        self.up = True
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                while not self.up:  # black hole: hold the bytes, forward nothing
                    await asyncio.sleep(0.05)
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(OSError):
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._conns.add(writer)
        try:
            while not self.up:
                await asyncio.sleep(0.05)
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            self._conns.discard(writer)
            return
        self._conns.add(up_writer)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self._conns.discard(writer)
        self._conns.discard(up_writer)

    def cut(self) -> None:
        self.up = False

    def heal(self) -> None:
        for w in list(self._conns):
            with contextlib.suppress(Exception):
                w.transport.abort()
        self._conns.clear()
        self.up = True

    async def close(self) -> None:
        self.heal()
        if self._server is not None:
            self._server.close()


# -- servers and clients --------------------------------------------------------------------


def cowrite_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "cowrite"
    return [str(exe)] if exe.exists() else [sys.executable, "-c", "import sys; from cowrite.cli import main; sys.exit(main())"]


def start_server(port: int, db: str, redis: str, prefix: str, name: str, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, COWRITE_SECRET=SECRET)
    cmd = cowrite_cmd() + [
        "serve", "--host", "127.0.0.1", "--port", str(port), "--db", db, "--redis", redis,
        "--redis-prefix", prefix, "--server-id", name, "--log-level", "warning",
    ]
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)


def http(method: str, url: str, token: str, body: dict[str, Any] | None = None) -> bytes:
    import json

    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Authorization": f"Bearer {token}"})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as r:
        return bytes(r.read())


@dataclass
class Writer:
    """One client typing, with a record of when its acknowledged seq moved."""

    client: Any
    home: int  # index of the server it starts on
    rng: random.Random
    typed: int = 0
    acks: list[float] = field(default_factory=list)  # times acked_seq grew
    last_acked: int = 0
    first_after: float | None = None  # when it typed its first character after the kill
    armed: bool = False

    def poll(self, now: float) -> None:
        seq = self.client.acked_seq
        if seq > self.last_acked:
            self.last_acked = seq
            self.acks.append(now)


async def type_for(writers: list[Writer], seconds: float, rate: float, mark_after: float | None = None) -> None:
    """Everyone types ``rate`` chars/s (jittered) for ``seconds``; acks are sampled every 5 ms."""
    stop = time.perf_counter() + seconds

    async def one(w: Writer) -> None:
        while time.perf_counter() < stop:
            text_len = len(w.client.text)
            pos = w.rng.randint(0, text_len)
            w.client.insert(pos, w.rng.choice(ALPHABET))
            w.typed += 1
            if w.armed and w.first_after is None:
                w.first_after = time.perf_counter()
            await asyncio.sleep(w.rng.uniform(0.5, 1.5) / rate)

    async def sampler() -> None:
        while time.perf_counter() < stop + 0.01:
            now = time.perf_counter()
            for w in writers:
                w.poll(now)
            await asyncio.sleep(0.005)

    await asyncio.gather(sampler(), *(one(w) for w in writers))


async def converge(writers: list[Writer], ports: list[int], token: str, timeout: float) -> float:
    """Seconds until every client has everything acknowledged and all texts (clients and
    servers) agree; raises if not within ``timeout``."""
    t0 = time.perf_counter()
    deadline = t0 + timeout
    while True:
        now = time.perf_counter()
        for w in writers:
            w.poll(now)
        texts = {w.client.text for w in writers}
        if len(texts) == 1 and all(w.client.pending == 0 for w in writers):
            server_texts = set()
            for p in ports:
                with contextlib.suppress(OSError):
                    body = await asyncio.to_thread(http, "GET", f"http://127.0.0.1:{p}/api/docs/{DOC}/text", token)
                    server_texts.add(body.decode())
            if server_texts == texts:
                return time.perf_counter() - t0
        if now > deadline:
            raise RuntimeError(f"no convergence within {timeout} s: {len(texts)} distinct client texts")
        await asyncio.sleep(0.01)


@dataclass
class Round:
    scenario: str
    gaps_ms: list[float] = field(default_factory=list)  # kill: per killed-server client
    reach_ms: list[float] = field(default_factory=list)  # kill: a post-kill char reaching the other server's clients
    acks_after_cut_ms: float = 0.0  # partition: last ack server 1's clients got after the cut
    converge_ms: float = 0.0
    typed: int = 0
    length_ok: bool = False


async def one_round(scenario: str, args: argparse.Namespace, seed: int) -> Round:
    sys.path.insert(0, str(HERE))
    from server_load import PgSchema, free_port, wait_port

    from cowrite.client import Client, ClientSettings
    from cowrite.server import issue_token

    schema = PgSchema(args.pg)
    tmp = Path(tempfile.mkdtemp(prefix="cowrite-failures-"))
    prefix = schema.name
    ports = [free_port(), free_port()]
    relays: list[Relay] = []
    procs: list[subprocess.Popen[bytes]] = []
    writers: list[Writer] = []
    result = Round(scenario)
    try:
        redis_url = args.redis
        db1 = schema.url
        if scenario == "partition":
            from urllib.parse import urlsplit

            pg = urlsplit(args.pg)
            rd = urlsplit(args.redis)
            pg_relay, redis_relay = Relay(pg.port or 5432), Relay(rd.port or 6379)
            for r in (pg_relay, redis_relay):
                await r.start()
            relays = [pg_relay, redis_relay]
            db1 = schema.url.replace(f":{pg.port or 5432}/", f":{pg_relay.port}/", 1)
            redis1 = args.redis.replace(f":{rd.port or 6379}", f":{redis_relay.port}", 1)
        else:
            redis1 = redis_url
        procs.append(start_server(ports[0], schema.url, redis_url, prefix, "s0", tmp / "s0.log"))
        procs.append(start_server(ports[1], db1, redis1, prefix, "s1", tmp / "s1.log"))
        for port, proc in zip(ports, procs):
            # in a thread: this event loop runs the relays the second server starts through
            await asyncio.to_thread(wait_port, port, proc)
        token = issue_token(SECRET.encode(), "bench", doc="*", role="owner", ttl=3600)
        base0 = f"http://127.0.0.1:{ports[0]}"
        http("POST", f"{base0}/api/docs", token, {"id": DOC})
        http("POST", f"{base0}/api/docs/{DOC}/edit", token, {"pos": 0, "insert": SEED})
        rng = random.Random(seed)
        settings = ClientSettings(flush_interval=0.015)
        for i in range(6):
            home = i % 2
            urls = [f"ws://127.0.0.1:{ports[home]}", f"ws://127.0.0.1:{ports[1 - home]}"]
            c = Client(urls, DOC, token, settings=settings, user_name=f"w{i}")
            await c.start()
            writers.append(Writer(c, home, random.Random(rng.random())))
        await asyncio.gather(*(w.client.synced(30) for w in writers))
        await type_for(writers, 3.0, args.rate)
        if scenario == "kill":
            t_kill = time.perf_counter()
            procs[0].send_signal(signal.SIGKILL)
            procs[0].wait()
            moved = [w for w in writers if w.home == 0]
            stayed = [w for w in writers if w.home == 1]
            marks = {w.client.agent: w.client.doc.oplog.cg.next_seq(w.client.agent) for w in moved}
            for w in moved:
                w.armed = True
            reached: dict[str, float] = {}

            async def watch() -> None:
                # When the first character each moved client typed after the kill is on
                # every client of the surviving server.
                while len(reached) < len(moved):
                    for agent, seq in marks.items():
                        if agent not in reached and all(o.client.doc.oplog.cg.next_seq(agent) > seq for o in stayed):
                            reached[agent] = time.perf_counter()
                    await asyncio.sleep(0.002)

            watcher = asyncio.create_task(watch())
            await type_for(writers, 5.0, args.rate)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(watcher, 30)
            for w in moved:
                if w.first_after is not None and w.client.agent in reached:
                    result.reach_ms.append(1000 * (reached[w.client.agent] - w.first_after))
            for w in writers:
                if w.home != 0:
                    continue
                before = [t for t in w.acks if t <= t_kill]
                after = [t for t in w.acks if t > t_kill]
                if before and after:
                    result.gaps_ms.append(1000 * (after[0] - before[-1]))
            result.converge_ms = 1000 * await converge(writers, ports[1:], token, 60)
        else:
            cut_at = time.perf_counter()
            for r in relays:
                r.cut()
            await type_for(writers, args.cut, args.rate)
            late = [t for w in writers if w.home == 1 for t in w.acks if t > cut_at + 0.001]
            result.acks_after_cut_ms = 1000 * (max(late) - cut_at) if late else 0.0
            for r in relays:
                r.heal()
            result.converge_ms = 1000 * await converge(writers, ports, token, 60)
        result.typed = sum(w.typed for w in writers)
        result.length_ok = len(writers[0].client.text) == len(SEED) + result.typed
        return result
    finally:
        for w in writers:
            with contextlib.suppress(Exception):
                await w.client.close()
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for r in relays:
            await r.close()
        schema.drop()
        shutil.rmtree(tmp, ignore_errors=True)


def fmt(xs: list[float]) -> str:
    if not xs:
        return "–"
    return f"{statistics.median(xs):.0f} (max {max(xs):.0f})"


def render(rounds: list[Round], args: argparse.Namespace, minutes: float) -> str:
    sys.path.insert(0, str(HERE))
    from machine import cpu_model

    kill = [r for r in rounds if r.scenario == "kill"]
    part = [r for r in rounds if r.scenario == "partition"]
    lines = [
        START,
        f"### Cluster failures (bench/cluster_failures.py, {datetime.date.today()})",
        "",
        f"Machine: {cpu_model()}, {os.cpu_count()} cores; CPython {platform.python_version()}; PostgreSQL and Redis "
        f"on the same machine. Command: `python bench/cluster_failures.py {' '.join(args.argv)}` ({minutes:.1f} min). "
        f"Two servers on one PostgreSQL database with Redis fan-out, six Python clients (three per server, each "
        f"given both URLs) typing {args.rate:g} chars/s each at random places; {args.rounds} rounds per scenario, "
        "median (max) over rounds and clients, in ms.",
        "",
        "| scenario | what | ms | every character kept |",
        "|---|---|---:|---|",
    ]
    if kill:
        ok = "yes" if all(r.length_ok for r in kill) else "NO"
        lines.append(f"| server killed (SIGKILL) mid-typing | write gap of its clients: last ack before → first ack after, from the other server | {fmt([g for r in kill for g in r.gaps_ms])} | {ok} |")
        lines.append(f"| | its clients' first keystroke after the kill → on every client of the other server | {fmt([g for r in kill for g in r.reach_ms])} | |")
        lines.append(f"| | convergence after typing stops | {fmt([r.converge_ms for r in kill])} | |")
    if part:
        ok = "yes" if all(r.length_ok for r in part) else "NO"
        lines.append(f"| server 1 cut off from PostgreSQL and Redis for {args.cut:g} s | last ack its clients got after the cut | {fmt([r.acks_after_cut_ms for r in part])} | {ok} |")
        lines.append(f"| | convergence time after the partition heals (all acked, all texts equal, both servers) | {fmt([r.converge_ms for r in part])} | |")
    lines.append(END)
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--scenarios", default="kill,partition")
    ap.add_argument("--cut", type=float, default=5.0, help="seconds the partition lasts")
    ap.add_argument("--rate", type=float, default=5.0, help="keystrokes per second per client")
    ap.add_argument("--pg", default=os.environ.get("COWRITE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--redis", default=os.environ.get("COWRITE_TEST_REDIS", "redis://127.0.0.1:6379/0"))
    ap.add_argument("--write", type=Path)
    args = ap.parse_args(argv)
    args.argv = argv
    started = time.time()
    rounds: list[Round] = []
    for scenario in [s.strip() for s in args.scenarios.split(",") if s.strip()]:
        if scenario not in ("kill", "partition"):
            ap.error(f"unknown scenario {scenario!r}")
        for k in range(args.rounds):
            r = asyncio.run(one_round(scenario, args, seed=1000 * k + 7))
            print(f"{scenario} round {k + 1}: {r}", file=sys.stderr, flush=True)
            rounds.append(r)
    section = render(rounds, args, (time.time() - started) / 60)
    print(section)
    if args.write:
        sys.path.insert(0, str(HERE))
        from server_load import replace_section

        replace_section(args.write, section, START, END)
    return 0 if all(r.length_ok for r in rounds) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
