"""The asyncio Python client: a full peer of a cowrite server that keeps working offline.

::

    from cowrite.client import Client

    async with Client("ws://127.0.0.1:8000", "notes", token, path="notes.cwc") as c:
        c.insert(0, "Hello")          # applied locally at once, sent on the next tick
        c.set_cursor(5)               # shown to the others as a stable position
        c.on_change(lambda edits: print("remote:", edits))
        await c.synced()              # connected and everything acknowledged (durable)

Edits made while the server is unreachable stay in the local replica (and, with
``path``, in its state file) and are merged when the client reconnects.
"""

from cowrite.protocol import Edit

from .client import Client, Peer, State, backoff_delay
from ..errors import ClientClosed, ClientError, FatalError, ReadOnlyError, StateFileError

__all__ = [
    "Client",
    "ClientClosed",
    "ClientError",
    "Edit",
    "FatalError",
    "Peer",
    "ReadOnlyError",
    "State",
    "StateFileError",
    "backoff_delay",
]
