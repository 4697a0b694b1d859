// The history page (/d/{id}/history): a slider over the document's changes; for the
// selected version the text at it, coloured by who wrote each run (blame), with a
// legend; named versions (label the selected one, jump to one, remove one); a diff
// of the selected version against another (inserted and deleted text marked, by
// author); and Restore, which opens the editor to restore the version as the user's
// own edit (restore.js).  The history lives on the server (this device keeps a
// document's text, not its authors' names or its labels): with the server unreachable
// the page says so, links to the editor (which opens the device's copy), and loads
// itself once the browser is back online.
import { ApiError, api, docPath, withShare } from "./api.js";
import { ensureSignedIn } from "./auth.js";
import { authorColors } from "./colors.js";
import { displayTitle } from "./title.js";
import { ago, h, notice, setChildren } from "./ui.js";

const key = (version) => JSON.stringify(version);

/** Whether `exc` says the server could not be reached (not that it refused). */
const unreachable = (exc) => exc instanceof ApiError && exc.status === 0;
const LOST_SERVER = "The server cannot be reached: the history needs it. Try again once you are back online.";

/**
 * The history was asked for with no server: say that it needs one, offer the editor
 * (the document opens from this device), and load the page again once back online.
 */
function needsServer(main, docId) {
  const editor = withShare(`/d/${docPath(docId)}`);
  main.append(
    h(
      "section",
      { id: "history-offline", class: "notice", role: "status" },
      h("h2", {}, "History needs the server"),
      h(
        "p",
        {},
        "The server cannot be reached right now, and a document's history (its changes, who made them, its named versions) is kept there, not on this device. ",
        "This page loads by itself once you are back online.",
      ),
      h("p", {}, h("a", { href: editor, id: "history-offline-editor" }, "Open the document"), " — it opens from this device if it was opened here before."),
    ),
  );
  globalThis.addEventListener?.("online", () => location.reload(), { once: true });
}

export async function historyPage(docId) {
  const main = document.getElementById("app");
  document.title = `History of ${docId} · cowrite`;
  setChildren(document.getElementById("doc-title"), docId);
  document.getElementById("editor-link")?.setAttribute("href", withShare(`/d/${docPath(docId)}`));
  const me = (await ensureSignedIn(main)).user;
  const base = `/api/docs/${docPath(docId)}`;

  let changes;
  try {
    ({ changes } = await api(withShare(`${base}/history`)));
  } catch (exc) {
    main.removeAttribute("aria-busy");
    if (unreachable(exc)) return needsServer(main, docId);
    notice(exc instanceof ApiError ? (exc.status === 404 ? `There is no document “${docId}”.` : exc.explain()) : String(exc));
    return;
  }
  // the title, and the caller's role: who may not change the document sees no buttons to
  const about = api(withShare(`${base}/title`)).then(
    ({ title, role }) => {
      const shown = displayTitle(docId, title);
      document.title = `History of ${shown} · cowrite`;
      setChildren(document.getElementById("doc-title"), shown);
      return role;
    },
    () => null,
  );

  const heading = h("h2", { id: "history-heading" }, "History");
  if (!changes.length) {
    main.append(heading, h("p", { class: "muted" }, "Nothing has been written in this document yet."));
    main.removeAttribute("aria-busy");
    return;
  }
  // One colour per author for the whole page: distinct, whatever their ids hash to.
  let colours = authorColors(changes.map((c) => c.user ?? c.agent));
  const colourOf = (who) => {
    if (!colours.has(who)) colours = authorColors([...colours.keys(), who]);
    return colours.get(who);
  };

  const slider = h("input", {
    id: "history-slider",
    type: "range",
    min: 1,
    max: changes.length,
    step: 1,
    value: String(changes.length),
    "aria-describedby": "history-info",
  });
  const info = h("p", { id: "history-info", class: "history-info", "aria-live": "polite" });
  const legend = h("ul", { id: "history-legend", class: "legend", "aria-label": "Authors" });
  const text = h("pre", { id: "history-text", class: "history-text", tabindex: "0", "aria-label": "Text at this version" });
  const prev = h("button", { type: "button", "aria-label": "Previous change" }, "◀");
  const next = h("button", { type: "button", "aria-label": "Next change" }, "▶");
  const restoreLink = h("a", { id: "history-restore", class: "button", href: "#", title: "Open the editor and make the text this version again, as your edit (Undo takes it back)" }, "Restore this version");
  const labelInput = h("input", { id: "version-name", type: "text", maxlength: "100", placeholder: "Name this version", "aria-label": "Name for this version" });
  const labelButton = h("button", { id: "version-save", type: "submit" }, "Save name");
  const labelForm = h("form", { class: "version-form", onsubmit: (ev) => (ev.preventDefault(), addLabel()) }, labelInput, labelButton);
  const compare = h("select", { id: "history-compare", "aria-label": "Compare with" });
  const named = h("ul", { id: "named-versions", class: "named-versions", "aria-label": "Named versions" });
  main.append(
    heading,
    h("div", { class: "history-controls" }, h("label", { for: "history-slider" }, "Change"), prev, slider, next),
    info,
    h("div", { class: "history-actions" }, restoreLink, labelForm, h("label", {}, "Compare with ", compare)),
    legend,
    text,
    h("h3", {}, "Named versions"),
    named,
  );
  main.removeAttribute("aria-busy");

  let labels = [];
  let canChange = true; // until the server tells the caller's role
  let current = null; // {version, what}
  let timer = null;
  let request = 0;

  const select = (i) => {
    i = Math.min(changes.length, Math.max(1, i));
    slider.value = String(i);
    const c = changes[i - 1];
    current = { version: c.version, what: describeChange(i) };
    info.textContent = current.what;
    updateRestore();
    clearTimeout(timer);
    timer = setTimeout(() => show(), 120); // dragging: load the last position only
  };
  slider.addEventListener("input", () => select(Number(slider.value)));
  prev.addEventListener("click", () => select(Number(slider.value) - 1));
  next.addEventListener("click", () => select(Number(slider.value) + 1));
  compare.addEventListener("change", () => show());

  function describeChange(i) {
    const c = changes[i - 1];
    const name = c.name || c.user || c.agent;
    const who = c.user && c.user === me ? `${name} (you)` : name;
    const parts = [];
    if (c.inserted) parts.push(`+${c.inserted}`);
    if (c.deleted) parts.push(`−${c.deleted}`);
    const when = typeof c.time === "number" && c.time > 0 ? ago(c.time) : "time unknown";
    const label = labels.find((l) => key(l.version) === key(c.version));
    return `Change ${i} of ${changes.length}: ${who} (${parts.join(" ") || "no change"}), ${when}${label ? ` — “${label.name}”` : ""}`;
  }

  function updateRestore() {
    const url = new URL(withShare(`/d/${docPath(docId)}`), location.href);
    url.searchParams.set("restore", key(current.version));
    restoreLink.setAttribute("href", url.pathname + url.search);
  }

  // -- compare-with choices: the change before, now, each named version --------------
  function fillCompare() {
    const was = compare.value;
    const options = [
      h("option", { value: "" }, "nothing (who wrote what)"),
      h("option", { value: "previous" }, "the change before"),
      h("option", { value: "now" }, "the current version"),
      ...labels.map((l, n) => h("option", { value: `label:${n}` }, `“${l.name}”`)),
    ];
    compare.replaceChildren(...options);
    compare.value = [...compare.options].some((o) => o.value === was) ? was : "";
  }

  /** The two versions to diff, older first ({from, to}), or null: show who wrote what. */
  function compareRange() {
    const v = compare.value;
    if (!v) return null;
    if (v === "now") return { from: current.version, to: changes[changes.length - 1].version };
    if (v === "previous") {
      const i = changes.findIndex((c) => key(c.version) === key(current.version));
      if (i < 0) return null;
      return { from: i > 0 ? changes[i - 1].version : [], to: current.version };
    }
    const l = labels[Number(v.slice(6))];
    if (!l) return null;
    const at = (version) => changes.findIndex((c) => key(c.version) === key(version));
    // a named version later than the one shown: what changed from this one to it
    return at(l.version) > at(current.version) ? { from: current.version, to: l.version } : { from: l.version, to: current.version };
  }

  async function show() {
    const mine = ++request;
    const version = encodeURIComponent(key(current.version));
    const range = compareRange();
    try {
      if (range !== null) {
        // older first: the diff reads as what happened from one to the other
        const q = `from=${encodeURIComponent(key(range.from))}&to=${encodeURIComponent(key(range.to))}`;
        const body = await api(withShare(`${base}/diff?${q}`));
        if (mine !== request) return;
        notice(null);
        renderDiff(body.spans ?? []);
        return;
      }
      const [body, blame] = await Promise.all([
        api(withShare(`${base}/text?version=${version}`), { as: "text" }),
        api(withShare(`${base}/blame?version=${version}`)).catch((exc) => {
          console.warn("cowrite: no blame", exc);
          return { runs: [] };
        }),
      ]);
      if (mine !== request) return; // a later selection is on its way
      notice(null);
      render(body, blame.runs ?? []);
    } catch (exc) {
      if (mine !== request) return;
      notice(unreachable(exc) ? LOST_SERVER : exc instanceof ApiError ? exc.explain() : String(exc));
    }
  }

  function authorSpan(tag, cls, piece, run, authors) {
    if (!run || (!run.user && !run.agent)) return tag === "span" ? document.createTextNode(piece) : h(tag, { class: cls }, piece);
    const who = run.user ?? run.agent; // colours and the legend go by user
    const name = run.name || who;
    const colour = colourOf(who);
    if (!authors.has(who)) authors.set(who, { colour, name, agents: new Set() });
    authors.get(who).agents.add(run.agent);
    const span = h(tag, { class: cls, title: `${name} (${run.agent})`, dataset: { user: who } }, piece);
    span.style.setProperty("--cw-c", colour);
    return span;
  }

  function render(body, runs) {
    const authors = new Map();
    text.dataset.mode = "blame";
    text.replaceChildren(...colourRuns(body, runs).map(({ piece, run }) => authorSpan("span", "blame", piece, run, authors)));
    showLegend(authors);
  }

  function renderDiff(spans) {
    const authors = new Map();
    const tags = { same: ["span", "blame"], insert: ["ins", "diff-ins"], delete: ["del", "diff-del"] };
    text.dataset.mode = "diff";
    text.replaceChildren(
      ...spans.map((s) => {
        const [tag, cls] = tags[s.kind] ?? tags.same;
        const el = authorSpan(tag, cls, s.text, s, authors);
        if (s.kind !== "same" && el instanceof Element) el.dataset.kind = s.kind;
        return el;
      }),
    );
    showLegend(authors);
  }

  function showLegend(authors) {
    setChildren(
      legend,
      [...authors].map(([who, { colour, name, agents }]) => {
        const swatch = h("span", { class: "swatch", "aria-hidden": "true" });
        swatch.style.background = colour;
        const label = who === me ? `${name} (you)` : name;
        return h("li", { title: `${who}: ${[...agents].join(", ")}`, dataset: { user: who } }, swatch, label);
      }),
    );
  }

  // -- named versions ----------------------------------------------------------------
  async function loadLabels() {
    try {
      labels = (await api(withShare(`${base}/versions`))).versions ?? [];
    } catch (exc) {
      console.warn("cowrite: no named versions", exc);
      labels = [];
    }
    fillCompare();
    showLabels();
    if (current) info.textContent = describeCurrent();
  }

  function describeCurrent() {
    const i = changes.findIndex((c) => key(c.version) === key(current.version));
    return i >= 0 ? describeChange(i + 1) : current.what;
  }

  function showLabels() {
    if (!labels.length) {
      setChildren(named, h("li", { class: "muted" }, "No named versions yet: select a change and give it a name."));
      return;
    }
    setChildren(
      named,
      labels.map((l) => {
        const by = l.created_by_name || l.created_by;
        const jump = h("button", { type: "button", class: "version-jump", onclick: () => jumpTo(l) }, l.name);
        const remove = h("button", { type: "button", class: "version-delete", "aria-label": `Remove the name “${l.name}”`, onclick: () => removeLabel(l) }, "✕");
        return h("li", { dataset: { name: l.name } }, jump, h("span", { class: "muted" }, ` by ${by === me ? "you" : by}, ${ago(l.created_at)} `), canChange ? remove : null);
      }),
    );
  }

  function jumpTo(label) {
    const i = changes.findIndex((c) => key(c.version) === key(label.version));
    if (i >= 0) {
      select(i + 1);
      return;
    }
    // a version no single change ends at (e.g. after concurrent edits): shown as it is
    current = { version: label.version, what: `Named version “${label.name}”` };
    info.textContent = current.what;
    updateRestore();
    show();
  }

  async function addLabel() {
    const name = labelInput.value.trim();
    if (!name || !current) return;
    try {
      await api(withShare(`${base}/versions`), { method: "POST", body: { name, version: current.version } });
      labelInput.value = "";
      notice(`This version is now named “${name}”.`, "info");
    } catch (exc) {
      notice(exc instanceof ApiError ? (exc.status === 409 ? `There is a version named “${name}” already.` : exc.explain()) : String(exc));
    }
    await loadLabels();
  }

  async function removeLabel(label) {
    try {
      await api(withShare(`${base}/versions/${encodeURIComponent(label.name)}`), { method: "DELETE" });
    } catch (exc) {
      notice(exc instanceof ApiError ? exc.explain() : String(exc));
    }
    await loadLabels();
  }

  fillCompare();
  select(changes.length);
  const role = await about;
  if (role !== null && role !== "owner" && role !== "editor") {
    document.body.classList.add("read-only");
    restoreLink.hidden = true;
    labelForm.hidden = true;
  }
  canChange = role === null || role === "owner" || role === "editor";
  await loadLabels();
}

/**
 * Split `text` into pieces by blame runs (code-point offsets), in order: {piece, run}
 * (run null for text no run covers).
 */
export function colourRuns(text, runs) {
  const points = Array.from(text);
  const sorted = [...runs].filter((r) => r.end > r.start).sort((a, b) => a.start - b.start);
  const out = [];
  let at = 0;
  for (const run of sorted) {
    const start = Math.max(at, Math.min(run.start, points.length));
    const end = Math.min(run.end, points.length);
    if (start > at) out.push({ piece: points.slice(at, start).join(""), run: null });
    if (end > start) out.push({ piece: points.slice(start, end).join(""), run });
    at = Math.max(at, end);
  }
  if (at < points.length) out.push({ piece: points.slice(at).join(""), run: null });
  return out;
}
