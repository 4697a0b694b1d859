// A small promise API over one IndexedDB object store of string keys: what the
// editor keeps on this device (offline.js) needs only get, put, delete and "every
// entry (or just key) whose key starts with". IndexedDB instead of localStorage because it is
// asynchronous (a large document's save does not block typing), holds binary values
// as they are (no base64), and is allowed far more than localStorage's 5 MB.
//
// Every call opens its transaction in call order (they chain on the opened database),
// so a put followed by a delete of the same key leaves no entry, as callers expect.

const DB_NAME = "cowrite";
const DB_VERSION = 1;
const STORE = "offline";

/** IndexedDB is missing, refused (private modes, disabled storage) or failed. */
export class IdbUnavailable extends Error {
  constructor(message, cause = null) {
    super(message);
    this.name = "IdbUnavailable";
    this.cause = cause;
  }
}

function promised(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new IdbUnavailable("an IndexedDB request failed"));
  });
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new IdbUnavailable("an IndexedDB transaction was aborted"));
    tx.onerror = () => reject(tx.error ?? new IdbUnavailable("an IndexedDB transaction failed"));
  });
}

/** The key range of every key that starts with `prefix`. */
function prefixRange(IDBKeyRange, prefix) {
  // "\uffff" sorts after every code unit a key of ours holds (document ids, agents, users)
  return IDBKeyRange.bound(prefix, `${prefix}\uffff`, false, false);
}

export class IdbStore {
  /**
   * Open (creating on first use) the store; rejects with IdbUnavailable when the
   * browser has no usable IndexedDB, or takes longer than `timeoutMs` to open it
   * (a blocked upgrade), so the caller can fall back to another storage.
   */
  static async open({ indexedDB = globalThis.indexedDB, IDBKeyRange = globalThis.IDBKeyRange, name = DB_NAME, timeoutMs = 5000 } = {}) {
    if (!indexedDB || !IDBKeyRange) throw new IdbUnavailable("this browser has no IndexedDB");
    let request;
    try {
      request = indexedDB.open(name, DB_VERSION);
    } catch (exc) {
      throw new IdbUnavailable(`IndexedDB cannot be opened: ${exc?.message ?? exc}`, exc);
    }
    request.onupgradeneeded = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE);
    };
    let timer = null;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new IdbUnavailable(`IndexedDB did not open within ${timeoutMs} ms`)), timeoutMs);
    });
    let db;
    try {
      db = await Promise.race([promised(request), timeout]);
    } catch (exc) {
      // a late success must not leave a connection open that blocks later upgrades
      request.onsuccess = () => request.result.close();
      throw exc instanceof IdbUnavailable ? exc : new IdbUnavailable(`IndexedDB cannot be opened: ${exc?.message ?? exc}`, exc);
    } finally {
      clearTimeout(timer);
    }
    return new IdbStore(db, IDBKeyRange);
  }

  constructor(db, IDBKeyRange) {
    this.db = db;
    this.IDBKeyRange = IDBKeyRange;
    this.closed = false;
    // another tab wants a newer schema: let it (this tab's later calls then fail, and
    // the caller's fallback takes over) rather than block it forever
    db.onversionchange = () => this.close();
  }

  get kind() {
    return "indexeddb";
  }

  _tx(mode) {
    if (this.closed) throw new IdbUnavailable("the IndexedDB connection is closed");
    const tx = this.db.transaction(STORE, mode);
    return { tx, store: tx.objectStore(STORE) };
  }

  /** The value stored under `key`, or null. */
  async get(key) {
    const { store } = this._tx("readonly");
    const value = await promised(store.get(key));
    return value === undefined ? null : value;
  }

  /** Store `value` (anything structured-cloneable) under `key`; resolves once committed. */
  async put(key, value) {
    const { tx, store } = this._tx("readwrite");
    store.put(value, key);
    await done(tx);
  }

  async delete(key) {
    const { tx, store } = this._tx("readwrite");
    store.delete(key);
    await done(tx);
  }

  /** Every [key, value] whose key starts with `prefix`, in key order. */
  async entries(prefix) {
    const { store } = this._tx("readonly");
    const range = prefixRange(this.IDBKeyRange, prefix);
    const [keys, values] = await Promise.all([promised(store.getAllKeys(range)), promised(store.getAll(range))]);
    return keys.map((k, i) => [k, values[i]]);
  }

  /** Every key that starts with `prefix`, in key order (no values read: cheap for big records). */
  async keys(prefix) {
    const { store } = this._tx("readonly");
    return promised(store.getAllKeys(prefixRange(this.IDBKeyRange, prefix)));
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}
