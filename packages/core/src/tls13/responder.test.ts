import "reflect-metadata";
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import * as x509 from "@peculiar/x509";
import { records, TestClient, type TestClientOptions } from "../../testing/tls13-client.ts";
import { concat } from "../bytes.ts";
import { type ChallengeCertificate, createChallengeCertificate } from "../challenge-cert.ts";
import { createChallengeResponder, type ResponderOutput } from "./responder.ts";

let cert: ChallengeCertificate;
before(async () => {
  cert = await createChallengeCertificate({
    identifier: "a.example.test",
    keyAuthorization: "tok.thumb",
    crypto,
  });
});

const lookup = async (name: string | null) => (name === "a.example.test" ? cert : undefined);
const responder = () => createChallengeResponder({ crypto, getCertificate: lookup });
const client = (o: Omit<TestClientOptions, "crypto"> = {}) => TestClient.create({ crypto, ...o });

function chunks(b: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
  return out;
}

/** Runs client and responder against each other; returns the responder's final output. */
async function run(
  r: ReturnType<typeof responder>,
  c: TestClient,
  split = 0,
): Promise<ResponderOutput & { rounds: number }> {
  let toServer: Uint8Array = c.hello();
  for (let rounds = 1; rounds < 8; rounds++) {
    const writes: Uint8Array[] = [];
    let last: ResponderOutput = { write: new Uint8Array(0), done: false };
    for (const part of split > 0 ? chunks(toServer, split) : [toServer]) {
      last = await r.receive(part);
      writes.push(last.write);
      if (last.done) break;
    }
    toServer = await c.receive(concat(...writes));
    if (last.done) return { ...last, rounds };
    if (toServer.length === 0) return { ...last, rounds };
  }
  throw new Error("no end");
}

const PLAINTEXT_ALERT = (d: number) => [21, 3, 3, 0, 2, 2, d];

async function verifySignature(c: TestClient): Promise<boolean> {
  const cv = c.certificateVerify;
  assert.ok(cv !== undefined && c.certDer !== undefined);
  const pub = await new x509.X509Certificate(c.certDer.slice()).publicKey.export(
    { name: "ECDSA", namedCurve: "P-256" },
    ["verify"],
    crypto,
  );
  const raw = new Uint8Array(64);
  let i = 2;
  for (const half of [0, 32]) {
    const len = cv.signature[i + 1] as number;
    let v = cv.signature.subarray(i + 2, i + 2 + len);
    if (v[0] === 0) v = v.subarray(1);
    raw.set(v, half + 32 - v.length);
    i += 2 + len;
  }
  const tbs = concat(
    new Uint8Array(64).fill(32),
    new TextEncoder().encode("TLS 1.3, server CertificateVerify"),
    new Uint8Array(1),
    cv.transcriptHash,
  );
  return crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, pub, raw, tbs);
}

describe("createChallengeResponder() completes handshakes", () => {
  test("x25519, compatibility mode: ALPN acme-tls/1, the challenge cert, a valid signature, close_notify", async () => {
    const r = responder();
    const c = await client();
    const out = await run(r, c);
    assert.deepEqual(out.outcome, {
      type: "completed",
      serverName: "a.example.test",
      group: 0x1d,
      helloRetry: false,
    });
    assert.equal(out.done, true);
    assert.equal(c.alpn, "acme-tls/1");
    assert.deepEqual(c.certDer, cert.certDer);
    assert.equal(c.serverFinishedOk, true);
    assert.equal(c.closeNotify, true);
    assert.equal(c.alert, undefined);
    assert.equal(c.ccsCount, 1);
    assert.equal(c.certificateVerify?.scheme, 0x0403);
    assert.equal(await verifySignature(c), true);
    assert.equal(r.serverName, "a.example.test");
    assert.deepEqual(await r.receive(Uint8Array.of(23, 3, 3)), { write: new Uint8Array(0), done: true });
  });

  test("secp256r1 share, no session id: no ChangeCipherSpec", async () => {
    const c = await client({ keyShareGroups: [0x17], sessionId: new Uint8Array(0) });
    const out = await run(responder(), c);
    assert.equal(out.outcome?.type, "completed");
    assert.equal(c.group, 0x17);
    assert.equal(c.ccsCount, 0);
    assert.deepEqual(c.echoedSessionId, new Uint8Array(0));
  });

  test("HelloRetryRequest when no usable share is offered (secp384r1 share → secp256r1)", async () => {
    const c = await client({ keyShareGroups: [0x18], supportedGroups: [0x18, 0x17] });
    const out = await run(responder(), c);
    assert.deepEqual(out.outcome, {
      type: "completed",
      serverName: "a.example.test",
      group: 0x17,
      helloRetry: true,
    });
    assert.equal(c.helloRetryGroup, 0x17);
    assert.equal(c.ccsCount, 1);
    assert.equal(c.closeNotify, true);
  });

  test("HelloRetryRequest picks x25519 for a post-quantum-only share", async () => {
    const c = await client({
      keyShareGroups: [0x11ec],
      supportedGroups: [0x11ec, 0x1d, 0x17],
      sessionId: new Uint8Array(0),
    });
    const out = await run(responder(), c);
    assert.equal(out.outcome?.type, "completed");
    assert.equal(c.helloRetryGroup, 0x1d);
    assert.equal(c.ccsCount, 0);
  });

  test("x25519 is preferred when both shares are sent", async () => {
    const c = await client({ keyShareGroups: [0x17, 0x1d] });
    await run(responder(), c);
    assert.equal(c.group, 0x1d);
  });

  test("client bytes fed one at a time", async () => {
    const c = await client();
    const out = await run(responder(), c, 1);
    assert.equal(out.outcome?.type, "completed");
  });

  test("a hello spread over many small records", async () => {
    const r = responder();
    const c = await client();
    c.hello();
    const out = await r.receive(records(22, c.helloMessage, 37));
    const fin = await c.receive(out.write);
    const end = await r.receive(fin);
    assert.equal(end.outcome?.type, "completed");
  });

  test("concurrent receive() calls are processed in order", async () => {
    const r = responder();
    const c = await client();
    const outs = await Promise.all(chunks(c.hello(), 7).map((p) => r.receive(p)));
    const fin = await c.receive(concat(...outs.map((o) => o.write)));
    const end = await r.receive(fin);
    assert.equal(end.outcome?.type, "completed");
  });

  test("rejected 0-RTT records are skipped", async () => {
    const r = responder();
    const c = await client({ earlyData: true });
    const first = await r.receive(
      concat(c.hello(), Uint8Array.of(20, 3, 3, 0, 1, 1), Uint8Array.of(23, 3, 3, 0, 40), new Uint8Array(40)),
    );
    const fin = await c.receive(first.write);
    const end = await r.receive(fin);
    assert.equal(end.outcome?.type, "completed");
  });

  test("an IP identifier's reverse name is passed to getCertificate", async () => {
    const names: (string | null)[] = [];
    const r = createChallengeResponder({
      crypto,
      getCertificate: (n) => {
        names.push(n);
        return cert;
      },
    });
    await run(r, await client({ serverName: "1.0.0.127.in-addr.arpa" }));
    assert.deepEqual(names, ["1.0.0.127.in-addr.arpa"]);
  });
});

describe("createChallengeResponder() answers hostile or unsupported clients with one alert", () => {
  const cases: [string, Omit<TestClientOptions, "crypto">, number][] = [
    ["no acme-tls/1 in ALPN", { alpn: ["h2", "http/1.1"] }, 120],
    ["no ALPN at all", { alpn: null }, 120],
    ["no supported_versions (TLS 1.2 client)", { versions: null }, 70],
    ["only TLS 1.2 in supported_versions", { versions: [0x0303] }, 70],
    ["no TLS_AES_128_GCM_SHA256", { cipherSuites: [0x1302, 0x1303] }, 40],
    ["no ecdsa_secp256r1_sha256", { signatureAlgorithms: [0x0804, 0x0807] }, 40],
    ["no signature_algorithms", { signatureAlgorithms: null }, 109],
    ["no supported_groups", { supportedGroups: null }, 109],
    ["no common group", { keyShareGroups: [0x18], supportedGroups: [0x18] }, 40],
    ["unknown server name", { serverName: "b.example.test" }, 112],
    ["no server name", { serverName: null }, 112],
  ];
  for (const [name, options, alert] of cases) {
    test(`${name} → alert ${alert}, no certificate sent`, async () => {
      const r = responder();
      const c = await client(options);
      const out = await r.receive(c.hello());
      assert.deepEqual([...out.write], PLAINTEXT_ALERT(alert));
      assert.equal(out.done, true);
      assert.equal(out.outcome?.type, "alert-sent");
      assert.equal(out.outcome?.type === "alert-sent" && out.outcome.alert, alert);
    });
  }

  test("getCertificate throwing → internal_error (80)", async () => {
    const r = createChallengeResponder({
      crypto,
      getCertificate: () => {
        throw new Error("store down");
      },
    });
    const out = await r.receive((await client()).hello());
    assert.deepEqual([...out.write], PLAINTEXT_ALERT(80));
    assert.equal(out.outcome?.type === "alert-sent" && out.outcome.internal, undefined);
  });

  test("an unexpected exception (here WebCrypto's sign failing) → internal_error (80), internal: true", async () => {
    const subtle = new Proxy(crypto.subtle, {
      get: (target, key) =>
        key === "sign"
          ? () => Promise.reject(new TypeError("sign is broken"))
          : (Reflect.get(target, key) as (...a: unknown[]) => unknown).bind(target),
    });
    const broken = {
      getRandomValues: (a: Uint8Array<ArrayBuffer>) => crypto.getRandomValues(a),
      subtle,
    } as Crypto;
    const r = createChallengeResponder({ crypto: broken, getCertificate: lookup });
    const out = await r.receive((await client()).hello());
    assert.deepEqual([...out.write], PLAINTEXT_ALERT(80));
    assert.equal(out.outcome?.type === "alert-sent" && out.outcome.internal, true);
    assert.match(out.outcome?.type === "alert-sent" ? out.outcome.reason : "", /sign is broken/);
  });

  test("wrong client Finished → decrypt_error (51), protected with the application key", async () => {
    const c = await client({ corruptFinished: true });
    const out = await run(responder(), c);
    assert.equal(out.outcome?.type === "alert-sent" && out.outcome.alert, 51);
    assert.equal(c.alert, 51);
    assert.equal(c.closeNotify, false);
  });

  test("second ClientHello in plaintext or protected → unexpected_message (10)", async () => {
    for (const protectedHello of [false, true]) {
      const r = responder();
      const c = await client({ withholdFinished: true });
      const first = await r.receive(c.hello());
      await c.receive(first.write);
      const again = protectedHello ? await c.sealHandshake(22, c.helloMessage) : records(22, c.helloMessage);
      const out = await r.receive(again);
      assert.equal(out.outcome?.type === "alert-sent" && out.outcome.alert, 10);
      await c.receive(out.write);
      assert.equal(c.alert, 10);
    }
  });

  test("a garbage protected record → bad_record_mac (20)", async () => {
    const r = responder();
    const c = await client();
    await c.receive((await r.receive(c.hello())).write);
    const out = await r.receive(concat(Uint8Array.of(23, 3, 3, 0, 40), new Uint8Array(40)));
    assert.equal(out.outcome?.type === "alert-sent" && out.outcome.alert, 20);
  });

  test("oversized records → record_overflow (22)", async () => {
    const big = await responder().receive(concat(Uint8Array.of(22, 3, 1, 0x40, 0x01), new Uint8Array(16385)));
    assert.deepEqual([...big.write], PLAINTEXT_ALERT(22));
    const r = responder();
    const c = await client();
    await c.receive((await r.receive(c.hello())).write);
    const out = await r.receive(Uint8Array.of(23, 3, 3, 0x41, 0x01));
    assert.equal(out.outcome?.type === "alert-sent" && out.outcome.alert, 22);
  });

  test("truncated records wait for more bytes", async () => {
    const r = responder();
    const c = await client();
    const hello = c.hello();
    const out = await r.receive(hello.subarray(0, hello.length - 1));
    assert.deepEqual(out, { write: new Uint8Array(0), done: false });
    const flight = await r.receive(hello.subarray(hello.length - 1));
    const fin = await c.receive(flight.write);
    assert.deepEqual(await r.receive(fin.subarray(0, fin.length - 3)), {
      write: new Uint8Array(0),
      done: false,
    });
  });

  test("a malformed ClientHello → decode_error (50)", async () => {
    const msg = Uint8Array.of(1, 0, 0, 4, 3, 3, 0, 0);
    const out = await responder().receive(records(22, msg));
    assert.deepEqual([...out.write], PLAINTEXT_ALERT(50));
  });

  test("ChangeCipherSpec before the hello → unexpected_message (10)", async () => {
    const out = await responder().receive(Uint8Array.of(20, 3, 3, 0, 1, 1));
    assert.deepEqual([...out.write], PLAINTEXT_ALERT(10));
  });

  describe("ChangeCipherSpec records are capped at 16 in a row, like Go's maxUselessRecords", () => {
    const CCS = Uint8Array.of(20, 3, 3, 0, 1, 1);
    const ccs = (n: number) => concat(...Array.from({ length: n }, () => CCS));

    for (const [extra, completes] of [
      [15, true],
      [16, false],
    ] as const) {
      test(`after ServerHello: ${extra} + the client's own CCS → ${completes ? "completed" : "unexpected_message (10)"}`, async () => {
        const r = responder();
        const c = await client();
        const fin = await c.receive((await r.receive(c.hello())).write);
        assert.equal(fin[0], 20); // the compatibility-mode client's own CCS comes first
        const out = await r.receive(concat(ccs(extra), fin));
        if (completes) {
          assert.equal(out.outcome?.type, "completed");
        } else {
          assert.equal(out.outcome?.type === "alert-sent" && out.outcome.alert, 10);
          assert.match(out.outcome?.type === "alert-sent" ? out.outcome.reason : "", /more than 16/);
          await c.receive(out.write); // protected with the application key
          assert.equal(c.alert, 10);
        }
      });
    }

    test("one record at a time: the 17th alone is refused", async () => {
      const r = responder();
      const c = await client();
      await c.receive((await r.receive(c.hello())).write);
      for (let i = 1; i <= 16; i++) assert.equal((await r.receive(CCS)).done, false, `CCS ${i}`);
      const out = await r.receive(CCS);
      assert.equal(out.outcome?.type === "alert-sent" && out.outcome.alert, 10);
    });

    test("between the hellos after HelloRetryRequest: 16 pass, 17 → unexpected_message (10)", async () => {
      for (const [n, completes] of [
        [16, true],
        [17, false],
      ] as const) {
        const r = responder();
        const c = await client({ keyShareGroups: [0x18], supportedGroups: [0x18, 0x17] });
        const hrr = await r.receive(c.hello());
        const second = await c.receive(hrr.write); // CCS + ClientHello2
        assert.equal(second[0], 20);
        const out = await r.receive(concat(ccs(n - 1), second));
        if (completes) {
          // The count restarts after ClientHello2: 16 more before Finished still complete.
          const fin = await c.receive(out.write);
          const end = await r.receive(concat(ccs(15), fin));
          assert.equal(end.outcome?.type, "completed", `${n}`);
        } else {
          assert.deepEqual([...out.write], PLAINTEXT_ALERT(10));
        }
      }
    });

    test("a CCS inside a fragmented handshake message → unexpected_message (10)", async () => {
      const r = responder();
      const c = await client({ withholdFinished: true });
      await c.receive((await r.receive(c.hello())).write);
      const sealed = await c.sealHandshake(22, Uint8Array.of(20, 0, 0, 32)); // a Finished header only
      const out = await r.receive(concat(sealed, CCS));
      assert.equal(out.outcome?.type === "alert-sent" && out.outcome.alert, 10);
    });
  });

  test("plain HTTP → unexpected_message (10)", async () => {
    const out = await responder().receive(new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"));
    assert.deepEqual([...out.write], PLAINTEXT_ALERT(10));
  });

  test("a client alert ends the connection without a reply", async () => {
    const r = responder();
    const c = await client();
    await c.receive((await r.receive(c.hello())).write);
    const out = await r.receive(Uint8Array.of(21, 3, 3, 0, 2, 2, 42));
    assert.deepEqual(out, {
      write: new Uint8Array(0),
      done: true,
      outcome: { type: "alert-received", alert: 42, alertName: "badCertificate" },
    });
  });

  test("a changed second hello after HelloRetryRequest → illegal_parameter (47)", async () => {
    const r = responder();
    const c = await client({
      keyShareGroups: [0x18],
      supportedGroups: [0x18, 0x17],
      sessionId: new Uint8Array(0),
    });
    await r.receive(c.hello());
    const again = await r.receive(c.hello()); // still only a secp384r1 share
    assert.deepEqual([...again.write], PLAINTEXT_ALERT(47));
  });

  test("random and bit-flipped input never throws and never takes the internal-error path", async () => {
    const c = await client();
    const hello = c.hello();
    for (let i = 0; i < 300; i++) {
      let input: Uint8Array;
      if (i % 3 === 0) {
        input = crypto.getRandomValues(new Uint8Array(1 + (i % 700)));
      } else if (i % 3 === 1) {
        input = concat(Uint8Array.of(22, 3, 1, 0, 200), crypto.getRandomValues(new Uint8Array(200)));
      } else {
        input = hello.slice();
        const at = 5 + ((i * 7919) % (hello.length - 5));
        input[at] = (input[at] as number) ^ (1 << (i % 8));
      }
      const out = await responder().receive(input);
      if (out.done) {
        assert.equal(out.outcome?.type, "alert-sent", `input ${i}`);
        // A protocol alert chosen by the rules, never an exception turned into internal_error.
        assert.equal(out.outcome.internal, undefined, `input ${i}: ${out.outcome.reason}`);
        assert.notEqual(out.outcome.alert, 80, `input ${i}: ${out.outcome.reason}`);
        assert.equal(out.write[0], 21);
      } else {
        // Waiting for more bytes, or (a flipped bit in a harmless place) a server flight.
        assert.ok(out.write.length === 0 || out.write[0] === 22, `input ${i}`);
      }
    }
  });
});
