// Registers the service worker (sw.js, served as /sw.js) that keeps the app shell, so
// a page opened once opens again with no server.  Only in a secure context (https, or
// http://localhost / 127.0.0.1), where browsers allow workers; a failure only costs
// opening offline, never the page.

/** Register /sw.js for the whole site; resolves with the registration, or null. */
export async function registerShell(nav = globalThis.navigator) {
  if (!nav?.serviceWorker || globalThis.isSecureContext === false) return null;
  try {
    return await nav.serviceWorker.register("/sw.js", { scope: "/" });
  } catch (exc) {
    console.warn("cowrite: the app cannot be kept for opening offline (no service worker)", exc);
    return null;
  }
}
