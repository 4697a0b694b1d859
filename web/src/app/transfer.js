// Export and import in the browser, through the HTTP API (server/transfer.py): a
// download as .txt, .md or .html, and a .txt/.md file picked from the disk imported
// into this document (its text replaced by the file's, as ordinary ops: people typing
// meanwhile merge with it) or as a new document.  The server checks the file (size,
// UTF-8) and refuses a bad one with nothing changed; the page says why.
import { ApiError, docPath, getAccount, getAuth, requestHeaders, withShare } from "./api.js";

export const EXPORT_FORMATS = Object.freeze(["txt", "md", "html"]);
export const IMPORT_TYPES = ".txt,.md,.markdown,text/plain,text/markdown";

/** The file name a Content-Disposition header gives (`fallback` if none or odd). */
export function fileNameOf(disposition, fallback) {
  const m = /filename="([A-Za-z0-9._-]{1,200})"/.exec(disposition ?? "");
  return m ? m[1] : fallback;
}

/** A document id made from a file name ("My notes.md" -> "My-notes"); `suffix` n >= 2 adds "-n". */
export function docIdFromFileName(name, suffix = 1) {
  const base = String(name).replace(/\.(md|markdown|txt)$/i, "");
  let id = base.normalize("NFKD").replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^[-.]+|-+$/g, "").slice(0, 100);
  if (!id) id = "imported";
  return suffix > 1 ? `${id}-${suffix}` : id;
}

async function call(path, { method = "GET", body } = {}) {
  const headers = requestHeaders({ method, token: getAuth()?.token, csrf: getAccount()?.csrf_token });
  if (body !== undefined) headers["Content-Type"] = "text/markdown; charset=utf-8";
  let res;
  try {
    res = await fetch(path, { method, headers, body, cache: "no-store", credentials: "same-origin" });
  } catch (exc) {
    throw new ApiError(0, "network", String(exc?.message ?? exc));
  }
  if (!res.ok) {
    let code = `http_${res.status}`;
    let message = `${res.status} ${res.statusText}`.trim();
    try {
      const data = await res.json();
      if (typeof data?.error === "string") code = data.error;
      if (typeof data?.message === "string") message = data.message;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(res.status, code, message);
  }
  return res;
}

/** Download document `docId` as `format` (the browser saves the file). */
export async function exportDoc(docId, format) {
  if (!EXPORT_FORMATS.includes(format)) throw new RangeError(`format must be one of ${EXPORT_FORMATS.join(", ")}`);
  const res = await call(withShare(`/api/docs/${docPath(docId)}/export?format=${format}`));
  const name = fileNameOf(res.headers.get("content-disposition"), `${docId}.${format}`);
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return name;
}

/** Import `file` (a File or Blob) into `docId`: mode "replace" | "append" | "new". */
export async function importFile(docId, file, mode = "replace") {
  const body = new Uint8Array(await file.arrayBuffer());
  const res = await call(withShare(`/api/docs/${docPath(docId)}/import?mode=${mode}`), { method: "POST", body });
  return res.json();
}

/**
 * Import `file` as a new document named after it (a free id: "-2", "-3"… when taken);
 * resolves to the new document's id.
 */
export async function importAsNew(file, { tries = 20 } = {}) {
  for (let n = 1; n <= tries; n++) {
    const id = docIdFromFileName(file.name ?? "imported", n);
    try {
      await importFile(id, file, "new");
      return id;
    } catch (exc) {
      if (!(exc instanceof ApiError && exc.status === 409)) throw exc;
    }
  }
  throw new ApiError(409, "exists", `documents named after ${file.name} exist already; rename the file`);
}

/** Ask for a file (the browser's picker); resolves to it, or null if none was picked. */
export function pickFile(accept = IMPORT_TYPES) {
  return new Promise((resolve) => {
    const input = document.createElement("input");
    input.type = "file";
    input.accept = accept;
    input.hidden = true;
    input.addEventListener("change", () => {
      resolve(input.files?.[0] ?? null);
      input.remove();
    });
    input.addEventListener("cancel", () => {
      resolve(null);
      input.remove();
    });
    document.body.append(input);
    input.click();
  });
}
