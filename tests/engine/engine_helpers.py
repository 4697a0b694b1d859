"""Shared helpers for the engine tests (imported by the test modules)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

from cowrite.engine import Document, checkout
from cowrite.engine.reference import reference_text

EXAMPLES = int(os.environ.get("COWRITE_HYPOTHESIS_EXAMPLES", "200"))
"""Examples per hypothesis test (``COWRITE_HYPOTHESIS_EXAMPLES``, default 200)."""

hyp = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
"""The settings of the engine's property tests: ``@hyp`` (or ``@settings(hyp, max_examples=...)``)."""


def assert_consistent(doc: Document) -> None:
    """The document's incrementally merged text equals a fresh checkout and the reference."""
    text = doc.text
    fresh = str(checkout(doc.oplog).text)
    assert text == fresh, f"incremental {text!r} != checkout {fresh!r}"
    ref = reference_text(doc.oplog)
    assert text == ref, f"walker {text!r} != reference {ref!r}"


def common_version(receiver: Document, sender: Document) -> tuple:
    """The part of ``receiver``'s version that ``sender`` knows (a version both have)."""
    cg = sender.oplog.cg
    return tuple(v for v in receiver.version if cg.raw_to_lv(*v) is not None)


def pull(receiver: Document, sender: Document):
    """``receiver.add_ops(sender.ops_since(...))`` over the wire-level API.

    The ``since`` version is the part of the receiver's version that the sender
    knows, so some ops the receiver already has may be re-sent (idempotence).
    """
    return receiver.add_ops(sender.ops_since(common_version(receiver, sender)))


def sync(a: Document, b: Document) -> None:
    """Exchange ops both ways via the wire-level API."""
    pull(a, b)
    pull(b, a)


def sync_all(docs: list[Document]) -> None:
    for d in docs[1:]:
        docs[0].merge(d)
    for d in docs[1:]:
        d.merge(docs[0])


def snapshot(doc: Document) -> tuple:
    """Everything observable that a rejected call must leave unchanged."""
    return (doc.text, doc.version, len(doc.oplog), doc.ops_since(()), len(doc))
