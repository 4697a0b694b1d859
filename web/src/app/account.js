// The account page (/account): personal access tokens for integrations (make one with a
// label, documents and role: its secret is shown once; revoke), and the admin page
// (/admin): every account (disable, enable, a temporary password), every document and
// its owner.  Every name and id is put on the page as text (ui.js's `h`).
import { ApiError, DOC_ID_RE, api, docPath } from "./api.js";
import { ensureSignedIn } from "./auth.js";
import { copyText, h, setChildren } from "./ui.js";

function explain(exc) {
  return exc instanceof ApiError ? exc.explain() : String(exc);
}

function when(seconds) {
  return typeof seconds === "number" ? new Date(seconds * 1000).toLocaleString() : "never";
}

async function signedInAccount(main) {
  const who = await ensureSignedIn(main, { account: true });
  main.removeAttribute("aria-busy");
  if (!who?.account) {
    setChildren(main, h("p", { class: "notice error" }, "This page needs you signed in with an account."), h("p", {}, h("a", { href: "/" }, "Back to the documents")));
    return null;
  }
  return who;
}

export async function accountPage() {
  const main = document.getElementById("app");
  const who = await signedInAccount(main);
  if (!who) return;
  document.title = "Account · cowrite";
  const status = h("p", { id: "tokens-status", class: "muted", role: "status", "aria-live": "polite" });
  const list = h("ul", { id: "token-list", class: "doc-list", "aria-label": "Personal access tokens" });
  const shown = h("div", { id: "token-new" });
  setChildren(
    main,
    h("h1", {}, "Account"),
    h("p", {}, "Signed in as ", h("strong", {}, who.name || who.user), " ", h("span", { class: "muted" }, `(${who.user})`), ". ", h("a", { href: "/" }, "Documents")),
    h("h2", {}, "Personal access tokens"),
    h("p", { class: "muted small" }, "For programs: send a token as “Authorization: Bearer …”. It can do at most what you can, on the documents you choose."),
    tokenForm(),
    shown,
    status,
    list,
  );
  await refresh();

  async function refresh() {
    try {
      const { tokens } = await api("/api/tokens");
      const live = tokens.filter((t) => !t.revoked);
      setChildren(list, live.map(tokenRow));
      status.textContent = live.length ? "" : "No tokens yet.";
      status.className = "muted";
    } catch (exc) {
      status.textContent = explain(exc);
      status.className = "notice error";
    }
  }

  function tokenRow(t) {
    const revoke = h("button", { type: "button", class: "small-button danger", "aria-label": `Revoke ${t.label}` }, "Revoke");
    revoke.addEventListener("click", async () => {
      try {
        await api(`/api/tokens/${encodeURIComponent(t.id)}`, { method: "DELETE" });
      } catch (exc) {
        status.textContent = explain(exc);
        status.className = "notice error";
      }
      await refresh();
    });
    const docs = Array.isArray(t.docs) ? t.docs.join(", ") : String(t.docs);
    return h(
      "li",
      { class: "doc token", dataset: { token: String(t.id) } },
      h("span", { class: "token-label" }, t.label),
      h("span", { class: "muted small" }, `${t.role} · ${docs === "*" ? "every document" : docs} · expires ${when(t.expires_at)} · last used ${when(t.last_used)}`),
      h("span", { class: "doc-actions" }, revoke),
    );
  }

  function tokenForm() {
    const label = h("input", { id: "token-label", type: "text", required: true, maxlength: 100, placeholder: "my script", "aria-label": "Label" });
    const docs = h("input", { id: "token-docs", type: "text", placeholder: "* (every document) or notes, plans", "aria-label": "Documents", spellcheck: "false" });
    const role = h("select", { id: "token-role", "aria-label": "Role" }, ["editor", "commenter", "viewer", "owner"].map((r) => h("option", { value: r }, r)));
    const days = h("input", { id: "token-days", type: "number", min: 1, max: 366, value: "90", "aria-label": "Days valid" });
    const error = h("p", { id: "token-error", class: "form-error", role: "alert", hidden: true });
    const form = h("form", { id: "token-form", class: "new-doc", novalidate: true }, h("div", { class: "row" }, label, docs, role, days, h("button", { type: "submit" }, "Create token")), error);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const scope = docs.value.split(",").map((d) => d.trim()).filter(Boolean);
      const list = scope.length ? scope : ["*"];
      if (!label.value.trim()) return show("Give the token a label.");
      if (list.some((d) => d !== "*" && !DOC_ID_RE.test(d))) return show("Documents are ids separated by commas, or *.");
      try {
        const { secret } = await api("/api/tokens", { method: "POST", body: { label: label.value.trim(), docs: list, role: role.value, ttl_days: Number(days.value) || 90 } });
        error.hidden = true;
        label.value = "";
        const input = h("input", { id: "token-secret", type: "text", readonly: true, value: secret, "aria-label": "The new token", spellcheck: "false" });
        const copy = h("button", { type: "button", class: "small-button" }, "Copy");
        copy.addEventListener("click", async () => (copy.textContent = (await copyText(secret)) ? "Copied" : "Select and copy it"));
        setChildren(shown, h("p", { class: "notice info" }, "Copy the token now: it is not shown again. ", input, " ", copy));
        input.select();
      } catch (exc) {
        show(explain(exc));
      }
      await refresh();
    });
    function show(text) {
      error.textContent = text;
      error.hidden = false;
    }
    return form;
  }
}

export async function adminPage() {
  const main = document.getElementById("app");
  const who = await signedInAccount(main);
  if (!who) return;
  document.title = "Admin · cowrite";
  const status = h("p", { id: "admin-status", class: "muted", role: "status", "aria-live": "polite" });
  const users = h("ul", { id: "admin-users", class: "doc-list", "aria-label": "Accounts" });
  const docs = h("ul", { id: "admin-docs", class: "doc-list", "aria-label": "Documents and owners" });
  setChildren(main, h("h1", {}, "Admin"), h("p", {}, h("a", { href: "/" }, "Documents")), status, h("h2", {}, "Accounts"), users, h("h2", {}, "Documents"), docs);
  if (!who.admin) {
    status.textContent = "Only an administrator may see this page.";
    status.className = "notice error";
    return;
  }
  await refresh();

  async function refresh() {
    try {
      const [{ users: all }, { documents }] = await Promise.all([api("/api/admin/users"), api("/api/admin/documents")]);
      setChildren(users, all.map(userRow));
      setChildren(
        docs,
        documents.map((d) =>
          h("li", { class: "doc", dataset: { doc: d.id } }, h("a", { class: "doc-open", href: `/d/${docPath(d.id)}` }, d.id), h("span", { class: "muted small admin-owner" }, d.owner ? `owner: ${d.owner}` : "no owner")),
        ),
      );
    } catch (exc) {
      status.textContent = explain(exc);
      status.className = "notice error";
    }
  }

  function userRow(u) {
    const act = async (what, done) => {
      try {
        const out = await api(`/api/admin/users/${encodeURIComponent(u.username)}/${what}`, { method: "POST" });
        status.className = "muted";
        setChildren(status, done(out));
      } catch (exc) {
        status.textContent = explain(exc);
        status.className = "notice error";
      }
      await refresh();
    };
    const toggle = h("button", { type: "button", class: "small-button", "aria-label": `${u.disabled ? "Enable" : "Disable"} ${u.username}` }, u.disabled ? "Enable" : "Disable");
    toggle.addEventListener("click", () => act(u.disabled ? "enable" : "disable", () => `${u.username} is ${u.disabled ? "enabled" : "disabled"}.`));
    const reset = h("button", { type: "button", class: "small-button", "aria-label": `Reset the password of ${u.username}` }, "Reset password");
    reset.addEventListener("click", () => {
      if (!confirm(`Give ${u.username} a new temporary password? Their sessions end.`)) return;
      act("reset", (out) => [`Temporary password for ${out.user} (shown once): `, h("code", { id: "admin-temp-password" }, out.password)]);
    });
    const self = u.username === who.user;
    return h(
      "li",
      { class: "doc", dataset: { user: u.username } },
      h("span", { class: "admin-user" }, u.name || u.username, " ", h("span", { class: "muted small" }, `(${u.username})`)),
      h("span", { class: "muted small" }, [u.admin ? "admin" : null, u.disabled ? "disabled" : null].filter(Boolean).join(" · ")),
      h("span", { class: "doc-actions" }, self ? null : toggle, self ? null : reset),
    );
  }
}
