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
import sys
from pathlib import Path

# The harness modules import each other by plain name (run as `python bench/run.py`).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine_info
from peers import PEER_MODULES, Peer, get_peer
from report import BENCHES, markdown_section, text_report, write_section
from runner import Runner
from traces import all_trace_paths, load_trace, trace_label


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="1 repetition, fewer memory copies, process bench on one trace",
    )
    ap.add_argument(
        "--only", default="", help="comma list of peers, benchmarks and/or traces"
    )
    ap.add_argument(
        "--json", type=Path, help="write all records and machine info as JSON"
    )
    ap.add_argument(
        "--write", type=Path, help="replace the generated section of this markdown file"
    )
    ap.add_argument(
        "--repeat",
        type=int,
        help="repetitions per timing, best taken (default 3; quick 1)",
    )
    ap.add_argument(
        "--process-repeat",
        type=int,
        help="repetitions of whole-process runs (default 3; quick 1)",
    )
    ap.add_argument(
        "--mem-copies",
        type=int,
        help="docs kept alive by the memory probe (default 8; quick 3)",
    )
    ap.add_argument(
        "--gc",
        choices=("on", "off"),
        default="on",
        help="collector during timed runs (default on)",
    )
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
            known = ", ".join([*PEER_MODULES, *BENCHES, *labels])
            raise SystemExit(
                f"--only: {tok!r} is not a peer, benchmark or trace ({known})"
            )
    return peers or list(PEER_MODULES), benches or set(BENCHES), traces or paths


def shown_args(argv: list[str]) -> str:
    """The command-line flags that shape the figures (output paths left out)."""
    shown: list[str] = []
    skip = False
    for a in argv:
        if skip:
            skip = False
        elif a in ("--json", "--write"):
            skip = True
        elif not a.startswith(("--json=", "--write=")):
            shown.append(a)
    return "".join(" " + a for a in shown)


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
        print(
            f"{trace.name}: {trace.kind}, {len(trace.txns):,} txns, {trace.num_patches:,} patches",
            flush=True,
        )
        runner.run_trace(trace)

    info = machine_info(versions)
    today = datetime.date.today().isoformat()
    peer_list = ", ".join(f"{k} {v}" for k, v in versions.items())
    header = [
        "## Results",
        "",
        f"Generated {today} by `python bench/run.py{shown_args(argv)}`.",
        f"Machine: {info['cpu']}, {info['cores']} cores; {info['python']}; {peer_list}.",
        (
            f"Timing: best of {args.repeat} (whole-process: best of "
            f"{args.process_repeat}), gc.collect() before each run, collector "
            f"{args.gc} while timed; memory: {args.mem_copies} docs kept alive. "
            "Ratios are cowrite / peer: above 1x cowrite is slower or bigger."
        ),
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
        settings = {
            k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()
        }
        payload = {
            "date": today,
            "machine": info,
            "args": settings,
            "records": [r.to_json() for r in runner.records],
        }
        args.json.write_text(json.dumps(payload, indent=1))
    return 1 if runner.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
