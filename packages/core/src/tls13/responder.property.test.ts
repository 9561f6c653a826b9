import "reflect-metadata";
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import fc from "fast-check";
import { records, TestClient } from "../../testing/tls13-client.ts";
import { concat } from "../bytes.ts";
import { type ChallengeCertificate, createChallengeCertificate } from "../challenge-cert.ts";
import { createChallengeResponder, type ResponderOutput } from "./responder.ts";

// Property: whatever a client sends, at any point of the handshake, the responder answers
// by the protocol rules. It never rejects, and it never takes the internal-error path (an
// exception that was not a protocol decision, turned into internal_error): that path means a
// bug, and a fuzz test that accepted any alert would hide it.

let cert: ChallengeCertificate;
before(async () => {
  cert = await createChallengeCertificate({ identifier: "a.example.test", keyAuthorization: "t.k", crypto });
});

type Mutation =
  | { readonly op: "flip"; readonly at: number; readonly bit: number }
  | { readonly op: "set"; readonly at: number; readonly value: number }
  | { readonly op: "truncate"; readonly at: number }
  | { readonly op: "insert"; readonly at: number; readonly bytes: Uint8Array }
  | { readonly op: "record"; readonly at: number; readonly type: number; readonly body: Uint8Array }
  | { readonly op: "drop"; readonly at: number; readonly length: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant("set" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("insert" as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 48 }) }),
  fc.record({
    op: fc.constant("record" as const),
    at: fc.nat(),
    type: fc.integer({ min: 20, max: 23 }),
    body: fc.oneof(fc.constant(Uint8Array.of(1)), fc.uint8Array({ maxLength: 48 })),
  }),
  fc.record({ op: fc.constant("drop" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }),
);

function mutate(b: Uint8Array, m: Mutation): Uint8Array {
  const at = b.length === 0 ? 0 : m.at % b.length;
  const out = b.slice();
  switch (m.op) {
    case "flip":
      if (out.length > 0) out[at] = (out[at] as number) ^ (1 << m.bit);
      return out;
    case "set":
      if (out.length > 0) out[at] = m.value;
      return out;
    case "truncate":
      return out.subarray(0, at);
    case "insert":
      return concat(out.subarray(0, at), m.bytes, out.subarray(at));
    case "record": {
      const rec = concat(Uint8Array.of(m.type, 3, 3, m.body.length >> 8, m.body.length & 0xff), m.body);
      return concat(out.subarray(0, at), rec, out.subarray(at));
    }
    case "drop":
      return concat(out.subarray(0, at), out.subarray(at + m.length));
  }
}

const scenario = fc.record({
  keyShareGroups: fc.constantFrom([0x1d], [0x17], [0x18], [0x17, 0x1d]),
  compat: fc.boolean(),
  earlyData: fc.boolean(),
  helloRecordSize: fc.constantFrom(16384, 100, 7),
  /** Which client flight to damage: 0 the hello, 1 the next (Finished, or ClientHello2). */
  step: fc.integer({ min: 0, max: 2 }),
  mutations: fc.array(mutation, { minLength: 1, maxLength: 3 }),
  chunk: fc.constantFrom(0, 1, 5, 64),
});

function check(out: ResponderOutput, what: string): void {
  if (out.outcome?.type !== "alert-sent") return;
  const o = out.outcome;
  assert.equal(o.internal, undefined, `${what}: internal-error path taken: ${o.reason}`);
  assert.notEqual(o.alert, 80, `${what}: internal_error for client input: ${o.reason}`);
}

describe("createChallengeResponder() on damaged client flights (fast-check)", () => {
  test("never rejects and never answers client input with the internal-error path", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const r = createChallengeResponder({
          crypto,
          getCertificate: (name) => (name === "a.example.test" ? cert : undefined),
        });
        const c = await TestClient.create({
          crypto,
          keyShareGroups: s.keyShareGroups,
          supportedGroups: [0x18, 0x1d, 0x17],
          sessionId: s.compat ? crypto.getRandomValues(new Uint8Array(32)) : new Uint8Array(0),
          earlyData: s.earlyData,
        });
        c.hello();
        let toServer: Uint8Array = records(22, c.helloMessage, s.helloRecordSize);
        for (let step = 0; step < 4 && toServer.length > 0; step++) {
          if (step === s.step) for (const m of s.mutations) toServer = mutate(toServer, m);
          const writes: Uint8Array[] = [];
          const parts: Uint8Array[] = [];
          for (let i = 0; i < toServer.length; i += s.chunk || toServer.length) {
            parts.push(toServer.subarray(i, i + (s.chunk || toServer.length)));
          }
          let done = false;
          for (const part of parts) {
            const out = await r.receive(part);
            check(out, `step ${step}`);
            writes.push(out.write);
            if (out.done) {
              done = true;
              break;
            }
          }
          if (done) return;
          try {
            toServer = await c.receive(concat(...writes));
          } catch {
            return; // the test client gave up on a conversation its damaged bytes confused
          }
        }
      }),
      { numRuns: 250 },
    );
  });
});
