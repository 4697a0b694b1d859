"""loro (Python bindings of the Rust Loro CRDT) behind the :class:`Peer` contract.

``LoroText.insert``/``delete`` take Unicode code-point positions, like the traces, so no
conversion is needed.  Local edits only become ops when committed: the default variant
commits after every patch (what an editor syncing each keystroke does); the
``commit-at-end`` variant commits once, which lets loro batch the whole trace.

Encodings: the default is a snapshot (history *and* current state, so loading does not
replay); ``updates`` is the history alone (``ExportMode.Updates`` from the empty
version), which loading must replay to build the text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from peers import Peer, Result, TimedFn
from traces import Patch, Trace

TEXT_NAME = "text"
COMMIT_AT_END = "commit-at-end"
UPDATES = "updates"


class LoroReplica:
    """One agent's LoroDoc (peer id = agent + 1); each txn is one commit."""

    def __init__(self, agent: int) -> None:
        from loro import LoroDoc

        self.doc = LoroDoc()
        self.doc.peer_id = agent + 1
        self.text = self.doc.get_text(TEXT_NAME)

    def apply(self, update: bytes) -> None:
        self.doc.import_(update)

    def edit(self, patches: Sequence[Patch]) -> bytes:
        from loro import ExportMode

        before = self.doc.oplog_vv
        for pos, n_del, ins in patches:
            if n_del:
                self.text.delete(pos, n_del)
            if ins:
                self.text.insert(pos, ins)
        self.doc.commit()
        return self.doc.export(ExportMode.Updates(before))


class LoroPeer(Peer):
    name = "loro"
    module = "loro"
    local_variants = ("", COMMIT_AT_END)
    encode_variants = ("", UPDATES)

    def version(self) -> str:
        from importlib.metadata import version

        return version("loro")

    def notes(self) -> list[str]:
        return [
            (
                "loro commits after every patch unless marked [commit-at-end]; its default "
                "encoding is a snapshot (history + state), [updates] is the history alone, "
                "replayed on load."
            ),
        ]

    def prepare_local_replay(self, trace: Trace, variant: str = "") -> TimedFn:
        from loro import LoroDoc

        if variant not in self.local_variants:
            raise ValueError(f"unknown loro local variant {variant!r}")
        patches = trace.flat_patches()
        per_patch = variant != COMMIT_AT_END

        def run() -> Result:
            doc = LoroDoc()
            doc.peer_id = 1
            text = doc.get_text(TEXT_NAME)
            for pos, n_del, ins in patches:
                if n_del:
                    text.delete(pos, n_del)
                if ins:
                    text.insert(pos, ins)
                if per_patch:
                    doc.commit()
            doc.commit()
            return text.to_string(), doc

        return run

    def new_replica(self, agent: int) -> LoroReplica:
        return LoroReplica(agent)

    def prepare_incremental_merge(self, updates: Sequence[bytes]) -> TimedFn:
        from loro import LoroDoc

        def run() -> Result:
            doc = LoroDoc()
            for u in updates:
                doc.import_(u)
            return doc.get_text(TEXT_NAME).to_string(), doc

        return run

    def make_agent_blobs(
        self, trace: Trace, updates: Sequence[bytes], doc: Any
    ) -> list[bytes]:
        from loro import CounterSpan, ExportMode, IdSpan

        vv = doc.oplog_vv
        blobs = []
        for agent in range(trace.num_agents):
            peer = agent + 1
            end = (vv.get_last(peer) or 0) + 1
            span = IdSpan(peer, CounterSpan(0, end))
            blobs.append(doc.export(ExportMode.UpdatesInRange([span])))
        return blobs

    def prepare_bulk_merge(self, blobs: Sequence[bytes], variant: str = "") -> TimedFn:
        from loro import LoroDoc

        def run() -> Result:
            doc = LoroDoc()
            doc.import_batch(list(blobs))
            return doc.get_text(TEXT_NAME).to_string(), doc

        return run

    def encode_full(self, doc: Any, variant: str = "") -> bytes:
        from loro import ExportMode, VersionVector

        if variant == UPDATES:
            return doc.export(ExportMode.Updates(VersionVector()))
        return doc.export(ExportMode.Snapshot())

    def load(self, blob: bytes, variant: str = "") -> Result:
        from loro import LoroDoc

        doc = LoroDoc()
        doc.import_(blob)
        return doc.get_text(TEXT_NAME).to_string(), doc


ADAPTER = LoroPeer
