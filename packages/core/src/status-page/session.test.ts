import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createSessionValue, SESSION_TTL_MS, verifySessionValue } from "./session.ts";

const TOKEN = "test-token-0123456789abcdef";
const T0 = Date.UTC(2030, 0, 1);

describe("status page session values", () => {
  test("a fresh value is valid until its expiry, then expired", async () => {
    const v = await createSessionValue(TOKEN, { now: T0 });
    assert.equal(await verifySessionValue(TOKEN, v, { now: T0 }), "valid");
    assert.equal(await verifySessionValue(TOKEN, v, { now: T0 + SESSION_TTL_MS - 1 }), "valid");
    assert.equal(await verifySessionValue(TOKEN, v, { now: T0 + SESSION_TTL_MS }), "expired");
  });

  test("ttlMs sets the lifetime", async () => {
    const v = await createSessionValue(TOKEN, { now: T0, ttlMs: 1000 });
    assert.equal(await verifySessionValue(TOKEN, v, { now: T0 + 999 }), "valid");
    assert.equal(await verifySessionValue(TOKEN, v, { now: T0 + 1000 }), "expired");
  });

  test("the value holds neither the token nor anything but the format's characters", async () => {
    const v = await createSessionValue(TOKEN, { now: T0 });
    assert.ok(!v.includes(TOKEN));
    assert.match(v, /^v1\.\d+\.[0-9a-f]{32}\.[0-9a-f]{64}$/);
    assert.notEqual(v, await createSessionValue(TOKEN, { now: T0 }), "a random nonce per login");
  });

  test("another token, a changed expiry, nonce or MAC, or garbage is invalid", async () => {
    const v = await createSessionValue(TOKEN, { now: T0 });
    const [p, exp, nonce, mac] = v.split(".") as [string, string, string, string];
    const flip = (s: string) => (s[0] === "a" ? "b" : "a") + s.slice(1);
    const bad = [
      `${p}.${Number(exp) + 1}.${nonce}.${mac}`,
      `${p}.${exp}.${flip(nonce)}.${mac}`,
      `${p}.${exp}.${nonce}.${flip(mac)}`,
      `v2.${exp}.${nonce}.${mac}`,
      `${v}.`,
      "",
      TOKEN,
    ];
    for (const b of bad) assert.equal(await verifySessionValue(TOKEN, b, { now: T0 }), "invalid", b);
    assert.equal(await verifySessionValue("another-token-0123456789", v, { now: T0 }), "invalid");
    assert.equal(await verifySessionValue(TOKEN, undefined, { now: T0 }), "invalid");
  });
});
