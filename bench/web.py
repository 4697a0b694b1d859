"""Browser-side benchmark: the JS engine beside Yjs and the Python engine, and the editor in Chromium.

    python bench/web.py [--repeat 5] [--keys 200] [--remote 30] [--write BENCHMARKS.md]
    python bench/web.py --skip-browser      # engines only
    python bench/web.py --skip-engines      # editor only

1. Engines.  ``node --expose-gc bench/web_engine.mjs`` times cowrite's JS engine
   (web/src/engine) and Yjs (web/'s devDependency) in one Node process; the same
   cowrite measurements are then made here with the Python engine.  Sequential
   traces: replay every patch as a local edit, encode the whole document, load it
   again, encoded size.  Concurrent traces: one replica per agent exchanging each
   txn's update exactly per its parents ("agents"), all those updates merged in trace
   order into a fresh doc ("merge"), and, cowrite only, the trace replayed into one
   op log at its parents' versions and checked out in one walk ("replay", what
   ``cowrite replay`` does).  Every final text is checked against ``endContent``.
   Median of ``--repeat`` runs; a measurement whose first run is long gets fewer runs
   (at most ~4 s per cell), so the whole run stays short.

2. Editor.  A real ``cowrite serve`` on loopback, seeded with automerge-paper's
   endContent (104,852 chars) and with its first 1,000 chars, opened in headless
   Chromium (/usr/bin/chromium).  Page load: navigation start to the status showing
   "connected", measured inside the page.  Keystrokes: the caret is put at a random
   position, then a key is typed with ``page.keyboard``; inside the page a capturing
   keydown listener takes the start time, an engine observer the time at which the
   engine has the character (checked to be in CodeMirror's state too: the engine is
   updated from CodeMirror's update listener), and a MessageChannel message the end
   of that task (all the synchronous handler work).  Remote edits: a Python client
   inserts; the page's engine observer and the end of that task give the arrival
   time, on the page's clock mapped to Python's by the offset of the fastest of
   several round trips.  No peer: there is no browser Yjs editor to compare with here.

With ``--write`` the section replaces the part of FILE between
``<!-- bench-web:start -->`` and ``<!-- bench-web:end -->`` (appended if absent).
The exit status is 1 if any text was wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(REPO / "tests"))  # integration.harness: the server process and client helpers

from machine import cpu_model  # noqa: E402
from peer_cowrite import CowriteReplica, ensure_importable  # noqa: E402
from peers import generate_txn_updates  # noqa: E402
from traces import find_trace, load_trace  # noqa: E402

START, END = "<!-- bench-web:start -->", "<!-- bench-web:end -->"
SEQUENTIAL = ["automerge-paper", "seph-blog1", "rustcode", "sveltecomponent"]
CONCURRENT = ["friendsforever", "clownschool"]
CHROMIUM = os.environ.get("COWRITE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CELL_BUDGET = 4.0  # seconds of repetitions per measurement, at least one run

T = TypeVar("T")
failures: list[str] = []


def check(what: str, got: str, want: str) -> None:
    if got != want:
        failures.append(what)
        print(f"WRONG: {what} ({len(got)} chars, expected {len(want)})", file=sys.stderr)


def timed(fn: Callable[[], T], repeat: int) -> tuple[float, list[float], T]:
    """Median (ms) of up to ``repeat`` runs, gc.collect() before each; fewer if the
    first run is long (the same rule as web_engine.mjs)."""
    runs: list[float] = []
    result: Any = None
    n = repeat
    while len(runs) < n:
        result = None
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        runs.append((time.perf_counter() - t0) * 1e3)
        if len(runs) == 1:
            n = max(1, min(repeat, int(CELL_BUDGET * 1e3 // max(runs[0], 1e-3))))
    return statistics.median(runs), runs, result


# -- 1. engines -----------------------------------------------------------------------


def run_node(repeat: int) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node is not on PATH")
    if not (REPO / "web" / "node_modules" / "yjs").is_dir():
        raise SystemExit("yjs is not installed: cd web && npm ci")
    proc = subprocess.run(
        [node, "--expose-gc", str(HERE / "web_engine.mjs"), "--repeat", str(repeat), "--json"],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    out: dict[str, Any] = json.loads(proc.stdout)
    for f in out["failures"]:
        failures.append(f)
    return out


def python_sequential(name: str, repeat: int) -> dict[str, float]:
    from cowrite import Document

    trace = load_trace(name)
    patches = trace.flat_patches()
    end = trace.end_content

    def replay() -> Any:
        doc = Document(agent="bench")
        for pos, n_del, ins in patches:
            if n_del:
                doc.delete(pos, n_del)
            if ins:
                doc.insert(pos, ins)
        return doc.text, doc

    t_rep, _, (text, doc) = timed(replay, repeat)
    check(f"cowrite-py {name} replay", text, end)
    t_enc, _, blob = timed(doc.encode, repeat)
    t_load, _, loaded = timed(lambda: Document.decode(blob).text, repeat)
    check(f"cowrite-py {name} load", loaded, end)
    return {"replay": t_rep, "encode": t_enc, "load": t_load, "size": len(blob)}


def python_concurrent(name: str, repeat: int) -> dict[str, float]:
    from cowrite import Document
    from cowrite.replay import load_trace as load_replay_trace
    from cowrite.replay import replay as cowrite_replay

    trace = load_trace(f"concurrent/{name}")
    end = trace.end_content
    t_ag, _, updates = timed(lambda: generate_txn_updates(trace, CowriteReplica), repeat)

    def merge() -> Any:
        doc = Document(agent="server")
        for u in updates:
            doc.apply_patch(u)
        return doc.text, doc

    t_merge, _, (text, doc) = timed(merge, repeat)
    check(f"cowrite-py {name} merge", text, end)
    rtrace = load_replay_trace(find_trace(f"concurrent/{name}"))
    t_rp, _, text = timed(lambda: cowrite_replay(rtrace), repeat)
    check(f"cowrite-py {name} replay", text, end)
    return {
        "agents": t_ag,
        "merge": t_merge,
        "replay": t_rp,
        "updateBytes": sum(len(u) for u in updates),
        "size": len(doc.encode()),
    }


def engines(repeat: int) -> dict[str, Any]:
    ensure_importable()
    t0 = time.perf_counter()
    res = run_node(repeat)
    print(f"node part: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    t0 = time.perf_counter()
    for r in res["results"]:
        if r["kind"] == "sequential":
            r["python"] = python_sequential(r["trace"], repeat)
        else:
            r["python"] = python_concurrent(r["trace"], repeat)
        print(f"{r['trace']}: python {r['python']}", file=sys.stderr)
    print(f"python part: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return res


# -- 2. editor in Chromium -------------------------------------------------------------

# Installed before the page's scripts run: the moment the status element turns
# "connected" (a MutationObserver callback runs as a microtask right after the change).
CONNECTED_PROBE = """(() => {
  const mo = new MutationObserver(() => {
    const el = document.getElementById('status');
    if (el && el.dataset.state === 'connected' && window.__connectedAt === undefined) {
      window.__connectedAt = performance.now();
      mo.disconnect();
    }
  });
  mo.observe(document, { subtree: true, attributes: true, attributeFilter: ['data-state'] });
})();"""

LOAD_INFO = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource');
  const snap = res.find((e) => e.name.includes('/snapshot'));
  const app = res.find((e) => e.name.endsWith('/app.js') || e.name.includes('/app.js?'));
  return {
    connected: window.__connectedAt,
    domContentLoaded: nav ? nav.domContentLoadedEventEnd : null,
    appJs: app ? app.responseEnd : null,
    snapshot: snap ? snap.responseEnd : null,
    snapshotBytes: snap ? snap.encodedBodySize : null,
    length: window.cowrite.doc.length,
  };
}"""

# Keystroke probe: keydown (capturing, on window: the first listener to run) starts
# the clock; the engine's 'local' observer stops it once the character is in the
# engine (CodeMirror's state already has it: the engine is fed from its update
# listener); a microtask queued from there runs once every synchronous handler of the
# keystroke has returned; a task posted from the next requestAnimationFrame runs after
# the frame showing the character was drawn.
INSTALL_PROBES = """() => {
  const ks = { pending: null, recs: [] };
  const rm = { recs: [] };
  window.__ks = ks;
  window.__rm = rm;
  const after = (fn) => { const mc = new MessageChannel(); mc.port1.onmessage = fn; mc.port2.postMessage(0); };
  addEventListener('keydown', (e) => {
    if (e.key.length === 1) ks.pending = { t0: performance.now(), queued: performance.now() - e.timeStamp, key: e.key };
  }, true);
  window.cowrite.doc.observe((ev) => {
    const now = performance.now();
    const view = window.cowrite.view;
    if (ev.origin === 'local') {
      const p = ks.pending;
      if (!p) return;
      ks.pending = null;
      const ch = ev.changes[0];
      const ok = ev.changes.length === 1 && ch.kind === 'ins' && ch.text === p.key
        && view.state.doc.sliceString(ch.pos, ch.pos + 1) === p.key;
      const rec = { engine: now - p.t0, queued: p.queued, ok, pos: ch.pos, via: window.event ? window.event.type : null };
      ks.recs.push(rec);
      // the JS stack empties: every synchronous handler of this keystroke has run
      queueMicrotask(() => { rec.handlers = performance.now() - p.t0; });
      // painted: the frame after the edit (rAF runs just before it is drawn, a task posted from there after)
      requestAnimationFrame(() => after(() => { rec.frame = performance.now() - p.t0; }));
    } else {
      const ins = ev.changes.filter((c) => c.kind === 'ins');
      const rec = { engine: performance.timeOrigin + now, texts: ins.map((c) => c.text) };
      rm.recs.push(rec);
      after(() => {
        rec.shown = performance.timeOrigin + performance.now();
        rec.ok = ins.every((c) => view.state.doc.sliceString(c.pos, c.pos + c.text.length) === c.text);
      });
    }
  });
}"""


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def stats(xs: list[float]) -> dict[str, float]:
    return {"n": len(xs), "median": statistics.median(xs), "p95": pct(xs, 0.95), "max": max(xs)}


async def open_page(browser: Any, srv: Any, doc_id: str) -> tuple[Any, Any, dict[str, Any]]:
    from integration.harness import token

    context = await browser.new_context(viewport={"width": 1200, "height": 800}, bypass_csp=True)
    await context.add_init_script(CONNECTED_PROBE)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{srv.http}/d/{doc_id}?token={token('bench', doc=doc_id, role='editor')}")
    await page.wait_for_function("window.__connectedAt !== undefined", timeout=60_000)
    info = dict(await page.evaluate(LOAD_INFO))
    info["errors"] = errors
    return context, page, info


async def clock_offset(page: Any) -> float:
    """Page epoch ms minus Python epoch ms, from the fastest of 15 round trips."""
    best: tuple[float, float] | None = None
    for _ in range(15):
        a = time.time() * 1e3
        p = await page.evaluate("performance.timeOrigin + performance.now()")
        b = time.time() * 1e3
        if best is None or b - a < best[0]:
            best = (b - a, p - (a + b) / 2)
    assert best is not None
    return best[1]


async def editor_case(browser: Any, srv: Any, doc_id: str, text: str, args: argparse.Namespace) -> dict[str, Any]:
    from integration.harness import client, seed

    rng = random.Random(7)
    await seed(srv, doc_id, text)
    loads = []
    for _ in range(args.loads):
        ctx, page, info = await open_page(browser, srv, doc_id)
        loads.append(info)
        await ctx.close()
    ctx, page, info = await open_page(browser, srv, doc_id)
    try:
        await page.evaluate(INSTALL_PROBES)
        await page.click(".cm-content")
        length = len(text)
        for i in range(args.keys):
            pos = rng.randint(0, length)
            await page.evaluate(
                "(p) => { const v = window.cowrite.view; v.focus(); v.dispatch({ selection: { anchor: p }, scrollIntoView: true }); }",
                pos,
            )
            # two frames: the scroll and re-render happen before the key, as after a click
            await page.evaluate("new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
            await page.keyboard.type(rng.choice("abcdefghijklmnopqrstuvwxyz"))
            length += 1
            await page.wait_for_function(f"window.__ks.recs.length >= {i + 1} && window.__ks.recs[{i}].frame !== undefined")
        recs = await page.evaluate("window.__ks.recs")
        bad = [r for r in recs if not r["ok"]]
        if bad or len(recs) != args.keys:
            failures.append(f"editor {doc_id}: {len(bad)} keystrokes not seen by engine+CodeMirror, {len(recs)} recorded")

        # remote edits from a Python client
        offset = await clock_offset(page)
        c = client(srv, doc_id, "remote")
        await c.start()
        await c.synced(30)
        sent: list[float] = []
        for i in range(args.remote):
            await asyncio.sleep(0.05)
            marker = f"[r{i}]"
            pos = rng.randint(0, len(c.text))
            sent.append(time.time() * 1e3)
            c.insert(pos, marker)
            deadline = time.monotonic() + 10
            while await page.evaluate(f"window.__rm.recs.filter((r) => r.shown !== undefined).length") < i + 1:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"remote edit {i} did not reach the page")
                await asyncio.sleep(0.002)
        rrecs = await page.evaluate("window.__rm.recs")
        await c.synced(30)
        # every page, the client and the server agree at the end
        for _ in range(200):
            pi = await page.evaluate("window.cowrite.info()")
            if pi["text"] == pi["editorText"] == c.text == await srv.atext(doc_id) and pi["unacked"] == 0:
                break
            await asyncio.sleep(0.05)
        else:
            failures.append(f"editor {doc_id}: page, client and server did not converge")
        await c.close()
        remote_ms, remote_engine_ms = [], []
        for i, r in enumerate(rrecs[: args.remote]):
            if not r.get("ok") or r["texts"] != [f"[r{i}]"]:
                failures.append(f"editor {doc_id}: remote edit {i} not shown as sent ({r})")
                continue
            remote_engine_ms.append(r["engine"] - offset - sent[i])
            remote_ms.append(r["shown"] - offset - sent[i])
        errors = info["errors"]
        if errors:
            failures.append(f"editor {doc_id}: page errors {errors}")
    finally:
        await ctx.close()
    return {
        "chars": len(text),
        "load": {k: statistics.median([float(x[k]) for x in loads]) for k in ("connected", "domContentLoaded", "appJs", "snapshot")},
        "loads": [x["connected"] for x in loads],
        "snapshotBytes": loads[0]["snapshotBytes"],
        "key_engine": stats([r["engine"] for r in recs]),
        "key_handlers": stats([r["handlers"] for r in recs]),
        "key_frame": stats([r["frame"] for r in recs]),
        "key_via": sorted({str(r["via"]) for r in recs}),
        "key_queued": stats([r["queued"] for r in recs]),
        "remote": stats(remote_ms) if remote_ms else None,
        "remote_engine": stats(remote_engine_ms) if remote_engine_ms else None,
        "clock_offset_ms": offset,
    }


async def editor(args: argparse.Namespace) -> dict[str, Any]:
    ensure_importable()
    from playwright.async_api import async_playwright

    from integration.harness import ServerProcess, seed

    text = load_trace("automerge-paper").end_content
    warm = load_trace("sveltecomponent").end_content[:500]
    with tempfile.TemporaryDirectory() as tmp:
        srv = ServerProcess(Path(tmp) / "web.db")
        srv.start()
        try:
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    out: dict[str, Any] = {"version": browser.version}
                    # warm-up (untimed): the server's first page, the browser's first context
                    await seed(srv, "bench-warmup", warm)
                    ctx, _, _ = await open_page(browser, srv, "bench-warmup")
                    await ctx.close()
                    out["small"] = await editor_case(browser, srv, "bench-small", text[:1000], args)
                    print(f"small: {out['small']}", file=sys.stderr)
                    out["large"] = await editor_case(browser, srv, "bench-large", text, args)
                    print(f"large: {out['large']}", file=sys.stderr)
                finally:
                    await browser.close()
        finally:
            srv.stop()
    return out


# -- report ----------------------------------------------------------------------------


def ms(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}" if x >= 1 else f"{x:.2f}"


def ratio(a: float, b: float | None) -> str:
    return f"{a / b:.2g}x" if b else "n/a"


def render(eng: dict[str, Any] | None, ed: dict[str, Any] | None, args: argparse.Namespace, shared: str) -> str:
    from importlib.metadata import version

    lines = [
        START,
        f"### Browser side (bench/web.py, {datetime.date.today()}, {cpu_model()}, {os.cpu_count()} cores)",
        "",
    ]
    if shared:
        lines += [f"**The machine was shared during this run** ({shared}): figures can be off by 2x or more.", ""]
    if eng is not None:
        lines += [
            f"**Engines.** cowrite's JS engine (`web/src/engine`) and Yjs {eng['yjs']} (`Y.Text`, what browser "
            f"editors use) in one Node {eng['node']} process, beside cowrite's Python engine "
            f"(CPython {sys.version.split()[0]}, cowrite {version('cowrite') if _installed('cowrite') else 'src'}) in "
            f"the same run. Median of up to {args.repeat} runs (fewer when one run takes over "
            f"{CELL_BUDGET / args.repeat:.1f} s: at most ~{CELL_BUDGET:.0f} s per cell), gc before each; every final "
            "text checked against `endContent`. Ratios are cowrite JS / other: below 1x the JS engine is faster or smaller.",
            "",
            "Sequential traces: replay = every patch as a local edit (one insert/delete call each), then read the "
            "text; encode = the whole document (cowrite `encode()`, CWD with the full op log; Yjs "
            "`encodeStateAsUpdate`, v1); load = decode it into a fresh doc and read the text.",
            "",
            "| trace | patches | JS replay ms | ×Py | ×Yjs | JS encode ms | ×Py | ×Yjs | JS load ms | ×Py | ×Yjs | JS bytes | Py bytes | Yjs bytes |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in eng["results"]:
            if r["kind"] != "sequential":
                continue
            c, p, y = r["cowrite"], r["python"], r["yjs"]
            lines.append(
                f"| {r['trace']} | {r['patches']:,} | {ms(c['replay'])} | {ratio(c['replay'], p['replay'])} | "
                f"{ratio(c['replay'], y['replay'])} | {ms(c['encode'])} | {ratio(c['encode'], p['encode'])} | "
                f"{ratio(c['encode'], y['encode'])} | {ms(c['load'])} | {ratio(c['load'], p['load'])} | "
                f"{ratio(c['load'], y['load'])} | {c['size']:,} | {p['size']:,} | {y['size']:,} |"
            )
        lines += [
            "",
            "| trace | Py replay ms | Yjs replay ms | Py encode ms | Yjs encode ms | Py load ms | Yjs load ms |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in eng["results"]:
            if r["kind"] != "sequential":
                continue
            p, y = r["python"], r["yjs"]
            lines.append(
                f"| {r['trace']} | {ms(p['replay'])} | {ms(y['replay'])} | {ms(p['encode'])} | {ms(y['encode'])} "
                f"| {ms(p['load'])} | {ms(y['load'])} |"
            )
        lines += [
            "",
            "Concurrent traces: agents = one replica per agent, each txn made at exactly its parents' version after "
            "receiving the ancestor txns it lacks, its own update encoded (cowrite `encodePatch(opsSince(v))`, Yjs the "
            "transaction's `update` event; fixed Yjs client ids in agent order); merge = all those per-txn updates "
            "applied in trace order to a fresh doc (a server's work); replay = cowrite only, the ops added to one op "
            "log at their parents' versions and one checkout walk (`cowrite replay`).",
            "",
            "| trace | agents | JS agents ms | Py | Yjs | JS merge ms | Py | Yjs | JS replay ms | Py | JS update bytes | Yjs update bytes |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in eng["results"]:
            if r["kind"] != "concurrent":
                continue
            c, p, y = r["cowrite"], r["python"], r["yjs"]
            lines.append(
                f"| {r['trace']} | {r['agents']} | {ms(c['agents'])} | {ms(p['agents'])} | {ms(y['agents'])} | "
                f"{ms(c['merge'])} | {ms(p['merge'])} | {ms(y['merge'])} | {ms(c['replay'])} | {ms(p['replay'])} | "
                f"{c['updateBytes']:,} | {y['updateBytes']:,} |"
            )
        lines.append("")
    if ed is not None:
        s, lg = ed["small"], ed["large"]
        lines += [
            f"**Editor in Chromium** ({ed['version']}, headless, `--disable-gpu`) against a real `cowrite serve` on "
            "loopback, documents seeded with one insert each (the first 1,000 chars and all "
            f"{lg['chars']:,} chars of automerge-paper's endContent). No peer is run for this part: these are "
            "absolute figures to watch for regressions, not a comparison.",
            f"Load: navigation start to the status showing connected, inside the page, median of {args.loads} fresh "
            "contexts (empty HTTP cache; one untimed load first). Keystrokes: "
            f"{args.keys} letters typed with `page.keyboard` at random positions (caret moved, two frames, then the "
            "key), timed inside the page from a capturing keydown listener to: the engine having the character "
            "(CodeMirror's state already has it: the engine is fed from CodeMirror's update listener); every "
            "synchronous handler returned (a microtask queued then); the next frame drawn (a task posted from the "
            "next `requestAnimationFrame`, so it includes waiting for the 60 Hz frame). Remote: "
            f"{args.remote} inserts by a Python client, 50 ms apart, from `insert()` to the end of the page task "
            "that put each in the engine and CodeMirror (client → server, which commits to SQLite before "
            "broadcasting → page; clocks matched by the fastest of 15 round trips).",
            "",
            "| document | load to connected ms | snapshot fetched ms | key→engine+CM ms | key→handlers done ms | key→frame drawn ms | remote insert shown ms |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]

        def mpm(st: dict[str, float] | None) -> str:
            return f"{ms(st['median'])} / {ms(st['p95'])} / {ms(st['max'])}" if st else "n/a"

        for label, d in (("1,000 chars", s), (f"{lg['chars']:,} chars", lg)):
            lines.append(
                f"| {label} | {ms(d['load']['connected'])} | {ms(d['load']['snapshot'])} | {mpm(d['key_engine'])} | "
                f"{mpm(d['key_handlers'])} | {mpm(d['key_frame'])} | {mpm(d['remote'])} |"
            )
        lines += ["", "Each latency cell: median / p95 / max over the keystrokes or edits."]
        lines.append("")
    lines.append(END)
    return "\n".join(lines)


def _installed(dist: str) -> bool:
    from importlib.metadata import PackageNotFoundError, version

    try:
        version(dist)
        return True
    except PackageNotFoundError:
        return False


def write(path: Path, section: str) -> None:
    text = path.read_text() if path.exists() else ""
    if START in text and END in text:
        head, rest = text.split(START, 1)
        _, tail = rest.split(END, 1)
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def cpu_busy() -> tuple[float, float]:
    """(CPU seconds the whole machine has been busy, CPU seconds of this process and its
    waited-for children): their growth over the run tells what other processes used."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    busy = (sum(fields) - fields[3] - fields[4]) / tick  # all but idle and iowait
    t = os.times()
    return busy, t.user + t.system + t.children_user + t.children_system


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--keys", type=int, default=200)
    ap.add_argument("--remote", type=int, default=30)
    ap.add_argument("--loads", type=int, default=3)
    ap.add_argument("--skip-engines", action="store_true")
    ap.add_argument("--skip-browser", action="store_true")
    ap.add_argument("--json", type=Path, help="write every figure as JSON")
    ap.add_argument("--write", type=Path)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    busy0, own0 = cpu_busy()
    eng = None if args.skip_engines else engines(args.repeat)
    ed = None if args.skip_browser else asyncio.run(editor(args))
    busy1, own1 = cpu_busy()
    wall = time.perf_counter() - t0
    # Chromium's and the server's CPU is counted as "other" when it isn't reaped into
    # os.times(); on an idle machine this stays near or below one core's worth.
    other = max(0.0, (busy1 - busy0) - (own1 - own0)) / wall
    loads = {"wall_s": wall, "other_cpu_cores": other, "loadavg_end": os.getloadavg()}
    shared = (
        f"other processes kept {other:.1f} of the {os.cpu_count()} cores busy on average, "
        f"1-min load average {os.getloadavg()[0]:.1f} at the end"
        if other > 0.5
        else ""
    )
    section = render(eng, ed, args, shared)
    print(section)
    print(f"total {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps({"engines": eng, "editor": ed, "loadavg": loads}, indent=1))
    if failures:
        print("FAILURES:\n" + "\n".join(failures), file=sys.stderr)
        return 1
    if args.write:
        write(args.write, section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
