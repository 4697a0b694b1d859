// What the editor keeps on this device, so a document opens and edits with no server
// and nothing typed is lost when a tab is closed or reloaded (even offline).  Two
// kinds of record, in the device's store (offline.js: IndexedDB, else localStorage):
//
// * a tab's copy, `tab/<docId>/<agent>`: the tab's document while it holds edits the
//   server has not acknowledged (its unsent journal is in it: the ops of its agent the
//   server lacks).  Each tab edits with its own agent; a later page load finds the
//   copies of tabs that are gone, merges their ops into its own replica, and sends them
//   with a short "recovery" connection as their agent.  A tab that is alive holds its
//   agent (a Web Lock, and a heartbeat in localStorage), so no other tab sends its edits
//   too.
// * the device's copy, `copy/<docId>/<user>`: the document as last synced with the
//   server (written only when everything is acknowledged, so it never holds ops no tab
//   would send), with the role the user had then.  A page that cannot reach the server
//   opens from it -- as a viewer stays a viewer -- and syncs when the server is back.
//
// A record: {v: 2, docId, agent?, user, saved, format: "cwd" | "cwp", bytes,
// edits? (a tab's unsent edits, for "N edits kept on this device"), role?, canWrite?}.
// Document ids never hold "/", so `tab/<docId>/` lists the tabs of exactly one document.
//
// Copies that last (the end of this file): once a device copy is stored the page asks
// the browser to keep this site's storage (`navigator.storage.persist()`: once per
// page, a refusal asked again a month later at the earliest -- never a prompt loop),
// and a device copy not opened for EVICT_AFTER_MS (30 days) is deleted, unless a tab
// copy of its document is there: that holds edits the server lacks, and the two go
// together.  Tab copies are never evicted.  When a copy was last opened is its small
// `seen/<docId>/<user>` record ({v: 1, at}), so the sweep reads no document's bytes.
// The sweep runs at most once a day per device, from any page that opens the store.
//
// A third kind, `draft/<docId>/<id>/<user>`: one's suggestion being typed (suggest.js)
// while the server does not have all of it -- offline, or within the save's debounce.
// {v: 1, docId, id, user, agent (the tab typing it), saved, draft (offsets on the text
// it was typed on), anchored (its marks as character positions, suggestdraft.js),
// textHash, onServer, suggesting, you}.  A later page of the same user takes up a
// draft whose tab is gone and sends it once it can; the record is deleted once the
// server has it.  Drafts are never evicted, and hold their document's device copy like
// a tab copy does (they hold what the server lacks; a document with one is "unsent").
import * as storage from "./storage.js";

const ALIVE_PREFIX = "cowrite.alive.";
const HEARTBEAT_MS = 5000;
const STALE_MS = 20000;

export function tabKey(docId, agent) {
  return `tab/${docId}/${agent}`;
}

export function copyKey(docId, user) {
  return `copy/${docId}/${user ?? ""}`;
}

/** A random agent name for a new tab. */
export function newAgent() {
  const bytes = new Uint8Array(9);
  globalThis.crypto.getRandomValues(bytes);
  let s = "";
  for (const b of bytes) s += b.toString(36).padStart(2, "0");
  return `web-${s}`;
}

/** Bytes that restore `doc`: {format, bytes} (CWD if the engine can encode one, else a CWP patch of every op). */
export function serialise(doc) {
  try {
    return { format: "cwd", bytes: doc.encode() };
  } catch (exc) {
    console.warn("cowrite: cannot encode the document as a snapshot; storing its ops", exc);
    return { format: "cwp", bytes: doc.encodePatch(null) };
  }
}

/** A Document from a stored record (`bytes`, or the old records' base64 `data`), for `agent`. */
export function restore(Document, entry, agent) {
  const bytes = entry.bytes instanceof Uint8Array ? entry.bytes : storage.base64ToBytes(entry.data);
  if (entry.format === "cwd") return Document.decode(bytes, agent);
  const doc = new Document(agent);
  doc.applyPatch(bytes);
  return doc;
}

/**
 * Keep this tab alive (heartbeat + Web Lock) so other tabs never recover its agent.
 * Returns a function that stops it.
 */
export function holdAgent(agent) {
  const key = ALIVE_PREFIX + agent;
  const beat = () => storage.save(key, String(Date.now()));
  beat();
  const timer = setInterval(beat, HEARTBEAT_MS);
  let release = null;
  if (globalThis.navigator?.locks?.request) {
    navigator.locks
      .request(key, () => new Promise((resolve) => (release = resolve)))
      .catch((exc) => console.warn(`cowrite: cannot hold the lock of agent ${agent}; other tabs go by its heartbeat`, exc));
  }
  return () => {
    clearInterval(timer);
    storage.remove(key);
    release?.();
  };
}

/**
 * Take over a gone tab's agent to send what it left: its Web Lock if no other tab has
 * it (two pages opening at once must not both send), plus the heartbeat.  Resolves
 * with a function that lets go, or null if another tab holds the agent.  Without Web
 * Locks only the heartbeat says so (orphans() checked it).
 */
export async function claimAgent(agent) {
  const key = ALIVE_PREFIX + agent;
  const locks = globalThis.navigator?.locks;
  if (!locks?.request) return holdAgent(agent);
  let release = null;
  const got = await new Promise((resolve) => {
    locks
      .request(key, { ifAvailable: true }, (lock) => {
        if (!lock) return resolve(false);
        resolve(true);
        return new Promise((r) => (release = r));
      })
      .catch(() => resolve(false));
  });
  if (!got) return null;
  const beat = () => storage.save(key, String(Date.now()));
  beat();
  const timer = setInterval(beat, HEARTBEAT_MS);
  return () => {
    clearInterval(timer);
    storage.remove(key);
    release?.();
  };
}

async function heldLocks() {
  try {
    if (!globalThis.navigator?.locks?.query) return null;
    const { held = [] } = await navigator.locks.query();
    return new Set(held.map((l) => l.name));
  } catch {
    return null;
  }
}

/** Whether the tab of `agent` is alive: its lock held (`locks`, from heldLocks), else a fresh heartbeat. */
function agentAlive(agent, locks) {
  const aliveKey = ALIVE_PREFIX + agent;
  if (locks !== null) return locks.has(aliveKey);
  const beat = Number(storage.load(aliveKey));
  return !!beat && Date.now() - beat < STALE_MS;
}

function validTab(entry, docId) {
  return (
    entry &&
    entry.v === 2 &&
    entry.docId === docId &&
    typeof entry.agent === "string" &&
    (entry.bytes instanceof Uint8Array || typeof entry.data === "string")
  );
}

/**
 * Tab copies of `docId` in `store` that belong to `user` and to tabs that are gone,
 * newest first, each {key, entry}.  Unreadable copies are dropped.
 */
export async function orphans(store, docId, user) {
  const locks = await heldLocks();
  const out = [];
  for (const [key, entry] of await store.entries(`tab/${docId}/`)) {
    if (!validTab(entry, docId)) {
      await store.delete(key);
      continue;
    }
    if ((entry.user ?? null) !== (user ?? null)) continue; // another user's: not ours to send
    if (agentAlive(entry.agent, locks)) continue;
    out.push({ key, entry });
  }
  out.sort((a, b) => (b.entry.saved ?? 0) - (a.entry.saved ?? 0));
  return out;
}

/** How many edits the copies of closed tabs keep (at least one per copy: older ones did not count). */
export function keptEdits(entries) {
  return entries.reduce((n, { entry }) => n + Math.max(1, Number.isInteger(entry.edits) ? entry.edits : 1), 0);
}

/** Saves one tab's document while it has unacknowledged edits. */
export class TabStore {
  /** `edits()`: how many of the user's edits are not on the server (saving.js). */
  constructor(store, docId, user, getDoc, { delay = 300, edits = () => null } = {}) {
    this.store = store;
    this.docId = docId;
    this.user = user;
    this.getDoc = getDoc;
    this.edits = edits;
    this.delay = delay;
    this.timer = null;
    this.stored = false; // a record may exist (a save was started since the last clear)
    this.failed = false;
  }

  get key() {
    return tabKey(this.docId, this.getDoc().agent);
  }

  /** Save soon (after local edits). */
  schedule() {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.saveNow();
    }, this.delay);
  }

  _record() {
    const doc = this.getDoc();
    const edits = this.edits();
    return {
      v: 2,
      docId: this.docId,
      agent: doc.agent,
      user: this.user,
      saved: Date.now(),
      edits: Number.isInteger(edits) ? edits : null,
      ...serialise(doc),
    };
  }

  _took(ok) {
    if (!ok && !this.failed) {
      this.failed = true;
      console.warn("cowrite: could not store the document on this device (storage full or disabled)");
    }
    return ok;
  }

  /** Save now; resolves true once stored. */
  async saveNow() {
    clearTimeout(this.timer);
    this.timer = null;
    const record = this._record();
    this.stored = true; // before the write: a clear() from now on must delete it
    return this._took(await this.store.put(this.key, record));
  }

  /** The page is going away: save synchronously where the store can (see OfflineStore.putLast). */
  saveLast() {
    clearTimeout(this.timer);
    this.timer = null;
    this.stored = true;
    return this._took(this.store.putLast(this.key, this._record()));
  }

  /** Everything is on the server: nothing to keep. */
  clear() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.stored) this.store.delete(this.key);
    this.stored = false;
  }
}

/** A device copy's saves may take at most this share of the page's time (1 / factor). */
const COPY_COST_FACTOR = 50;

/**
 * The device's copy of a document for `user`: written while the page is in sync with
 * the server (`synced()`), read when the server cannot be reached.  Encoding a document
 * costs the page time in proportion to its history (tens of ms for a typical one,
 * seconds for a huge one), so saves are spaced by `delay` and by 50 times what the last
 * one cost -- the copy may lag by that much, which costs nothing but freshness: it
 * only opens a document offline, and the tab's own copy keeps what is unsent.
 */
export class DeviceCopy {
  constructor(store, docId, user, getDoc, { synced, delay = 2000, now = () => performance.now() } = {}) {
    this.store = store;
    this.docId = docId;
    this.user = user;
    this.getDoc = getDoc;
    this.synced = synced;
    this.delay = delay;
    this.now = now;
    this.timer = null;
    this.dirty = false; // changed since the last save
    this.lastAt = -Infinity;
    this.lastCost = 0;
    this.role = null;
    this.canWrite = null;
    this.seenAt = -Infinity; // when opened() last noted the copy in use
    this.tidying = Promise.resolve(); // what opened() started (tests wait for it)
  }

  get key() {
    return copyKey(this.docId, this.user);
  }

  /** The stored copy (a record; `canWrite`, `role` set from it), or null (none, or not readable). */
  async load() {
    const entry = await this.store.get(this.key);
    if (!entry || entry.v !== 2 || entry.docId !== this.docId || (entry.user ?? null) !== (this.user ?? null)) return null;
    if (!(entry.bytes instanceof Uint8Array)) return null;
    this.role = typeof entry.role === "string" ? entry.role : null;
    this.canWrite = typeof entry.canWrite === "boolean" ? entry.canWrite : null;
    this.opened();
    return entry;
  }

  /**
   * The copy is in use (opened from this device, or saved by an open page): note when,
   * at most once an hour, so the sweep keeps it; then the once-a-day sweep and, the
   * first time, the request that the browser keep the site's storage.  Never rejects.
   */
  opened() {
    const now = Date.now();
    if (now - this.seenAt < SEEN_EVERY_MS) return Promise.resolve();
    this.seenAt = now;
    this.tidying = markOpened(this.store, this.docId, this.user, now)
      .then(() => sweepIfDue(this.store, { now }))
      .then(() => askToKeep())
      .catch((exc) => console.warn("cowrite: keeping the device's copies tidy failed", exc));
    return this.tidying;
  }

  /** The server told us the role: kept with the next save. */
  setRole(role, canWrite) {
    this.role = role ?? null;
    this.canWrite = canWrite;
    this.schedule();
  }

  /** The document changed (or got in sync): save it when the spacing allows. */
  schedule() {
    this.dirty = true;
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.saveNow();
    }, this.nextWait());
  }

  /** How long a save scheduled now waits (ms). */
  nextWait() {
    return Math.max(this.delay, this.lastAt + this.lastCost * COPY_COST_FACTOR - this.now());
  }

  /** Save now if in sync (else the tab's own copy holds what is unsent); true if stored. */
  async saveNow() {
    clearTimeout(this.timer);
    this.timer = null;
    if (!this.synced()) return false;
    const start = this.now();
    const record = {
      v: 2,
      docId: this.docId,
      user: this.user,
      saved: Date.now(),
      role: this.role,
      canWrite: this.canWrite,
      ...serialise(this.getDoc()),
    };
    this.lastAt = this.now();
    this.lastCost = this.lastAt - start;
    this.dirty = false;
    const stored = await this.store.put(this.key, record);
    if (stored) this.opened(); // the document is offline-capable now: keep it, and note its use
    return stored;
  }

  /** The page is going away: save what changed since the last save (if in sync). */
  saveIfChanged() {
    return this.dirty ? this.saveNow() : Promise.resolve(false);
  }

  /** The server refused this user the document: keep no copy of it here. */
  forget() {
    clearTimeout(this.timer);
    this.timer = null;
    this.dirty = false;
    return this.store.delete(this.key);
  }
}

// -- copies that last -----------------------------------------------------------------

/** A device copy not opened for this long is deleted (if no unsent edits hold it). */
export const EVICT_AFTER_MS = 30 * 24 * 3600 * 1000;
const SEEN_EVERY_MS = 3600 * 1000;
const SWEEP_EVERY_MS = 24 * 3600 * 1000;
const ASK_AGAIN_MS = 30 * 24 * 3600 * 1000;
const SWEPT = "cowrite.persist.swept"; // localStorage: when the last sweep ran
const ASKED = "cowrite.persist.asked"; // localStorage: {at, granted} of the last persist()

export function seenKey(docId, user) {
  return `seen/${docId}/${user ?? ""}`;
}

/** {docId, user} of a `copy/` or `seen/` key, or null (document ids never hold "/"). */
export function parseDocKey(key) {
  const m = /^(?:copy|seen|tab)\/([^/]+)\/(.*)$/s.exec(key);
  return m ? { docId: m[1], user: m[2] } : null;
}

/** Note that `docId`'s copy for `user` was opened at `now`. */
export function markOpened(store, docId, user, now = Date.now()) {
  return store.put(seenKey(docId, user), { v: 1, at: now });
}

/**
 * Which records the sweep deletes, and which copies it starts the clock of -- the
 * rule alone, on keys and times.  `copies`: the `copy/` keys; `seen`: a Map of `seen/`
 * key -> when last opened; `tabs`: the `tab/` keys (copies holding unsent edits).
 * A copy is deleted (with its `seen/` record) when it was last opened `maxAge` ago or
 * more, unless its document has a tab copy here.  A copy with no `seen/` record (kept
 * before records were) starts its clock now, rather than being judged by a time it
 * does not have.  A `seen/` record whose copy is gone is deleted.  Tab copies are never
 * in the answer.
 */
export function evictionPlan({ copies, seen, tabs, drafts = [], now, maxAge = EVICT_AFTER_MS }) {
  const held = new Set([...tabs.map((k) => parseDocKey(k)?.docId), ...drafts.map(draftDocId)].filter(Boolean));
  const evict = [];
  const start = [];
  const live = new Set();
  for (const key of copies) {
    const at = parseDocKey(key);
    if (at === null) continue;
    const sk = seenKey(at.docId, at.user);
    live.add(sk);
    const when = seen.get(sk);
    if (!Number.isFinite(when)) start.push(sk);
    else if (!held.has(at.docId) && now - when >= maxAge) evict.push(key, sk);
  }
  for (const sk of seen.keys()) if (!live.has(sk)) evict.push(sk);
  return { evict, start };
}

/** Apply evictionPlan to `store` now; resolves with the deleted copies' keys. */
export async function sweep(store, { now = Date.now(), maxAge = EVICT_AFTER_MS } = {}) {
  const [copies, tabs, drafts, seenEntries] = await Promise.all([store.keys("copy/"), store.keys("tab/"), store.keys("draft/"), store.entries("seen/")]);
  const seen = new Map(seenEntries.map(([k, v]) => [k, Number(v?.at)]));
  const { evict, start } = evictionPlan({ copies, seen, tabs, drafts, now, maxAge });
  for (const sk of start) await store.put(sk, { v: 1, at: now });
  for (const key of evict) await store.delete(key);
  return evict.filter((k) => k.startsWith("copy/"));
}

/** sweep(), if the last one on this device ran a day ago or more. */
export async function sweepIfDue(store, { now = Date.now() } = {}) {
  const last = Number(storage.load(SWEPT));
  if (Number.isFinite(last) && last > 0 && now - last < SWEEP_EVERY_MS && last <= now) return null;
  storage.save(SWEPT, String(now));
  return sweep(store, { now });
}

let asking = null;

/**
 * Ask the browser to keep this site's storage (not to clear it under storage
 * pressure): at most once per page, not at all once granted, and a refusal not asked
 * again for a month (a browser may ask its user: never a prompt loop).  Resolves with
 * "granted", "refused", "unsupported" or "later" (refused recently: not asked); never rejects.
 */
export function askToKeep(nav = globalThis.navigator, now = Date.now()) {
  asking ??= (async () => {
    const api = nav?.storage;
    if (typeof api?.persist !== "function") return "unsupported";
    try {
      if (typeof api.persisted === "function" && (await api.persisted())) return "granted";
      let last = null;
      try {
        last = JSON.parse(storage.load(ASKED) ?? "null");
      } catch {
        last = null;
      }
      if (last && last.granted === false && now - Number(last.at) < ASK_AGAIN_MS) return "later";
      const granted = (await api.persist()) === true;
      storage.save(ASKED, JSON.stringify({ at: now, granted }));
      return granted ? "granted" : "refused";
    } catch (exc) {
      console.warn("cowrite: cannot ask the browser to keep this device's copies", exc);
      return "unsupported";
    }
  })();
  return asking;
}

/** For tests: forget this page's answer of askToKeep. */
export function resetAskToKeep() {
  asking = null;
}

export function listingKey(user) {
  return `list/${user ?? ""}`;
}

/**
 * Keep what the documents page last listed for `user` ([{id, title, role}]), so it can
 * name this device's documents by their titles when the server cannot be reached.
 */
export function rememberListing(store, user, documents) {
  const slim = documents
    .filter((d) => d && typeof d.id === "string")
    .map((d) => ({ id: d.id, title: typeof d.title === "string" ? d.title : "", role: typeof d.role === "string" ? d.role : null }));
  return store.put(listingKey(user), { v: 1, saved: Date.now(), documents: slim });
}

/**
 * The documents `user` has a copy of on this device, sorted by id: [{id, title, role,
 * unsent}] -- the title and role as last listed (null if never), `unsent` whether a tab
 * copy holds edits the server lacks (or a draft a suggestion).  Reads keys and the small
 * listing, no document's bytes.
 */
export async function deviceDocuments(store, user) {
  const [copies, tabs, drafts, listing] = await Promise.all([store.keys("copy/"), store.keys("tab/"), store.keys("draft/"), store.get(listingKey(user))]);
  const known = new Map();
  if (listing?.v === 1 && Array.isArray(listing.documents)) for (const d of listing.documents) known.set(d.id, d);
  const held = new Set([...tabs.map((k) => parseDocKey(k)?.docId), ...drafts.map(draftDocId)].filter(Boolean));
  const ids = new Set();
  for (const key of copies) {
    const at = parseDocKey(key);
    if (at && at.user === (user ?? "")) ids.add(at.docId);
  }
  return [...ids].sort().map((id) => ({
    id,
    title: known.get(id)?.title ?? null,
    role: known.get(id)?.role ?? null,
    unsent: held.has(id),
  }));
}

// -- suggestion drafts ----------------------------------------------------------------

export function draftKey(docId, id, user) {
  return `draft/${docId}/${id}/${user ?? ""}`;
}

/** The document id of a `draft/` key, or null. */
export function draftDocId(key) {
  const m = /^draft\/([^/]+)\//.exec(key);
  return m ? m[1] : null;
}

/** A cheap fingerprint of a text (FNV-1a, 32 bits): whether a draft's offsets still fit it. */
export function textHash(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `${text.length}:${h.toString(16)}`;
}

function validDraftRecord(entry, docId) {
  return (
    entry &&
    entry.v === 1 &&
    entry.docId === docId &&
    typeof entry.id === "string" &&
    /^[0-9a-f]{1,64}$/.test(entry.id) &&
    typeof entry.agent === "string" &&
    entry.draft &&
    Array.isArray(entry.draft.deletes) &&
    Array.isArray(entry.draft.inserts)
  );
}

/**
 * The suggestion drafts of `docId` that `user` left on this device in tabs that are
 * gone, newest first, each {key, entry}.  `own`: agents whose drafts this page may
 * take although their lock is held (its own, and the closed tabs whose edits it is
 * sending).  Unreadable records are deleted.
 */
export async function storedDrafts(store, docId, user, { own = [] } = {}) {
  const locks = await heldLocks();
  const mine = new Set(own);
  const out = [];
  for (const [key, entry] of await store.entries(`draft/${docId}/`)) {
    if (!validDraftRecord(entry, docId)) {
      await store.delete(key);
      continue;
    }
    if ((entry.user ?? null) !== (user ?? null)) continue; // another user's suggestion
    if (!mine.has(entry.agent) && agentAlive(entry.agent, locks)) continue; // still being typed in its tab
    out.push({ key, entry });
  }
  out.sort((a, b) => (b.entry.saved ?? 0) - (a.entry.saved ?? 0));
  return out;
}

/**
 * Keeps one tab's suggestion draft on this device until the server has it.
 * `record()` builds the record of the draft now (null: nothing to keep); saves are
 * spaced by `delay` (a draft changes per keystroke), and a page being closed saves
 * synchronously (saveLast).
 */
export class DraftStore {
  constructor(store, docId, user, record, { delay = 100 } = {}) {
    this.store = store;
    this.docId = docId;
    this.user = user;
    this.record = record;
    this.delay = delay;
    this.timer = null;
    this.kept = new Set(); // draft ids with a record here (a save started since their clear)
  }

  key(id) {
    return draftKey(this.docId, id, this.user);
  }

  /** Save soon (the draft was edited). */
  schedule() {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.saveNow();
    }, this.delay);
  }

  /** Save now; resolves true once stored (false: nothing to keep, or the store refused). */
  async saveNow() {
    clearTimeout(this.timer);
    this.timer = null;
    const record = this.record();
    if (!record) return false;
    this.kept.add(record.id);
    return this.store.put(this.key(record.id), record);
  }

  /** The page is going away: save synchronously where the store can (OfflineStore.putLast). */
  saveLast() {
    clearTimeout(this.timer);
    this.timer = null;
    const record = this.record();
    if (!record) return false;
    this.kept.add(record.id);
    return this.store.putLast(this.key(record.id), record);
  }

  /** The server has draft `id` (or it is gone): nothing to keep. */
  clear(id) {
    clearTimeout(this.timer); // a save due now would store what the server has
    this.timer = null;
    if (!this.kept.delete(id)) return Promise.resolve();
    return this.store.delete(this.key(id));
  }

  /** Take a record another tab left over as this tab's (`agent`): one record per draft. */
  adopt(entry, agent) {
    this.kept.add(entry.id);
    return this.store.put(this.key(entry.id), { ...entry, agent, saved: Date.now() });
  }
}
