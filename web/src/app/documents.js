// The documents page (/): list (by title, else id), create ("New document" in one
// click, or with an id of one's choosing), open, delete, copy a link; for an account, "My
// documents" (those it owns) beside "Shared with me" (GET /api/shared), and links to
// its account page (tokens) and, for an admin, the admin page; for an admin, invite
// someone (a sign-up link).  With the server unreachable it lists the documents this
// device keeps a copy of (persist.js), marked "on this device", which open offline; the
// titles are those of the last listing it saw online.
import { ApiError, DOC_ID_RE, api, docPath } from "./api.js";
import { ensureSignedIn } from "./auth.js";
import { offlineStore } from "./offline.js";
import { deviceDocuments, rememberListing, sweepIfDue, tabKey } from "./persist.js";
import { displayTitle } from "./title.js";
import { ago, copyText, h, setChildren } from "./ui.js";

/** Whether `exc` says the server could not be reached (not that it refused). */
const unreachable = (exc) => exc instanceof ApiError && exc.status === 0;

export async function documentsPage() {
  const main = document.getElementById("app");
  const who = await ensureSignedIn(main);
  const status = h("p", { id: "docs-status", class: "muted", role: "status", "aria-live": "polite" });
  const account = Boolean(who.account);
  const list = h("ul", { id: "doc-list", class: "doc-list", "aria-label": account ? "My documents" : "Documents" });
  const shared = h("ul", { id: "shared-list", class: "doc-list", "aria-label": "Shared with me" });
  const sharedStatus = h("p", { id: "shared-status", class: "muted", role: "status", "aria-live": "polite" });
  const links = account
    ? h("nav", { class: "doc-links", "aria-label": "Account" }, h("a", { href: "/account", id: "account-link" }, "Account & tokens"), who.admin ? h("a", { href: "/admin", id: "admin-link" }, "Admin") : null)
    : null;
  setChildren(
    main,
    h("h1", {}, "Documents"),
    links,
    newDocumentButton(),
    createForm(refresh),
    account ? h("h2", {}, who.admin ? "All documents" : "My documents") : null,
    status,
    list,
    account ? h("section", { class: "shared", "aria-label": "Shared with me" }, h("h2", {}, "Shared with me"), sharedStatus, shared) : null,
    who.account && who.admin ? inviteSection() : null,
  );
  main.removeAttribute("aria-busy");
  const user = who.user ?? null;
  const store = offlineStore({ tabKey });
  store.then((s) => sweepIfDue(s)).catch((exc) => console.warn("cowrite: tidying this device's copies failed", exc));
  let listed = []; // this refresh's documents, for the device's listing (their titles)
  await refresh();
  // back online: the server's list again (offline, this device's)
  globalThis.addEventListener?.("online", () => refresh());

  async function refresh() {
    status.textContent = "Loading…";
    status.className = "muted";
    listed = [];
    try {
      let { documents } = await api("/api/docs");
      listed.push(...documents);
      if (account && !who.admin) documents = documents.filter((d) => d.role === "owner");
      documents.sort((a, b) => (b.updated_at ?? 0) - (a.updated_at ?? 0) || a.id.localeCompare(b.id));
      setChildren(list, documents.map((d) => row(d, refresh, status)));
      status.textContent = documents.length ? "" : "No documents yet: create one above.";
    } catch (exc) {
      if (unreachable(exc)) return showDevice();
      list.replaceChildren();
      status.textContent = explain(exc);
      status.className = "notice error";
    }
    if (account) await refreshShared();
    if (listed.length) store.then((s) => rememberListing(s, user, listed)).catch(() => {});
  }

  async function refreshShared() {
    sharedStatus.className = "muted";
    try {
      const { documents } = await api("/api/shared");
      listed.push(...documents);
      documents.sort((a, b) => a.id.localeCompare(b.id));
      setChildren(shared, documents.map((d) => row(d, refresh, sharedStatus)));
      sharedStatus.textContent = documents.length ? "" : "Nothing shared with you yet.";
    } catch (exc) {
      shared.replaceChildren();
      sharedStatus.textContent = explain(exc);
      sharedStatus.className = "notice error";
    }
  }

  /** The server cannot be reached: the documents this device keeps, which open offline. */
  async function showDevice() {
    let documents = [];
    try {
      documents = await deviceDocuments(await store, user);
    } catch (exc) {
      console.warn("cowrite: cannot list this device's documents", exc);
    }
    setChildren(list, documents.map((d) => deviceRow(d)));
    document.body.classList.add("offline");
    status.className = "notice";
    status.textContent = documents.length
      ? "Cannot reach the server. These documents are kept on this device: they open and take edits offline, and sync when the server is back."
      : "Cannot reach the server, and this device keeps no documents yet. Documents you open while online are kept here for next time.";
    if (account) {
      shared.replaceChildren();
      sharedStatus.className = "muted";
      sharedStatus.textContent = "Shared documents kept on this device are listed above.";
    }
  }
}

/** A document kept on this device, listed while the server cannot be reached. */
function deviceRow(d) {
  const href = `/d/${docPath(d.id)}`;
  const meta = ["on this device"];
  if (typeof d.title === "string" && d.title.trim() !== "") meta.push(d.id);
  if (typeof d.role === "string" && d.role !== "owner") meta.push(ROLE_LABEL[d.role] ?? d.role);
  if (d.unsent) meta.push("edits not yet sent");
  return h(
    "li",
    { class: "doc device", dataset: { doc: d.id, device: "true" } },
    h("a", { class: "doc-open", href, title: d.id }, displayTitle(d.id, d.title)),
    h("span", { class: "muted small device-mark" }, meta.join(" · ")),
  );
}

const ROLE_LABEL = { owner: "owner", editor: "can edit", commenter: "can comment", viewer: "can view" };

function explain(exc) {
  if (exc instanceof ApiError && exc.status === 403 && exc.code === "forbidden") {
    return `${exc.explain()} Open a document link instead (/d/<id>).`;
  }
  return exc instanceof ApiError ? exc.explain() : String(exc);
}

function createForm(refresh) {
  const input = h("input", {
    id: "new-doc-id",
    name: "id",
    type: "text",
    required: true,
    maxlength: 128,
    pattern: "[A-Za-z0-9._\\-]{1,128}",
    placeholder: "meeting-notes",
    autocomplete: "off",
    spellcheck: "false",
    "aria-describedby": "new-doc-help new-doc-error",
  });
  const error = h("p", { id: "new-doc-error", class: "form-error", role: "alert", hidden: true });
  const button = h("button", { type: "submit" }, "Create");
  const form = h(
    "form",
    { id: "new-doc", class: "new-doc", "aria-label": "New document", novalidate: true },
    h("label", { for: "new-doc-id" }, "Or a new document with an id of your choosing"),
    h("div", { class: "row" }, input, button),
    h("p", { id: "new-doc-help", class: "muted small" }, "1–128 characters: letters, digits, “.”, “_” and “-”."),
    error,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const id = input.value.trim();
    if (!DOC_ID_RE.test(id)) {
      showError("A document id is 1–128 characters of A–Z, a–z, 0–9, “.”, “_” and “-”.");
      return;
    }
    button.disabled = true;
    try {
      await api("/api/docs", { method: "POST", body: { id } });
      error.hidden = true;
      input.removeAttribute("aria-invalid");
      input.value = "";
      location.assign(`/d/${docPath(id)}`);
    } catch (exc) {
      if (exc instanceof ApiError && exc.status === 409) {
        showError(`A document named “${id}” already exists.`, h("a", { href: `/d/${docPath(id)}` }, "Open it"));
      } else {
        showError(explain(exc));
      }
      await refresh();
    } finally {
      button.disabled = false;
    }
  });
  function showError(message, extra = null) {
    setChildren(error, message, extra ? " " : null, extra);
    error.hidden = false;
    input.setAttribute("aria-invalid", "true");
  }
  return form;
}

/** A fresh document id: "doc-" and 12 random base-36 characters (62 bits). */
export function freshDocId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `doc-${Array.from(bytes, (b) => "0123456789abcdefghijklmnopqrstuvwxyz"[b % 36]).join("")}`;
}

/** "New document" in one click: a document with a fresh id, opened in the editor. */
function newDocumentButton() {
  const out = h("p", { id: "new-doc-quick-status", class: "form-error", role: "alert", hidden: true });
  const button = h("button", { type: "button", id: "new-doc-quick", class: "primary" }, "New document");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      for (let attempt = 0; ; attempt++) {
        const id = freshDocId();
        try {
          await api("/api/docs", { method: "POST", body: { id } });
          location.assign(`/d/${docPath(id)}`);
          return;
        } catch (exc) {
          if (!(exc instanceof ApiError && exc.status === 409) || attempt >= 3) throw exc; // taken: draw again
        }
      }
    } catch (exc) {
      setChildren(out, `Could not create a document: ${explain(exc)}`);
      out.hidden = false;
      button.disabled = false;
    }
  });
  return h("div", { class: "new-doc-quick" }, button, out);
}

/** An admin's "Invite someone": a new sign-up link (/?invite=CODE), shown to copy. */
function inviteSection() {
  const out = h("p", { id: "invite-status", class: "muted small", role: "status", "aria-live": "polite" });
  const button = h("button", { type: "button", id: "invite-button", class: "small-button" }, "Invite someone");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const { code } = await api("/api/auth/invites", { method: "POST" });
      const link = new URL(`/?invite=${encodeURIComponent(code)}`, location.href).href;
      const input = h("input", { id: "invite-link", type: "text", readonly: true, value: link, "aria-label": "Invite link", spellcheck: "false" });
      const copy = h("button", { type: "button", class: "small-button" }, "Copy");
      copy.addEventListener("click", async () => {
        copy.textContent = (await copyText(link)) ? "Copied" : "Select and copy it";
      });
      setChildren(out, "Send this link to the person you invite (it works once, for a week): ", input, " ", copy);
      input.select();
    } catch (exc) {
      setChildren(out, `Could not make an invite: ${explain(exc)}`);
    } finally {
      button.disabled = false;
    }
  });
  return h("section", { class: "invite", "aria-label": "Invite someone" }, h("h2", {}, "Invite someone"), button, out);
}

function row(d, refresh, status) {
  const href = `/d/${docPath(d.id)}`;
  const shareUrl = new URL(href, location.href).href;
  const copy = h("button", { type: "button", class: "small-button", "aria-label": `Copy a link to ${d.id}` }, "Copy link");
  copy.addEventListener("click", async () => {
    const ok = await copyText(shareUrl);
    status.className = "muted";
    status.textContent = ok ? `Copied ${shareUrl}` : `Link: ${shareUrl}`;
  });
  const del = h("button", { type: "button", class: "small-button danger", "aria-label": `Delete ${d.id}` }, "Delete");
  del.addEventListener("click", async () => {
    if (!confirm(`Delete “${d.id}” for everyone? This cannot be undone.`)) return;
    del.disabled = true;
    try {
      await api(`/api/docs/${docPath(d.id)}`, { method: "DELETE" });
      status.className = "muted";
      status.textContent = `Deleted ${d.id}.`;
      await refresh();
    } catch (exc) {
      status.className = "notice error";
      status.textContent =
        exc instanceof ApiError && exc.status === 403
          ? `You may not delete “${d.id}”: ${exc.message}`
          : `Could not delete “${d.id}”: ${explain(exc)}`;
      del.disabled = false;
    }
  });
  const meta = [];
  const titled = typeof d.title === "string" && d.title.trim() !== "";
  if (titled) meta.push(d.id);
  if (typeof d.role === "string" && d.role !== "owner") meta.push(ROLE_LABEL[d.role] ?? d.role);
  if (typeof d.length === "number") meta.push(`${d.length} characters`);
  if (typeof d.updated_at === "number") meta.push(`edited ${ago(d.updated_at)}`);
  return h(
    "li",
    { class: "doc", dataset: { doc: d.id } },
    h("a", { class: "doc-open", href, title: d.id }, displayTitle(d.id, d.title)),
    h("span", { class: "muted small" }, meta.join(" · ")),
    h("span", { class: "doc-actions" }, h("a", { href: `${href}/history`, class: "small-link" }, "History"), copy, d.role === undefined || d.role === "owner" ? del : null),
  );
}
