"""cowrite behind the :class:`Peer` contract, written against its planned public API.

The engine is developed alongside this harness, so everything here tolerates its
absence: :meth:`CowritePeer.unavailable_reason` names what is missing and the runner
skips the column.  The planned surface used here::

    from cowrite import Document
    doc = Document(agent="alice"); doc.insert(pos, text); doc.delete(pos, n); doc.text
    doc.version; doc.encode(); Document.decode(data, agent=None)
    doc.encode_patch(since=version) -> bytes; doc.apply_patch(data) -> int

Positions are code points, like the traces, so patches are used as they are.

Two helpers below are the hooks the engine may take over through an optional module
``cowrite.bench_support``: :func:`cowrite_make_txn_patches` (has a working fallback on
the public API) and :func:`cowrite_make_agent_blobs`.
"""

from __future__ import annotations

import importlib
import importlib.util
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from peers import Peer, PeerUnavailable, Result, TimedFn, generate_txn_updates
from traces import REPO_ROOT, Patch, Trace

SRC_DIR = REPO_ROOT / "src"
CLI_SHIM = "import sys; from cowrite.cli import main; sys.exit(main())"


def ensure_importable() -> None:
    """Let ``import cowrite`` find the src layout even when the package isn't installed."""
    if importlib.util.find_spec("cowrite") is None and SRC_DIR.is_dir():
        sys.path.insert(0, str(SRC_DIR))


def _bench_support() -> Any | None:
    """The engine's optional helper module, or None if it doesn't exist (yet)."""
    try:
        return importlib.import_module("cowrite.bench_support")
    except ImportError:
        return None


class CowriteReplica:
    """One agent's Document; a txn's patch is everything since the version before it."""

    def __init__(self, agent: int) -> None:
        from cowrite import Document

        self.doc = Document(agent=f"agent{agent}")

    def apply(self, update: bytes) -> None:
        self.doc.apply_patch(update)

    def edit(self, patches: Sequence[Patch]) -> bytes:
        before = self.doc.version
        for pos, n_del, ins in patches:
            if n_del:
                self.doc.delete(pos, n_del)
            if ins:
                self.doc.insert(pos, ins)
        return self.doc.encode_patch(since=before)


def cowrite_make_txn_patches(trace: Trace) -> list[bytes]:
    """One encoded patch per txn, made by its agent at the version of its parents.

    Prefers ``cowrite.bench_support.make_txn_patches(trace_path)`` when the engine
    provides it (e.g. built straight on ``OpLog.add_insert(..., parents=...)``);
    otherwise replays with one Document per agent through the public API, exactly as
    the other peers do (see :func:`peers.generate_txn_updates`).
    """
    support = _bench_support()
    if support is not None and hasattr(support, "make_txn_patches"):
        return list(support.make_txn_patches(str(trace.path)))
    return generate_txn_updates(trace, CowriteReplica)


def cowrite_make_agent_blobs(
    trace: Trace, txn_patches: Sequence[bytes], doc: Any
) -> list[bytes]:
    """One blob per agent holding only the ops that agent made (a patch each).

    One agent's ops alone are not causally closed; the merge side decodes every blob
    and hands all ops to one ``add_ops`` call, which holds an op until its parents
    (from another blob) have been added.
    """
    from cowrite.engine import encode_patch

    ops = doc.ops_since(None)
    agents = sorted({op.agent for op in ops})
    return [encode_patch([op for op in ops if op.agent == a]) for a in agents]


LAZY = "lazy"


class CowritePeer(Peer):
    name = "cowrite"
    module = "cowrite"
    # "lazy": Document.decode(blob, lazy=True) reads the text and version (and checks the
    # CRC of every byte) but leaves the history packed until first use; the default
    # decodes and checks the whole history at load.  Same blob for both.
    encode_variants = ("", LAZY)

    def unavailable_reason(self) -> str | None:
        ensure_importable()
        try:
            from cowrite import Document
        except Exception as exc:  # noqa: BLE001 - any failure to import means "skip cowrite"
            return (
                f"cowrite.Document is not importable yet ({type(exc).__name__}: {exc})"
            )
        missing = [
            m
            for m in (
                "insert",
                "delete",
                "text",
                "version",
                "encode",
                "decode",
                "encode_patch",
                "apply_patch",
            )
            if not hasattr(Document, m)
        ]
        if missing:
            return f"cowrite.Document lacks {', '.join(missing)}"
        return None

    def version(self) -> str:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("cowrite")
        except PackageNotFoundError:
            import cowrite

            return getattr(cowrite, "__version__", "src checkout")

    def prepare_local_replay(self, trace: Trace, variant: str = "") -> TimedFn:
        from cowrite import Document

        patches = trace.flat_patches()

        def run() -> Result:
            doc = Document(agent="bench")
            for pos, n_del, ins in patches:
                if n_del:
                    doc.delete(pos, n_del)
                if ins:
                    doc.insert(pos, ins)
            return doc.text, doc

        return run

    def new_replica(self, agent: int) -> CowriteReplica:
        return CowriteReplica(agent)

    def make_txn_updates(self, trace: Trace) -> list[bytes]:
        return cowrite_make_txn_patches(trace)

    def prepare_incremental_merge(self, updates: Sequence[bytes]) -> TimedFn:
        from cowrite import Document

        def run() -> Result:
            doc = Document(agent="server")
            for u in updates:
                doc.apply_patch(u)
            return doc.text, doc

        return run

    def make_agent_blobs(
        self, trace: Trace, updates: Sequence[bytes], doc: Any
    ) -> list[bytes]:
        return cowrite_make_agent_blobs(trace, updates, doc)

    def prepare_bulk_merge(self, blobs: Sequence[bytes], variant: str = "") -> TimedFn:
        from cowrite import Document
        from cowrite.engine import decode_patch

        def run() -> Result:
            doc = Document(agent="server")
            doc.add_ops([op for blob in blobs for op in decode_patch(blob)])
            return doc.text, doc

        return run

    def encode_full(self, doc: Any, variant: str = "") -> bytes:
        return doc.encode()

    def load(self, blob: bytes, variant: str = "") -> Result:
        from cowrite import Document

        doc = Document.decode(blob, lazy=variant == LAZY)
        return doc.text, doc

    def replay_commands(self, trace_path: Path) -> dict[str, list[str] | str]:
        cmds = super().replay_commands(trace_path)
        exe = shutil.which("cowrite")
        if exe:
            cmds["cli"] = [exe, "replay", str(trace_path)]
        elif importlib.util.find_spec("cowrite.cli") is not None:
            # Not pip-installed: run the console script's entry point the way its
            # generated wrapper does (pyproject: cowrite = "cowrite.cli:main").
            cmds["cli"] = [sys.executable, "-c", CLI_SHIM, "replay", str(trace_path)]
        else:
            cmds["cli"] = "no `cowrite` console command and no cowrite.cli module"
        return cmds


ADAPTER = CowritePeer
