// Where the editor keeps documents on this device (persist.js says what it keeps):
// IndexedDB where the browser lets us (idb.js), else localStorage (storage.js), else
// memory -- chosen once per page, and never throwing: private modes and full quotas
// lose only what could not be stored, they never break the editor.
//
// Values are records with their binary part in `bytes` (a Uint8Array); in
// localStorage a record is JSON with `bytes` as base64 (`data`), under
// `cowrite.offline.<key>`.  With IndexedDB in use, localStorage is still the spare:
// a write IndexedDB refused goes there, and so does the synchronous last save of a
// page being closed (an IndexedDB write started then may not finish); the next page
// moves what it finds there into IndexedDB.  Reads merge both, the newest `saved`
// winning.  The localStorage copies of tabs made before IndexedDB was used
// (`cowrite.doc.<docId>.<agent>`, persist.js's old format) are moved the same way.
import { IdbStore } from "./idb.js";
import * as storage from "./storage.js";

const LOCAL_PREFIX = "cowrite.offline.";
export const LEGACY_PREFIX = "cowrite.doc.";

/** The newer of two records (by `saved`), either may be null. */
const newer = (a, b) => (a == null ? b : b == null ? a : (b.saved ?? 0) > (a.saved ?? 0) ? b : a);

/** A record as localStorage text (its bytes as base64), and back; null if unreadable. */
export function toText(value) {
  const { bytes, ...rest } = value;
  return JSON.stringify(bytes instanceof Uint8Array ? { ...rest, data: storage.bytesToBase64(bytes) } : rest);
}

export function fromText(text) {
  try {
    const value = JSON.parse(text);
    if (!value || typeof value !== "object") return null;
    if (typeof value.data === "string") {
      value.bytes = storage.base64ToBytes(value.data);
      delete value.data;
    }
    return value;
  } catch {
    return null;
  }
}

/** localStorage as an async store (storage.js never throws; `put` says if it stored). */
export class LocalBackend {
  get kind() {
    return "localstorage";
  }

  static works() {
    const probe = `${LOCAL_PREFIX}probe`;
    const ok = storage.save(probe, "1") && storage.load(probe) === "1";
    storage.remove(probe);
    return ok;
  }

  async get(key) {
    return this.getNow(key);
  }

  getNow(key) {
    const text = storage.load(LOCAL_PREFIX + key);
    return text === null ? null : fromText(text);
  }

  async put(key, value) {
    if (!this.putNow(key, value)) throw new Error("localStorage refused the record (full or disabled)");
  }

  /** Synchronous: for a page that is being closed. */
  putNow(key, value) {
    return storage.save(LOCAL_PREFIX + key, toText(value));
  }

  async delete(key) {
    storage.remove(LOCAL_PREFIX + key);
  }

  async keys(prefix) {
    return this.keysNow(prefix);
  }

  keysNow(prefix) {
    return storage
      .keys(LOCAL_PREFIX + prefix)
      .map((k) => k.slice(LOCAL_PREFIX.length))
      .sort();
  }

  async entries(prefix) {
    const out = [];
    for (const k of storage.keys(LOCAL_PREFIX + prefix).sort()) {
      const value = this.getNow(k.slice(LOCAL_PREFIX.length));
      if (value !== null) out.push([k.slice(LOCAL_PREFIX.length), value]);
    }
    return out;
  }
}

/** Nowhere to keep anything: the page's memory, so the editor works the same. */
export class MemoryBackend {
  constructor() {
    this.map = new Map();
  }

  get kind() {
    return "memory";
  }

  async get(key) {
    return this.map.get(key) ?? null;
  }

  async put(key, value) {
    this.map.set(key, value);
  }

  async delete(key) {
    this.map.delete(key);
  }

  async keys(prefix) {
    return [...this.map.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  async entries(prefix) {
    return [...this.map].filter(([k]) => k.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }
}

/** A legacy localStorage tab copy as a record; null if it is not one. */
function legacyRecord(text) {
  const old = fromText(text);
  if (!old || old.v !== 1 || typeof old.docId !== "string" || typeof old.agent !== "string" || !(old.bytes instanceof Uint8Array)) return null;
  const { v, ...rest } = old;
  return { ...rest, v: 2, edits: null };
}

/** The device's store: a primary backend and, behind IndexedDB, localStorage as the spare. */
export class OfflineStore {
  constructor(primary, spare = null) {
    this.primary = primary;
    this.spare = spare;
    this.warned = false;
  }

  get kind() {
    return this.primary.kind;
  }

  _warn(what, exc) {
    if (this.warned) return;
    this.warned = true;
    console.warn(`cowrite: ${what}; this device may not keep everything`, exc);
  }

  /** The record under `key` (the newest of primary and spare), or null. */
  async get(key) {
    let value = null;
    try {
      value = await this.primary.get(key);
    } catch (exc) {
      this._warn("cannot read the offline copies", exc);
    }
    return this.spare ? newer(value, this.spare.getNow(key)) : value;
  }

  /** Store `value`; false if neither backend took it. */
  async put(key, value) {
    try {
      await this.primary.put(key, value);
      return true;
    } catch (exc) {
      this._warn(`${this.primary.kind} refused a save`, exc);
      return this.spare ? this.spare.putNow(key, value) : false;
    }
  }

  /**
   * The page is going away: store `value` synchronously in the spare (where there is
   * one) as well as in the primary, whose write may not finish.  False if nothing
   * synchronous took it (the primary's write may still land).
   */
  putLast(key, value) {
    if (this.spare) {
      this.primary.put(key, value).catch((exc) => this._warn("a last save failed", exc));
      return this.spare.putNow(key, value);
    }
    if (this.primary.putNow) return this.primary.putNow(key, value);
    this.primary.put(key, value); // memory: nothing outlives the page anyway
    return false;
  }

  async delete(key) {
    this.spare?.delete(key);
    try {
      await this.primary.delete(key);
    } catch (exc) {
      this._warn("cannot delete an offline copy", exc);
    }
  }

  /** Every [key, record] whose key starts with `prefix`, one per key (the newest). */
  async entries(prefix) {
    const found = new Map();
    try {
      for (const [k, v] of await this.primary.entries(prefix)) found.set(k, v);
    } catch (exc) {
      this._warn("cannot list the offline copies", exc);
    }
    if (this.spare) for (const [k, v] of await this.spare.entries(prefix)) found.set(k, newer(found.get(k) ?? null, v));
    return [...found];
  }

  /** Every key that starts with `prefix` in either backend, sorted (no values read). */
  async keys(prefix) {
    const found = new Set();
    try {
      for (const k of await this.primary.keys(prefix)) found.add(k);
    } catch (exc) {
      this._warn("cannot list the offline copies", exc);
    }
    if (this.spare) for (const k of this.spare.keysNow(prefix)) found.add(k);
    return [...found].sort();
  }

  /**
   * Move what localStorage holds into the primary: the spare's records (IndexedDB in
   * use) and persist.js's old-format tab copies.  A record leaves localStorage only
   * once the primary holds it (or something newer).  `tabKey(docId, agent)` names a
   * tab's record.  Returns how many records were moved.
   */
  async migrate(tabKey) {
    let moved = 0;
    const move = async (key, record, drop) => {
      try {
        const have = await this.primary.get(key);
        if (have === null || (record.saved ?? 0) > (have.saved ?? 0)) await this.primary.put(key, record);
        drop();
        moved++;
      } catch (exc) {
        this._warn("cannot move a localStorage copy into IndexedDB", exc);
      }
    };
    for (const legacy of storage.keys(LEGACY_PREFIX)) {
      const record = legacyRecord(storage.load(legacy));
      if (record === null) {
        storage.remove(legacy); // unreadable: nothing could ever restore it
        continue;
      }
      await move(tabKey(record.docId, record.agent), record, () => storage.remove(legacy));
    }
    if (this.spare) {
      for (const [key, record] of await this.spare.entries("")) {
        await move(key, record, () => this.spare.delete(key));
      }
    }
    return moved;
  }
}

/**
 * Open the device's store: IndexedDB if it opens, else localStorage, else memory;
 * then move localStorage's copies into IndexedDB.  Never rejects.
 */
export async function openOfflineStore({ tabKey, indexedDB = globalThis.indexedDB, IDBKeyRange = globalThis.IDBKeyRange } = {}) {
  const local = LocalBackend.works() ? new LocalBackend() : null;
  let store;
  try {
    store = new OfflineStore(await IdbStore.open({ indexedDB, IDBKeyRange }), local);
  } catch (exc) {
    console.warn(`cowrite: no IndexedDB (${exc?.message ?? exc}); keeping documents in ${local ? "localStorage" : "memory"}`);
    store = new OfflineStore(local ?? new MemoryBackend());
  }
  if (tabKey) {
    try {
      await store.migrate(tabKey);
    } catch (exc) {
      console.warn("cowrite: moving the localStorage copies failed", exc);
    }
  }
  return store;
}

let shared = null;

/** This page's store (opened once). */
export function offlineStore(options) {
  shared ??= openOfflineStore(options);
  return shared;
}
