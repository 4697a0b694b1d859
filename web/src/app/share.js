// The editor's Share dialog: the people of a document and their roles (add by username,
// change a role, remove, make someone the owner), link sharing (off / view / comment /
// edit, copy the link, a new link), and invite links that carry a role (make, copy,
// revoke).  Everything comes from the sharing API (server/sharing_api.py); every name
// and id is put on the page as text (ui.js's `h`), never as markup.
import { ApiError, api, docPath } from "./api.js";
import { copyText, h, setChildren } from "./ui.js";

export const ROLES = ["owner", "editor", "commenter", "viewer"];
export const ROLE_TEXT = { owner: "Owner", editor: "Can edit", commenter: "Can comment", viewer: "Can view" };
export const LINK_TEXT = { "": "Off: only people added here", viewer: "Anyone with the link can view", commenter: "Anyone with the link can comment", editor: "Anyone with the link can edit" };

/** The address of a document's share link (the key opens it to anyone holding it). */
export function shareLink(docId, key, base = location.href) {
  return new URL(`/d/${docPath(docId)}?share=${encodeURIComponent(key)}`, base).href;
}

/** The address of a document invite (the code is redeemed once signed in). */
export function inviteLink(docId, code, base = location.href) {
  return new URL(`/d/${docPath(docId)}?join=${encodeURIComponent(code)}`, base).href;
}

function explain(exc) {
  return exc instanceof ApiError ? exc.explain() : String(exc);
}

function roleSelect(id, value, roles, label) {
  const select = h(
    "select",
    { id, "aria-label": label },
    roles.map((r) => h("option", { value: r, selected: r === value ? true : null }, ROLE_TEXT[r] ?? r)),
  );
  select.value = value;
  return select;
}

/**
 * Open the Share dialog of `docId` for `me` (the signed-in account).  Returns the
 * <dialog> element (already open).
 */
export function openShareDialog(docId, me) {
  document.getElementById("share-dialog")?.remove();
  const base = `/api/docs/${docPath(docId)}`;
  const status = h("p", { id: "share-status", class: "muted small", role: "status", "aria-live": "polite" });
  const people = h("ul", { id: "share-members", class: "share-members", "aria-label": "People with access" });
  const linkBox = h("div", { id: "share-link", class: "share-section" });
  const inviteBox = h("div", { id: "share-invites", class: "share-section" });
  const close = h("button", { type: "button", id: "share-close", class: "small-button" }, "Done");
  const dialog = h(
    "dialog",
    { id: "share-dialog", class: "share-dialog", "aria-labelledby": "share-title" },
    h("h2", { id: "share-title" }, "Share “", docId, "”"),
    status,
    h("h3", {}, "People"),
    people,
    addForm(),
    h("h3", {}, "Link sharing"),
    linkBox,
    h("h3", {}, "Invite links"),
    inviteBox,
    h("p", {}, close),
  );
  close.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  if (typeof dialog.showModal === "function") dialog.showModal();
  else dialog.setAttribute("open", "");
  let manager = Boolean(me?.admin);

  const say = (text, error = false) => {
    status.textContent = text;
    status.className = error ? "notice error small" : "muted small";
  };

  async function refresh() {
    try {
      const { members } = await api(`${base}/members`);
      const mine = members.find((m) => m.user === me?.user);
      manager = Boolean(me?.admin) || mine?.role === "owner";
      setChildren(people, members.map(memberRow));
      dialog.dataset.manager = manager ? "yes" : "no";
      for (const el of dialog.querySelectorAll("[data-manage]")) el.hidden = !manager;
      await refreshLink();
      if (manager) await refreshInvites();
      else setChildren(inviteBox, h("p", { class: "muted small" }, "Only the owner makes invite links."));
    } catch (exc) {
      say(`Could not load who has access: ${explain(exc)}`, true);
    }
  }

  function memberRow(m) {
    const row = h("li", { class: "share-member", dataset: { user: m.user, role: m.role } });
    const who = h("span", { class: "share-who" }, h("span", { class: "share-name" }, m.name || m.user), " ", h("span", { class: "muted small share-user" }, `(${m.user})`));
    if (!manager || m.role === "owner") {
      row.append(who, h("span", { class: "share-role" }, ROLE_TEXT[m.role] ?? m.role));
      return row;
    }
    const select = roleSelect(`role-${m.user}`, m.role, ROLES.filter((r) => r !== "owner"), `Role of ${m.user}`);
    select.addEventListener("change", () =>
      act(`Changed ${m.user} to ${ROLE_TEXT[select.value]}.`, () =>
        api(`${base}/members/${encodeURIComponent(m.user)}`, { method: "PATCH", body: { role: select.value } }),
      ),
    );
    const remove = h("button", { type: "button", class: "small-button danger share-remove", "aria-label": `Remove ${m.user}` }, "Remove");
    remove.addEventListener("click", () =>
      act(`Removed ${m.user}.`, () => api(`${base}/members/${encodeURIComponent(m.user)}`, { method: "DELETE" })),
    );
    const owner = h("button", { type: "button", class: "small-button share-transfer", "aria-label": `Make ${m.user} the owner` }, "Make owner");
    owner.addEventListener("click", () => {
      if (!confirm(`Make ${m.user} the owner of “${docId}”? You stay on as an editor.`)) return;
      act(`${m.user} is the owner now.`, () => api(`${base}/transfer`, { method: "POST", body: { to: m.user } }));
    });
    row.append(who, select, remove, owner);
    return row;
  }

  function addForm() {
    const user = h("input", { id: "share-add-user", type: "text", required: true, maxlength: 64, placeholder: "username", autocomplete: "off", autocapitalize: "none", spellcheck: "false", "aria-label": "Username to add" });
    const role = roleSelect("share-add-role", "editor", ROLES.filter((r) => r !== "owner"), "Role to give");
    const button = h("button", { type: "submit", class: "small-button" }, "Add");
    const form = h("form", { id: "share-add", class: "row share-add", dataset: { manage: "1" }, novalidate: true }, user, role, button);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const name = user.value.trim();
      if (!name) return say("Type the username of the person to add.", true);
      act(`Added ${name}.`, async () => {
        await api(`${base}/members`, { method: "POST", body: { user: name, role: role.value } });
        user.value = "";
      });
    });
    return form;
  }

  async function refreshLink() {
    let info;
    try {
      info = await api(`${base}/link`);
    } catch (exc) {
      setChildren(linkBox, h("p", { class: "muted small" }, `Link sharing: ${explain(exc)}`));
      return;
    }
    const current = info.role ?? "";
    if (!manager) {
      setChildren(linkBox, h("p", { class: "muted small", id: "share-link-role" }, LINK_TEXT[current] ?? current));
      return;
    }
    const select = h(
      "select",
      { id: "share-link-role", "aria-label": "Who can open the link" },
      Object.entries(LINK_TEXT).map(([value, text]) => h("option", { value, selected: value === current ? true : null }, text)),
    );
    select.value = current;
    select.addEventListener("change", () =>
      act("Link sharing changed.", () => api(`${base}/link`, { method: "PUT", body: { role: select.value || null } })),
    );
    const parts = [select];
    if (info.role && info.key) {
      const url = shareLink(docId, info.key);
      const input = h("input", { id: "share-link-url", type: "text", readonly: true, value: url, "aria-label": "Share link", spellcheck: "false" });
      const copy = h("button", { type: "button", class: "small-button", id: "share-link-copy" }, "Copy link");
      copy.addEventListener("click", async () => (copy.textContent = (await copyText(url)) ? "Copied" : "Select and copy it"));
      const rotate = h("button", { type: "button", class: "small-button", id: "share-link-rotate" }, "New link");
      rotate.addEventListener("click", () =>
        act("A new link: the old one no longer opens the document.", () =>
          api(`${base}/link`, { method: "PUT", body: { role: info.role, rotate: true } }),
        ),
      );
      parts.push(h("div", { class: "row" }, input, copy, rotate));
    }
    setChildren(linkBox, parts);
  }

  async function refreshInvites() {
    const role = roleSelect("share-invite-role", "editor", ["editor", "commenter", "viewer"], "Role the invite gives");
    const make = h("button", { type: "button", class: "small-button", id: "share-invite-make" }, "Make an invite link");
    const made = h("div", { id: "share-invite-new" });
    make.addEventListener("click", async () => {
      make.disabled = true;
      try {
        const { code } = await api(`${base}/invites`, { method: "POST", body: { role: role.value } });
        const url = inviteLink(docId, code);
        const input = h("input", { id: "share-invite-url", type: "text", readonly: true, value: url, "aria-label": "Invite link", spellcheck: "false" });
        const copy = h("button", { type: "button", class: "small-button" }, "Copy");
        copy.addEventListener("click", async () => (copy.textContent = (await copyText(url)) ? "Copied" : "Select and copy it"));
        await listInvites();
        setChildren(made, h("p", { class: "small" }, "Send this link (it works once, for a week; shown only now): "), h("div", { class: "row" }, input, copy));
        input.select();
      } catch (exc) {
        say(`Could not make an invite: ${explain(exc)}`, true);
      } finally {
        make.disabled = false;
      }
    });
    const list = h("ul", { id: "share-invite-list", class: "share-invite-list", "aria-label": "Invite links" });
    setChildren(inviteBox, h("div", { class: "row" }, role, make), made, list);
    async function listInvites() {
      try {
        const { invites } = await api(`${base}/invites`);
        const open = invites.filter((i) => (i.status ?? "open") === "open");
        setChildren(
          list,
          open.map((i) => {
            const revoke = h("button", { type: "button", class: "small-button danger", "aria-label": "Revoke this invite" }, "Revoke");
            revoke.addEventListener("click", () =>
              act("Invite revoked.", () => api(`${base}/invites/${encodeURIComponent(i.key)}`, { method: "DELETE" })),
            );
            const until = typeof i.expires_at === "number" ? ` until ${new Date(i.expires_at * 1000).toLocaleString()}` : "";
            return h("li", { class: "share-invite", dataset: { key: i.key } }, `${ROLE_TEXT[i.role] ?? i.role}${until} `, revoke);
          }),
        );
      } catch (exc) {
        say(`Could not list the invites: ${explain(exc)}`, true);
      }
    }
    await listInvites();
  }

  async function act(done, call) {
    try {
      await call();
      say(done);
    } catch (exc) {
      say(explain(exc), true);
    }
    await refresh();
  }

  refresh();
  return dialog;
}
