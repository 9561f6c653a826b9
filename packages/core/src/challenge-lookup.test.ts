import assert from "node:assert/strict";
import { test } from "node:test";
import { ChallengeLookup, ChallengeLookupBusyError } from "./challenge-lookup.ts";

function counting(answer: (name: string) => string | undefined) {
  const calls: string[] = [];
  const waiting: (() => void)[] = [];
  const fetch = (name: string) => {
    calls.push(name);
    return new Promise<string | undefined>((r) => waiting.push(() => r(answer(name))));
  };
  return {
    calls,
    fetch,
    release: () => {
      for (const w of waiting.splice(0)) w();
    },
  };
}

test("ChallengeLookup: concurrent lookups of one name share one store request", async () => {
  const f = counting(() => "cert");
  const l = new ChallengeLookup({ fetch: f.fetch });
  const all = Promise.all([l.get("a"), l.get("a"), l.get("a")]);
  f.release();
  assert.deepEqual(await all, ["cert", "cert", "cert"]);
  assert.deepEqual(f.calls, ["a"]);
  const again = l.get("a"); // found answers are not cached: the store may change
  f.release();
  await again;
  assert.equal(f.calls.length, 2);
});

test("ChallengeLookup: a miss is remembered for the TTL, forget() ends that at once", async () => {
  let now = 0;
  const f = counting(() => undefined);
  const l = new ChallengeLookup({ fetch: f.fetch, negativeTtlMs: 500, now: () => now });
  const first = l.get("a");
  f.release();
  assert.equal(await first, undefined);
  assert.equal(await l.get("a"), undefined);
  assert.equal(f.calls.length, 1);
  now = 499;
  assert.equal(await l.get("a"), undefined);
  assert.equal(f.calls.length, 1);
  now = 500;
  const expired = l.get("a");
  f.release();
  await expired;
  assert.equal(f.calls.length, 2);
  l.forget();
  const afresh = l.get("a");
  f.release();
  await afresh;
  assert.equal(f.calls.length, 3);
});

test("ChallengeLookup: beyond maxConcurrent store requests a lookup fails at once; a store error is passed on", async () => {
  const f = counting(() => "x");
  const l = new ChallengeLookup({ fetch: f.fetch, maxConcurrent: 2 });
  const a = l.get("a");
  const b = l.get("b");
  await assert.rejects(l.get("c"), ChallengeLookupBusyError);
  f.release();
  await Promise.all([a, b]);
  const failing = new ChallengeLookup<string>({ fetch: () => Promise.reject(new Error("down")) });
  await assert.rejects(failing.get("a"), /down/);
  await assert.rejects(failing.get("a"), /down/, "errors are not cached");
});
