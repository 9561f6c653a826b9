import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  ControlChannel,
  ControlChannelError,
  decodeChallengeEntry,
  encodeChallengeEntry,
  formatWorkerEnv,
  MAX_CONTROL_LINE,
  parseWorkerEnv,
} from "./worker-protocol.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Two channels back to back; every byte also kept as text. */
function pair(handleB: (m: { type: string }) => Promise<unknown> = async () => null) {
  const pushesA: unknown[] = [];
  const pushesB: unknown[] = [];
  const wire: string[] = [];
  const a: ControlChannel = new ControlChannel({
    send: (bytes) => {
      wire.push(dec.decode(bytes));
      b.data(bytes);
    },
    handle: async () => null,
    push: (m) => pushesA.push(m),
  });
  const b: ControlChannel = new ControlChannel({
    send: (bytes) => a.data(bytes),
    handle: handleB,
    push: (m) => pushesB.push(m),
  });
  return { a, b, pushesA, pushesB, wire };
}

describe("ControlChannel", () => {
  test("a request gets the answer with its id, as one JSON line each way", async () => {
    const { a, wire } = pair(async (m) => (m.type === "lookup" ? { found: true } : null));
    assert.deepEqual(await a.request({ type: "lookup", name: "a.example" }), { found: true });
    assert.deepEqual(wire, ['{"type":"lookup","name":"a.example","id":1}\n']);
  });

  test("concurrent requests are matched by id whatever order the answers come in", async () => {
    const waits = new Map<string, (v: unknown) => void>();
    const { a } = pair((m) => new Promise((r) => waits.set((m as unknown as { name: string }).name, r)));
    const x = a.request({ type: "lookup", name: "x" });
    const y = a.request({ type: "lookup", name: "y" });
    waits.get("y")?.("Y");
    waits.get("x")?.("X");
    assert.deepEqual(await Promise.all([x, y]), ["X", "Y"]);
  });

  test("a handler's rejection comes back as a ControlChannelError with its message", async () => {
    const { a } = pair(async () => {
      throw new Error("no such thing");
    });
    await assert.rejects(
      a.request({ type: "metrics" }),
      (e) => e instanceof ControlChannelError && e.message === "no such thing",
    );
  });

  test("pushes have no id and get no answer", () => {
    const { a, pushesB, wire } = pair();
    a.push({ type: "stop", drainMs: 5 });
    assert.deepEqual(pushesB, [{ type: "stop", drainMs: 5 }]);
    assert.deepEqual(wire, ['{"type":"stop","drainMs":5}\n']);
  });

  test("lines split across chunks, and several lines in one chunk, are read whole", () => {
    const pushes: unknown[] = [];
    const c = new ControlChannel({ send() {}, handle: async () => null, push: (m) => pushes.push(m) });
    const bytes = enc.encode('{"type":"forget"}\n{"type":"config","config":{"k":"é"}}\n');
    for (const b of bytes) c.data(Uint8Array.of(b));
    c.data(enc.encode('{"type":"a"}\n\n{"type":"b"}\n'));
    assert.deepEqual(pushes, [
      { type: "forget" },
      { type: "config", config: { k: "é" } },
      { type: "a" },
      { type: "b" },
    ]);
  });

  test("close fails pending requests, and later ones at once", async () => {
    const c = new ControlChannel({ send() {}, handle: async () => null, push() {} });
    const p = c.request({ type: "lookup", name: "a" });
    c.close();
    await assert.rejects(p, ControlChannelError);
    await assert.rejects(c.request({ type: "metrics" }), /closed/);
    assert.equal(c.closed, true);
  });

  test("a line that is not a JSON object, or too long, makes the channel invalid", () => {
    for (const bad of ["nope\n", "[1]\n", "null\n"]) {
      const reasons: string[] = [];
      const c = new ControlChannel({
        send() {},
        handle: async () => null,
        push() {},
        invalid: (r) => reasons.push(r),
      });
      c.data(enc.encode(bad));
      assert.equal(c.closed, true, bad);
      assert.equal(reasons.length, 1);
    }
    const reasons: string[] = [];
    const c = new ControlChannel({
      send() {},
      handle: async () => null,
      push() {},
      invalid: (r) => reasons.push(r),
    });
    c.data(new Uint8Array(MAX_CONTROL_LINE + 1).fill(0x61));
    assert.match(reasons[0] ?? "", /longer than/);
  });

  test("an answer to an unknown id is ignored", () => {
    const c = new ControlChannel({ send() {}, handle: async () => null, push() {} });
    c.data(enc.encode('{"id":99,"ok":true,"value":1}\n'));
    assert.equal(c.closed, false);
  });
});

describe("challenge entries and the worker variable", () => {
  test("entries round-trip through JSON, a never-expiring one as null", () => {
    for (const e of [
      { identifier: "a.example", keyAuthorization: "t.k", expiresAt: 1234 },
      { identifier: "192.0.2.7", keyAuthorization: "t.k", expiresAt: Number.POSITIVE_INFINITY },
    ]) {
      assert.deepEqual(decodeChallengeEntry(JSON.parse(JSON.stringify(encodeChallengeEntry(e)))), e);
    }
    assert.equal(encodeChallengeEntry(undefined), null);
    assert.equal(decodeChallengeEntry(null), undefined);
    assert.throws(() => decodeChallengeEntry({ identifier: 1 }), ControlChannelError);
  });

  test("ALPNMUX_WORKER round-trips and refuses malformed values", () => {
    const w = { worker: 2, port: 40123, token: "abcdefghijklmnopqrstuvwx" };
    assert.deepEqual(parseWorkerEnv(formatWorkerEnv(w)), w);
    for (const bad of [
      "",
      "2:40123",
      "x:1:abcdefghijklmnopqrstuvwx",
      "2:0:abcdefghijklmnopqrstuvwx",
      "2:1:short",
    ]) {
      assert.equal(parseWorkerEnv(bad), null, bad);
    }
  });
});
