"""pycrdt (Python bindings of Yrs, the Rust port of Yjs) behind the :class:`Peer` contract.

Positions: pycrdt's ``Text`` indexes by **UTF-8 bytes** (checked for pycrdt 0.14: in
``"a😀b"`` the ``b`` is at index 5 and ``len()`` is 6), while the traces count code
points.  So patches are converted to byte offsets with :class:`traces.Utf8Offsets`
*before* timing, and the replica used to generate concurrent updates converts against
its own current text.  :func:`positions_are_bytes` re-checks this at run time so a
pycrdt upgrade that switches to code points can't silently corrupt the results.

Yjs discards the content of deleted text (unless ``skip_gc``), so its "full history"
encoding is smaller than one that keeps every op; the report says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from peers import Peer, Result, TimedFn
from traces import Patch, Trace, to_utf8_patches

TEXT_NAME = "text"


@lru_cache(maxsize=1)
def positions_are_bytes() -> bool:
    """True when the installed pycrdt measures Text positions in UTF-8 bytes."""
    from pycrdt import Doc, Text

    doc = Doc()
    text = doc.get(TEXT_NAME, type=Text)
    text.insert(0, "a\U0001f600b")
    return len(text) == 6


def _convert(patches: Sequence[Patch], start: str = "") -> list[Patch]:
    return to_utf8_patches(patches, start) if positions_are_bytes() else list(patches)


class PycrdtReplica:
    """One agent's pycrdt doc; captures each local transaction's own update."""

    def __init__(self, agent: int) -> None:
        from pycrdt import Doc, Text

        self.doc = Doc(client_id=agent + 1)
        self.text = self.doc.get(TEXT_NAME, type=Text)
        self._last: bytes = b""
        # The transaction event's update holds only that transaction's inserts and
        # deletes, unlike get_update(state), which always carries the whole delete set.
        self._sub = self.doc.observe(self._on_txn)

    def _on_txn(self, event: Any) -> None:
        self._last = event.update

    def apply(self, update: bytes) -> None:
        self.doc.apply_update(update)

    def edit(self, patches: Sequence[Patch]) -> bytes:
        converted = _convert(patches, str(self.text))
        self._last = b""
        with self.doc.transaction():
            for pos, n_del, ins in converted:
                if n_del:
                    del self.text[pos : pos + n_del]
                if ins:
                    self.text.insert(pos, ins)
        if not self._last:
            raise AssertionError("pycrdt produced no update for a txn")
        return self._last


class PycrdtPeer(Peer):
    name = "pycrdt"
    module = "pycrdt"

    def version(self) -> str:
        from importlib.metadata import version

        return version("pycrdt")

    def notes(self) -> list[str]:
        unit = "UTF-8 bytes" if positions_are_bytes() else "code points"
        return [
            (
                f"pycrdt Text positions are {unit} in this version; trace positions are "
                "converted before timing (inside the process for whole-process replay)."
            ),
            (
                "pycrdt (Yjs) drops the content of deleted text, so its full-history "
                "encoding holds less than cowrite's or loro's."
            ),
        ]

    def prepare_local_replay(self, trace: Trace, variant: str = "") -> TimedFn:
        from pycrdt import Doc, Text

        patches = _convert(trace.flat_patches())

        def run() -> Result:
            # Each insert/delete call outside a `with doc.transaction()` is its own Yrs
            # transaction, the analogue of loro's commit-per-patch.
            doc = Doc(client_id=1)
            text = doc.get(TEXT_NAME, type=Text)
            for pos, n_del, ins in patches:
                if n_del:
                    del text[pos : pos + n_del]
                if ins:
                    text.insert(pos, ins)
            return str(text), doc

        return run

    def new_replica(self, agent: int) -> PycrdtReplica:
        return PycrdtReplica(agent)

    def prepare_incremental_merge(self, updates: Sequence[bytes]) -> TimedFn:
        from pycrdt import Doc, Text

        def run() -> Result:
            doc = Doc()
            text = doc.get(TEXT_NAME, type=Text)
            for u in updates:
                doc.apply_update(u)
            return str(text), doc

        return run

    def make_agent_blobs(
        self, trace: Trace, updates: Sequence[bytes], doc: Any
    ) -> list[bytes]:
        from pycrdt import merge_updates

        return [
            merge_updates(*(updates[i] for i in txns)) for txns in trace.agent_txns()
        ]

    def prepare_bulk_merge(self, blobs: Sequence[bytes], variant: str = "") -> TimedFn:
        # The same path as the incremental merge, with one big update per agent.  Yrs
        # parks blocks whose dependencies are in a later blob as pending until they
        # arrive (measured: blob order makes no real difference on these traces).
        return self.prepare_incremental_merge(blobs)

    def encode_full(self, doc: Any, variant: str = "") -> bytes:
        return doc.get_update()

    def load(self, blob: bytes, variant: str = "") -> Result:
        from pycrdt import Doc, Text

        doc = Doc()
        text = doc.get(TEXT_NAME, type=Text)
        doc.apply_update(blob)
        return str(text), doc


ADAPTER = PycrdtPeer
