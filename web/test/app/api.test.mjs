// The headers every API call carries: a token when there is one, else (signed in by
// the session cookie) the CSRF token on unsafe requests only.
import { test } from "node:test";
import assert from "node:assert/strict";
import { getAccount, requestHeaders, setAccount } from "../../src/app/api.js";

test("a token is sent as Bearer and no CSRF token goes with it", () => {
  const h = requestHeaders({ method: "POST", body: {}, token: "t0k", csrf: "c5rf" });
  assert.deepEqual(h, { Authorization: "Bearer t0k", "Content-Type": "application/json" });
});

test("signed in by cookie, every unsafe method carries X-CSRF-Token", () => {
  for (const method of ["POST", "PUT", "PATCH", "DELETE", "delete"]) {
    assert.equal(requestHeaders({ method, csrf: "c5rf" })["X-CSRF-Token"], "c5rf", method);
  }
});

test("safe methods carry no CSRF token (nothing to leak into logs or caches)", () => {
  for (const method of ["GET", "HEAD", "OPTIONS"]) {
    assert.deepEqual(requestHeaders({ method, csrf: "c5rf" }), {}, method);
  }
});

test("without a token or a session nothing is added but the content type of a body", () => {
  assert.deepEqual(requestHeaders({ method: "POST", body: { name: "Ada" } }), { "Content-Type": "application/json" });
  assert.deepEqual(requestHeaders({ method: "POST", token: "" }), {});
});

test("the account is kept in memory and marked as an account", () => {
  setAccount({ user: "ada", name: "Ada", csrf_token: "c5rf" });
  assert.deepEqual(getAccount(), { user: "ada", name: "Ada", csrf_token: "c5rf", account: true });
  setAccount(null);
  assert.equal(getAccount(), null);
});
