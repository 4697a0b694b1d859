// One's own suggestion while typing it in the editor (suggesting mode): a *draft* held
// as marks on the document's text, never as text in it.  The editor keeps showing the
// document exactly (the engine and the editor must agree, collab.js); the draft says
// which runs of that text are struck (`deletes`, [{from, to}]) and what is inserted
// where (`inserts`, [{at, text}]), offsets in UTF-16 like the editor's.  The user's
// edits while suggesting are turned into changes of the draft (editDraft); others'
// edits move it (mapDraft); what it proposes is draftText(document text, draft), which
// the server turns into the suggestion's ops at the document's version.
//
// An insertion is drawn just before its position (a widget with side -1), so the caret
// at that position sits right after the inserted text: typing there goes on with it
// and Backspace takes its last character back.  The caret can also go *inside* one's
// own insertion (`inner`: {at, offset}, the arrow keys or a click, suggest.js): the
// edits are then of the inserted text at that offset.

/** The empty draft. */
export const EMPTY_DRAFT = Object.freeze({ deletes: Object.freeze([]), inserts: Object.freeze([]) });

/** Whether the draft proposes nothing. */
export function draftEmpty(draft) {
  return draft.deletes.length === 0 && draft.inserts.length === 0;
}

/** The text the draft proposes for `text` (the document's text it is marked on). */
export function draftText(text, draft) {
  const kept = (a, b) => {
    let out = "";
    let p = a;
    for (const d of draft.deletes) {
      if (d.to <= p || d.from >= b) continue;
      if (d.from > p) out += text.slice(p, d.from);
      p = Math.max(p, d.to);
    }
    return p < b ? out + text.slice(p, b) : out;
  };
  let out = "";
  let pos = 0;
  for (const ins of draft.inserts) {
    out += kept(pos, ins.at) + ins.text;
    pos = ins.at;
  }
  return out + kept(pos, text.length);
}

/** A draft from a listed suggestion's runs (suggest.js placeSpans: {deletes, inserts}). */
export function draftOf(placed) {
  return normalize({ deletes: placed.deletes.map((d) => ({ ...d })), inserts: placed.inserts.map((i) => ({ ...i })) });
}

/** Sorted, deleted runs joined where they touch, insertions at one position joined, nothing empty. */
function normalize(draft) {
  const deletes = [];
  for (const d of [...draft.deletes].sort((a, b) => a.from - b.from)) {
    if (d.to <= d.from) continue;
    const last = deletes[deletes.length - 1];
    if (last && d.from <= last.to) last.to = Math.max(last.to, d.to);
    else deletes.push({ from: d.from, to: d.to });
  }
  const inserts = [];
  for (const i of draft.inserts.map((x, n) => ({ ...x, n })).sort((a, b) => a.at - b.at || a.n - b.n)) {
    if (!i.text) continue;
    const last = inserts[inserts.length - 1];
    if (last && last.at === i.at) last.text += i.text;
    else inserts.push({ at: i.at, text: i.text });
  }
  return { deletes, inserts };
}

/**
 * The draft moved through a change of the document (others' edits, a replaced replica):
 * `mapPos(pos, assoc)` is the change's (CodeMirror ChangeDesc.mapPos).  A struck run
 * keeps to its own characters (text typed at its edges is not struck); a run whose
 * characters are all gone is dropped.
 */
export function mapDraft(draft, mapPos) {
  if (draftEmpty(draft)) return draft;
  return normalize({
    deletes: draft.deletes.map((d) => ({ from: mapPos(d.from, 1), to: mapPos(d.to, -1) })),
    inserts: draft.inserts.map((i) => ({ at: mapPos(i.at, -1), text: i.text })),
  });
}

/**
 * One edit the user made while suggesting, as a change of the draft.  `from`/`to`: the
 * range of the document's text the editor would have replaced, `insert` its new text;
 * `how`: "backward" (Backspace at a caret), "forward" (Delete at a caret), or anything
 * else (typing, a selection replaced or deleted, a paste).  Returns {draft, caret}: the
 * new draft and where the caret goes (the document does not change).
 *
 * Deleting the document's text strikes it; deleting one's own inserted text removes it
 * (Backspace right after it, or a selection over it); typing inserts at the caret,
 * after what one inserted there already, or after the struck selection it replaces.
 */
export function editDraft(draft, { from, to, insert = "", how = "", inner = null }) {
  let deletes = draft.deletes.map((d) => ({ ...d }));
  let inserts = draft.inserts.map((i) => ({ ...i }));
  const within = inner && inserts.find((i) => i.at === inner.at);
  if (within && (how === "backward" || how === "forward" || (to === from && insert))) {
    // the caret is inside one's own insertion (`inner`): the edit is of its text
    const t = within.text;
    let off = inner.offset;
    if (how === "backward" && off === 0) {
      return { draft: normalize({ deletes: [...deletes, { from, to }], inserts }), caret: from, inner: null }; // strikes what is before it
    }
    if (how === "backward") {
      const n = charBefore(t, off);
      within.text = t.slice(0, off - n) + t.slice(off);
      off -= n;
    } else if (how === "forward") {
      within.text = t.slice(0, off) + t.slice(off + charAfter(t, off));
    } else {
      within.text = t.slice(0, off) + insert + t.slice(off);
      off += insert.length;
    }
    const next = off < within.text.length ? { at: inner.at, offset: off } : null;
    return { draft: normalize({ deletes, inserts }), caret: inner.at, inner: next };
  }
  let caret = from;
  if (to > from) {
    const own = inserts.find((i) => i.at === to);
    if (how === "backward" && own && !insert) {
      const chars = Array.from(own.text);
      chars.pop();
      own.text = chars.join("");
      return { draft: normalize({ deletes, inserts }), caret: to };
    }
    // a selection over one's own inserted text takes it away with the struck text
    const selection = how !== "backward" && how !== "forward";
    inserts = inserts.filter((i) => !(i.at > from && (i.at < to || (selection && i.at === to))));
    deletes.push({ from, to });
    caret = how === "backward" ? from : to;
  }
  if (insert) {
    const at = to > from ? to : from;
    const own = inserts.find((i) => i.at === at);
    if (own) own.text += insert;
    else inserts.push({ at, text: insert });
    caret = at;
  }
  return { draft: normalize({ deletes, inserts }), caret };
}

/** UTF-16 length of the character before `offset` in `text` (a surrogate pair: 2). */
export function charBefore(text, offset) {
  if (offset <= 0) return 0;
  const c = text.charCodeAt(offset - 1);
  return offset >= 2 && c >= 0xdc00 && c <= 0xdfff ? 2 : 1;
}

/** UTF-16 length of the character at `offset` in `text`. */
export function charAfter(text, offset) {
  if (offset >= text.length) return 0;
  const c = text.charCodeAt(offset);
  return c >= 0xd800 && c <= 0xdbff && offset + 1 < text.length ? 2 : 1;
}

/** Whether two drafts are the same marks. */
export function sameDraft(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The draft as edits of the text it is marked on, in an order that keeps every
 * position right while they are made one after the other (from the end of the text):
 * [{kind: "delete", from, to}] and [{kind: "insert", at, text}], UTF-16 offsets.  A
 * struck run is cut where an insertion sits inside it, so the insertion goes between
 * its two parts.  This is how the suggestion's ops are typed (suggest.js).
 */
export function draftEdits(draft) {
  const cuts = draft.inserts.map((i) => i.at);
  const edits = [];
  for (const d of draft.deletes) {
    let from = d.from;
    for (const c of cuts) {
      if (c > from && c < d.to) {
        edits.push({ kind: "delete", from, to: c });
        from = c;
      }
    }
    edits.push({ kind: "delete", from, to: d.to });
  }
  for (const i of draft.inserts) edits.push({ kind: "insert", at: i.at, text: i.text });
  const key = (e) => (e.kind === "delete" ? e.from : e.at);
  // from the end; at one offset the struck run starting there first, then the insertion
  return edits.sort((a, b) => key(b) - key(a) || (a.kind === "delete" ? -1 : 1) - (b.kind === "delete" ? -1 : 1));
}

/** Code point offsets of the UTF-16 offsets `offsets` in `text` (one pass). */
export function codePointOffsets(text, offsets) {
  const wanted = [...new Set(offsets)].sort((a, b) => a - b);
  const out = new Map();
  let cp = 0;
  let u = 0;
  for (const w of wanted) {
    while (u < w && u < text.length) {
      const c = text.charCodeAt(u);
      u += c >= 0xd800 && c <= 0xdbff && u + 1 < text.length ? 2 : 1;
      cp++;
    }
    out.set(w, cp);
  }
  return out;
}

/** UTF-16 offsets of the code point offsets `cps` in `text` (one pass; the inverse of codePointOffsets). */
export function utf16Offsets(text, cps) {
  const wanted = [...new Set(cps)].sort((a, b) => a - b);
  const out = new Map();
  let cp = 0;
  let u = 0;
  for (const w of wanted) {
    while (cp < w && u < text.length) {
      const c = text.charCodeAt(u);
      u += c >= 0xd800 && c <= 0xdbff && u + 1 < text.length ? 2 : 1;
      cp++;
    }
    out.set(w, u);
  }
  return out;
}

// -- a draft kept on this device --------------------------------------------------------
//
// Offsets mean something in one text only; a draft stored on this device is read back
// by a later page whose document may have moved on (others' edits merged in from the
// server meanwhile).  So the stored draft names the *characters* its marks are tied to
// (engine positions, `doc.position`): a struck run by its first and last character, an
// insertion by the character just before it -- the same sides mapDraft keeps in
// memory, so a draft read back sits where it would have if the page had stayed open.

/**
 * The draft with its offsets (on `text`, which must be `doc`'s text) as positions of
 * `doc`'s characters: {deletes: [{from, to}], inserts: [{at, text}]}, each position
 * `{agent, seq, assoc}` (JSON-friendly, for the device's store).
 */
export function anchorDraft(doc, text, draft) {
  const cp = codePointOffsets(text, [...draft.deletes.flatMap((d) => [d.from, d.to]), ...draft.inserts.map((i) => i.at)]);
  const pos = (offset, assoc) => doc.position(cp.get(offset), assoc).toJSON();
  return {
    deletes: draft.deletes.map((d) => ({ from: pos(d.from, 1), to: pos(d.to, -1) })),
    inserts: draft.inserts.map((i) => ({ at: pos(i.at, -1), text: i.text })),
  };
}

/**
 * An anchored draft (anchorDraft) placed on `doc`'s text now (`text`, the editor's):
 * the draft in its offsets, or null if it cannot be placed (a character it is tied to
 * is not in this document: `Position` is the engine's class).  Characters deleted
 * meanwhile resolve to where they were: a struck run all gone is dropped, an
 * insertion stays in its place.
 */
export function placeDraft(doc, text, anchored, Position) {
  try {
    const at = (p) => doc.resolve(new Position(p.agent, p.seq, p.assoc));
    const deletes = anchored.deletes.map((d) => ({ from: at(d.from), to: at(d.to) }));
    const inserts = anchored.inserts.map((i) => ({ at: at(i.at), text: String(i.text) }));
    const u = utf16Offsets(text, [...deletes.flatMap((d) => [d.from, d.to]), ...inserts.map((i) => i.at)]);
    return normalize({
      deletes: deletes.map((d) => ({ from: u.get(d.from), to: u.get(d.to) })),
      inserts: inserts.map((i) => ({ at: u.get(i.at), text: i.text })),
    });
  } catch {
    return null; // not this document's characters (or not a stored draft at all)
  }
}

/** Whether `draft` is a well-formed draft on a text of `length` UTF-16 units (read back from storage). */
export function validDraft(draft, length) {
  const int = (n) => Number.isInteger(n) && n >= 0 && n <= length;
  return (
    !!draft &&
    Array.isArray(draft.deletes) &&
    Array.isArray(draft.inserts) &&
    draft.deletes.every((d) => d && int(d.from) && int(d.to) && d.from <= d.to) &&
    draft.inserts.every((i) => i && int(i.at) && typeof i.text === "string")
  );
}
