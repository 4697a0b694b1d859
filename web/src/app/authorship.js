// Live authorship colours: every character of the editor tinted by the colour of the
// user who typed it, kept current as anyone types (a toggle; off by default).
//
// Who typed a character is in the engine: the document's IdMap gives the LV of each
// visible character (kept in step with every edit once built), the causal graph the
// agent of an LV.  Only the visible part of the text is looked at (CodeMirror's
// viewport), so the cost per update is the size of the screen, not of the document.
// Agents are per tab; colours go by *user* (authorColors in colors.js: one colour
// per user, distinct on a document), so the agent -> user map comes from this tab's
// own agent and, for every other agent, the server's blame (GET /api/docs/{id}/blame),
// which names the user the server bound the agent to.  Not presence: the name in a
// PRESENCE is whatever the client says, and authorship must be the server's word.
// A newcomer's first characters show uncoloured until the lookup (at most one per
// couple of seconds) names them.
import { RangeSetBuilder, StateEffect, StateField } from "@codemirror/state";
import { Decoration, ViewPlugin } from "@codemirror/view";
import { astralField } from "./cmbridge.js";
import { authorColors, colourClass } from "./colors.js";

/**
 * Who typed each character of `doc`'s text in code points [from, to): runs
 * `{start, end, agent}` covering the range, adjacent runs of one agent merged.
 */
export function blameRange(doc, from, to) {
  const len = doc.length;
  from = Math.max(0, Math.min(from, len));
  to = Math.max(from, Math.min(to, len));
  const out = [];
  if (from === to) return out;
  const ids = doc.idMap();
  const cg = doc.oplog.cg;
  let [ci, off] = ids.seek(from);
  let pos = from;
  let ri = 0;
  // the run holding `from`, and the offset into it
  const chunk0 = ids.chunks[ci];
  while (ri < chunk0.length && off >= chunk0[ri][1]) {
    off -= chunk0[ri][1];
    ri++;
  }
  while (pos < to && ci < ids.chunks.length) {
    const chunk = ids.chunks[ci];
    if (ri >= chunk.length) {
      ci++;
      ri = 0;
      off = 0;
      continue;
    }
    const [lv0, n] = chunk[ri];
    let lv = lv0 + off;
    let left = Math.min(n - off, to - pos);
    while (left > 0) {
      // one causal-graph entry is one agent's consecutive seqs
      const e = cg.entryOf(lv);
      const take = Math.min(left, cg.entryEnd(e) - lv);
      const agent = cg.agents[cg.entryAgent[e]];
      const last = out[out.length - 1];
      if (last && last.agent === agent && last.end === pos) last.end += take;
      else out.push({ start: pos, end: pos + take, agent });
      pos += take;
      lv += take;
      left -= take;
    }
    ri++;
    off = 0;
  }
  return out;
}

/**
 * Which user owns each agent (agents are per tab; colours are per user), learnt from
 * what the page sees and, for agents it does not know, asked of the server.
 * `lookup()` resolves to [{agent, user, name}] (the server's blame runs).
 */
export class AuthorDirectory {
  constructor({ lookup = null, minInterval = 2000, onChange = () => {} } = {}) {
    this.owners = new Map(); // agent -> user
    this.names = new Map(); // user -> display name
    this.lookup = lookup;
    this.minInterval = minInterval;
    this.onChange = onChange;
    this.version = 0; // bumped whenever an owner or name is learnt
    this._asked = new Set(); // agents the server could not name (not asked about again)
    this._want = new Set(); // agents to ask about
    this._busy = false;
    this._last = -Infinity;
    this._timer = null;
    this._colours = null;
  }

  /** `agent` belongs to `user` (display name `name`, optional). */
  learn(agent, user, name = null) {
    if (typeof agent !== "string" || !agent || typeof user !== "string" || !user) return;
    let changed = false;
    if (this.owners.get(agent) !== user) {
      this.owners.set(agent, user);
      changed = true;
    }
    if (name && this.names.get(user) !== name) {
      this.names.set(user, name);
      changed = true;
    }
    if (changed) {
      this.version++;
      this._colours = null;
    }
  }

  userOf(agent) {
    return this.owners.get(agent) ?? null;
  }

  nameOf(user) {
    return this.names.get(user) ?? user;
  }

  /** Every known user's colour (distinct among them: colors.js). */
  colours() {
    this._colours ??= authorColors(this.owners.values());
    return this._colours;
  }

  /** Agents were seen whose owner is not known: ask the server (at most every minInterval ms). */
  missing(agents) {
    if (!this.lookup) return;
    for (const a of agents) if (!this.owners.has(a) && !this._asked.has(a)) this._want.add(a);
    if (!this._want.size || this._timer !== null || this._busy) return;
    const wait = Math.max(0, this._last + this.minInterval - Date.now());
    this._timer = setTimeout(() => this._ask(), wait);
  }

  async _ask() {
    this._timer = null;
    const wanted = [...this._want];
    this._want.clear();
    this._busy = true;
    this._last = Date.now();
    const before = this.version;
    let ok = false;
    try {
      for (const run of await this.lookup()) this.learn(run.agent, run.user, run.name);
      ok = true;
    } catch (exc) {
      console.warn("cowrite: who typed what could not be looked up", exc);
    } finally {
      this._busy = false;
    }
    for (const agent of wanted) {
      if (this.owners.has(agent)) continue;
      if (ok) this._asked.add(agent); // the server does not know it either: do not ask again
      else this._want.add(agent); // asked again when more is missing (not in a loop)
    }
    if (this.version !== before) this.onChange();
    if (ok && this._want.size) this.missing([]);
  }
}

/** Turn the colours on or off. */
export const setAuthorship = StateEffect.define();
/** The directory learnt something: colour again. */
export const authorsChanged = StateEffect.define();

export const authorshipOn = StateField.define({
  create: () => false,
  update(on, tr) {
    for (const e of tr.effects) if (e.is(setAuthorship)) on = Boolean(e.value);
    return on;
  },
});

const marks = new Map(); // "user\0colour" -> Decoration (equal marks let CodeMirror skip redraws)

function markFor(user, colour, name) {
  const key = `${user}\0${colour}\0${name}`;
  let mark = marks.get(key);
  if (!mark) {
    const cls = user === null ? "cw-author cw-author-unknown" : `cw-author ${colourClass(colour)}`;
    mark = Decoration.mark({ class: cls, attributes: { "data-author": user ?? "", title: user === null ? "" : `Typed by ${name}` } });
    if (marks.size > 10_000) marks.clear();
    marks.set(key, mark);
  }
  return mark;
}

/**
 * The authorship decorations of the view's visible ranges, or null if the engine's
 * text is not the editor's right now (a replica being replaced): keep the old ones.
 */
export function authorshipDecorations(view, doc, directory) {
  const state = view.state;
  const astral = state.field(astralField);
  if (astral.toCp(state.doc.length) !== doc.length) return null;
  const colours = directory.colours();
  const builder = new RangeSetBuilder();
  const unknown = new Set();
  for (const { from, to } of view.visibleRanges) {
    for (const run of blameRange(doc, astral.toCp(from), astral.toCp(to))) {
      const user = directory.userOf(run.agent);
      if (user === null) unknown.add(run.agent);
      const mark = markFor(user, user === null ? "" : colours.get(user) ?? "#888", user === null ? "" : directory.nameOf(user));
      builder.add(astral.toU16(run.start), astral.toU16(run.end), mark);
    }
  }
  if (unknown.size) directory.missing([...unknown]);
  return builder.finish();
}

/**
 * The editor extension: `getDoc()` is the engine Document the editor shows (it may be
 * replaced: read it each time), `directory` an AuthorDirectory.
 */
export function authorship({ getDoc, directory }) {
  const plugin = ViewPlugin.fromClass(
    class {
      constructor(view) {
        this.decorations = Decoration.none;
        this.build(view);
      }

      update(update) {
        const on = update.state.field(authorshipOn);
        if (!on) {
          this.decorations = Decoration.none;
          return;
        }
        const nudged = update.transactions.some((tr) => tr.effects.some((e) => e.is(setAuthorship) || e.is(authorsChanged)));
        if (update.docChanged || update.viewportChanged || nudged) {
          if (update.docChanged) this.decorations = this.decorations.map(update.changes);
          this.build(update.view);
        }
      }

      build(view) {
        if (!view.state.field(authorshipOn)) return;
        try {
          const decos = authorshipDecorations(view, getDoc(), directory);
          if (decos !== null) this.decorations = decos;
        } catch (exc) {
          console.warn("cowrite: authorship colours failed", exc);
        }
      }
    },
    { decorations: (p) => p.decorations },
  );
  return [authorshipOn, plugin];
}
