// A walk of linked pages refuses a page it already read, and a page past its cap.
import assert from "node:assert/strict";
import { PageWalk, PageWalkError } from "./page_walk.ts";

const url = (page: string) => new URL(`https://api.pluggy.ai/v2/transactions?after=${page}`);

function refusal(walk: PageWalk, at: URL): PageWalkError {
  try {
    walk.fetching(at);
  } catch (err) {
    assert.ok(err instanceof PageWalkError);
    return err;
  }
  assert.fail("expected a PageWalkError");
}

Deno.test("a link back to any page the walk read is a page_cycle, not only the current one", () => {
  const walk = new PageWalk("op", 100);
  walk.fetching(url("a"));
  walk.fetching(url("b"));
  walk.fetching(url("c"));
  const err = refusal(walk, url("a"));
  assert.equal(err.reason, "page_cycle");
  assert.match(err.message, /^op: /);
});

Deno.test("the cap counts the pages earlier attempts read", () => {
  const fresh = new PageWalk("op", 3);
  for (const page of ["a", "b", "c"]) fresh.fetching(url(page));
  assert.equal(refusal(fresh, url("d")).reason, "too_many_pages");
  const resumed = new PageWalk("op", 3, 2);
  resumed.fetching(url("c"));
  assert.equal(refusal(resumed, url("d")).reason, "too_many_pages");
});
