"""The peer adapter contract, the shared txn-update generator, and the peer registry.

Every engine (cowrite, pycrdt, loro) gets one adapter class with the same methods, one
backend per module (``peer_cowrite``, ``peer_pycrdt``, ``peer_loro``), so the runner can
put results side by side and so a missing engine only disables its own column.

Timed work is handed to the runner as a zero-argument callable (``TimedFn``) built by a
``prepare_*`` method: everything that is not the operation being measured (parsing,
converting positions, generating updates) happens in ``prepare_*`` and is never timed.
Each callable builds a fresh document every time it is called, so it can be repeated,
and returns ``(final_text, doc)``: the text so the runner can check it against the
trace's ``endContent``, the doc so it can be encoded afterwards without replaying again.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol

from traces import Patch, Trace

Result = tuple[str, Any]
TimedFn = Callable[[], Result]

BENCH_DIR = Path(__file__).resolve().parent
REPLAY_SCRIPT = BENCH_DIR / "replay.py"


class PeerUnavailable(Exception):
    """The engine (or one of its benchmarks) can't run here; the message says why."""


class Replica(Protocol):
    """One agent's copy of a document, used only to *generate* per-txn updates."""

    def apply(self, update: bytes) -> None:
        """Merge an update made by another agent."""

    def edit(self, patches: Sequence[Patch]) -> bytes:
        """Apply one txn's code-point patches locally; return exactly that txn's update."""


class Peer(ABC):
    """One CRDT engine seen through the operations the benchmarks need."""

    #: column label, also the name accepted by ``--only``
    name: ClassVar[str]
    #: module whose import tells whether the engine is installed
    module: ClassVar[str]
    #: variant labels of the local-replay benchmark ("" = the default variant)
    local_variants: ClassVar[tuple[str, ...]] = ("",)
    #: variant labels of the bulk-merge benchmark
    bulk_variants: ClassVar[tuple[str, ...]] = ("",)
    #: variant labels of the encoding used by the load / size / memory benchmarks
    encode_variants: ClassVar[tuple[str, ...]] = ("",)

    def unavailable_reason(self) -> str | None:
        """None when the engine imports; otherwise a message for the report."""
        try:
            importlib.import_module(self.module)
        except Exception as exc:  # noqa: BLE001 - any import failure means "skip this column"
            return f"cannot import {self.module}: {type(exc).__name__}: {exc}"
        return None

    @abstractmethod
    def version(self) -> str:
        """Installed version string, for the machine section of the report."""

    def notes(self) -> list[str]:
        """Facts a reader needs to interpret this peer's figures (printed in the report)."""
        return []

    # --- local replay (sequential traces) ------------------------------------------------

    @abstractmethod
    def prepare_local_replay(self, trace: Trace, variant: str = "") -> TimedFn:
        """Callable replaying every patch with one API call per edit into a fresh doc."""

    def local_replay(self, trace: Trace, variant: str = "") -> str:
        return self.prepare_local_replay(trace, variant)()[0]

    # --- incremental merge (concurrent traces) -------------------------------------------

    @abstractmethod
    def new_replica(self, agent: int) -> Replica:
        """A fresh replica for ``agent`` (0-based), used by :func:`generate_txn_updates`."""

    def make_txn_updates(self, trace: Trace) -> list[bytes]:
        """One encoded update per txn, made by its agent at the version of its parents."""
        return generate_txn_updates(trace, self.new_replica)

    @abstractmethod
    def prepare_incremental_merge(self, updates: Sequence[bytes]) -> TimedFn:
        """Callable applying ``updates`` one at a time, in order, to a fresh doc."""

    def incremental_merge(self, trace: Trace) -> str:
        return self.prepare_incremental_merge(self.make_txn_updates(trace))()[0]

    # --- bulk merge (concurrent traces) --------------------------------------------------

    @abstractmethod
    def make_agent_blobs(
        self, trace: Trace, updates: Sequence[bytes], doc: Any
    ) -> list[bytes]:
        """One blob per agent holding exactly the ops that agent made.

        ``updates`` are this peer's per-txn updates, ``doc`` a doc holding the whole
        history (from the incremental merge), whichever the engine finds easier.
        """

    @abstractmethod
    def prepare_bulk_merge(self, blobs: Sequence[bytes], variant: str = "") -> TimedFn:
        """Callable decoding and merging all agent blobs into a fresh doc, reading its text."""

    # --- encoding, load, memory ----------------------------------------------------------

    @abstractmethod
    def encode_full(self, doc: Any, variant: str = "") -> bytes:
        """Encode a doc with its full history, in the given encoding variant."""

    @abstractmethod
    def load(self, blob: bytes, variant: str = "") -> Result:
        """Decode a full-history blob into a new doc and read its text."""

    def prepare_load(self, blob: bytes, variant: str = "") -> TimedFn:
        return lambda: self.load(blob, variant)

    # --- whole-process replay ------------------------------------------------------------

    def replay_commands(self, trace_path: Path) -> dict[str, list[str] | str]:
        """Variant -> argv of a command that replays a trace in a new process and prints
        the final text, or -> a string saying why that variant can't run here."""
        import sys

        return {"": [sys.executable, str(REPLAY_SCRIPT), self.name, str(trace_path)]}


def generate_txn_updates(
    trace: Trace, new_replica: Callable[[int], Replica]
) -> list[bytes]:
    """Make each txn of a concurrent trace as its own update, at its parents' version.

    One replica per agent.  Before agent ``a`` makes txn ``i``, its replica is brought
    to exactly the version named by ``i``'s parents by applying the updates of the
    ancestor txns it hasn't seen yet, in trace (topological) order.  This relies on
    :meth:`Trace.version_vectors`: a replica's state is always a per-agent prefix, so
    "missing" is a slice of each other agent's txn list.  The replica never receives
    anything beyond its parents, so every update encodes the real concurrency.
    """
    n_agents = trace.num_agents
    vv = trace.version_vectors()
    by_agent = trace.agent_txns()
    replicas = [new_replica(a) for a in range(n_agents)]
    seen = [
        [0] * n_agents for _ in range(n_agents)
    ]  # seen[r][a]: agent a's txns in replica r
    updates: list[bytes] = []
    for i, txn in enumerate(trace.txns):
        r = txn.agent
        need = list(vv[i])
        need[r] -= 1  # the parents' version excludes txn i itself
        have = seen[r]
        if have[r] != need[r]:
            raise AssertionError(f"txn {i}: agent {r} replica out of step")
        missing: list[int] = []
        for a in range(n_agents):
            if a != r and need[a] > have[a]:
                missing.extend(by_agent[a][have[a] : need[a]])
        for j in sorted(missing):
            replicas[r].apply(updates[j])
        updates.append(replicas[r].edit(txn.patches))
        need[r] += 1
        seen[r] = need
    return updates


#: registry order is the column order in reports; cowrite first so ratios read naturally
PEER_MODULES: dict[str, str] = {
    "cowrite": "peer_cowrite",
    "pycrdt": "peer_pycrdt",
    "loro": "peer_loro",
}


def get_peer(name: str) -> Peer:
    """Instantiate the adapter for ``name`` (import of the engine itself is deferred)."""
    mod = importlib.import_module(PEER_MODULES[name])
    return mod.ADAPTER()
