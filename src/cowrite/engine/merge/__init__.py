"""The Eg-walker merge: transform ops from the event graph into edits on a branch.

See ``README.md`` in the engine package for the algorithm with worked examples.
In short:

1. Find the last *critical version* ``c`` shared by the branch and the ops to merge
   (``CausalGraph.find_conflicting``; ``plan.py``).  Everything after ``c`` is walked.
2. Build a temporary CRDT state (``items.py``).  It starts as one *placeholder*
   span that stands for the document at ``c`` (its contents are never needed,
   only its length).
3. Walk the ops since ``c`` (``walk.py``): first those the branch already has (to
   rebuild the state; nothing is emitted), then the new ones.  Before each op,
   *retreat* and *advance* ops so the state shows the document at the op's
   parents (its "prepare" version); then apply the op there.  Each item also
   tracks whether it is deleted in the *effect* version (everything walked so
   far); new ops are emitted in effect positions.
4. Concurrent inserts at the same place are ordered by the Fugue rule (FugueMax /
   YjsMod), ties broken by ``(agent, seq)``.
5. Whenever the walk passes a critical version again, the state is replaced by a
   fresh placeholder; a run of ops between two critical versions is applied to
   the text directly, with no CRDT work at all.  Sequential history therefore
   costs O(1) per run.

The state is thrown away after the merge (or kept for the next one by a
:class:`MergeCache`, ``cache.py``): the steady state of a document is its text and
its op log.  :func:`locate` (``locate.py``) reuses the walk to follow characters
from one version to another.

Modules: ``items`` (spans, chunks, the state), ``plan`` (pieces and critical
points), ``walk`` (retreat/advance/apply/integrate), ``locate`` (tracked
characters), ``cache`` (MergeCache), ``merge`` (the entry points).
"""

from .cache import MergeCache
from .locate import Located, locate
from .merge import direct_edits, merge_ops
from .walk import XfOp

__all__ = ["Located", "MergeCache", "XfOp", "direct_edits", "locate", "merge_ops"]
