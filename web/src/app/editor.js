// The editor page (/d/{id}): load the snapshot into an engine Document, show it in
// CodeMirror, keep the two in step (local transactions -> engine ops; engine edits
// -> minimal CodeMirror changes), sync over a Connection, show remote cursors, undo
// with the engine's per-user UndoManager, and keep unsent edits across reloads.
import { Compartment, EditorSelection, EditorState, Prec } from "@codemirror/state";
import { EditorView, drawSelection, highlightActiveLine, keymap, lineNumbers } from "@codemirror/view";
import { defaultKeymap } from "@codemirror/commands";
import { Document, Position, UndoManager } from "../engine/index.js";
import { MAX_DOCUMENT_BYTES, nextOwnSeq, roleCanWrite } from "../protocol/session.js";
import { ApiError, TOKEN_HELP, api, docPath, getAuth } from "./api.js";
import { ensureSignedIn } from "./auth.js";
import { astralField, applyLocalChanges, changesFromEdits, changesToText, fromEngine } from "./cmbridge.js";
import { Connection, errorName } from "./connection.js";
import { distinctColours, peerColour, peersField, setPeers } from "./cursors.js";
import { TabStore, holdAgent, newAgent, orphans, restore } from "./persist.js";
import * as storage from "./storage.js";
import { copyText, h, notice, setChildren } from "./ui.js";

const STATE_TEXT = {
  connected: "Connected",
  syncing: "Syncing…",
  offline: "Offline",
  error: "Disconnected",
  closed: "Closed",
};

export async function editorPage(docId) {
  const main = document.getElementById("app");
  const host = document.getElementById("editor");
  document.title = `${docId} · cowrite`;
  setChildren(document.getElementById("doc-title"), docId);
  document.getElementById("history-link")?.setAttribute("href", `/d/${docPath(docId)}/history`);
  const share = document.getElementById("share");
  share?.addEventListener("click", async () => {
    const url = new URL(`/d/${docPath(docId)}`, location.href).href;
    const ok = await copyText(url);
    share.textContent = ok ? "Link copied" : url;
    setTimeout(() => (share.textContent = "Copy link"), 2000);
  });
  const status = document.getElementById("status");
  setStatus(status, "offline");

  const auth = await ensureSignedIn(main);
  const agent = newAgent();
  const releaseAgent = holdAgent(agent);

  // -- the replica: the server's snapshot, plus any edits a closed tab left behind --
  let doc = null;
  let loadError = null;
  try {
    doc = Document.decode(await api(`/api/docs/${docPath(docId)}/snapshot`, { as: "bytes" }), agent, { maxBytes: MAX_DOCUMENT_BYTES });
  } catch (exc) {
    loadError = exc;
    if (exc instanceof ApiError && exc.status >= 400 && exc.status < 500) {
      releaseAgent();
      main.removeAttribute("aria-busy");
      return showLoadError(docId, exc);
    }
  }
  const left = await orphans(docId, auth.user ?? null);
  if (doc === null) {
    // The server is unreachable: start from what this browser kept, or wait for it.
    for (const { entry } of left) {
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
      notice("The server cannot be reached: showing the copy kept in this browser. Edits sync when it is back.", "info");
    }
  }
  const recoveries = [];
  for (const { key, entry } of left) {
    try {
      const old = restore(Document, entry, entry.agent);
      doc.addOps(old.opsMissingFrom(doc.summary()));
      recoveries.push({ key, doc: old });
    } catch (exc) {
      console.warn(`cowrite: dropping an offline copy that no longer fits the document (${entry.agent})`, exc);
      storage.remove(key);
    }
  }

  let undo = new UndoManager(doc, { captureTimeout: 500 });
  const readOnly = new Compartment();
  let applying = false; // dispatching engine edits: do not echo them back

  const conn = new Connection({
    url: () => wsUrl(docId, getAuth()?.token ?? auth.token),
    docId,
    doc,
    user: auth.name ?? "",
    colour: auth.colour ?? "",
  });
  const tabStore = new TabStore(docId, auth.user ?? null, () => conn.doc);

  // -- CodeMirror ------------------------------------------------------------------
  const view = new EditorView({
    parent: host,
    state: EditorState.create({
      doc: doc.text,
      extensions: [
        lineNumbers(),
        drawSelection(),
        highlightActiveLine(),
        EditorView.lineWrapping,
        astralField,
        peersField,
        readOnly.of(EditorState.readOnly.of(false)),
        // Mod-z / Mod-Shift-z / Mod-y: the engine's undo.  Matched by hand rather
        // than with a keymap so Shift+z is redo whether the key reports "z" or "Z".
        Prec.highest(
          EditorView.domEventHandlers({
            keydown(ev) {
              if (!(ev.ctrlKey || ev.metaKey) || ev.altKey) return false;
              const key = ev.key.toLowerCase();
              if (key !== "z" && key !== "y") return false;
              ev.preventDefault();
              undoRedo(key === "y" || ev.shiftKey);
              return true;
            },
          }),
        ),
        keymap.of(defaultKeymap),
        EditorView.contentAttributes.of({ "aria-label": `Text of ${docId}`, spellcheck: "true" }),
        EditorView.updateListener.of(onUpdate),
        EditorView.domEventHandlers({
          beforeinput(ev) {
            // browser menus' undo/redo: the engine's, not the browser's
            if (ev.inputType === "historyUndo") return undoRedo(false) || true;
            if (ev.inputType === "historyRedo") return undoRedo(true) || true;
            return false;
          },
        }),
      ],
    }),
  });
  main.removeAttribute("aria-busy");

  function onUpdate(update) {
    let local = false;
    for (const tr of update.transactions) {
      if (!tr.docChanged || applying || tr.annotation(fromEngine)) continue;
      local = true;
      let ok = false;
      try {
        ok = applyLocalChanges(conn.doc, tr);
      } catch (exc) {
        console.error("cowrite: a local edit could not be applied", exc);
      }
      if (!ok) suspect();
    }
    if (local) {
      conn.changed();
      if (conn.state !== "connected") tabStore.schedule();
    }
    if (local || (update.selectionSet && !applying)) sendCursor();
  }

  /** Dispatch engine edits (code points) to the editor without echoing them. */
  function applyEdits(edits) {
    const changes = changesFromEdits(view.state, edits);
    if (changes.empty) return;
    applying = true;
    try {
      view.dispatch({ changes, annotations: fromEngine.of(true) });
    } finally {
      applying = false;
    }
  }

  // The engine's text and the editor's disagree (they never should).  Either the
  // engine's replica went wrong -- then the server's copy repairs it: a DIGEST now,
  // answered by a RESYNC -- or the editor did, and the server, agreeing with the
  // engine, stays silent: then the editor is reset to the engine's text.
  let suspectTimer = null;
  let suspected = false;
  function suspect() {
    if (suspected) return;
    suspected = true;
    console.warn("cowrite: the editor and the document disagree; checking with the server");
    conn.checkSoon();
  }
  conn.on("digest", () => {
    if (!suspected || suspectTimer !== null) return;
    const wait = 3000 + 2 * conn.out.delay;
    suspectTimer = setTimeout(() => {
      suspectTimer = null;
      suspected = false;
      resetText(); // no RESYNC came: the document is right
    }, wait);
  });
  function clearSuspicion() {
    clearTimeout(suspectTimer);
    suspectTimer = null;
    suspected = false;
  }

  /** Make the editor show the engine's text (one minimal change; the selection is mapped). */
  function resetText() {
    const changes = changesToText(view.state, conn.doc.text);
    if (changes.empty) return;
    console.warn("cowrite: the editor's text was out of step with the document; it shows the document's now");
    applying = true;
    try {
      view.dispatch({ changes, annotations: fromEngine.of(true) });
    } finally {
      applying = false;
    }
  }

  function undoRedo(redo) {
    if (view.state.readOnly) return true;
    const d = conn.doc;
    const edits = [];
    const stop = typeof d.observe === "function" ? d.observe((e) => e.origin === "local" && edits.push(...e.changes)) : null;
    let result;
    try {
      result = redo ? undo.redo() : undo.undo();
    } finally {
      stop?.();
    }
    if (!result && !edits.length) return true;
    const changes = stop ? changesFromEdits(view.state, edits) : changesToText(view.state, d.text);
    const spec = { changes, annotations: fromEngine.of(true), userEvent: redo ? "redo" : "undo" };
    if (result) {
      const idx = view.state.field(astralField).map(changes, changes.apply(view.state.doc));
      spec.selection = EditorSelection.single(idx.toU16(result.anchor), idx.toU16(result.head));
      spec.scrollIntoView = true;
    }
    applying = true;
    try {
      view.dispatch(spec);
    } finally {
      applying = false;
    }
    conn.changed();
    if (conn.state !== "connected") tabStore.schedule();
    sendCursor();
    refreshPeers();
    return true;
  }

  // -- our cursor, their cursors ---------------------------------------------------
  let cursorWarned = false;
  function sendCursor() {
    const sel = view.state.selection.main;
    const idx = view.state.field(astralField);
    const d = conn.doc;
    try {
      const a = idx.toCp(sel.anchor);
      const hd = idx.toCp(sel.head);
      if (a === hd) {
        conn.setCursor(d.position(a, -1));
      } else {
        conn.setCursor(d.position(a, a < hd ? 1 : -1), d.position(hd, hd < a ? 1 : -1));
      }
    } catch (exc) {
      if (!cursorWarned) console.warn("cowrite: cannot describe the cursor", exc);
      cursorWarned = true;
    }
  }

  let peersTimer = null;
  function refreshPeers() {
    if (peersTimer !== null) return;
    peersTimer = setTimeout(() => {
      peersTimer = null;
      showPeers();
    }, 16);
  }

  function resolve(bytes) {
    try {
      return conn.doc.resolve(Position.decode(bytes));
    } catch {
      return null; // its characters have not arrived yet, or not a character: hidden
    }
  }

  function showPeers() {
    const idx = view.state.field(astralField);
    let peers = [];
    for (const p of conn.presence.values()) {
      let anchor = null;
      let head = null;
      if (p.cursor) {
        const a = resolve(p.cursor[0]);
        const hd = resolve(p.cursor[1]);
        if (a !== null && hd !== null) {
          anchor = idx.toU16(Math.min(a, conn.doc.length));
          head = idx.toU16(Math.min(hd, conn.doc.length));
        }
      }
      peers.push({ agent: p.agent, name: p.user || p.agent, colour: p.colour, anchor, head });
    }
    peers = distinctColours(peers, auth.colour ? [auth.colour] : []);
    view.dispatch({ effects: setPeers.of(peers) });
    const list = document.getElementById("peers");
    if (list) {
      setChildren(
        list,
        peers.map((p) => {
          const swatch = h("span", { class: "swatch", "aria-hidden": "true" });
          swatch.style.background = peerColour(p);
          return h("li", { class: "peer", title: p.agent, dataset: { agent: p.agent } }, swatch, p.name);
        }),
      );
    }
  }

  // -- connection events -----------------------------------------------------------
  conn.on("remote", (edits) => {
    applyEdits(edits);
    refreshPeers();
  });
  conn.on("presence", refreshPeers);
  conn.on("welcomed", ({ canWrite }) => {
    view.dispatch({ effects: readOnly.reconfigure(EditorState.readOnly.of(!canWrite)) });
    document.body.classList.toggle("read-only", !canWrite);
    if (!canWrite) notice("You can read this document but not edit it (your token is a viewer's).", "info");
  });
  conn.on("resynced", (ev) => {
    // The server's copy replaced ours (our text had diverged); our unsent edits were kept.
    undo.detach();
    undo = new UndoManager(ev.doc, { captureTimeout: 500 });
    // ev.edits turn the old replica's text into the new one; the editor shows what the
    // user saw, which is not necessarily the old replica's text (if that was what went
    // wrong), so diff against what the editor shows instead.
    clearSuspicion();
    resetText();
    refreshPeers();
    console.warn("cowrite: this copy differed from the server's and was replaced by it");
  });
  conn.on("state", (state) => {
    updateStatus();
    if (state === "connected") tabStore.clear();
    else if (state !== "closed" && nextOwnSeq(conn.doc) > 0 && !tabStore.stored) tabStore.schedule();
  });
  conn.on("error", (err) => {
    updateStatus();
    if (nextOwnSeq(conn.doc) > 0) tabStore.saveNow();
    const extra = err.code === 9 ? ` ${TOKEN_HELP}` : "";
    notice(`Disconnected from the server: ${err.message} (${err.name}).${extra} Reload the page to try again.`, "error");
  });

  // -- recovering what closed tabs left --------------------------------------------
  let recovering = recoveries.length;
  if (recovering) conn.blocked = true;
  for (const r of recoveries) {
    const release = holdAgent(r.doc.agent);
    const rc = new Connection({ url: () => wsUrl(docId, getAuth()?.token ?? auth.token), docId, doc: r.doc, recovery: true });
    const done = (ok) => {
      release();
      if (ok) storage.remove(r.key);
      if (--recovering === 0) {
        conn.unblock();
        updateStatus();
      }
    };
    rc.on("recovered", () => done(true));
    rc.on("error", (err) => {
      console.warn(`cowrite: the edits of ${r.doc.agent} cannot be sent: ${err.message}`);
      done(err.code !== null && err.code !== 11);
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
    if (conn.state !== "connected" && nextOwnSeq(conn.doc) > 0) tabStore.saveNow();
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
      return undo;
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
      peers: [...conn.presence.values()].map((p) => ({ agent: p.agent, user: p.user })),
    }),
  };

  conn.start();
  updateStatus();
  view.focus();
  return globalThis.cowrite;
}

function wsUrl(docId, token) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const q = token ? `?token=${encodeURIComponent(token)}` : "";
  return `${scheme}://${location.host}/ws/${docPath(docId)}${q}`;
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
      return Document.decode(await api(`/api/docs/${docPath(docId)}/snapshot`, { as: "bytes" }), agent, { maxBytes: MAX_DOCUMENT_BYTES });
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
