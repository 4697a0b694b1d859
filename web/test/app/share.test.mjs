// The share dialog's addresses and the page's share key: a share link carries its key
// (?share=), an invite link its code (?join=), both percent-encoded; every request of a
// page opened by a share link carries the key, and nothing else is touched.
import { test } from "node:test";
import assert from "node:assert/strict";
import { shareKey, withShare } from "../../src/app/api.js";
import { inviteLink, shareLink } from "../../src/app/share.js";

const win = (href) => ({ location: { href } });

test("share and invite links are made of the document id and the key, encoded", () => {
  assert.equal(shareLink("notes", "k-1_2", "http://h:8000/d/notes"), "http://h:8000/d/notes?share=k-1_2");
  assert.equal(inviteLink("a.b", "c&d=e", "http://h/"), "http://h/d/a.b?join=c%26d%3De");
  assert.equal(shareLink("x", "<script>", "http://h/"), "http://h/d/x?share=%3Cscript%3E");
});

test("the page's share key is read from ?share= and bounded", () => {
  assert.equal(shareKey(win("http://h/d/x?share=abc")), "abc");
  assert.equal(shareKey(win("http://h/d/x")), null);
  assert.equal(shareKey(win(`http://h/d/x?share=${"k".repeat(300)}`)), null);
});

test("withShare adds the key to a path, with ? or &", () => {
  assert.equal(withShare("/api/docs/x/snapshot", "k"), "/api/docs/x/snapshot?share=k");
  assert.equal(withShare("ws://h/ws/x?token=t", "a b"), "ws://h/ws/x?token=t&share=a%20b");
  assert.equal(withShare("/api/docs/x", null), "/api/docs/x");
});
