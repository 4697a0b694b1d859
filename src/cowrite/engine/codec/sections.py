"""The sections of a document's history, shared by both document layouts.

``document.py`` (the classic layout) and ``head.py`` (the head-first layout) store
the same history sections -- causal graph entries, op runs with their inserted
text, heads, times -- and differ only in where the agents, the version and the
text go.  Each section is written and read here, once; the layouts' docstrings
give the byte layout.  Readers check everything they can without a replay and
raise :class:`~cowrite.errors.DecodeError` saying what is wrong.
"""

from __future__ import annotations

from ...errors import DecodeError
from ..causal_graph import Frontier
from ..limits import MAX_SEQ, REDUCE_BUDGET
from ..oplog import DEL_BACK, INS, OpLog
from .columns import predict, read_content, read_frontier, read_rle, read_times, rle, utf8, write_frontier, write_times
from .varint import Reader, write_block, write_svar, write_uvar

__all__ = [
    "check_text_len",
    "read_graph",
    "read_heads",
    "read_runs",
    "read_times_section",
    "write_content",
    "write_graph",
    "write_heads",
    "write_runs",
    "write_times_section",
]


# -- writing ---------------------------------------------------------------------------


def write_graph(body: bytearray, oplog: OpLog) -> None:
    """The causal graph entries: count, then lens, agents (RLE), seqs, parents."""
    cg = oplog.cg
    n_entries = len(cg.starts)
    write_uvar(body, n_entries)
    lens = bytearray()
    seqs = bytearray()
    parents = bytearray()
    next_seq = [0] * len(cg.agents)
    for e, start in enumerate(cg.starts):
        n = cg.entry_end(e) - start
        write_uvar(lens, n)
        a = cg.entry_agent[e]
        seq = cg.entry_seq[e]
        write_svar(seqs, seq - next_seq[a])
        next_seq[a] = max(next_seq[a], seq + n)
        ps = cg.parents[e]
        if len(ps) == 1 and ps[0] == start - 1:
            write_uvar(parents, 0)
        else:
            write_uvar(parents, len(ps) + 1)
            for p in ps:
                write_uvar(parents, start - p)
    write_block(body, lens)
    write_block(body, rle(cg.entry_agent))
    write_block(body, seqs)
    write_block(body, parents)


def write_runs(body: bytearray, oplog: OpLog, content: bool = True) -> None:
    """The op runs: count, then kind-and-length, positions, inserted text (unless
    ``content`` is false: the head-first layout stores it apart, see ``head.py``)."""
    write_uvar(body, len(oplog.op_starts))
    kindlen = bytearray()
    poss = bytearray()
    predicted = 0
    for kind, pos, n in zip(oplog.op_kinds, oplog.op_pos, oplog.op_lens):
        write_uvar(kindlen, (n << 2) | kind)
        write_svar(poss, pos - predicted)
        predicted = predict(kind, pos, n)
    write_block(body, kindlen)
    write_block(body, poss)
    if content:
        write_content(body, oplog)


def write_content(body: bytearray, oplog: OpLog) -> None:
    """Every insert's text, concatenated, as one block of UTF-8."""
    write_block(body, utf8("".join(oplog.op_content), "inserted text"))


def write_heads(body: bytearray, oplog: OpLog) -> None:
    write_frontier(body, oplog.cg.heads)


def write_times_section(body: bytearray, oplog: OpLog) -> None:
    ts = oplog.time_starts
    if ts:
        ends = ts[1:] + [oplog.cg.next_lv]
        write_times(body, [(e - s, t) for s, e, t in zip(ts, ends, oplog.time_values)])
    else:  # a log built without the time column: every time unknown
        write_times(body, [(oplog.cg.next_lv, 0)] if oplog.cg.next_lv else [])


# -- reading ---------------------------------------------------------------------------


def read_graph(r: Reader, agents: list[str]) -> tuple[OpLog, bool]:
    """A fresh op log holding the causal graph entries read from ``r`` (no op runs
    yet), and whether the graph is linear (every entry follows the previous LV)."""
    n_agents = len(agents)
    n_entries = r.count("graph entries")
    lens_r = r.block()
    agents_r = r.block()
    seqs_r = r.block()
    parents_r = r.block()
    if n_entries > lens_r.left() or n_entries > parents_r.left() or n_entries > seqs_r.left():
        raise DecodeError("corrupt data: graph entry count larger than its columns")
    entry_agents = read_rle(agents_r, n_entries, n_agents, "agent index")
    oplog = OpLog()
    cg = oplog.cg
    next_seq = [0] * n_agents
    start = 0
    linear = True  # every entry follows the previous LV: no concurrency at all
    budget = REDUCE_BUDGET + 64 * n_entries
    for e in range(n_entries):
        n = lens_r.uvar()
        if n == 0:
            raise DecodeError("corrupt data: empty graph entry")
        a = entry_agents[e]
        seq = next_seq[a] + seqs_r.svar()
        if seq < 0 or seq + n > MAX_SEQ:
            raise DecodeError(f"corrupt data: seq {seq} out of range")
        code = parents_r.uvar()
        parents: Frontier
        if code == 0:
            if start == 0:
                raise DecodeError("corrupt data: the first op cannot follow a previous one")
            parents = (start - 1,)
        else:
            k = code - 1
            if k > parents_r.left():
                raise DecodeError("corrupt data: parent count larger than its column")
            ps: list[int] = []
            for _ in range(k):
                d = parents_r.uvar()
                if not 1 <= d <= start:
                    raise DecodeError("corrupt data: a parent is not an earlier op")
                p = start - d
                if ps and p <= ps[-1]:
                    raise DecodeError("corrupt data: parents are not strictly ascending")
                ps.append(p)
            parents = tuple(ps)
            if k > 1 and budget > 0:
                # reduce() walks the entries between the lowest and highest parent;
                # a forged file could make that quadratic, so the walks share a
                # budget.  Past it, a redundant parent edge is let through: it
                # names no new ancestor, so it only costs later walks time.
                budget -= e - cg.entry_of(parents[0])
                if cg.reduce(parents) != parents:
                    raise DecodeError("corrupt data: parents are not a frontier (one is an ancestor of another)")
            if parents != ((start - 1,) if start else ()):
                linear = False
        agent = agents[a]
        if cg.known_run(agent, seq) is not None:
            raise DecodeError(f"corrupt data: id {agent}:{seq} used twice")
        nxt = cg.next_known_seq(agent, seq)
        if nxt is not None and nxt < seq + n:
            raise DecodeError(f"corrupt data: ids {agent}:{seq}+{n} overlap earlier ones")
        cg.add(agent, seq, n, parents)
        next_seq[a] = max(next_seq[a], seq + n)
        start += n
    for col, what in ((lens_r, "entry lengths"), (seqs_r, "seqs"), (parents_r, "parents")):
        col.done(what)
    return oplog, linear


def read_runs(r: Reader, oplog: OpLog, content_r: Reader | None = None) -> None:
    """The op runs (and their inserted text) into ``oplog``, which holds the graph.

    The inserted text follows the runs in ``r``, or is the block ``content_r``
    (the head-first layout stores it before the graph)."""
    total = oplog.cg.next_lv
    n_runs = r.count("op runs")
    kl_r = r.block()
    pos_r = r.block()
    if n_runs > kl_r.left() or n_runs > pos_r.left():
        raise DecodeError("corrupt data: op run count larger than its columns")
    kinds: list[int] = []
    lens: list[int] = []
    poss: list[int] = []
    lv = 0
    ins_total = 0
    predicted = 0
    for _ in range(n_runs):
        kl = kl_r.uvar()
        kind = kl & 3
        n = kl >> 2
        if kind > DEL_BACK:
            raise DecodeError(f"corrupt data: unknown op kind {kind}")
        if n == 0:
            raise DecodeError("corrupt data: empty op run")
        pos = predicted + pos_r.svar()
        if pos < 0:
            raise DecodeError("corrupt data: negative op position")
        kinds.append(kind)
        lens.append(n)
        poss.append(pos)
        lv += n
        if lv > total:
            raise DecodeError("corrupt data: op runs cover more ops than the causal graph")
        if kind == INS:
            ins_total += n
        predicted = predict(kind, pos, n)
    kl_r.done("op kinds")
    pos_r.done("op positions")
    if lv != total:
        raise DecodeError(f"corrupt data: op runs cover {lv} ops but the causal graph has {total}")
    # No document is ever longer than everything inserted into it: a cheap bound
    # on every position that needs no replay.  An insert needs pos <= length; a
    # DEL_BACK run's first op deletes pos + n - 1; a DEL_FWD run's first op deletes
    # pos, and its later ops may be concurrent deletes of that same character by
    # other agents (adjacent runs merge whatever their parents), so only pos < length.
    for kind, pos, n in zip(kinds, poss, lens):
        if pos + (0 if kind == INS else n if kind == DEL_BACK else 1) > ins_total:
            raise DecodeError("corrupt data: op position beyond any possible text length")
    content = read_content(r if content_r is None else content_r, ins_total)
    op_content: list[str] = []
    op_starts: list[int] = []
    lv = 0
    c = 0
    for kind, n in zip(kinds, lens):
        op_starts.append(lv)
        lv += n
        if kind == INS:
            op_content.append(content[c : c + n])
            c += n
        else:
            op_content.append("")
    oplog.op_starts = op_starts
    oplog.op_kinds = kinds
    oplog.op_pos = poss
    oplog.op_lens = lens
    oplog.op_content = op_content


def read_heads(r: Reader, oplog: OpLog) -> None:
    """The stored heads, which must be the graph's own."""
    heads = read_frontier(r, oplog.cg.next_lv, "heads")
    if heads != oplog.cg.heads:
        raise DecodeError("corrupt data: stored heads do not match the causal graph")


def read_times_section(r: Reader, oplog: OpLog, fmt: int) -> None:
    total = oplog.cg.next_lv
    if fmt >= 2:
        oplog.time_starts, oplog.time_values = read_times(r, total, "LVs")
    elif total:
        oplog.time_starts, oplog.time_values = [0], [0]  # version 1: times unknown


def check_text_len(oplog: OpLog, version: Frontier, text_len: int, linear: bool) -> None:
    """The stored text must be as long as the version's history allows.

    Each op inserts or deletes one character, but concurrent deletes of the same
    character count once, so in general ``ins - del <= len <= ins``.  With no
    concurrency at all the length is exact, and each run's position is checked
    against the length at that point (a cheap replay of lengths, not of text).
    """
    cg = oplog.cg
    if linear and version == cg.heads:
        length = 0
        for kind, pos, n in zip(oplog.op_kinds, oplog.op_pos, oplog.op_lens):
            if kind == INS:
                if pos > length:
                    raise DecodeError("corrupt data: insert beyond the end of the text")
                length += n
            else:
                if pos + n > length:
                    raise DecodeError("corrupt data: delete beyond the end of the text")
                length -= n
        if length != text_len:
            raise DecodeError(f"corrupt data: text has {text_len} characters but its history makes {length}")
        return
    ranges = [(0, cg.next_lv)] if version == cg.heads else cg.diff(version, ())[0]
    ins = dels = 0
    for s, e in ranges:
        for s2, e2, kind, _pos, _content in oplog.iter_ops(s, e):
            if kind == INS:
                ins += e2 - s2
            else:
                dels += e2 - s2
    if not ins - dels <= text_len <= ins:
        raise DecodeError(
            f"corrupt data: text has {text_len} characters, impossible for its version ({ins} inserted, {dels} deleted)"
        )
