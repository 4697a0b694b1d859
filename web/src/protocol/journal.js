// The journal of the user's own edits the server has not confirmed yet (a port of
// src/cowrite/protocol/journal.py: same segments, same results).
//
// Why: "no keystroke is ever dropped".  When the server refuses the client's ops
// (a corrupted replica made ops that do not fit the server's history), the replica
// is replaced by a fresh copy of the server's document, and the user's unconfirmed
// typing would go with it.  The journal keeps that typing as plain text changes of
// the text the user sees, so rebase() can type it again on the new copy at the
// same places relative to the text both sides still share.
//
// Design: segments, each a TextChange from the text before it to the text after
// it; composed in order they turn base(view) into the view.  flushed() tags the
// open segments with the seq their ops end below; confirmed() drops the tagged
// ones the server holds.  A change that is not the user's (remote()) happened after
// every segment; it is moved underneath them, newest first (segment S then change
// R become R' then S', S' = the inverse of S transformed over R, inverted), so each
// segment stays exact.  Positions are code points.
//
//   const j = new Journal();
//   j.local(pos, deleted, inserted, {inReplica});   // the user's edit
//   j.remote(edits);                                // engine edits that are not the user's
//   j.flushed(seqEnd); j.confirmed(seqEnd);
//   const {onServer, onView, text} = j.rebase(view, serverText);

import { CodePointString, TextChange, compose, composeAll, diff, fromEdit, fromEdits, transform } from "./textChange.js";

// [later', seg'] with later' then seg' equal to seg then later (later' over seg's base).
function swap(seg, later) {
  const [back, moved] = transform(seg.invert(), later);
  return [moved, back.invert()];
}

// The base spans `user` deletes, and the base positions it inserts at.
function marks(user) {
  const spans = [];
  const points = [];
  let pos = 0;
  for (const op of user.ops) {
    if (op.type === "insert") points.push(pos);
    else {
      if (op.type === "delete") spans.push([pos, pos + op.length]);
      pos += op.length;
    }
  }
  return [spans, points];
}

// `aligned` (a diff of `base`, a CodePointString) with each span it only deletes slid,
// within repeated text, to where it covers most of what `user` deletes, then has the
// fewest of user's inserts strictly inside it (ties: nearest, then leftmost).  Why:
// "hello cruel world" -> "hello world" may delete " cruel" or "cruel "; if the user
// deleted the same text, the diff must delete those very characters, or the two
// deletes together take out one character too many.
function slideDeletes(aligned, base, user) {
  const [spans, points] = marks(user);
  if (!spans.length && !points.length) return aligned;
  const gaps = []; // {kept, deleted, inserted}: the canonical form's gaps
  let kept = 0;
  let afterDelete = false;
  for (const op of aligned.ops) {
    if (op.type === "retain") {
      kept = op.length;
      afterDelete = false;
    } else if (op.type === "delete") {
      gaps.push({ kept, deleted: op.length, inserted: "" });
      kept = 0;
      afterDelete = true;
    } else if (afterDelete) {
      gaps[gaps.length - 1].inserted = op.text;
      afterDelete = false;
    } else {
      gaps.push({ kept, deleted: 0, inserted: op.text });
      kept = 0;
    }
  }
  let pts = null;
  let pos = 0;
  for (let k = 0; k < gaps.length; k++) {
    const gap = gaps[k];
    pos += gap.kept;
    if (gap.deleted && !gap.inserted) {
      pts ??= base.points();
      const room = k + 1 < gaps.length ? gaps[k + 1].kept : base.length - pos - gap.deleted;
      const t = bestSlide(pts, pos, pos + gap.deleted, gap.kept, room, spans, points);
      gap.kept += t;
      if (k + 1 < gaps.length) gaps[k + 1].kept -= t;
      pos += t;
    }
    pos += gap.deleted;
  }
  const ops = [];
  pos = 0;
  for (const gap of gaps) {
    pos += gap.kept;
    const text = base.slice(pos, pos + gap.deleted);
    ops.push({ type: "retain", length: gap.kept }, { type: "delete", text, length: gap.deleted });
    ops.push({ type: "insert", text: gap.inserted, length: new CodePointString(gap.inserted).length });
    pos += gap.deleted;
  }
  return new TextChange(ops);
}

function bestSlide(base, s, e, roomLeft, roomRight, spans, points) {
  let left = 0;
  while (left < roomLeft && base[s - 1 - left] === base[e - 1 - left]) left++;
  let right = 0;
  while (right < roomRight && base[s + right] === base[e + right]) right++;
  const lo0 = s - left;
  const hi0 = e + right;
  const near = spans.filter(([a, b]) => a < hi0 && b > lo0);
  const nearPoints = points.filter((p) => lo0 < p && p < hi0);
  if ((left === 0 && right === 0) || (!near.length && !nearPoints.length)) return 0;
  const width = hi0 - lo0;
  const marked = new Uint8Array(width);
  for (const [a, b] of near) for (let i = Math.max(a, lo0); i < Math.min(b, hi0); i++) marked[i - lo0] = 1;
  const covered = new Int32Array(width + 1); // user-deleted characters in base[lo0, lo0 + i)
  for (let i = 0; i < width; i++) covered[i + 1] = covered[i] + marked[i];
  const below = new Int32Array(width + 1); // user insert positions < lo0 + i
  for (const p of nearPoints) below[p - lo0 + 1]++;
  for (let i = 0; i < width; i++) below[i + 1] += below[i];
  const score = (t) => {
    const lo = s + t - lo0;
    const hi = e + t - lo0;
    return [covered[hi] - covered[lo], below[lo + 1] - below[hi]];
  };
  let best = 0;
  let bestScore = score(0);
  for (let t = -left; t <= right; t++) {
    const sc = score(t);
    const better = sc[0] !== bestScore[0] ? sc[0] > bestScore[0] : sc[1] !== bestScore[1] ? sc[1] > bestScore[1] : Math.abs(t) < Math.abs(best) || (Math.abs(t) === Math.abs(best) && t < best);
    if (better) {
      best = t;
      bestScore = sc;
    }
  }
  return best;
}

export class Journal {
  constructor() {
    // {change, seqEnd (null: not sent), pinned (not in the replica)}, oldest first
    this._segments = [];
  }

  /** The segments, oldest first (copies). */
  get segments() {
    return this._segments.map((s) => ({ change: s.change, seqEnd: s.seqEnd, pinned: s.pinned }));
  }

  /** Whether no edit is waiting for the server. */
  get empty() {
    return this._segments.length === 0;
  }

  /**
   * The user replaced `deleted` (the exact text that was there) at `pos` by `inserted`.
   * inReplica: false -- the replica's engine refused the edit: it goes in a segment of
   * its own that confirmed() never drops, only rebase().
   */
  local(pos, deleted, inserted, { inReplica = true } = {}) {
    if (typeof deleted !== "string") throw new TypeError("the deleted text must be a string");
    if (!deleted && !inserted) return;
    const change = fromEdit(pos, deleted, inserted);
    const pinned = !inReplica;
    const segs = this._segments;
    const last = segs[segs.length - 1];
    if (last !== undefined && last.seqEnd === null && last.pinned === pinned) {
      last.change = compose(last.change, change);
      if (last.change.isIdentity) segs.pop();
    } else segs.push({ change, seqEnd: null, pinned });
  }

  /** The visible text changed by engine `edits` that are not the user's. */
  remote(edits) {
    if (!this._segments.length) return;
    let change = fromEdits(edits);
    if (change.isIdentity) return;
    for (let i = this._segments.length - 1; i >= 0; i--) {
      const seg = this._segments[i];
      [change, seg.change] = swap(seg.change, change);
    }
    this._segments = this._segments.filter((s) => !s.change.isIdentity);
  }

  /** Every local edit so far went into our agent's ops below `seqEnd`, which were sent. */
  flushed(seqEnd) {
    for (const seg of this._segments) if (seg.seqEnd === null) seg.seqEnd = seqEnd;
  }

  /**
   * The server holds every op of ours below `seqEnd`: forget their edits (any order of
   * calls).  One behind a pinned segment is moved underneath it first.
   */
  confirmed(seqEnd) {
    const kept = [];
    for (const seg of this._segments) {
      if (seg.seqEnd === null || seg.seqEnd > seqEnd || seg.pinned) {
        kept.push(seg);
        continue;
      }
      let change = seg.change;
      for (let i = kept.length - 1; i >= 0; i--) [change, kept[i].change] = swap(kept[i].change, change);
    }
    this._segments = kept.filter((s) => !s.change.isIdentity);
  }

  /** `view` without the unconfirmed edits (throws ChangeMismatchError if they do not fit it). */
  base(view) {
    return this._combined().invert().apply(view);
  }

  /**
   * The replica is being replaced by the server's copy, whose text is `server`.
   * Returns {onServer, onView, text}: onServer turns `server` into `text` (make them as
   * new local ops), onView turns `view` into it.  Where the server and the user
   * inserted at one place the server's text comes first.  Afterwards the journal holds
   * the re-typed edits as one unflushed segment over `server`.
   */
  rebase(view, server) {
    const user = this._combined();
    const baseText = user.invert().apply(view);
    const aligned = slideDeletes(diff(baseText, server), new CodePointString(baseText), user);
    const [onView, onServer] = transform(aligned, user);
    const text = onServer.apply(server);
    this._segments = onServer.isIdentity ? [] : [{ change: onServer, seqEnd: null, pinned: false }];
    return { onServer: onServer.toEdits(), onView: onView.toEdits(), text };
  }

  _combined() {
    return composeAll(this._segments.map((s) => s.change));
  }
}
