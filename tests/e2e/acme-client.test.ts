/**
 * @module acme-client.test — alpnmux's own ACME client (`@alpnmux/core/acme`, run in this
 * process) against a real Pebble, validated through alpnmux's built-in TLS-ALPN-01 responder
 * (the CLI under test, `--acme builtin` on Pebble's tlsPort), the solver publishing each key
 * authorization over the admin API.
 *
 * 1. Two DNS names and one IP identifier (RFC 8738): the chain verifies against Pebble's root
 *    (openssl verify), the SANs are the three identifiers, the certificate's key is ours, and
 *    the ARI / profile paths say what Pebble 2.4 lacks.
 * 2. A Pebble that requires external account binding accepts the account with EAB and refuses
 *    it without (`externalAccountRequired`).
 * 3. An identifier whose challenge is never published fails validation: AcmeError
 *    `authorization-failed` names that identifier with Pebble's problem, and only that one.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import https from "node:https";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import {
  AcmeClient,
  AcmeError,
  type AcmeIdentifier,
  createCsr,
  generateAccountKey,
  generateCertificateKey,
  parseCertificate,
  splitPemChain,
  type TlsAlpnSolver,
} from "@alpnmux/core/acme";
import { adminFetch, type BuiltinRouter, startBuiltinRouter } from "../_harness/admin.ts";
import { type Pebble, startPebble } from "../_harness/pebble.ts";
import { freePorts, waitForPort } from "../_harness/ports.ts";
import { spawnProc, type Workspace, workspace } from "../_harness/proc.ts";

const ws = workspace("acme-client", after);
const DNS1 = "one.acme-client.test";
const DNS2 = "two.acme-client.test";
const IP = "127.0.0.1";
const UNPUBLISHED = "never-set.acme-client.test";

/**
 * A `fetch` over node:https that trusts `ca` (Node 20's global fetch takes no CA option); it
 * keeps what the ACME client relies on: method, headers, body, status, headers, signal.
 */
function fetchTrusting(ca: string): typeof fetch {
  return (input, init) => {
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    const method = init?.method ?? "GET";
    const headers = Object.fromEntries(new Headers(init?.headers).entries());
    return new Promise<Response>((resolve, reject) => {
      const req = https.request(
        url,
        { method, headers, ca, agent: false, ...(init?.signal ? { signal: init.signal } : {}) },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", reject);
          res.on("end", () => {
            const h = new Headers();
            for (const [k, v] of Object.entries(res.headers)) {
              for (const x of [v ?? []].flat()) h.append(k, x);
            }
            const status = res.statusCode ?? 0;
            const noBody = method === "HEAD" || status === 204 || status === 304;
            resolve(new Response(noBody ? null : Buffer.concat(chunks), { status, headers: h }));
          });
        },
      );
      req.on("error", reject);
      req.end(typeof init?.body === "string" ? init.body : undefined);
    });
  };
}

/** The solver a certificate manager would use: the key authorization into the admin API. */
function adminSolver(router: BuiltinRouter, skip: ReadonlySet<string> = new Set()) {
  const presented: string[] = [];
  const cleaned: string[] = [];
  const solver: TlsAlpnSolver = {
    present: async (id, keyAuthorization) => {
      presented.push(`${id.type}:${id.value}`);
      if (skip.has(id.value)) return;
      const r = await adminFetch(router, "PUT", `/v1/challenges/${id.value}`, {
        keyAuthorization,
        ttlSeconds: 300,
      });
      assert.equal(r.status, 201, r.text);
    },
    cleanup: async (id) => {
      cleaned.push(`${id.type}:${id.value}`);
      if (skip.has(id.value)) return;
      const r = await adminFetch(router, "DELETE", `/v1/challenges/${id.value}`);
      assert.equal(r.status, 200, r.text);
    },
  };
  return { solver, presented, cleaned };
}

/**
 * A second Pebble that requires EAB with one MAC key: the harness Pebble's listener
 * certificate and DNS (challtestsrv), its own ports and config.
 */
async function startEabPebble(w: Workspace, base: Pebble, keyId: string, hmacKey: string): Promise<string> {
  const dir = w.subdir("pebble-eab");
  const config = JSON.parse(fs.readFileSync(path.join(w.dir, "pebble", "pebble-config.json"), "utf8")) as {
    pebble: Record<string, unknown>;
  };
  const [acmePort, mgmtPort, httpPort, tlsPort] = (await freePorts(4)) as [number, number, number, number];
  config.pebble = {
    ...config.pebble,
    listenAddress: `127.0.0.1:${acmePort}`,
    managementListenAddress: `127.0.0.1:${mgmtPort}`,
    httpPort,
    tlsPort,
    externalAccountBindingRequired: true,
    externalAccountMACKeys: { [keyId]: hmacKey },
  };
  const configPath = path.join(dir, "pebble-config.json");
  fs.writeFileSync(configPath, JSON.stringify(config, null, 2));
  const proc = spawnProc(
    w,
    "pebble-eab",
    ["pebble", "-config", configPath, "-dnsserver", `127.0.0.1:${base.dnsPort}`],
    {
      env: { PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0", PEBBLE_AUTHZREUSE: "0" },
    },
  );
  await waitForPort(acmePort, {
    abort: () => (proc.exitStatus() ? `pebble-eab exited, see ${proc.logPath}` : undefined),
  });
  return `https://127.0.0.1:${acmePort}/dir`;
}

let pebble: Pebble;
let router: BuiltinRouter;
let caText: string;

before(async () => {
  pebble = await startPebble(ws);
  caText = fs.readFileSync(pebble.caPem, "utf8");
  const [nobody] = (await freePorts(1)) as [number];
  router = await startBuiltinRouter(ws, { def: nobody, port: pebble.tlsPort, label: "alpnmux" });
});

const client = async (o: { directoryUrl?: string; eab?: { keyId: string; hmacKey: string } } = {}) =>
  new AcmeClient({
    directoryUrl: o.directoryUrl ?? pebble.directoryUrl,
    fetch: fetchTrusting(caText),
    accountKey: await generateAccountKey(),
    contact: ["mailto:admin@acme-client.test"],
    userAgent: "alpnmux-e2e",
    orderTimeoutMs: 60_000,
    ...(o.eab ? { eab: o.eab } : {}),
  });

describe("alpnmux's ACME client against Pebble", () => {
  test("2 DNS names + 1 IP through the built-in responder: chain, SANs, key", {
    timeout: 90_000,
  }, async () => {
    const acme = await client();
    const identifiers: AcmeIdentifier[] = [
      { type: "dns", value: DNS1 },
      { type: "dns", value: DNS2 },
      { type: "ip", value: IP },
    ];
    const keys = await generateCertificateKey("ecdsa-p256");
    const csr = await createCsr(identifiers, keys, "ecdsa-p256");
    const { solver, presented, cleaned } = adminSolver(router);
    const t0 = Date.now();
    const issued = await acme.order({ identifiers, csr, solver });
    const ms = Date.now() - t0;

    const expected = [`dns:${DNS1}`, `dns:${DNS2}`, `ip:${IP}`];
    assert.deepEqual([...presented].sort(), expected);
    assert.deepEqual([...cleaned].sort(), expected);
    assert.deepEqual((await adminFetch(router, "GET", "/v1/challenges")).json, { challenges: [] });
    assert.match(issued.orderUrl, /^https:\/\/127\.0\.0\.1:\d+\//);
    assert.equal(issued.replaced, false);

    const chain = splitPemChain(issued.pem);
    assert.ok(chain.length >= 2, `a chain: ${chain.length} certificate(s)`);
    const dir = ws.subdir("issued");
    fs.writeFileSync(path.join(dir, "leaf.pem"), `${chain[0]}\n`);
    fs.writeFileSync(path.join(dir, "intermediates.pem"), `${chain.slice(1).join("\n")}\n`);
    fs.writeFileSync(path.join(dir, "root.pem"), await pebble.issuingRoot());
    const verify = execFileSync(
      "openssl",
      ["verify", "-CAfile", "root.pem", "-untrusted", "intermediates.pem", "leaf.pem"],
      { cwd: dir, encoding: "utf8" },
    );
    assert.equal(verify.trim(), "leaf.pem: OK");

    const info = parseCertificate(issued.pem);
    assert.deepEqual(info.identifiers.map((i) => `${i.type}:${i.value}`).sort(), expected);
    const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey));
    assert.deepEqual(info.publicKeySpki, spki, "the certificate carries our key");
    assert.ok(info.notAfter > new Date(), "not expired");
    assert.match(info.serial, /^[0-9a-f]+$/);
    assert.match(info.ariId ?? "", /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, "Pebble's leaf has an AKI");

    // Pebble 2.4 has no renewalInfo and no profiles: null, and a clear refusal before any order.
    assert.equal(await acme.renewalInfo(issued.pem), null);
    await assert.rejects(
      acme.order({ identifiers, csr, solver, profile: "shortlived" }),
      (e: unknown) =>
        e instanceof AcmeError && e.code === "unknown-profile" && /advertises no profiles/.test(e.message),
    );
    // `replaces` is only sent to a CA that advertises renewalInfo (RFC 9773, Section 5).
    const again = await acme.order({
      identifiers: identifiers.slice(0, 1),
      csr: await createCsr(identifiers.slice(0, 1), keys, "ecdsa-p256"),
      solver: adminSolver(router).solver,
      replaces: info.ariId ?? "x.y",
    });
    assert.equal(again.replaced, false);
    console.log(`# acme-client: 2 DNS + 1 IP issued in ${ms} ms`);
  });

  test("EAB: a Pebble that requires it accepts the account with EAB, refuses it without", {
    timeout: 60_000,
  }, async () => {
    const keyId = "kid-alpnmux";
    const hmacKey = randomBytes(48).toString("base64url");
    const directoryUrl = await startEabPebble(ws, pebble, keyId, hmacKey);
    const without = await client({ directoryUrl });
    assert.equal((await without.directory()).meta?.externalAccountRequired, true);
    await assert.rejects(without.accountUrl(), (e: unknown) => {
      assert.ok(e instanceof AcmeError, String(e));
      assert.equal(e.code, "problem");
      assert.equal(e.problem?.type, "urn:ietf:params:acme:error:externalAccountRequired");
      return true;
    });
    const wrong = await client({
      directoryUrl,
      eab: { keyId, hmacKey: randomBytes(48).toString("base64url") },
    });
    await assert.rejects(wrong.accountUrl(), (e: unknown) => e instanceof AcmeError && e.code === "problem");
    const withEab = await client({ directoryUrl, eab: { keyId, hmacKey } });
    assert.match(await withEab.accountUrl(), /^https:\/\/127\.0\.0\.1:\d+\/my-account\//);
  });

  test("an identifier Pebble cannot validate: authorization-failed naming it with Pebble's problem", {
    timeout: 60_000,
  }, async () => {
    const acme = await client();
    const identifiers: AcmeIdentifier[] = [
      { type: "dns", value: DNS1 },
      { type: "dns", value: UNPUBLISHED },
    ];
    const keys = await generateCertificateKey("ecdsa-p256");
    const csr = await createCsr(identifiers, keys, "ecdsa-p256");
    const { solver, cleaned } = adminSolver(router, new Set([UNPUBLISHED]));
    const err = await acme.order({ identifiers, csr, solver }).then(
      () => assert.fail("the order must fail"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof AcmeError, String(err));
    assert.equal(err.code, "authorization-failed");
    assert.equal(err.problems.length, 1, JSON.stringify(err.problems));
    const p = err.problems[0];
    assert.deepEqual(p?.identifier, { type: "dns", value: UNPUBLISHED });
    assert.match(p?.type ?? "", /^urn:ietf:params:acme:error:/);
    assert.ok(err.message.startsWith(`authorization failed for ${UNPUBLISHED}: ${p?.type}`), err.message);
    assert.deepEqual([...cleaned].sort(), [`dns:${DNS1}`, `dns:${UNPUBLISHED}`].sort());
    assert.deepEqual((await adminFetch(router, "GET", "/v1/challenges")).json, { challenges: [] });
    console.log(`# acme-client: refused as expected: ${err.message}`);
  });
});
