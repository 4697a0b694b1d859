// The browser app's entry: the server sends the same bundle to every page, and this
// decides what to render from the path.
import { accountPage, adminPage } from "./account.js";
import { documentsPage } from "./documents.js";
import { editorPage } from "./editor.js";
import { historyPage } from "./history.js";
import { registerShell } from "./offline-shell.js";
import { notice } from "./ui.js";

async function route() {
  const path = location.pathname;
  let m;
  if (path === "/" || path === "/index.html") return documentsPage();
  if (path === "/account") return accountPage();
  if (path === "/admin") return adminPage();
  if ((m = /^\/d\/([^/]+)\/history\/?$/.exec(path))) return historyPage(decodeURIComponent(m[1]));
  if ((m = /^\/d\/([^/]+)\/?$/.exec(path))) return editorPage(decodeURIComponent(m[1]));
  notice(`Nothing here (${path}).`);
  return null;
}

function start() {
  // -- open offline: the service worker that keeps the app shell (offline-shell.js) --
  registerShell();
  // -- end open offline --
  route().catch((exc) => {
    console.error(exc);
    document.getElementById("app")?.removeAttribute("aria-busy");
    notice(`Something went wrong: ${exc?.message ?? exc}`);
  });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
