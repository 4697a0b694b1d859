"""Run cowrite and its peers on the same traces, in one process, and report side by side.

    python bench/run.py [--quick] [--only a,b,...] [--json out.json] [--write BENCHMARKS.md]

``--only`` takes any mix of peer names (cowrite, pycrdt, loro), benchmark names (local,
incremental, bulk, load, size, memory, process) and trace names (automerge-paper,
concurrent/clownschool, ...); each kind given narrows that kind.  Every peer's final
text is checked against the trace's ``endContent``; a mismatch shows as WRONG and makes
the exit status 1, as does any exception (printed, never swallowed).  A peer that
can't run here (not installed, or cowrite not written yet) is skipped with its reason.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine_info  # noqa: E402 - needs the sys.path line above
from peers import BENCH_DIR, PEER_MODULES, REPLAY_SCRIPT, Peer, PeerUnavailable, get_peer  # noqa: E402
from report import BASELINE, BENCHES, ERROR, OK, SKIP, WRONG, Record  # noqa: E402
from report import markdown_section, text_report, write_section  # noqa: E402
from timing import best_of, time_process  # noqa: E402
from traces import REPO_ROOT, Trace, all_trace_paths, load_trace, trace_label  # noqa: E402

SRC_DIR = REPO_ROOT / "src"
MEMPROBE = BENCH_DIR / "memprobe.py"


class Runner:
    """Holds the settings and collects :class:`Record` objects as benchmarks run."""

    def __init__(self, args: argparse.Namespace, peers: list[Peer], benches: set[str]) -> None:
        self.args = args
        self.peers = peers
        self.benches = benches
        self.records: list[Record] = []
        self.failed = False
        self.env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(SRC_DIR), os.environ.get("PYTHONPATH")]))}

    # --- bookkeeping -----------------------------------------------------------------

    def add(self, rec: Record) -> Record:
        self.records.append(rec)
        if rec.status in (WRONG, ERROR):
            self.failed = True
        shown = rec.note if rec.status != OK else f"{BENCHES[rec.bench].fmt.format(BENCHES[rec.bench].display(rec))} {BENCHES[rec.bench].unit}"
        print(f"  {rec.bench:<11} {rec.trace:<28} {rec.label:<24} {rec.status:<5} {shown}", flush=True)
        return rec

    def guarded(self, bench: str, trace: Trace, peer: Peer, variant: str, fn: Callable[[], Any]) -> Any:
        """Run ``fn``; turn PeerUnavailable into a skip record and errors into error records."""
        try:
            return fn()
        except PeerUnavailable as exc:
            self.add(Record(bench, trace.name, peer.name, variant, status=SKIP, note=str(exc)))
        except Exception as exc:
            traceback.print_exc()
            self.add(Record(bench, trace.name, peer.name, variant, status=ERROR, note=f"{type(exc).__name__}: {exc}"))
        return None

    def timed(self, bench: str, trace: Trace, peer: Peer, variant: str, fn: Callable[[], Any]) -> Any:
        """Time a prepared callable best-of-K, check its text, record it; return the doc."""
        timing, (text, doc) = best_of(fn, self.args.repeat, gc_enabled=self.args.gc == "on")
        ok = text == trace.end_content
        self.add(Record(bench, trace.name, peer.name, variant, timing.best, OK if ok else WRONG,
                        "" if ok else f"final text differs from endContent ({len(text)} vs {len(trace.end_content)} chars)",
                        trace.num_patches, list(timing.runs)))
        return doc

    # --- benchmarks ------------------------------------------------------------------

    def sequential(self, trace: Trace, peer: Peer) -> Any:
        """Local replay (each variant); returns the default variant's doc for encoding."""
        doc = None
        for variant in peer.local_variants:
            if "local" not in self.benches and variant:
                continue
            fn = self.guarded("local", trace, peer, variant, lambda: peer.prepare_local_replay(trace, variant))
            if fn is None:
                return None
            if "local" in self.benches:
                d = self.guarded("local", trace, peer, variant, lambda: self.timed("local", trace, peer, variant, fn))
            else:
                d = fn()[1]  # untimed: only the doc is needed for the encoded benchmarks
            if not variant:
                doc = d
        return doc

    def concurrent(self, trace: Trace, peer: Peer) -> Any:
        """Generate per-txn updates (untimed), time incremental and bulk merges."""
        updates = self.guarded("incremental", trace, peer, "", lambda: peer.make_txn_updates(trace))
        if updates is None:
            return None
        fn = peer.prepare_incremental_merge(updates)
        if "incremental" in self.benches:
            doc = self.guarded("incremental", trace, peer, "", lambda: self.timed("incremental", trace, peer, "", fn))
        else:
            doc = self.guarded("incremental", trace, peer, "", lambda: fn()[1])
        if doc is None or "bulk" not in self.benches:
            return doc
        blobs = self.guarded("bulk", trace, peer, "", lambda: peer.make_agent_blobs(trace, updates, doc))
        if blobs is not None:
            for variant in peer.bulk_variants:
                bfn = peer.prepare_bulk_merge(blobs, variant)
                self.guarded("bulk", trace, peer, variant, lambda: self.timed("bulk", trace, peer, variant, bfn))
        return doc

    def encoded(self, trace: Trace, peer: Peer, doc: Any) -> None:
        """Size, load time and memory of the full-history encoding (each variant)."""
        for variant in peer.encode_variants:
            blob = self.guarded("size", trace, peer, variant, lambda: peer.encode_full(doc, variant))
            if blob is None:
                continue
            if "size" in self.benches:
                self.add(Record("size", trace.name, peer.name, variant, float(len(blob))))
            if "load" in self.benches:
                lfn = peer.prepare_load(blob, variant)
                self.guarded("load", trace, peer, variant, lambda: self.timed("load", trace, peer, variant, lfn))
            if "memory" in self.benches:
                self.guarded("memory", trace, peer, variant, lambda: self.memory(trace, peer, variant, blob))

    def memory(self, trace: Trace, peer: Peer, variant: str, blob: bytes) -> None:
        with tempfile.NamedTemporaryFile(suffix=".bin") as f:
            f.write(blob)
            f.flush()
            argv = [sys.executable, str(MEMPROBE), peer.name, variant, f.name, str(self.args.mem_copies)]
            proc = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **self.env})
        if proc.returncode != 0:
            raise RuntimeError(f"memprobe failed: {proc.stderr.strip() or proc.stdout.strip()}")
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        self.add(Record("memory", trace.name, peer.name, variant, float(res["per_doc"]),
                        note=f"N={self.args.mem_copies}"))

    def process(self, trace: Trace) -> None:
        """Whole-process replay of the trace file by each peer, plus the parse-only floor."""
        assert trace.path is not None
        jobs: list[tuple[str, str, list[str] | str]] = [
            (BASELINE, "", [sys.executable, str(REPLAY_SCRIPT), "none", str(trace.path)])
        ]
        for peer in self.peers:
            jobs += [(peer.name, v, cmd) for v, cmd in peer.replay_commands(trace.path).items()]
        for name, variant, cmd in jobs:
            if isinstance(cmd, str):
                self.add(Record("process", trace.name, name, variant, status=SKIP, note=cmd))
                continue
            try:
                timing, out = time_process(cmd, self.args.process_repeat, self.env)
            except subprocess.CalledProcessError as exc:
                err = (exc.stderr or b"").decode(errors="replace").strip().splitlines()
                self.add(Record("process", trace.name, name, variant, status=ERROR,
                                note=err[-1] if err else f"exit {exc.returncode}"))
                continue
            printed = out.decode("utf-8", errors="replace")
            ok = printed in (trace.end_content, trace.end_content + "\n")  # print() may add one
            self.add(Record("process", trace.name, name, variant, timing.best, OK if ok else WRONG,
                            "" if ok else "printed text differs from endContent", runs=list(timing.runs)))

    def run_trace(self, trace: Trace) -> None:
        for peer in self.peers:
            doc = self.sequential(trace, peer) if not trace.is_concurrent else self.concurrent(trace, peer)
            if doc is not None and self.benches & {"size", "load", "memory"}:
                self.encoded(trace, peer, doc)
            doc = None
        if not trace.is_concurrent and "process" in self.benches and self.process_traces(trace):
            self.process(trace)

    def process_traces(self, trace: Trace) -> bool:
        """--quick runs the whole-process benchmark on one trace only (it's the slowest),
        unless traces were named with --only."""
        return not self.args.quick or self.args.traces_named or trace.name == "automerge-paper"


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1 repetition, fewer memory copies, process bench on one trace")
    ap.add_argument("--only", default="", help="comma list of peers, benchmarks and/or traces")
    ap.add_argument("--json", type=Path, help="write all records and machine info as JSON")
    ap.add_argument("--write", type=Path, help="replace the generated section of this markdown file")
    ap.add_argument("--repeat", type=int, help="repetitions per timing, best taken (default 3; quick 1)")
    ap.add_argument("--process-repeat", type=int, help="repetitions of whole-process runs (default 3; quick 1)")
    ap.add_argument("--mem-copies", type=int, help="docs kept alive by the memory probe (default 8; quick 3)")
    ap.add_argument("--gc", choices=("on", "off"), default="on", help="collector during timed runs (default on)")
    args = ap.parse_args(argv)
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.process_repeat = args.process_repeat or (1 if args.quick else 3)
    args.mem_copies = args.mem_copies or (3 if args.quick else 8)
    return args


def select(only: str) -> tuple[list[str], set[str], list[Path]]:
    """Split ``--only`` into peers, benchmarks and traces; an empty kind means all."""
    paths = all_trace_paths()
    labels = {trace_label(p): p for p in paths}
    peers, benches, traces = [], set(), []
    for tok in filter(None, (t.strip() for t in only.split(","))):
        if tok in PEER_MODULES:
            peers.append(tok)
        elif tok in BENCHES:
            benches.add(tok)
        elif tok in labels:
            traces.append(labels[tok])
        else:
            raise SystemExit(f"--only: {tok!r} is not a peer, benchmark or trace ({', '.join([*PEER_MODULES, *BENCHES, *labels])})")
    return peers or list(PEER_MODULES), benches or set(BENCHES), traces or paths


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    peer_names, benches, paths = select(args.only)
    args.traces_named = len(paths) < len(all_trace_paths())
    peers: list[Peer] = []
    versions: dict[str, str] = {}
    skipped: list[str] = []
    for name in peer_names:
        peer = get_peer(name)
        reason = peer.unavailable_reason()
        if reason:
            print(f"SKIP {name}: {reason}", file=sys.stderr)
            skipped.append(f"{name}: {reason}")
            continue
        peers.append(peer)
        versions[name] = peer.version()
    runner = Runner(args, peers, benches)
    for path in paths:
        trace = load_trace(path)
        print(f"{trace.name}: {trace.kind}, {len(trace.txns):,} txns, {trace.num_patches:,} patches", flush=True)
        runner.run_trace(trace)

    info = machine_info(versions)
    today = datetime.date.today().isoformat()
    header = [
        "## Results",
        "",
        f"Generated {today} by `python bench/run.py{' ' + ' '.join(argv) if argv else ''}`.",
        f"Machine: {info['cpu']}, {info['cores']} cores; {info['python']}; "
        + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".",
        f"Timing: best of {args.repeat} (whole-process: best of {args.process_repeat}), "
        f"gc.collect() before each run, collector {args.gc} while timed; memory: {args.mem_copies} docs kept alive. "
        "Ratios are cowrite / peer: above 1x cowrite is slower or bigger.",
    ]
    footer = [f"- {n}" for peer in peers for n in peer.notes()]
    footer += [f"- Not run: {s}" for s in skipped]
    footer = ["Notes:", ""] + footer + [""] if footer else []
    print()
    print(text_report(runner.records))
    print()
    section = markdown_section(runner.records, header, footer)
    print(section)
    if args.write:
        write_section(args.write, section)
    if args.json:
        args.json.write_text(json.dumps({"date": today, "machine": info, "args": vars(args) | {"json": str(args.json), "write": str(args.write)},
                                         "records": [r.to_json() for r in runner.records]}, indent=1))
    return 1 if runner.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
