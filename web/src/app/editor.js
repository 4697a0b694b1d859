// The editor page (/d/{id}): load the snapshot into an engine Document (or the copy a
// closed tab left in this browser), show it in CodeMirror with the sync extension
// (collab.js: edits, undo, cursors), and wire the page around it: status, notices,
// the copies kept on this device (persist.js: the device's copy to open offline, each
// tab's unsent edits; IndexedDB via offline.js), the recovery of what closed tabs
// left, the test hook.
import { EditorState } from "@codemirror/state";
import { EditorView, drawSelection, highlightActiveLine, keymap, lineNumbers } from "@codemirror/view";
import { defaultKeymap } from "@codemirror/commands";
import { Document } from "../engine/index.js";
import { MAX_DOCUMENT_BYTES, nextOwnSeq } from "../protocol/session.js";
import { ApiError, TOKEN_HELP, api, docPath, getAccount, getAuth, shareKey, withShare } from "./api.js";
import { ensureSignedIn, refreshAccount } from "./auth.js";
import { collab, setWritable, syncOf } from "./collab.js";
import { CommentsPanel } from "./comments.js";
import { SuggestionsPanel } from "./suggest.js";
import { Connection, ErrorCode, errorName } from "./connection.js";
import { peerColour } from "./cursors.js";
import { offlineStore } from "./offline.js";
import { DeviceCopy, TabStore, claimAgent, holdAgent, keptEdits, newAgent, orphans, restore, tabKey } from "./persist.js";
import { openShareDialog } from "./share.js";
import { copyText, h, notice, setChildren } from "./ui.js";
import { WriterTools } from "./writer.js";
import { TitleField } from "./title.js";
import { dropRestoreParam, restoreParam, restoreVersion } from "./restore.js";

const STATE_TEXT = {
  connected: "Connected",
  syncing: "Syncing…",
  offline: "Offline",
  held: "Not saving",
  error: "Disconnected",
  closed: "Closed",
};

export async function editorPage(docId) {
  const main = document.getElementById("app");
  const host = document.getElementById("editor");
  const status = document.getElementById("status");
  showHeader(docId);
  setStatus(status, "offline");

  const join = joinCodeFromUrl();
  const auth = await ensureSignedIn(main, { account: join !== null });
  setupShare(docId, auth);
  if (join !== null && !(await redeemInvite(docId, join, auth))) {
    main.removeAttribute("aria-busy");
    return null;
  }
  const agent = newAgent();
  const releaseAgent = holdAgent(agent);

  // -- open offline: this device's store and its copy of the document (persist.js) --
  const store = await offlineStore({ tabKey });
  const copy = new DeviceCopy(store, docId, auth.user ?? null, () => conn.doc, { synced: () => conn.state === "connected" });
  // -- end open offline --
  const loaded = await loadReplica(docId, agent, auth, store, copy);
  if (loaded === null) {
    releaseAgent();
    main.removeAttribute("aria-busy");
    return null;
  }
  const { doc, recoveries } = loaded;
  const url = () => wsUrl(docId, getAuth()?.token ?? auth.token);
  const conn = new Connection({ url, docId, doc, user: auth.name ?? "", colour: auth.colour ?? "" });
  const tabStore = new TabStore(store, docId, auth.user ?? null, () => conn.doc, { edits: () => writer.saving.pending });
  // writer tools: markdown, preview, find/replace, authorship, saving state, export/import (writer.js)
  const writer = new WriterTools({ docId, conn, auth });
  // comments on a text range: highlights, the side panel (comments.js)
  const comments = new CommentsPanel({ docId, conn });
  // suggestions: suggesting mode, inline marks, accept/reject, told of changes by the socket (suggest.js)
  const suggestions = new SuggestionsPanel({ docId, conn });

  const view = new EditorView({
    parent: host,
    state: EditorState.create({
      doc: doc.text,
      extensions: [
        lineNumbers(),
        drawSelection(),
        highlightActiveLine(),
        EditorView.lineWrapping,
        collab({ connection: conn, colour: auth.colour ?? "", onPeers: showPeerList }),
        writer.extensions(), // after collab: its plugin puts local edits into the engine first
        comments.extensions(),
        suggestions.extensions(),
        keymap.of(defaultKeymap),
        EditorView.contentAttributes.of({ "aria-label": `Text of ${docId}`, spellcheck: "true" }),
      ],
    }),
  });
  main.removeAttribute("aria-busy");

  const unsent = () => !(conn.journal?.empty ?? true) || conn.holding;
  const download = () =>
    h("p", {}, h("button", { type: "button", id: "download-unsent", onclick: () => downloadText(`${docId}-unsent.txt`, view.state.doc.toString()) }, "Download unsent text"));

  // -- the connection's news, on the page ----------------------------------------------
  let readOnlyNotice = false;
  conn.on("welcomed", ({ canWrite }) => {
    document.body.classList.toggle("read-only", !canWrite);
    const badge = document.getElementById("role-badge");
    if (badge) badge.hidden = canWrite;
    if (!canWrite) {
      notice("You can read this document but not edit it.", "info");
      readOnlyNotice = true;
    } else if (readOnlyNotice) {
      notice(null); // upgraded: the read-only notice no longer holds
      readOnlyNotice = false;
    }
  });
  conn.on("recovered", ({ reason }) => {
    if (nextOwnSeq(conn.doc) > 0) tabStore.saveNow(); // replaces the stored copy of the old replica
    notice(
      reason.kind === "suspect"
        ? "This page's copy of the document went wrong; it was replaced by the server's, and your edits were re-applied to it."
        : "The server refused some of your edits; they were re-applied to its copy.",
      "info",
    );
  });
  conn.on("resynced", (ev) => {
    // The server's copy replaced ours (our text had diverged); our unsent edits were kept.
    console.warn(`cowrite: this copy differed from the server's and was replaced by it${ev.retyped ? " (our edits were typed again)" : ""}`);
    if (nextOwnSeq(conn.doc) > 0) tabStore.saveNow();
  });
  conn.on("notice", ({ kind, message }) => {
    if (kind !== "held") return; // the others are passing (a reconnect, a recovery under way)
    tabStore.saveNow();
    updateStatus();
    notice(`The server cannot take your edits: ${message}. They are kept in this browser; nothing you type now reaches the server.`, "error", download());
  });
  conn.on("state", (state) => {
    updateStatus();
    if (state === "connected") tabStore.clear();
    else if (state !== "closed" && nextOwnSeq(conn.doc) > 0 && !tabStore.stored) tabStore.schedule();
  });
  conn.on("changed", () => {
    if (conn.state !== "connected") tabStore.schedule();
  });
  conn.on("error", (err) => {
    updateStatus();
    if (nextOwnSeq(conn.doc) > 0) tabStore.saveNow();
    const again = getAccount() || auth.account ? "Sign in again to go on writing." : TOKEN_HELP;
    const extra = err.code === ErrorCode.UNAUTHORIZED ? ` ${again}` : "";
    const kept = unsent() ? " Your unsent text stays here: download it to keep it." : "";
    notice(
      `Disconnected from the server: ${err.message} (${err.name}).${extra}${kept} Reload the page to try again.`,
      "error",
      unsent() ? download() : null,
    );
  });

  // -- recovering what closed tabs left ----------------------------------------------
  let recovering = recoveries.length;
  let keptLeft = keptEdits(recoveries); // closed tabs' edits not yet on the server
  if (recovering) conn.blocked = true;
  for (const r of recoveries) {
    const release = r.release; // this tab holds the gone tab's agent (claimAgent)
    const rc = new Connection({ url, docId, doc: r.doc, recovery: true });
    const done = (ok) => {
      release();
      if (ok) store.delete(r.key);
      keptLeft -= Math.max(1, Number.isInteger(r.entry.edits) ? r.entry.edits : 1);
      if (--recovering === 0) {
        conn.unblock();
        updateStatus();
      }
    };
    rc.on("delivered", () => done(true));
    rc.on("error", (err) => {
      console.warn(`cowrite: the edits of ${r.doc.agent} cannot be sent: ${err.message}`);
      done(err.code !== null && err.code !== ErrorCode.INTERNAL);
    });
    rc.on("state", updateStatus);
    r.conn = rc;
    rc.start();
  }

  function updateStatus() {
    let state = conn.state;
    if (recovering && !conn.stopped) {
      state = recoveries.some((r) => r.conn && r.conn.state !== "offline") ? "syncing" : "offline";
    }
    setStatus(status, state, conn.error);
  }

  // -- leaving -----------------------------------------------------------------------
  const keep = () => {
    if (conn.state !== "connected" && nextOwnSeq(conn.doc) > 0) tabStore.saveLast();
    else if (conn.state === "connected") copy.saveIfChanged();
    suggestions.keepLast(); // a suggestion the server lacks some of
  };
  addEventListener("pagehide", keep);
  document.addEventListener("visibilitychange", () => document.visibilityState === "hidden" && keep());
  addEventListener("pagehide", (ev) => {
    if (!ev.persisted) {
      conn.close();
      releaseAgent();
    }
  });

  // -- the test hook ---------------------------------------------------------------
  const setLatency = (ms) => {
    conn.setLatency(ms);
    for (const r of recoveries) r.conn?.setLatency(ms);
  };
  globalThis.cowrite = {
    get doc() {
      return conn.doc;
    },
    get session() {
      return conn.session;
    },
    get undo() {
      return syncOf(view).undo;
    },
    get journal() {
      return conn.journal;
    },
    view,
    connection: conn,
    docId,
    agent,
    setLatency,
    goOffline: () => conn.goOffline(),
    goOnline: () => conn.goOnline(),
    state: () => status.dataset.state,
    /** Everything a test may want to check at once. */
    info: () => ({
      state: status.dataset.state,
      role: conn.role,
      text: conn.doc.text,
      editorText: view.state.doc.toString(),
      unacked: conn.session?.unacked.size ?? 0,
      unconfirmed: conn.journal?.segments.length ?? 0,
      recoveries: conn.recoveries,
      suspect: conn.suspect,
      peers: [...conn.presence.values()].map((p) => ({ agent: p.agent, user: p.user })),
    }),
  };

  // -- the title, and restoring a version (title.js, restore.js) -------------------
  const titleField = new TitleField(docId, document.getElementById("doc-title"));
  titleField.load();
  globalThis.cowrite.title = titleField;
  let toRestore = restoreParam();
  conn.on("welcomed", ({ canWrite }) => {
    titleField.setEditable(canWrite);
    if (toRestore === null) return;
    const version = toRestore;
    toRestore = null;
    dropRestoreParam();
    if (!canWrite) {
      notice("You can read this document but not edit it, so you cannot restore a version of it.", "error");
      return;
    }
    restoreVersion(view, docId, version).then(
      (n) => notice(n ? "The old version is restored, as your edit: others' edits merge with it, and Undo (Ctrl+Z) takes it back." : "The text is that version already.", "info"),
      (exc) => notice(`The version could not be restored: ${exc?.explain?.() ?? exc?.message ?? exc}`, "error"),
    );
  });

  // writer tools: wired once the view exists (closed tabs' edits count as unsaved too)
  // (`recovering()`: how many of their edits are not on the server yet, for "N edits kept")
  writer.attach(view, { recovering: () => (recovering ? Math.max(keptLeft, 1) : 0), agents: recoveries.map((r) => r.doc.agent) });
  globalThis.cowrite.writer = writer;
  comments.attach(view);
  globalThis.cowrite.comments = comments;
  suggestions.attach(view);
  // a suggestion being typed counts as unsaved, and is kept on this device until the server has it
  suggestions.onSaveState = () => writer.saving.show();
  writer.saving.countDrafts(() => suggestions.unsavedDrafts);
  suggestions.keepDrafts({ store, user: auth.user ?? null, agent, own: recoveries.map((r) => r.doc.agent) });
  conn.on("error", () => suggestions.stop()); // stopped for good (deleted, access ended): no more fetching
  globalThis.cowrite.suggestions = suggestions;

  // -- open offline: keep the device's copy while in sync; offline, the role it had ---
  conn.on("welcomed", ({ role, canWrite }) => copy.setRole(role, canWrite));
  const once = conn.on("welcomed", () => {
    once();
    refreshAccount(); // opened offline as the last account: its CSRF token, now the server answers
  });
  conn.on("state", (state) => state === "connected" && copy.schedule());
  conn.on("remote", () => copy.schedule());
  conn.on("changed", () => copy.schedule());
  if (loaded.fromDevice) {
    if (copy.canWrite === false) {
      // a viewer stays one offline: until the server says otherwise (WELCOME)
      view.dispatch({ effects: setWritable.of(false) });
      document.body.classList.add("read-only");
      const badge = document.getElementById("role-badge");
      if (badge) badge.hidden = false;
      writer.saving.canWrite = false;
      writer.saving.show();
    }
    const off = conn.on("welcomed", () => {
      off();
      const box = document.getElementById("notice");
      if (box && !box.hidden && box.textContent.startsWith(OFFLINE_OPEN)) notice(null);
    });
  }
  globalThis.cowrite.offline = { kind: store.kind, store, copy, fromDevice: loaded.fromDevice };
  // -- end open offline --

  conn.start();
  updateStatus();
  view.focus();
  return globalThis.cowrite;
}

const OFFLINE_OPEN = "The server cannot be reached: showing the copy kept on this device.";

function showHeader(docId) {
  document.title = `${docId} · cowrite`;
  setChildren(document.getElementById("doc-title"), docId);
  document.getElementById("history-link")?.setAttribute("href", withShare(`/d/${docPath(docId)}/history`));
}

/** The header's share button: the Share dialog for an account, else "Copy link". */
function setupShare(docId, auth) {
  const share = document.getElementById("share");
  if (!share) return;
  if (auth?.account) {
    share.textContent = "Share";
    share.addEventListener("click", () => openShareDialog(docId, getAccount() ?? auth));
    return;
  }
  share.addEventListener("click", async () => {
    const url = new URL(withShare(`/d/${docPath(docId)}`), location.href).href;
    const ok = await copyText(url);
    share.textContent = ok ? "Link copied" : url;
    setTimeout(() => (share.textContent = "Copy link"), 2000);
  });
}

/** `?join=CODE` (a document invite link) from the address bar, or null. */
function joinCodeFromUrl() {
  const code = new URL(location.href).searchParams.get("join");
  return code && code.length <= 512 ? code : null;
}

/** Redeem a document invite as the signed-in account; false (the reason shown) if it cannot be. */
async function redeemInvite(docId, code, auth) {
  const url = new URL(location.href);
  url.searchParams.delete("join");
  history.replaceState(history.state, "", url.pathname + url.search + url.hash);
  if (!auth?.account) {
    notice("This invite link needs an account: sign in (or create an account), then open the link again.", "error", h("p", {}, h("a", { href: "/" }, "Sign in")));
    return false;
  }
  try {
    await api("/api/invites/redeem", { method: "POST", body: { code } });
    return true;
  } catch (exc) {
    if (exc instanceof ApiError && (exc.status === 410 || exc.status === 404 || exc.status === 400)) {
      notice(`This invite link cannot be used: ${exc.message}.`, "error", h("p", {}, h("a", { href: "/" }, "See your documents")));
      return false;
    }
    notice(`Could not accept the invite: ${exc instanceof ApiError ? exc.explain() : exc}`, "error");
    return false;
  }
}

function showPeerList(peers) {
  const list = document.getElementById("peers");
  if (!list) return;
  setChildren(
    list,
    peers.map((p) => {
      const swatch = h("span", { class: "swatch", "aria-hidden": "true" });
      swatch.style.background = peerColour(p);
      return h("li", { class: "peer", title: p.agent, dataset: { agent: p.agent } }, swatch, p.name);
    }),
  );
}

/** How long the server's snapshot may take before a page with a copy on this device opens that. */
const SERVER_WAIT_MS = 4000;
const SLOW = Symbol("slow");

/**
 * The replica to start from: the server's snapshot (or, unreachable, the device's
 * copy, else a copy a closed tab left on this device), with the ops of every copy
 * closed tabs left merged in; {doc, recoveries: [{key, entry, doc, release}], fromDevice}
 * (their ops still to be sent, their agents held by this page; `fromDevice`: the
 * server was not reached), or null if
 * the document cannot be shown (the reason is on the page).
 */
async function loadReplica(docId, agent, auth, store, copy) {
  let doc = null;
  let loadError = null;
  const stored = copy.load().catch((exc) => {
    console.warn("cowrite: the device's copy could not be read", exc);
    return null;
  });
  const fetched = api(withShare(`/api/docs/${docPath(docId)}/snapshot`), { as: "bytes" });
  fetched.catch(() => {}); // a late failure, once the device's copy is open, is not news
  // with a copy here, a server that does not answer soon counts as unreachable
  const patience = stored.then((c) => (c ? new Promise((r) => setTimeout(r, SERVER_WAIT_MS, SLOW)) : new Promise(() => {})));
  try {
    const bytes = await Promise.race([fetched, patience]);
    if (bytes === SLOW) throw new ApiError(0, "slow", `no answer within ${SERVER_WAIT_MS / 1000} s`);
    doc = Document.decode(bytes, agent, { maxBytes: MAX_DOCUMENT_BYTES });
  } catch (exc) {
    loadError = exc;
    if (exc instanceof ApiError && exc.status >= 400 && exc.status < 500) {
      if (exc.status === 403) await copy.forget(); // no longer this user's to read, here either
      return showLoadError(docId, exc);
    }
  }
  const left = await orphans(store, docId, auth.user ?? null);
  let fromDevice = false;
  if (doc === null) {
    // The server is unreachable: start from what this device kept, or wait for it.
    const device = await stored;
    for (const entry of [...(device ? [device] : []), ...left.map((o) => o.entry)]) {
      try {
        doc = restore(Document, entry, agent);
        break;
      } catch (exc) {
        console.warn("cowrite: an offline copy could not be read", exc);
      }
    }
    if (doc === null) {
      notice(`Cannot load the document: ${loadError?.explain?.() ?? loadError}. Retrying…`, "error");
      doc = await retryLoad(docId, agent);
      notice(null);
    } else {
      fromDevice = true;
      notice(`${OFFLINE_OPEN} Edits sync when it is back.`, "info");
    }
  }
  const recoveries = [];
  for (const { key, entry } of left) {
    const release = await claimAgent(entry.agent);
    if (release === null) continue; // another page opening now sends it
    try {
      const old = restore(Document, entry, entry.agent);
      doc.addOps(old.opsMissingFrom(doc.summary()));
      recoveries.push({ key, entry, doc: old, release });
    } catch (exc) {
      console.warn(`cowrite: dropping an offline copy that no longer fits the document (${entry.agent})`, exc);
      release();
      await store.delete(key);
    }
  }
  return { doc, recoveries, fromDevice };
}

/** Save `text` as a file called `name` (the browser's download). */
function downloadText(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
  const a = h("a", { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function wsUrl(docId, token) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const q = token ? `?token=${encodeURIComponent(token)}` : "";
  return withShare(`${scheme}://${location.host}/ws/${docPath(docId)}${q}`, shareKey());
}

function setStatus(el, state, error = null) {
  if (!el) return;
  el.dataset.state = state;
  el.textContent = STATE_TEXT[state] ?? state;
  el.title = error ? `${error.message} (${errorName(error.code)})` : STATE_TEXT[state] ?? state;
}

async function retryLoad(docId, agent) {
  for (let attempt = 0; ; attempt++) {
    await new Promise((r) => setTimeout(r, Math.random() * Math.min(5000, 250 * 2 ** attempt)));
    try {
      return Document.decode(await api(withShare(`/api/docs/${docPath(docId)}/snapshot`), { as: "bytes" }), agent, { maxBytes: MAX_DOCUMENT_BYTES });
    } catch (exc) {
      if (exc instanceof ApiError && exc.status >= 400 && exc.status < 500) throw exc;
    }
  }
}

function showLoadError(docId, exc) {
  const host = document.getElementById("editor");
  host?.remove();
  if (exc.status === 404) {
    notice(
      `There is no document “${docId}”.`,
      "error",
      h("p", {}, h("a", { href: "/" }, "See all documents"), " or create it there."),
    );
  } else {
    notice(exc.explain(), "error", h("p", {}, h("a", { href: "/" }, "Back to the documents")));
  }
  setStatus(document.getElementById("status"), "error");
  return null;
}
