// The history page (/d/{id}/history): a slider over the document's changes; for the
// selected change the text at that version, coloured by who wrote each run (blame),
// with a legend.
import { ApiError, api, docPath } from "./api.js";
import { ensureSignedIn } from "./auth.js";
import { ago, colourFor, h, notice, setChildren } from "./ui.js";

export async function historyPage(docId) {
  const main = document.getElementById("app");
  document.title = `History of ${docId} · cowrite`;
  setChildren(document.getElementById("doc-title"), docId);
  document.getElementById("editor-link")?.setAttribute("href", `/d/${docPath(docId)}`);
  const me = (await ensureSignedIn(main)).user;

  let changes;
  try {
    ({ changes } = await api(`/api/docs/${docPath(docId)}/history`));
  } catch (exc) {
    main.removeAttribute("aria-busy");
    notice(exc instanceof ApiError ? (exc.status === 404 ? `There is no document “${docId}”.` : exc.explain()) : String(exc));
    return;
  }

  const heading = h("h2", { id: "history-heading" }, "History");
  if (!changes.length) {
    main.append(heading, h("p", { class: "muted" }, "Nothing has been written in this document yet."));
    main.removeAttribute("aria-busy");
    return;
  }
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
  const text = h("pre", { id: "history-text", class: "history-text", tabindex: "0", "aria-label": "Text at this change" });
  const prev = h("button", { type: "button", "aria-label": "Previous change" }, "◀");
  const next = h("button", { type: "button", "aria-label": "Next change" }, "▶");
  main.append(
    heading,
    h(
      "div",
      { class: "history-controls" },
      h("label", { for: "history-slider" }, "Change"),
      prev,
      slider,
      next,
    ),
    info,
    legend,
    text,
  );
  main.removeAttribute("aria-busy");

  let shown = -1;
  let timer = null;
  let request = 0;
  const select = (i) => {
    i = Math.min(changes.length, Math.max(1, i));
    slider.value = String(i);
    describe(i);
    clearTimeout(timer);
    timer = setTimeout(() => show(i), 120); // dragging: load the last position only
  };
  slider.addEventListener("input", () => select(Number(slider.value)));
  prev.addEventListener("click", () => select(Number(slider.value) - 1));
  next.addEventListener("click", () => select(Number(slider.value) + 1));

  function describe(i) {
    const c = changes[i - 1];
    const name = c.name || c.user || c.agent;
    const who = c.user && c.user === me ? `${name} (you)` : name;
    const parts = [];
    if (c.inserted) parts.push(`+${c.inserted}`);
    if (c.deleted) parts.push(`−${c.deleted}`);
    const when = typeof c.time === "number" && c.time > 0 ? ago(c.time) : "time unknown";
    info.textContent = `Change ${i} of ${changes.length}: ${who} (${parts.join(" ") || "no change"}), ${when}`;
  }

  async function show(i) {
    if (i === shown) return;
    const mine = ++request;
    const version = encodeURIComponent(JSON.stringify(changes[i - 1].version));
    try {
      const [body, blame] = await Promise.all([
        api(`/api/docs/${docPath(docId)}/text?version=${version}`, { as: "text" }),
        api(`/api/docs/${docPath(docId)}/blame?version=${version}`).catch((exc) => {
          console.warn("cowrite: no blame", exc);
          return { runs: [] };
        }),
      ]);
      if (mine !== request) return; // a later selection is on its way
      shown = i;
      notice(null);
      render(body, blame.runs ?? []);
    } catch (exc) {
      if (mine !== request) return;
      notice(exc instanceof ApiError ? exc.explain() : String(exc));
    }
  }

  function render(body, runs) {
    const spans = colourRuns(body, runs);
    const authors = new Map();
    text.replaceChildren(
      ...spans.map(({ piece, run }) => {
        if (!run) return document.createTextNode(piece);
        const who = run.user ?? run.agent; // colours and the legend go by user
        const name = run.name || who;
        const colour = colourFor(who);
        if (!authors.has(who)) authors.set(who, { colour, name, agents: new Set() });
        authors.get(who).agents.add(run.agent);
        const span = h("span", { class: "blame", title: `${name} (${run.agent})`, dataset: { user: who } }, piece);
        span.style.setProperty("--cw-c", colour);
        return span;
      }),
    );
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

  select(changes.length);
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
