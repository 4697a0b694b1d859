// Sign-in.  In this order: a token from `?token=` (stored, stripped from the URL) or
// one stored before; else the account of the session cookie (GET /api/auth/me);
// else the sign-in page: sign in with a username and password, create an account
// (with the invite code of a `?invite=CODE` link when the server asks for one), or
// continue as a guest with just a name (POST /api/session) where the server lets
// guests in.  Every name is put on the page as text (ui.js's `h`), never as markup.
// With the server unreachable, the account last signed in here stands in (no CSRF
// token: nothing unsafe can be sent until the server is back), so a document kept on
// this device opens offline for its user.
import { ApiError, TOKEN_HELP, api, captureTokenFromUrl, clearAuth, getAccount, getAuth, setAccount, setAuth, shareKey } from "./api.js";
import * as storage from "./storage.js";
import { h, notice, setChildren } from "./ui.js";

/** Settings the sign-in page needs; what a server without /api/auth/config means. */
const NO_CONFIG = { signup: "closed", guests: true, guest_role: "editor", signed_in: false };

/**
 * Resolve with who the user is: {token, user, name, colour, role} for a token, or
 * {user, name, colour, role, admin, csrf_token, account: true} for an account,
 * showing the sign-in page inside `container` first if neither is there.
 */
export async function ensureSignedIn(container, { account = false } = {}) {
  captureTokenFromUrl();
  const invite = inviteFromUrl();
  let auth = getAuth();
  if (auth && typeof auth.expires === "number" && auth.expires * 1000 < Date.now()) {
    clearAuth(); // an expired guest session: ask again
    auth = null;
  }
  if (auth && (!auth.user || !auth.name)) auth = await describe(auth, container);
  if (auth && !invite && !account) {
    showWhoami(auth);
    return auth;
  }
  const config = await loadConfig();
  // -- open offline: the server cannot be reached, the last account stands in --------
  if (config.unreachable && !invite && !account) {
    const last = lastAccount();
    if (last) {
      setAccount(last);
      showWhoami(getAccount());
      return getAccount();
    }
  }
  // -- end open offline --
  if (config.signed_in) {
    const me = await whoAmI();
    if (me) {
      showWhoami(me);
      return me;
    }
  }
  if (auth && config.signup === "closed" && !account) {
    showWhoami(auth); // an invite link that cannot be used: the token still works
    return auth;
  }
  // No account yet: the sign-in page (an invite link opens it on the sign-up form, even
  // for a guest, who may continue as one from there).
  // A document invite (`?join=CODE`) also admits its invitee to sign up where sign-up
  // needs an invite: the code goes with the sign-up, and is redeemed once signed in.
  const who = await signInPage(container, config, invite ?? (account ? joinFromUrl() : null));
  showWhoami(who);
  return who;
}

/** `?invite=CODE` from the address bar (removed from it once signed up). */
function inviteFromUrl() {
  const code = new URL(location.href).searchParams.get("invite");
  return code && code.length <= 512 ? code : null;
}

/** `?join=CODE` (a document invite link) from the address bar; it stays there (the
 * editor redeems it once signed in). */
function joinFromUrl() {
  const code = new URL(location.href).searchParams.get("join");
  return code && code.length <= 512 ? code : null;
}

function dropInviteFromUrl() {
  const url = new URL(location.href);
  if (!url.searchParams.has("invite")) return;
  url.searchParams.delete("invite");
  history.replaceState(history.state, "", url.pathname + url.search + url.hash);
}

async function loadConfig() {
  try {
    return { ...NO_CONFIG, ...(await api("/api/auth/config")) };
  } catch (exc) {
    console.warn("cowrite: no sign-in settings from the server", exc);
    return exc instanceof ApiError && exc.status === 0 ? { ...NO_CONFIG, unreachable: true } : NO_CONFIG;
  }
}

/** The account of the session cookie, or null (not signed in). */
async function whoAmI() {
  try {
    const me = await api("/api/auth/me");
    setAccount(me);
    rememberAccount(me);
    return getAccount();
  } catch (exc) {
    if (exc instanceof ApiError && exc.status === 401) {
      storage.remove(LAST_ACCOUNT);
      return null;
    }
    throw exc;
  }
}

// -- open offline: who was signed in here last (no secret: the session is the cookie) --
const LAST_ACCOUNT = "cowrite.account.last";

function rememberAccount(me) {
  if (typeof me?.user !== "string" || !me.user) return;
  storage.save(LAST_ACCOUNT, JSON.stringify({ user: me.user, name: me.name ?? null, colour: me.colour ?? null }));
}

/** The account last signed in on this device, marked `offline` (no CSRF token), or null. */
function lastAccount() {
  try {
    const last = JSON.parse(storage.load(LAST_ACCOUNT) ?? "null");
    if (typeof last?.user !== "string" || !last.user) return null;
    const text = (v) => (typeof v === "string" ? v : null);
    return { user: last.user, name: text(last.name) ?? last.user, colour: text(last.colour), offline: true };
  } catch {
    return null;
  }
}

/**
 * A page that opened offline as the last account: ask the server again now that it
 * answers (the CSRF token unsafe requests need).  True if the session still holds.
 */
export async function refreshAccount() {
  if (!getAccount()?.offline) return true;
  try {
    return (await whoAmI()) !== null;
  } catch (exc) {
    console.warn("cowrite: cannot refresh the account", exc);
    return false;
  }
}
// -- end open offline --

// Ask the server who a token is (a token from a link carries no name we can read
// without parsing the JWT).  Stale tokens are dropped so the form shows instead.
async function describe(auth, container) {
  try {
    const who = await api("/api/session", { token: auth.token });
    const full = { ...auth, ...pick(who) };
    setAuth(full);
    return full;
  } catch (exc) {
    if (exc instanceof ApiError && exc.status === 401) {
      clearAuth();
      setChildren(container, h("p", { class: "notice error", role: "alert" }, exc.explain()));
      return null;
    }
    return auth; // older server without GET /api/session, or offline: use what we have
  }
}

function pick(who) {
  const out = {};
  for (const k of ["token", "user", "name", "colour", "role"]) {
    if (who && typeof who[k] === "string" && who[k]) out[k] = who[k];
  }
  if (who && typeof who.expires === "number") out.expires = who.expires;
  return out;
}

/** A labelled input: [label, input]. */
function field(id, label, attrs) {
  return [h("label", { for: id }, label), h("input", { id, name: id, ...attrs })];
}

/** The sign-in page: resolves once the user has signed in, signed up or chosen a guest name. */
function signInPage(container, config, invite) {
  return new Promise((resolve) => {
    const page = h("section", { class: "signin-page", id: "signin-page", "aria-label": "Sign in" });
    const done = (who) => {
      page.remove();
      resolve(who);
    };
    const canSignUp = config.signup === "open" || config.signup === "invite";
    const signIn = accountForm("signin", done);
    const signUp = canSignUp ? accountForm("signup", done, { inviteMode: config.signup === "invite", invite }) : null;
    // A share link opens the document to a guest with just a name, even where guests
    // are off (the server's token then works only with the link: POST /api/session).
    const link = config.guests ? null : linkFromUrl();
    const guest = config.guests || link ? guestForm(done, link) : null;
    const show = (which) => {
      signIn.hidden = which !== "signin";
      if (signUp) signUp.hidden = which !== "signup";
      (which === "signup" ? signUp : signIn)?.querySelector("input")?.focus();
    };
    const switchTo = (which, text) =>
      h("p", { class: "muted small" }, h("button", { type: "button", class: "link-button", onclick: () => show(which) }, text));
    if (signUp) {
      signIn.append(switchTo("signup", "No account yet? Create one"));
      signUp.append(switchTo("signin", "Have an account? Sign in"));
    }
    page.append(signIn);
    if (signUp) page.append(signUp);
    if (guest) page.append(guest);
    if (invite && !signUp) notice("This invite link cannot be used: this server does not take sign-ups.", "error");
    container.append(page);
    show(invite && signUp ? "signup" : "signin");
  });
}

/** The sign-in (kind "signin") or sign-up ("signup") form. */
function accountForm(kind, done, { inviteMode = false, invite = null } = {}) {
  const up = kind === "signup";
  const error = h("p", { class: "form-error", role: "alert", id: `${kind}-error`, hidden: true });
  const described = { "aria-describedby": `${kind}-error` };
  const [userLabel, username] = field(`${kind}-username`, "Username", {
    type: "text",
    required: true,
    maxlength: 64,
    autocomplete: "username",
    autocapitalize: "none",
    spellcheck: "false",
    ...described,
  });
  const [passLabel, password] = field(`${kind}-password`, "Password", {
    type: "password",
    required: true,
    autocomplete: up ? "new-password" : "current-password",
    ...described,
  });
  const rows = [userLabel, username];
  let name = null;
  let code = null;
  if (up) {
    const [nameLabel, nameInput] = field("signup-name", "Your name (shown to the people you write with)", {
      type: "text",
      maxlength: 256,
      autocomplete: "name",
      ...described,
    });
    name = nameInput;
    rows.push(nameLabel, name);
  }
  rows.push(passLabel, password);
  if (up && inviteMode) {
    const [codeLabel, codeInput] = field("signup-invite", "Invite code", { type: "text", required: true, autocomplete: "off", spellcheck: "false", ...described });
    code = codeInput;
    if (invite) code.value = invite;
    rows.push(codeLabel, code);
  }
  const button = h("button", { type: "submit" }, up ? "Create account" : "Sign in");
  const form = h(
    "form",
    { class: "signin", id: `${kind}-form`, "aria-labelledby": `${kind}-title`, novalidate: true },
    h("h2", { id: `${kind}-title` }, up ? "Create an account" : "Sign in"),
    ...rows,
    button,
    error,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { username: username.value.trim(), password: password.value };
    if (!body.username || !body.password) return showError("Please type a username and a password.", body.username ? password : username);
    if (up) {
      if (name.value.trim()) body.name = name.value.trim();
      if (code) {
        if (!code.value.trim()) return showError("This server needs an invite code to sign up: use the invite link you were sent.", code);
        body.invite = code.value.trim();
      }
    }
    button.disabled = true;
    try {
      const me = await api(up ? "/api/auth/signup" : "/api/auth/signin", { method: "POST", body, token: "" });
      clearAuth(); // an account replaces a guest's or a link's token
      setAccount(me);
      dropInviteFromUrl();
      notice(null);
      done(getAccount());
    } catch (exc) {
      password.value = "";
      showError(explainSignIn(exc), password);
    } finally {
      button.disabled = false;
    }
  });
  function showError(message, input) {
    error.textContent = message;
    error.hidden = false;
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }
  return form;
}

function explainSignIn(exc) {
  if (!(exc instanceof ApiError)) return String(exc);
  if (exc.status === 429) return `${exc.message}.`;
  if (exc.status === 0) return exc.explain();
  return exc.message; // the server's words: wrong username or password, the rule a username broke, ...
}

/** {doc, share} when the page is a document opened by its share link, else null. */
function linkFromUrl() {
  const m = /^\/d\/([^/]+)\/?$/.exec(location.pathname);
  const share = shareKey();
  return m && share ? { doc: decodeURIComponent(m[1]), share } : null;
}

/** The guest form: just a name (POST /api/session; with `link`, a link guest's). */
function guestForm(done, link = null) {
  const error = h("p", { class: "form-error", role: "alert", id: "signin-error", hidden: true });
  const input = h("input", {
    id: "signin-name",
    name: "name",
    type: "text",
    required: true,
    maxlength: 64,
    autocomplete: "nickname",
    "aria-describedby": "signin-error",
  });
  const button = h("button", { type: "submit" }, "Continue");
  const form = h(
    "form",
    { class: "signin", id: "signin", "aria-labelledby": "signin-title", novalidate: true },
    h("h2", { id: "signin-title" }, link ? "Or continue with the link as a guest" : "Or continue as a guest"),
    h("p", {}, "Your name is shown to the people you write with."),
    h("label", { for: "signin-name" }, "Your name"),
    input,
    button,
    error,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const name = input.value.trim();
    if (!name) {
      showError("Please type a name.");
      return;
    }
    button.disabled = true;
    try {
      const who = await api("/api/session", { method: "POST", body: link ? { name, ...link } : { name } });
      const auth = pick(who);
      if (!auth.token) throw new ApiError(500, "bad_response", "the server sent no token");
      setAuth({ user: null, colour: null, role: null, ...auth, name: auth.name ?? name });
      done(getAuth());
    } catch (exc) {
      if (exc instanceof ApiError && exc.status === 403 && link) {
        showError(`This link does not open the document any more (${exc.message}). Sign in, or ask for a new link.`);
      } else if (exc instanceof ApiError && exc.status === 403) {
        showError(`This server does not let guests in. ${TOKEN_HELP}`);
      } else {
        showError(exc instanceof ApiError ? exc.explain() : String(exc));
      }
    } finally {
      button.disabled = false;
    }
  });
  function showError(message) {
    error.textContent = message;
    error.hidden = false;
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }
  return form;
}

/**
 * Sign out: an account's session ends on the server (its open sockets are closed
 * there), a token is forgotten here.  Pages other than the editor start again at the
 * sign-in page; the editor stays, so what is on screen (and unsent) is not lost.
 */
async function signOut(auth) {
  if (auth.account) {
    try {
      await api("/api/auth/signout", { method: "POST" });
    } catch (exc) {
      notice(`Could not sign out: ${exc instanceof ApiError ? exc.explain() : exc}`, "error");
      return;
    }
    setAccount(null);
    storage.remove(LAST_ACCOUNT);
  }
  clearAuth();
  if (document.getElementById("app")?.dataset.page === "editor") showSignedOut();
  else location.reload();
}

function showSignedOut() {
  const el = document.getElementById("whoami");
  if (!el) return;
  el.dataset.state = "signed-out";
  setChildren(el, h("span", { class: "whoami-name" }, "Signed out"), h("a", { href: "/", class: "small-link" }, "Sign in"));
}

/** Fill #whoami with who is signed in and a sign-out button. */
export function showWhoami(auth) {
  const el = document.getElementById("whoami");
  if (!el) return;
  el.dataset.state = auth.account ? "account" : "token";
  const swatch = h("span", { class: "swatch", "aria-hidden": "true" });
  if (auth.colour) swatch.style.background = auth.colour;
  const who = auth.name || auth.user || "someone";
  setChildren(
    el,
    h("span", { class: "muted small" }, "Signed in as"),
    swatch,
    h("span", { class: "whoami-name", title: auth.account ? auth.user : null }, who),
    h("button", { type: "button", class: "link-button", id: "sign-out", onclick: () => signOut(auth) }, "Sign out"),
  );
}
