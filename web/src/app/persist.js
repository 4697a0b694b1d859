// Offline safety for the editor: a tab's document is kept in localStorage while it
// holds edits the server has not acknowledged, so closing or reloading the page
// (even offline) loses nothing.  Each tab edits with its own agent; a later page
// load finds the stored documents of tabs that are gone, merges their ops into its
// own replica, and sends them with a short "recovery" connection as their agent.
//
// Storage: `cowrite.doc.<docId>.<agent>` = JSON {v, docId, agent, user, saved,
// format: "cwd" | "cwp", data: base64}; `cowrite.alive.<agent>` = a heartbeat time
// while the tab lives (and a Web Lock named the same, where the browser has them).
import * as storage from "./storage.js";

const DOC_PREFIX = "cowrite.doc.";
const ALIVE_PREFIX = "cowrite.alive.";
const HEARTBEAT_MS = 5000;
const STALE_MS = 20000;

export function docKey(docId, agent) {
  return `${DOC_PREFIX}${docId}.${agent}`;
}

/** A random agent name for a new tab. */
export function newAgent() {
  const bytes = new Uint8Array(9);
  globalThis.crypto.getRandomValues(bytes);
  let s = "";
  for (const b of bytes) s += b.toString(36).padStart(2, "0");
  return `web-${s}`;
}

/** Bytes that restore `doc` (CWD if the engine can encode one, else a CWP patch of every op). */
export function serialise(doc) {
  try {
    return { format: "cwd", data: storage.bytesToBase64(doc.encode()) };
  } catch (exc) {
    console.warn("cowrite: cannot encode the document as a snapshot; storing its ops", exc);
    return { format: "cwp", data: storage.bytesToBase64(doc.encodePatch(null)) };
  }
}

/** A Document from a stored entry, for `agent`; null if unreadable. */
export function restore(Document, entry, agent) {
  const bytes = storage.base64ToBytes(entry.data);
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

async function heldLocks() {
  try {
    if (!globalThis.navigator?.locks?.query) return null;
    const { held = [] } = await navigator.locks.query();
    return new Set(held.map((l) => l.name));
  } catch {
    return null;
  }
}

/**
 * Stored entries of `docId` that belong to `user` and to tabs that are gone, newest
 * first, each {key, entry}.  Unreadable entries are dropped.
 */
export async function orphans(docId, user) {
  const prefix = `${DOC_PREFIX}${docId}.`;
  const locks = await heldLocks();
  const out = [];
  for (const key of storage.keys(prefix)) {
    let entry;
    try {
      entry = JSON.parse(storage.load(key));
    } catch {
      entry = null;
    }
    if (!entry || entry.v !== 1 || entry.docId !== docId || typeof entry.agent !== "string" || !entry.data) {
      storage.remove(key);
      continue;
    }
    if ((entry.user ?? null) !== (user ?? null)) continue; // another user's: not ours to send
    const aliveKey = ALIVE_PREFIX + entry.agent;
    if (locks !== null) {
      if (locks.has(aliveKey)) continue;
    } else {
      const beat = Number(storage.load(aliveKey));
      if (beat && Date.now() - beat < STALE_MS) continue;
    }
    out.push({ key, entry });
  }
  out.sort((a, b) => (b.entry.saved ?? 0) - (a.entry.saved ?? 0));
  return out;
}

/** Saves one tab's document while it has unacknowledged edits. */
export class TabStore {
  constructor(docId, user, getDoc, { delay = 300 } = {}) {
    this.docId = docId;
    this.user = user;
    this.getDoc = getDoc;
    this.delay = delay;
    this.timer = null;
    this.stored = false;
    this.failed = false;
  }

  get key() {
    return docKey(this.docId, this.getDoc().agent);
  }

  /** Save soon (after local edits). */
  schedule() {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.saveNow();
    }, this.delay);
  }

  saveNow() {
    clearTimeout(this.timer);
    this.timer = null;
    const doc = this.getDoc();
    const entry = { v: 1, docId: this.docId, agent: doc.agent, user: this.user, saved: Date.now(), ...serialise(doc) };
    const ok = storage.save(this.key, JSON.stringify(entry));
    this.stored = ok || this.stored;
    if (!ok && !this.failed) {
      this.failed = true;
      console.warn("cowrite: could not store the document offline (storage full or disabled)");
    }
    return ok;
  }

  /** Everything is on the server: nothing to keep. */
  clear() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.stored) storage.remove(this.key);
    this.stored = false;
  }
}
