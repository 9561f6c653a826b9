// Real TLS clients against the sans-I/O responder on a node:net loopback server (Node runner):
// OpenSSL s_client, Node's tls.connect and Bun's BoringSSL client (a post-quantum hello).
import "reflect-metadata";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import tls from "node:tls";
import { ChallengeCertCache, MemoryChallengeStore } from "../../packages/core/src/challenge-store.ts";
import { createChallengeResponder, type ResponderOutcome } from "../../packages/core/src/tls13/responder.ts";

const KEY_AUTH = "token123.thumbprint456";
const dir = mkdtempSync(join(tmpdir(), "alpnmux-responder-"));
const outcomes: (ResponderOutcome | undefined)[] = [];
let server: net.Server;
let port = 0;

before(async () => {
  const store = new MemoryChallengeStore();
  await store.set("a.example.test", KEY_AUTH);
  await store.set("127.0.0.1", KEY_AUTH);
  const certs = new ChallengeCertCache({ store, crypto });
  server = net.createServer((socket) => {
    const responder = createChallengeResponder({ crypto, getCertificate: (n) => certs.getCertificate(n) });
    socket.on("error", () => {});
    socket.on("data", async (chunk) => {
      const out = await responder.receive(chunk);
      if (out.write.length > 0) socket.write(out.write);
      if (out.done) {
        if (out.outcome !== undefined) outcomes.push(out.outcome);
        socket.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as net.AddressInfo).port;
});

after(() => server.close());

function run(
  cmd: string,
  args: string[],
  input = "",
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: 15_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end(input);
  });
}

const sClient = (...extra: string[]) =>
  run("openssl", ["s_client", "-connect", `127.0.0.1:${port}`, "-showcerts", ...extra]);

function firstPem(text: string): string {
  const m = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text);
  assert.ok(m, "no certificate in s_client output");
  return `${m[0]}\n`;
}

async function sha256Hex(s: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s)));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0"))
    .join("")
    .toUpperCase();
}

describe("openssl s_client", () => {
  test("-alpn acme-tls/1 negotiates TLS 1.3 and shows the RFC 8737 certificate", async () => {
    const r = await sClient("-servername", "a.example.test", "-alpn", "acme-tls/1");
    assert.match(r.stdout, /ALPN protocol: acme-tls\/1/);
    assert.match(r.stdout, /New, TLSv1\.3, Cipher is TLS_AES_128_GCM_SHA256/);
    const pemFile = join(dir, "dns.pem");
    writeFileSync(pemFile, firstPem(r.stdout));
    const text = await run("openssl", ["x509", "-in", pemFile, "-noout", "-text"]);
    assert.match(text.stdout, /DNS:a\.example\.test/);
    assert.match(text.stdout, /1\.3\.6\.1\.5\.5\.7\.1\.31: critical/);
    const asn1 = await run("openssl", ["asn1parse", "-in", pemFile]);
    assert.ok(asn1.stdout.includes(`[HEX DUMP]:0420${await sha256Hex(KEY_AUTH)}`), asn1.stdout);
  });

  test("a HelloRetryRequest (P-384 share, P-256 supported) completes", async () => {
    const r = await sClient("-servername", "a.example.test", "-alpn", "acme-tls/1", "-groups", "P-384:P-256");
    assert.match(r.stdout, /ALPN protocol: acme-tls\/1/);
    assert.match(r.stdout, /Server Temp Key: ECDH, prime256v1/);
  });

  test("an RFC 8738 reverse-DNS SNI gets the iPAddress certificate", async () => {
    const r = await sClient("-servername", "1.0.0.127.in-addr.arpa", "-alpn", "acme-tls/1");
    assert.match(r.stdout, /ALPN protocol: acme-tls\/1/);
    const pemFile = join(dir, "ip.pem");
    writeFileSync(pemFile, firstPem(r.stdout));
    const san = await run("openssl", ["x509", "-in", pemFile, "-noout", "-ext", "subjectAltName"]);
    assert.match(san.stdout, /IP Address:127\.0\.0\.1/);
  });

  test("without -alpn acme-tls/1 the handshake fails with no_application_protocol and no certificate", async () => {
    const r = await sClient("-servername", "a.example.test");
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /alert number 120|no application protocol/);
    assert.doesNotMatch(r.stdout, /BEGIN CERTIFICATE/);
  });

  test("TLS 1.2 only fails with protocol_version", async () => {
    const r = await sClient("-servername", "a.example.test", "-alpn", "acme-tls/1", "-tls1_2");
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /alert number 70|protocol version/);
  });

  test("an unknown name fails with unrecognized_name", async () => {
    const r = await sClient("-servername", "b.example.test", "-alpn", "acme-tls/1");
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /alert number 112|unrecognized name/);
  });
});

describe("node:tls", () => {
  test("tls.connect with ALPN acme-tls/1 completes and sees the challenge certificate", async () => {
    const seen = await new Promise<{
      alpn: string | false | null;
      san?: string | undefined;
      proto: string | null;
    }>((resolve, reject) => {
      const s = tls.connect(
        {
          host: "127.0.0.1",
          port,
          servername: "a.example.test",
          ALPNProtocols: ["acme-tls/1"],
          rejectUnauthorized: false,
        },
        () => {
          const cert = s.getPeerCertificate();
          resolve({ alpn: s.alpnProtocol, san: cert.subjectaltname, proto: s.getProtocol() });
          s.end();
        },
      );
      s.on("error", reject);
    });
    assert.deepEqual(seen, { alpn: "acme-tls/1", san: "DNS:a.example.test", proto: "TLSv1.3" });
  });

  test("tls.connect without ALPN is refused", async () => {
    const err = await new Promise<Error>((resolve) => {
      const s = tls.connect({
        host: "127.0.0.1",
        port,
        servername: "a.example.test",
        rejectUnauthorized: false,
      });
      s.on("secureConnect", () => resolve(new Error("unexpected success")));
      s.on("error", resolve);
    });
    assert.match(err.message, /no application protocol|alert number 120/);
  });
});

describe("bun (BoringSSL, X25519MLKEM768 hello)", () => {
  test("node:tls client on Bun completes through the responder", async () => {
    const script = `
      import tls from "node:tls";
      const s = tls.connect({ host: "127.0.0.1", port: ${port}, servername: "a.example.test",
        ALPNProtocols: ["acme-tls/1"], rejectUnauthorized: false }, () => {
        console.log(JSON.stringify({ alpn: s.alpnProtocol, san: s.getPeerCertificate().subjectaltname }));
        s.end();
      });
      s.on("error", (e) => { console.log("ERR " + e.message); process.exit(1); });`;
    const out = await new Promise<string>((resolve) => {
      const child = spawn("node_modules/.bin/bun", ["-e", script], {
        cwd: join(import.meta.dirname, "../.."),
      });
      let text = "";
      child.stdout.on("data", (d) => {
        text += d;
      });
      child.on("close", () => resolve(text));
    });
    assert.deepEqual(JSON.parse(out.trim()), { alpn: "acme-tls/1", san: "DNS:a.example.test" });
  });
});

describe("curl", () => {
  // curl can only offer h2/http/1.1, never acme-tls/1: the responder must refuse it with
  // no_application_protocol (120) before any certificate is sent. This is the "normal HTTPS
  // client hits the challenge responder" case the router's acme matcher already prevents.
  test("curl is refused with no_application_protocol and sees no certificate", async () => {
    const r = await run("curl", [
      "-sS",
      "-k",
      "-v",
      "--max-time",
      "10",
      "--resolve",
      `a.example.test:${port}:127.0.0.1`,
      `https://a.example.test:${port}/`,
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no application protocol|alert number 120/i);
    assert.doesNotMatch(r.stderr, /subject: CN=acme-tls-alpn-01|Server certificate/);
  });
});

describe("outcomes", () => {
  test("every connection ended with a completed handshake or an alert", () => {
    assert.ok(outcomes.length >= 8);
    assert.ok(outcomes.some((o) => o?.type === "completed"));
    assert.ok(outcomes.every((o) => o?.type === "completed" || o?.type === "alert-sent"));
  });
});
