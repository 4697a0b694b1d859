// localStorage that never throws: private modes and full quotas must not break the
// editor, they only lose what could not be stored.

/** The value stored under `key`, or null. */
export function load(key) {
  try {
    return globalThis.localStorage?.getItem(key) ?? null;
  } catch {
    return null;
  }
}

/** Store `value` under `key`; false if the browser refused (quota, disabled storage). */
export function save(key, value) {
  try {
    globalThis.localStorage?.setItem(key, value);
    return true;
  } catch {
    return false;
  }
}

export function remove(key) {
  try {
    globalThis.localStorage?.removeItem(key);
  } catch {
    // nothing to do
  }
}

/** Every stored key that starts with `prefix`. */
export function keys(prefix) {
  const out = [];
  try {
    const ls = globalThis.localStorage;
    if (!ls) return out;
    for (let i = 0; i < ls.length; i++) {
      const k = ls.key(i);
      if (k !== null && k.startsWith(prefix)) out.push(k);
    }
  } catch {
    // unreadable storage: nothing stored
  }
  return out;
}

/** Bytes <-> base64, for storing binary documents as strings. */
export function bytesToBase64(bytes) {
  let s = "";
  const step = 0x8000;
  for (let i = 0; i < bytes.length; i += step) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + step));
  }
  return btoa(s);
}

export function base64ToBytes(text) {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
