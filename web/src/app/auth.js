// Sign-in: a token from `?token=` (stored, stripped from the URL) or, without one, a
// "your name" form that asks the server for a guest session (POST /api/session).
import { ApiError, TOKEN_HELP, api, captureTokenFromUrl, clearAuth, getAuth, setAuth } from "./api.js";
import { h, setChildren } from "./ui.js";

/**
 * Resolve with the stored sign-in {token, user, name, colour, role}, showing the
 * name form inside `container` first if there is none.
 */
export async function ensureSignedIn(container) {
  captureTokenFromUrl();
  let auth = getAuth();
  if (auth && typeof auth.expires === "number" && auth.expires * 1000 < Date.now()) {
    clearAuth(); // an expired guest session: ask for the name again
    auth = null;
  }
  if (auth && (!auth.user || !auth.name)) {
    auth = await describe(auth, container);
  }
  if (auth) {
    showWhoami(auth);
    return auth;
  }
  auth = await askName(container);
  showWhoami(auth);
  return auth;
}

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

function askName(container) {
  return new Promise((resolve) => {
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
      h("h2", { id: "signin-title" }, "Who are you?"),
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
        const who = await api("/api/session", { method: "POST", body: { name } });
        const auth = pick(who);
        if (!auth.token) throw new ApiError(500, "bad_response", "the server sent no token");
        setAuth({ user: null, colour: null, role: null, ...auth, name: auth.name ?? name });
        form.remove();
        resolve(getAuth());
      } catch (exc) {
        if (exc instanceof ApiError && exc.status === 403) {
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
    container.append(form);
    input.focus();
  });
}

/** Fill #whoami with the user's name and a sign-out button. */
export function showWhoami(auth) {
  const el = document.getElementById("whoami");
  if (!el) return;
  const swatch = h("span", { class: "swatch", "aria-hidden": "true" });
  if (auth.colour) swatch.style.background = auth.colour;
  setChildren(
    el,
    swatch,
    h("span", { class: "whoami-name" }, auth.name || auth.user || "signed in"),
    h(
      "button",
      {
        type: "button",
        class: "link-button",
        onclick: () => {
          clearAuth();
          location.reload();
        },
      },
      "Sign out",
    ),
  );
}
