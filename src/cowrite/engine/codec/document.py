"""The encoding of a whole document: its op log (full history), its text and version.

Why a custom format: JSON of the op log is large (every run repeats its agent,
seq and parents) and slow to parse.  The op log is already run-length encoded,
and its columns are very regular, so storing each field as its own column of
small varints and deflating the lot makes a full-history document smaller than
its plain text would be as UTF-8 in many cases.

Body (inside the frame of ``frame.py``; integers are LEB128 varints, signed ones
zigzag-coded, strings UTF-8; every column is a length-prefixed block)::

    agents      uvarint count, then per agent: uvarint byte length + UTF-8
    entries     uvarint E (causal-graph entries), then blocks:
                  lens     E uvarints (>= 1): LVs in each entry
                  agents   RLE pairs (agent index, repeat >= 1) covering E entries
                  seqs     E zigzag: seq minus that agent's next unused seq
                  parents  per entry a code: 0 = (start - 1,) [the common case],
                           c >= 1 = c - 1 parents follow as uvarint (start - parent)
    ops         uvarint R (op runs, tiling LVs 0..N in order), then blocks:
                  kindlen  R uvarints: run length << 2 | kind (INS/DEL_FWD/DEL_BACK)
                  pos      R zigzag: position minus the one predicted from the last
                           run (after typing: its end; after a delete: its start)
                  content  UTF-8 of every insert's text, concatenated
    heads       frontier: uvarint k, first LV, then ascending deltas
    version     frontier of the stored text (same coding)
    text        uvarint code-point count, then a block of UTF-8
    times       (version >= 2) uvarint T (time runs, tiling LVs 0..N), then a block
                of T pairs: uvarint run length in LVs (>= 1), then zigzag time minus
                the previous run's time (the first run's minus 0)

Times are Unix seconds (0 = unknown), each in ``0 <= t < 2**53``; consecutive
time runs must differ (so the column has one encoding) and cover exactly the
LVs there are.  Version 1 is version 2 without the times: its ops decode with
time 0.

The current text is stored, so loading never replays history (that is the cost
Eg-walker saves: the op log is only walked again when concurrent ops arrive).
Decoding never trusts the bytes: any input either decodes to a consistent value
or raises :class:`~cowrite.errors.DecodeError` (or :class:`~cowrite.errors.TooLargeError`
for a body over the caller's limit); anything else would be a bug.
"""

from __future__ import annotations

from ...errors import DecodeError
from ..causal_graph import Frontier
from ..limits import MAX_SEQ, REDUCE_BUDGET
from ..oplog import DEL_BACK, INS, OpLog
from .columns import (
    decode_utf8,
    predict,
    read_agents,
    read_content,
    read_frontier,
    read_rle,
    read_times,
    rle,
    utf8,
    write_agents,
    write_frontier,
    write_times,
)
from .frame import DOC_MAGIC, frame, unframe
from .varint import write_block, write_svar, write_uvar

__all__ = ["decode_document", "encode_document"]


def encode_document(oplog: OpLog, text: str, version: Frontier) -> bytes:
    """The whole document: its op log (full history) plus its text at ``version``."""
    cg = oplog.cg
    body = bytearray()
    write_agents(body, cg.agents)

    # causal graph entries
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

    # op runs
    n_runs = len(oplog.op_starts)
    write_uvar(body, n_runs)
    kindlen = bytearray()
    poss = bytearray()
    predicted = 0
    for kind, pos, n in zip(oplog.op_kinds, oplog.op_pos, oplog.op_lens):
        write_uvar(kindlen, (n << 2) | kind)
        write_svar(poss, pos - predicted)
        predicted = predict(kind, pos, n)
    write_block(body, kindlen)
    write_block(body, poss)
    write_block(body, utf8("".join(oplog.op_content), "inserted text"))

    write_frontier(body, cg.heads)
    write_frontier(body, version)
    write_uvar(body, len(text))
    write_block(body, utf8(text, "text"))

    ts = oplog.time_starts
    if ts:
        ends = ts[1:] + [cg.next_lv]
        write_times(body, [(e - s, t) for s, e, t in zip(ts, ends, oplog.time_values)])
    else:  # a log built without the time column: every time unknown
        write_times(body, [(cg.next_lv, 0)] if cg.next_lv else [])
    return frame(DOC_MAGIC, body)


def decode_document(data: bytes, *, max_bytes: int | None = None) -> tuple[OpLog, str, Frontier]:
    """Rebuild the op log, text and version from :func:`encode_document` bytes.

    The stored text is used as is (no history replay); everything that can be
    checked without a replay is: ids, parents, run lengths, positions against
    the total text inserted, and the text length against the version's history.
    ``max_bytes`` bounds the body (see ``frame.unframe``).
    """
    r, fmt = unframe(data, DOC_MAGIC, max_bytes)
    agents = read_agents(r)
    n_agents = len(agents)

    # -- causal graph
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
    total = start

    # -- op runs
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
    content = read_content(r, ins_total)
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

    # -- heads, version, text
    heads = read_frontier(r, total, "heads")
    if heads != cg.heads:
        raise DecodeError("corrupt data: stored heads do not match the causal graph")
    version = read_frontier(r, total, "version")
    if len(version) > 1 and cg.reduce(version) != version:
        raise DecodeError("corrupt data: version is not a frontier (one LV is an ancestor of another)")
    n_chars = r.uvar()
    tb = r.block()
    if not n_chars <= tb.left() <= 4 * n_chars:
        raise DecodeError("corrupt data: text size does not match its length")
    text = decode_utf8(tb.take(tb.left()), "text")
    if len(text) != n_chars:
        raise DecodeError("corrupt data: text length does not match")
    if fmt >= 2:
        oplog.time_starts, oplog.time_values = read_times(r, total, "LVs")
    elif total:
        oplog.time_starts, oplog.time_values = [0], [0]  # version 1: times unknown
    r.done("document")
    _check_text_len(oplog, version, len(text), linear)
    return oplog, text, version


def _check_text_len(oplog: OpLog, version: Frontier, text_len: int, linear: bool) -> None:
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