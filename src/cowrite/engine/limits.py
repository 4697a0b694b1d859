"""Every numeric bound of the engine's data, named once.

Why bounds at all: ids, positions and times travel between peers and are stored
for ever; each has one valid range so that every implementation (this one, the
JavaScript port, a peer's) accepts exactly the same values.  ``2**53`` is the
largest integer a JavaScript number holds exactly, so no seq, time or position
may reach it.  The protocol, the store and the server import these instead of
spelling the numbers again.
"""

from __future__ import annotations

__all__ = [
    "MAX_AGENT_LEN",
    "MAX_DEFLATE_RATIO",
    "MAX_SEQ",
    "MAX_TIME",
    "MAX_VARINT_BYTES",
    "REDUCE_BUDGET",
]

MAX_SEQ = 2**53
"""Seqs are below this: an op run ``seq .. seq + span - 1`` has ``seq + span <= MAX_SEQ``."""

MAX_TIME = 2**53
"""Op times (Unix seconds; 0 = unknown) are below this."""

MAX_AGENT_LEN = 256
"""An agent name has 1..MAX_AGENT_LEN code points."""

MAX_VARINT_BYTES = 10
"""The longest LEB128 varint the codecs read (up to 2**70)."""

MAX_DEFLATE_RATIO = 1040
"""Deflate cannot expand data by more than ~1032x: a body claiming more is a lie."""

REDUCE_BUDGET = 1_000_000
"""Graph entries a document decoder may walk to check that merge parents form a
frontier (plus 64 per entry): a forged file cannot make decoding quadratic."""
