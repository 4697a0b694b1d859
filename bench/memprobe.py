"""Memory held by a loaded doc: ``python bench/memprobe.py PEER VARIANT BLOB_FILE N``.

tracemalloc only sees Python's allocator, not the Rust heaps of pycrdt and loro, so the
only measure that is fair to every peer is the process's resident set.  In a fresh
process: import the engine, read the blob, load it twice and keep those copies (so
one-time costs such as lazily built tables don't count), collect garbage, read RSS; then
load the doc N more times keeping every copy alive (its text is read, then dropped),
collect, read RSS again.  (RSS delta) / N is the memory one loaded doc holds.  Allocator slack is part of
the figure for every peer alike; N copies amortise the page granularity.

Prints one JSON object: ``{"per_doc": bytes, "rss_before": bytes, "rss_after": bytes}``.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

PAGE = os.sysconf("SC_PAGE_SIZE")
WARM_COPIES = 2


def rss_bytes() -> int:
    """Resident set size from /proc/self/statm (2nd field, in pages)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def main(argv: list[str]) -> int:
    peer_name, variant, blob_path, n_str = argv
    from peers import get_peer

    peer = get_peer(peer_name)
    reason = peer.unavailable_reason()
    if reason:
        print(json.dumps({"error": reason}))
        return 1
    blob = Path(blob_path).read_bytes()
    n = int(n_str)
    # Warm-up copies stay alive: one-time costs (lazily built tables, imports) and the
    # allocator's first growth land before the baseline, and the transient buffers the
    # warm-up freed are reused by later loads just as in a long-running process.
    warm = [peer.load(blob, variant)[1] for _ in range(WARM_COPIES)]
    gc.collect()
    before = rss_bytes()
    kept = []
    for _ in range(n):
        _text, doc = peer.load(blob, variant)
        kept.append(doc)
        del _text
    gc.collect()
    after = rss_bytes()
    del warm
    print(
        json.dumps(
            {"per_doc": (after - before) / n, "rss_before": before, "rss_after": after}
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
