/**
 * @module builtin.test — the built-in TLS-ALPN-01 responder end to end.
 *
 * 1. Pebble validates two DNS names and one IP identifier (RFC 8738) against alpnmux's own
 *    responder, driven by the npm ACME client `acme-client`, whose hooks publish key
 *    authorizations over the admin API (one through `alpnmux challenge set`, the others through
 *    HTTP). HTTPS probes for the same names through the same port keep reaching the backend.
 * 2. The challenge certificate only goes to hellos whose ALPN is exactly `acme-tls/1`.
 * 3. Without a stored challenge: `fallback: reject` sends an alert (`challenge-missing`);
 *    `fallback: {upstream}` hands the validator to an external responder.
 */
import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { issueWithAcmeClient } from "../_harness/acme.ts";
import {
  adminFetch,
  challengeCli,
  connLines,
  firstPem,
  metricValue,
  startBuiltinRouter,
  waitConn,
  x509Text,
} from "../_harness/admin.ts";
import { startHttpsBackend, startTlsIdentityServer } from "../_harness/backends.ts";
import { type CertAuthority, createCA, issueCert, type LeafCert } from "../_harness/certs.ts";
import { httpsRequest, opensslClient, tlsProbe } from "../_harness/clients.ts";
import { startPebble } from "../_harness/pebble.ts";
import { workspace } from "../_harness/proc.ts";

const ws = workspace("builtin", after);
const DNS1 = "one.builtin.test";
const DNS2 = "two.builtin.test";
const IP = "127.0.0.1";
const IP_SNI = "1.0.0.127.in-addr.arpa";
const PROBE_EVERY_MS = 200;
const MIN_PROBES = 10;
// No ALPN, h2-first, h1 only, and a list that merely contains acme-tls/1 (not a validator).
const ALPN_ROTATION: (string[] | undefined)[] = [
  undefined,
  ["h2", "http/1.1"],
  ["http/1.1"],
  ["http/1.1", "acme-tls/1"],
];
const SERVED = 'alpnmux_challenges_total{outcome="served"}';

let ca: CertAuthority;
let leaf: LeafCert;

before(() => {
  ca = createCA(ws.subdir("pki"));
  leaf = issueCert(ca, ["web.builtin.test", DNS1, DNS2, "a.example.test"]);
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

test("Pebble validates 2 DNS names + 1 IP via the built-in responder (acme-client) while HTTPS keeps flowing", {
  timeout: 60_000,
}, async () => {
  const pebble = await startPebble(ws);
  const backend = await startHttpsBackend(ws, { name: "web", cert: leaf });
  const router = await startBuiltinRouter(ws, { def: backend.port, port: pebble.tlsPort, label: "main" });

  const failures: string[] = [];
  let probes = 0;
  let stop = false;
  const probe = async (alpn: string[] | undefined, servername: string): Promise<void> => {
    const n = ++probes;
    try {
      const r = await httpsRequest(`https://${servername}:${router.port}/`, {
        ca: ca.cert,
        connectHost: "127.0.0.1",
        servername,
        timeoutMs: 3000,
        ...(alpn !== undefined ? { alpn } : {}),
      });
      if (r.status !== 200 || r.body !== backend.body) {
        failures.push(`probe ${n} ${servername} alpn ${JSON.stringify(alpn)}: ${r.status} ${r.body}`);
      }
    } catch (e) {
      failures.push(`probe ${n} ${servername} alpn ${JSON.stringify(alpn)}: ${(e as Error).message}`);
    }
  };
  const loop = (async () => {
    while (!stop) {
      const t0 = Date.now();
      await probe(ALPN_ROTATION[probes % ALPN_ROTATION.length], probes % 2 === 0 ? DNS1 : DNS2);
      const wait = PROBE_EVERY_MS - (Date.now() - t0);
      if (wait > 0) await sleep(wait);
    }
  })();
  await sleep(2 * PROBE_EVERY_MS);

  const created: string[] = [];
  const removed: string[] = [];
  const probesBefore = probes;
  const issued = await issueWithAcmeClient({
    pebble,
    identifiers: [DNS1, DNS2, IP],
    challengeCreateFn: async (id, keyAuthorization) => {
      if (id === DNS1) {
        // The hook an ACME client would run: the CLI over the admin API.
        const r = await challengeCli(ws, router, ["set", id, keyAuthorization, "--ttl", "5m"], {
          label: `cli-set-${id}`,
        });
        assert.equal(r.code, 0, `alpnmux challenge set failed: ${r.stderr}`);
        assert.match(r.stdout, new RegExp(`^set challenge for ${id.replace(/\./g, "\\.")}, expires `));
      } else {
        const r = await adminFetch(router, "PUT", `/v1/challenges/${id}`, {
          keyAuthorization,
          ttlSeconds: 300,
        });
        assert.equal(r.status, 201, r.text);
        assert.equal((r.json as { identifier: string }).identifier, id);
      }
      created.push(id);
      // While the challenge is stored: ordinary hellos with its SNI must still reach the backend.
      if (id !== IP) await Promise.all([probe(undefined, id), probe(["http/1.1", "acme-tls/1"], id)]);
    },
    challengeRemoveFn: async (id) => {
      if (id === DNS1) {
        const r = await challengeCli(ws, router, ["delete", id], { label: `cli-delete-${id}` });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, `deleted challenge for ${id}`);
      } else {
        const r = await adminFetch(router, "DELETE", `/v1/challenges/${id}`);
        assert.equal(r.status, 200, r.text);
      }
      removed.push(id);
    },
  }).catch((e: unknown) => {
    stop = true;
    throw new Error(
      `issuance failed: ${(e as Error).message}; router log ${router.proc.logPath}, pebble log ${pebble.pebble.logPath}`,
    );
  });
  const probesDuring = probes - probesBefore;
  while (probes < MIN_PROBES + 2) await sleep(PROBE_EVERY_MS);
  await sleep(2 * PROBE_EVERY_MS);
  stop = true;
  await loop;

  assert.equal(router.proc.exitStatus(), undefined, `router exited; log ${router.proc.logPath}`);
  assert.deepEqual(issued.removeErrors, []);
  assert.deepEqual(created.sort(), [IP, DNS1, DNS2].sort());
  assert.deepEqual(removed.sort(), [IP, DNS1, DNS2].sort());
  assert.deepEqual(
    issued.authorizations.map((a) => `${a.type}:${a.identifier}:${a.challengeType}:${a.status}`).sort(),
    [`dns:${DNS1}:tls-alpn-01:valid`, `dns:${DNS2}:tls-alpn-01:valid`, `ip:${IP}:tls-alpn-01:valid`],
  );

  // The certificate: leaf with both DNS SANs and the IP SAN, signed by the next one in the chain.
  const pems = issued.certPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  assert.ok(pems.length >= 2, `expected a chain, got ${pems.length} certificates`);
  const cert = new X509Certificate(pems[0] as string);
  const sans = (cert.subjectAltName ?? "").split(", ").sort();
  assert.deepEqual(sans, [`DNS:${DNS1}`, `DNS:${DNS2}`, `IP Address:${IP}`]);
  assert.ok(cert.verify(new X509Certificate(pems[1] as string).publicKey), "leaf not signed by its issuer");

  // Every probe reached the backend: none got the challenge certificate.
  assert.deepEqual(
    failures,
    [],
    `${failures.length}/${probes} probes failed; router log ${router.proc.logPath}`,
  );
  assert.ok(probes >= MIN_PROBES, `only ${probes} probes`);
  assert.equal(backend.requests.length, probes);

  // Pebble: 3 validation connections per challenge, each answered by the responder.
  const served = await waitConn(
    router,
    () => connLines(router).filter((c) => c.outcome === "challenge-served").length >= 9,
  );
  assert.ok(served);
  const servedBySni = new Map<string, number>();
  for (const c of connLines(router)) {
    if (c.outcome !== "challenge-served") continue;
    assert.deepEqual(c.alpn, ["acme-tls/1"]);
    assert.equal(c.route, "acme");
    servedBySni.set(c.sni ?? "", (servedBySni.get(c.sni ?? "") ?? 0) + 1);
  }
  for (const sni of [DNS1, DNS2, IP_SNI]) {
    assert.ok((servedBySni.get(sni) ?? 0) >= 3, `${sni}: ${servedBySni.get(sni) ?? 0} served validations`);
  }
  const bad = connLines(router).filter((c) => c.route === "acme" && c.outcome !== "challenge-served");
  assert.deepEqual(bad, [], "validations that were not served");
  const metrics = await adminFetch(router, "GET", "/metrics");
  assert.equal(metrics.status, 200);
  assert.ok(metricValue(metrics.text, SERVED) >= 9, metrics.text);
  const list = await adminFetch(router, "GET", "/v1/challenges");
  assert.deepEqual(list.json, { challenges: [] });

  console.log(
    `# builtin: issuance ${issued.elapsedMs} ms (2 DNS + 1 IP, acme-client), ${probes} probes (${probesDuring} during issuance), 0 failures, ${metricValue(metrics.text, SERVED)} validations served`,
  );
});

describe("one router, default fallback (reject)", () => {
  const KEY_AUTH = "tok-A_1.thumb-Print_2";
  let router: Awaited<ReturnType<typeof startBuiltinRouter>>;
  let backendBody = "";

  before(async () => {
    const backend = await startHttpsBackend(ws, { name: "web2", cert: leaf });
    backendBody = backend.body;
    router = await startBuiltinRouter(ws, { def: backend.port, label: "reject" });
    const r = await adminFetch(router, "PUT", "/v1/challenges/a.example.test", {
      keyAuthorization: KEY_AUTH,
      ttlSeconds: 600,
    });
    assert.equal(r.status, 201, r.text);
  });

  test("the challenge certificate is never served to a hello without exactly acme-tls/1", async () => {
    // openssl, no ALPN, SNI of the stored challenge: the backend's certificate and response.
    const plain = await opensslClient({
      port: router.port,
      servername: "a.example.test",
      caFile: ca.certPath,
      input: "GET / HTTP/1.1\r\nHost: a.example.test\r\nConnection: close\r\n\r\n",
      until: /backend:web2/,
      holdMs: 3000,
    });
    assert.ok(plain.handshake, plain.stdout + plain.stderr);
    assert.equal(plain.alpn, undefined);
    assert.match(plain.stdout, /backend:web2/);
    assert.match(plain.stdout, /Verify return code: 0 \(ok\)/);
    assert.doesNotMatch(plain.stdout, /acme-tls-alpn-01/);

    // node:tls with h2 first, and with a list that only contains acme-tls/1.
    for (const alpn of [
      ["h2", "http/1.1"],
      ["http/1.1", "acme-tls/1"],
    ]) {
      const r = await tlsProbe({
        port: router.port,
        servername: "a.example.test",
        alpn,
        ca: ca.cert,
        write: "GET / HTTP/1.1\r\nHost: a.example.test\r\nConnection: close\r\n\r\n",
        readMs: 2000,
      });
      assert.equal(r.authorized, true, `alpn ${alpn}: ${r.authorizationError}`);
      assert.equal(r.alpn, "http/1.1");
      assert.match(r.subjectaltname ?? "", /DNS:a\.example\.test/);
      assert.match(r.data.toString(), /backend:web2$/);
    }

    // A validator's hello (ALPN exactly acme-tls/1): the RFC 8737 certificate.
    const acmeRes = await opensslClient({
      port: router.port,
      servername: "a.example.test",
      alpn: ["acme-tls/1"],
      holdMs: 500,
    });
    assert.ok(acmeRes.handshake, acmeRes.stdout + acmeRes.stderr);
    assert.equal(acmeRes.alpn, "acme-tls/1");
    const pem = firstPem(acmeRes.stdout);
    assert.ok(pem, acmeRes.stdout);
    const text = x509Text(pem);
    assert.match(text, /1\.3\.6\.1\.5\.5\.7\.1\.31: critical/);
    assert.match(text, /DNS:a\.example\.test/);
    // DER: Extension { extnID 1.3.6.1.5.5.7.1.31, critical TRUE, extnValue OCTET STRING {
    // OCTET STRING (04 20) || SHA-256(keyAuthorization) } }
    const digest = createHash("sha256").update(KEY_AUTH).digest("hex");
    const der = new X509Certificate(pem).raw.toString("hex");
    assert.ok(
      der.includes(`06082b0601050507011f0101ff04220420${digest}`),
      `no critical acmeIdentifier extension with SHA-256("${KEY_AUTH}") in the certificate:\n${text}`,
    );
    await waitConn(router, (c) => c.sni === "a.example.test" && c.outcome === "challenge-served");
    const lines = connLines(router).filter((c) => c.sni === "a.example.test");
    assert.equal(lines.filter((c) => c.outcome === "challenge-served").length, 1);
    assert.ok(lines.filter((c) => c.route === "acme").every((c) => (c.alpn ?? []).join() === "acme-tls/1"));
    assert.equal(backendBody, "backend:web2");
  });

  test("challenge lifecycle: replace, delete, expiry, IPv6 (ip6.arpa SNI), case-insensitive SNI", async () => {
    const digestOf = (ka: string) => createHash("sha256").update(ka).digest("hex");
    /** The acmeIdentifier digest in the certificate a validator gets, or null if it gets none. */
    const served = async (
      sni: string,
    ): Promise<{ digest: string | null; san: string | undefined } | null> => {
      try {
        const r = await tlsProbe({ port: router.port, servername: sni, alpn: ["acme-tls/1"], readMs: 100 });
        assert.equal(r.alpn, "acme-tls/1");
        const hex = r.cert.raw.toString("hex");
        return {
          digest: /06082b0601050507011f0101ff04220420([0-9a-f]{64})/.exec(hex)?.[1] ?? null,
          san: r.subjectaltname,
        };
      } catch {
        return null;
      }
    };
    const put = async (id: string, body: Record<string, unknown>, status = 201) => {
      const r = await adminFetch(router, "PUT", `/v1/challenges/${encodeURIComponent(id)}`, body);
      assert.equal(r.status, status, r.text);
      return r;
    };

    await put("life.example.test", { keyAuthorization: "first.ka" });
    assert.equal((await served("life.example.test"))?.digest, digestOf("first.ka"));
    // Replacing must not leave the old (cached) certificate in service.
    await put("life.example.test", { keyAuthorization: "second.ka" }, 200);
    assert.equal((await served("life.example.test"))?.digest, digestOf("second.ka"));
    // SNI is compared without regard to case (RFC 6066, RFC 4343).
    assert.equal((await served("LIFE.Example.TEST"))?.digest, digestOf("second.ka"));
    // Deleting takes it out of service at once.
    assert.equal((await adminFetch(router, "DELETE", "/v1/challenges/life.example.test")).status, 200);
    assert.equal(await served("life.example.test"), null);

    // ttlSeconds: served until it expires, then missing.
    const short = await put("short.example.test", { keyAuthorization: "short.ka", ttlSeconds: 1 });
    const expiresAt = Date.parse((short.json as { expiresAt: string }).expiresAt);
    assert.ok(Math.abs(expiresAt - Date.now() - 1000) < 1000, short.text);
    assert.equal((await served("short.example.test"))?.digest, digestOf("short.ka"));
    await sleep(Math.max(0, expiresAt - Date.now()) + 300);
    assert.equal(await served("short.example.test"), null);

    // RFC 8738 IPv6: stored under the address (brackets accepted), validated via the ip6.arpa name.
    const v6 = await put("[2001:DB8::1]", { keyAuthorization: "six.ka" });
    assert.equal((v6.json as { identifier: string }).identifier, "2001:db8::1");
    const nibbles = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa";
    const six = await served(nibbles);
    assert.equal(six?.digest, digestOf("six.ka"));
    assert.equal(six?.san, "IP Address:2001:DB8:0:0:0:0:0:1");

    // text/plain body with ttlSeconds in the query (hook scripts without JSON tooling).
    const plain = await adminFetch(
      router,
      "PUT",
      "/v1/challenges/plain.example.test?ttlSeconds=60",
      "plain.ka\n",
      {
        contentType: "text/plain",
      },
    );
    assert.equal(plain.status, 201, plain.text);
    assert.equal((await served("plain.example.test"))?.digest, digestOf("plain.ka"));

    for (const id of ["2001:db8::1", "plain.example.test"]) {
      assert.equal(
        (await adminFetch(router, "DELETE", `/v1/challenges/${encodeURIComponent(id)}`)).status,
        200,
      );
    }
    const missing = connLines(router)
      .filter((c) => c.outcome === "challenge-missing")
      .map((c) => c.sni);
    await waitConn(router, (c) => c.sni === "short.example.test" && c.outcome === "challenge-missing");
    assert.ok(missing.includes("life.example.test"), JSON.stringify(missing));
  });

  test("no challenge stored: the validator gets an alert and the log says challenge-missing", async () => {
    const res = await opensslClient({
      port: router.port,
      servername: "missing.example.test",
      alpn: ["acme-tls/1"],
      holdMs: 500,
    });
    assert.equal(res.handshake, false, res.stdout);
    assert.match(res.stderr, /alert/i);
    await assert.rejects(
      tlsProbe({ port: router.port, servername: "missing.example.test", alpn: ["acme-tls/1"] }),
      /alert|ECONNRESET|socket disconnected/i,
    );
    const line = await waitConn(router, (c) => c.sni === "missing.example.test");
    assert.equal(line.outcome, "challenge-missing");
    assert.equal(line.route, "acme");
    assert.match(line.error ?? "", /no challenge stored for "missing\.example\.test"/);
    const m = await adminFetch(router, "GET", "/metrics");
    assert.ok(metricValue(m.text, 'alpnmux_challenges_total{outcome="missing"}') >= 2, m.text);
  });
});

test("fallback: {upstream}: a validator for a name without a challenge reaches the external responder", async () => {
  const backend = await startHttpsBackend(ws, { name: "web3", cert: leaf });
  const external = await startTlsIdentityServer(ws, { name: "external", cert: leaf, alpn: ["acme-tls/1"] });
  const router = await startBuiltinRouter(ws, {
    def: backend.port,
    label: "fallback",
    acmeFlag: false,
    config: {
      routes: [
        {
          name: "acme",
          match: { acme: "exact" },
          target: { acme: "builtin", fallback: { upstream: `127.0.0.1:${external.port}` } },
        },
      ],
    },
  });
  const viaFallback = await opensslClient({
    port: router.port,
    servername: "nochallenge.example.test",
    alpn: ["acme-tls/1"],
  });
  assert.equal(viaFallback.who, "external", viaFallback.stdout + viaFallback.stderr);
  assert.equal(viaFallback.alpn, "acme-tls/1");
  assert.equal(external.connections[0]?.servername, "nochallenge.example.test");
  const line = await waitConn(router, (c) => c.sni === "nochallenge.example.test");
  assert.equal(line.outcome, "challenge-fallback");
  assert.equal(line.upstream, `127.0.0.1:${external.port}`);

  // With a challenge stored, the built-in responder answers instead of the fallback.
  const put = await adminFetch(router, "PUT", "/v1/challenges/stored.example.test", {
    keyAuthorization: "tok.thumb",
  });
  assert.equal(put.status, 201, put.text);
  const builtin = await opensslClient({
    port: router.port,
    servername: "stored.example.test",
    alpn: ["acme-tls/1"],
    holdMs: 500,
  });
  assert.equal(builtin.who, undefined);
  assert.equal(builtin.alpn, "acme-tls/1");
  assert.match(builtin.subject ?? "", /acme-tls-alpn-01/);
  assert.equal(external.connections.length, 1);
  // Ordinary traffic still goes to the default route.
  const web = await httpsRequest(`https://a.example.test:${router.port}/`, {
    ca: ca.cert,
    connectHost: "127.0.0.1",
  });
  assert.equal(web.body, "backend:web3");
});
