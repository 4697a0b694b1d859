// Small DOM helpers.  Everything is built with createElement/textContent (never
// innerHTML), so names and ids from the server cannot inject markup, and nothing
// needs inline styles or scripts (the server's CSP forbids them).

/**
 * h("button", {class: "x", type: "button", onclick: fn}, "text", child...)
 * Attributes starting with "on" become event listeners; `hidden`, `disabled`,
 * `checked`, `value` are set as properties; null/false attributes are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "hidden" || name === "disabled" || name === "checked" || name === "value") {
      el[name] = value;
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Replace the children of `el`. */
export function setChildren(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** Show `message` in the page's #notice box (kind: "error" | "info"), or hide it when null. */
export function notice(message, kind = "error", extra = null) {
  const box = document.getElementById("notice");
  if (!box) {
    if (message) console.error(message);
    return;
  }
  if (!message) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  box.className = `notice ${kind}`;
  box.hidden = false;
  setChildren(box, h("p", {}, message), extra);
}

/** "3 minutes ago"-style text for a Unix time in seconds. */
export function ago(seconds, now = Date.now() / 1000) {
  const d = Math.max(0, Math.round(now - seconds));
  if (d < 45) return "just now";
  if (d < 90) return "a minute ago";
  if (d < 3600) return `${Math.round(d / 60)} minutes ago`;
  if (d < 5400) return "an hour ago";
  if (d < 86400) return `${Math.round(d / 3600)} hours ago`;
  return new Date(seconds * 1000).toLocaleString();
}

/** Copy text to the clipboard; false if the browser would not. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

/** A colour safe to put into CSS: #rgb/#rrggbb(aa) or a plain hsl()/rgb(); otherwise `fallback`. */
export function safeColour(colour, fallback) {
  if (typeof colour === "string") {
    const c = colour.trim();
    if (/^#([0-9a-f]{3}|[0-9a-f]{4}|[0-9a-f]{6}|[0-9a-f]{8})$/i.test(c)) return c;
    if (/^(rgb|hsl)a?\(\s*[0-9.,%\s/]+\)$/i.test(c)) return c;
  }
  return fallback;
}

/** A readable colour derived from a string (for users who sent none). */
export function colourFor(name) {
  let hash = 2166136261;
  for (let i = 0; i < name.length; i++) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, 16777619);
  }
  const hue = (hash >>> 0) % 360;
  return `hsl(${hue}, 65%, 40%)`;
}
