// Restoring a past version in the editor: not a rollback but an ordinary edit of this
// user.  The text at the version comes from the server; the edits that take the text
// shown now to it (a minimal diff in code points: protocol/textChange.js) go into the
// editor as ONE local transaction, so they take the path of typing -- into the engine
// as ops of this tab's agent, into the journal, to the server, to everyone -- and a
// person typing meanwhile (or offline) merges with them instead of being overwritten.
// It is one undo step of this user (the engine's UndoManager), so Ctrl+Z takes it back.
//
// The history page's Restore button opens the editor with ?restore=<version JSON>;
// the editor calls restoreFromUrl once the server said the user may write.
import { diff } from "../protocol/textChange.js";
import { api, docPath, withShare } from "./api.js";
import { changesFromEdits } from "./cmbridge.js";
import { syncOf } from "./collab.js";

const MAX_VERSION_PARAM = 16 << 10; // the server's bound on ?version=

/** The version named by the page's `?restore=` (a JSON frontier), or null. */
export function restoreParam(href = location.href) {
  const raw = new URL(href).searchParams.get("restore");
  if (!raw || raw.length > MAX_VERSION_PARAM) return null;
  try {
    const value = JSON.parse(raw);
    const ok = Array.isArray(value) && value.every((v) => Array.isArray(v) && v.length === 2 && typeof v[0] === "string" && Number.isInteger(v[1]) && v[1] >= 0);
    return ok ? value : null;
  } catch {
    return null;
  }
}

/** Take `?restore=` (and its label, `?label=`) off the address bar, so a reload does not restore again. */
export function dropRestoreParam() {
  const url = new URL(location.href);
  url.searchParams.delete("restore");
  url.searchParams.delete("label");
  history.replaceState(history.state, "", url.pathname + url.search + url.hash);
}

/**
 * Make the editor's text what it was at `version`, as this user's edit (one undo
 * step).  Returns how many places changed (0: it was that text already).  Throws
 * an ApiError if the server cannot give the old text, an Error if the editor is
 * read-only.
 */
export async function restoreVersion(view, docId, version) {
  const old = await api(withShare(`/api/docs/${docPath(docId)}/text?version=${encodeURIComponent(JSON.stringify(version))}`), { as: "text" });
  return applyText(view, old);
}

/** Turn the editor's text into `target` by a minimal diff, as one local transaction and undo step. */
export function applyText(view, target) {
  if (view.state.readOnly) throw new Error("this document is read-only for you");
  const edits = diff(view.state.doc.toString(), target).toEdits();
  if (!edits.length) return 0;
  const changes = changesFromEdits(view.state, edits);
  const undo = syncOf(view)?.undo ?? null;
  const run = () => view.dispatch({ changes, userEvent: "input.restore", scrollIntoView: true });
  if (undo) {
    undo.stopCapturing(); // not merged with typing just before
    undo.group(run);
    undo.stopCapturing(); // nor with typing just after
  } else {
    run();
  }
  return edits.filter((e) => e.kind === "del" || e.text).length;
}
