"""The slow, obviously-correct merge: replay every op, one character at a time.

This is the yardstick the fast merge (``merge/``) is fuzzed against.  It has
none of the fast path's tricks: no run-length encoding, no placeholder, no
critical versions, linear scans everywhere.  It replays the whole op log from the
empty document each time, in LV order (a topological order), moving a CRDT of
single characters to each op's parent version by retreating and advancing ops,
and orders concurrent inserts with the same Fugue (FugueMax/YjsMod) rule.

Keep it simple.  Never optimise it; if it disagrees with the merge, the merge is
wrong until proven otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .oplog import DEL_BACK, DEL_FWD, INS, OpLog

__all__ = ["expand_ops", "reference_items", "reference_text"]

_NYI = -1  # not yet inserted at the current version
_INS = 0  # inserted; positive numbers count concurrent deletes


@dataclass
class _Item:
    lv: int
    char: str
    origin_left: int  # lv, or -1 for the document start
    right_parent: int  # lv, or -1 for the document end
    state: int = _INS
    deleters: list[int] = field(default_factory=list)  # LVs of every delete of it


def expand_ops(oplog: OpLog) -> list[tuple[str, int, str]]:
    """One ``(kind, pos, char)`` per LV, kind ``"ins"`` or ``"del"``."""
    out: list[tuple[str, int, str]] = []
    for start, end in [(0, len(oplog))] if len(oplog) else []:
        for s, e, kind, pos, content in oplog.iter_ops(start, end):
            for i in range(e - s):
                if kind == INS:
                    out.append(("ins", pos + i, content[i]))
                elif kind == DEL_FWD:
                    out.append(("del", pos, ""))
                else:
                    assert kind == DEL_BACK
                    out.append(("del", pos + (e - s) - 1 - i, ""))
    return out


def reference_text(oplog: OpLog) -> str:
    """The text of the whole op log, computed the slow way."""
    return "".join(ch for _, ch, dels in reference_items(oplog) if not dels)


def reference_items(oplog: OpLog) -> list[tuple[int, str, list[int]]]:
    """Every character ever inserted, in document (Fugue) order, with its deleters.

    Items are ``(lv, char, deleters)``; tombstones are kept, so this also defines
    where a deleted character lies between the survivors.
    """
    cg = oplog.cg
    ops = expand_ops(oplog)
    items: list[_Item] = []
    by_lv: dict[int, _Item] = {}
    del_target: dict[int, int] = {}
    version: tuple[int, ...] = ()

    def parents(lv: int) -> tuple[int, ...]:
        return tuple(sorted(cg.parents_of(lv)))

    def history(frontier: tuple[int, ...]) -> set[int]:
        seen: set[int] = set()
        stack = list(frontier)
        while stack:
            v = stack.pop()
            if v not in seen:
                seen.add(v)
                stack.extend(parents(v))
        return seen

    def index_of(lv: int) -> int:
        return next(i for i, it in enumerate(items) if it.lv == lv)

    for lv, (kind, pos, char) in enumerate(ops):
        target = parents(lv)
        if target != version:
            have, want = history(version), history(target)
            for v in sorted(have - want, reverse=True):  # retreat, newest first
                if ops[v][0] == "ins":
                    by_lv[v].state = _NYI
                else:
                    by_lv[del_target[v]].state -= 1
            for v in sorted(want - have):  # advance, oldest first
                if ops[v][0] == "ins":
                    by_lv[v].state = _INS
                else:
                    by_lv[del_target[v]].state += 1
        # index just after the pos-th visible item
        idx = 0
        seen = 0
        while seen < pos:
            if items[idx].state == _INS:
                seen += 1
            idx += 1
        if kind == "del":
            while items[idx].state != _INS:
                idx += 1
            items[idx].state = 1
            items[idx].deleters.append(lv)
            del_target[lv] = items[idx].lv
        else:
            left = items[idx - 1].lv if idx > 0 else -1
            right = -1
            for it in items[idx:]:
                if it.state != _NYI:
                    right = it.lv if it.origin_left == left else -1
                    break
            new = _Item(lv, char, left, right)
            # Fugue: scan the concurrent (not yet inserted) items after idx
            left_idx = idx - 1
            right_idx = len(items) if right == -1 else index_of(right)
            scanning = False
            i = idx
            while i < len(items):
                other = items[i]
                if other.state != _NYI:
                    break
                o_left = -1 if other.origin_left == -1 else index_of(other.origin_left)
                if o_left < left_idx:
                    break
                if o_left == left_idx:
                    o_right = len(items) if other.right_parent == -1 else index_of(other.right_parent)
                    if o_right == right_idx and cg.lv_to_raw(lv) < cg.lv_to_raw(other.lv):
                        break
                    scanning = o_right < right_idx
                i += 1
                if not scanning:
                    idx = i
            items.insert(idx, new)
            by_lv[lv] = new
        version = (lv,)
    return [(it.lv, it.char, it.deleters) for it in items]
