// Who the user is and the HTTP API calls that carry it.  Two kinds of sign-in:
// * a token (with name, colour in localStorage): from `?token=` (links made with
//   `cowrite token`) or from POST /api/session (a guest session for a typed name);
//   sent as `Authorization: Bearer`.
// * an account: the server's HttpOnly session cookie, which the browser sends by
//   itself (`credentials: "same-origin"`).  Its CSRF token (from GET /api/auth/me) is
//   kept in memory only and sent as `X-CSRF-Token` on every unsafe request.
import * as storage from "./storage.js";

const KEY = "cowrite.auth";
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** The signed-in account {user, name, colour, role, admin, csrf_token, expires_at, account: true}, or null. */
let account = null;

export function getAccount() {
  return account;
}

export function setAccount(me) {
  account = me ? { ...me, account: true } : null;
}

export const TOKEN_HELP =
  "Ask whoever runs the server for a link with a token: they can make one with " +
  "`cowrite token --user YOUR-NAME` and add it to the address as ?token=...";

/** An HTTP API call that failed: `status` (0: network), `code` and `message` from the server. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }

  /** A sentence for the user, with what to do about it where there is something to do. */
  explain() {
    if (this.status === 401) return `You are not signed in or your sign-in expired (${this.message}). Sign in again, or ${TOKEN_HELP[0].toLowerCase()}${TOKEN_HELP.slice(1)}`;
    if (this.status === 403) return `Not allowed: ${this.message}`;
    if (this.status === 0) return `Cannot reach the server (${this.message}).`;
    return this.message;
  }
}

/** The stored sign-in: {token, user, name, colour, role} or null. */
export function getAuth() {
  const raw = storage.load(KEY);
  if (!raw) return null;
  try {
    const auth = JSON.parse(raw);
    return auth && typeof auth.token === "string" && auth.token ? auth : null;
  } catch {
    return null;
  }
}

export function setAuth(auth) {
  storage.save(KEY, JSON.stringify(auth));
}

export function clearAuth() {
  storage.remove(KEY);
}

/**
 * Take `?token=` from the address bar: store it and remove it from the URL (so it is
 * not bookmarked, shared or left in the history).  Returns true if there was one.
 */
export function captureTokenFromUrl(win = globalThis.window) {
  const url = new URL(win.location.href);
  const token = url.searchParams.get("token");
  if (!token) return false;
  const old = getAuth();
  setAuth({ token, user: null, name: old?.token === token ? old.name : null, colour: null, role: null });
  url.searchParams.delete("token");
  win.history.replaceState(win.history.state, "", url.pathname + url.search + url.hash);
  return true;
}

/**
 * The headers of an API request: the token if there is one (`token`, else a stored
 * one), else -- signed in by cookie -- the CSRF token on an unsafe `method`.
 */
export function requestHeaders({ method = "GET", body, token, csrf } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  else if (csrf && !SAFE_METHODS.has(method.toUpperCase())) headers["X-CSRF-Token"] = csrf;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  return headers;
}

/**
 * Call the API: `path` like "/api/docs", JSON `body`, `as` = "json" | "text" | "bytes".
 * Throws ApiError on a network failure or a non-2xx answer.
 */
export async function api(path, { method = "GET", body, as = "json", token } = {}) {
  const headers = requestHeaders({ method, body, token: token ?? getAuth()?.token, csrf: account?.csrf_token });
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "same-origin",
    });
  } catch (exc) {
    throw new ApiError(0, "network", String(exc?.message ?? exc));
  }
  if (!res.ok) {
    let code = `http_${res.status}`;
    let message = `${res.status} ${res.statusText}`.trim();
    try {
      const data = await res.json();
      if (data && typeof data === "object") {
        if (typeof data.error === "string") code = data.error;
        if (typeof data.message === "string") message = data.message;
      }
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(res.status, code, message);
  }
  if (res.status === 204) return null;
  if (as === "text") return res.text();
  if (as === "bytes") return new Uint8Array(await res.arrayBuffer());
  return res.json();
}

/** The `?share=` link key of the page's address (a document's share link), or null. */
export function shareKey(win = globalThis.window) {
  try {
    const key = new URL(win.location.href).searchParams.get("share");
    return key && key.length <= 256 ? key : null;
  } catch {
    return null;
  }
}

/** `path` with the page's share link key added (`?share=` / `&share=`), if it has one. */
export function withShare(path, key = shareKey()) {
  if (!key) return path;
  return `${path}${path.includes("?") ? "&" : "?"}share=${encodeURIComponent(key)}`;
}

/** Percent-encode a document id for a URL path segment. */
export function docPath(docId) {
  return encodeURIComponent(docId);
}

/** Document ids the server accepts (store/base.py): 1..128 of A-Z a-z 0-9 . _ - */
export const DOC_ID_RE = /^[A-Za-z0-9._-]{1,128}$/;
