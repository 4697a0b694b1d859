"""Other servers' changes to what a document's sockets watch (comments, suggestions).

A server tells its own sockets of a change at once (a COMMENTS or SUGGESTIONS frame);
changes made on another server reach them through a notice on Redis, or -- while Redis
is down, or without it -- through this loop, which reads each live document's revision
from the store every so often and tells the sockets when it moved.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from .rooms import Rooms

__all__ = ["poll_revisions"]

log = logging.getLogger("cowrite.server")


async def poll_revisions(
    rooms: Rooms,
    watched: dict[str, int],
    interval: float,
    read: Callable[[str], int],
    notify: Callable[[str, int], None],
    what: str,
) -> None:
    """Every ``interval`` seconds, ``read`` (in a thread) the revision of each document
    with sockets on this server and ``notify`` them when it differs from ``watched``
    (the revision they were last told of, kept by ``notify``).  The first look at a
    document tells them too: a change may have come between their fetching the list and
    that look (a client holding the revision already ignores the notice).  Documents
    with no socket left are forgotten.  ``what`` names the revision in the log."""
    while True:
        await asyncio.sleep(interval)
        if not rooms.health.up:  # the store breaker is open: only its probe asks the store
            continue
        live = {h.doc_id for h in rooms.handles() if h.room.sessions}
        for doc_id in [d for d in watched if d not in live]:
            del watched[doc_id]
        for doc_id in live:
            try:
                revision = await asyncio.to_thread(read, doc_id)
            except Exception as exc:  # the store is down or the document gone: try next time
                log.debug("reading the %s of %r failed: %s", what, doc_id, exc)
                continue
            if watched.get(doc_id) != revision:
                notify(doc_id, revision)
