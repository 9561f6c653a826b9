import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { FakeAcmeCa, json } from "../../testing/fake-acme-ca.ts";
import { encodeBase64Url } from "./base64url.ts";
import { AcmeClient } from "./client.ts";
import { AcmeError } from "./errors.ts";
import { accountJwk, jwkThumbprint } from "./jws.ts";
import { generateAccountKey } from "./keys.ts";
import { parseAuthorization, parseDirectory, parseOrder } from "./resources.ts";

const data = (name: string) => readFileSync(new URL(`./_testdata/${name}`, import.meta.url), "utf8");
const fixture = (name: string) => JSON.parse(data(name)) as Record<string, unknown>;
const RFC9773 = data("rfc9773-example.pem");
const LE_DIR = "https://acme-v02.api.letsencrypt.org/directory";

/** Replays a recorded response file ({ status, headers, body }). */
function recorded(name: string): Response {
  const r = fixture(name) as { status: number; headers: Record<string, string>; body: unknown };
  return new Response(JSON.stringify(r.body), { status: r.status, headers: r.headers });
}

/** A fetch that serves Let's Encrypt's recorded directory and whatever `more` answers. */
function leFetch(more: (url: URL, init?: RequestInit) => Response | undefined = () => undefined): {
  fetch: typeof fetch;
  urls: string[];
} {
  const urls: string[] = [];
  let n = 0;
  const f: typeof fetch = async (input, init) => {
    const url = new URL(String(input));
    urls.push(`${init?.method ?? "GET"} ${url.href}`);
    if (url.href === LE_DIR)
      return new Response(data("le-directory.json"), { headers: { "content-type": "application/json" } });
    if (url.pathname === "/acme/new-nonce")
      return new Response(null, { headers: { "replay-nonce": `nonce${++n}` } });
    const r = more(url, init);
    if (r === undefined) return new Response("not found", { status: 404 });
    r.headers.set("replay-nonce", `nonce${++n}`);
    return r;
  };
  return { fetch: f, urls };
}

describe("the directory", () => {
  test("Let's Encrypt's production directory: renewalInfo and the three profiles; fetched once", async () => {
    const { fetch, urls } = leFetch();
    const client = new AcmeClient({ directoryUrl: LE_DIR, fetch, accountKey: await generateAccountKey() });
    const dir = await client.directory();
    assert.equal(dir.renewalInfo, "https://acme-v02.api.letsencrypt.org/acme/renewal-info");
    assert.deepEqual(Object.keys(dir.meta?.profiles ?? {}), ["classic", "shortlived", "tlsserver"]);
    assert.equal(
      dir.meta?.termsOfService,
      "https://letsencrypt.org/documents/LE-SA-v1.5-February-24-2025.pdf",
    );
    await client.directory();
    assert.equal(urls.length, 1);
  });

  test("an unknown profile against Let's Encrypt lists classic, shortlived, tlsserver", async () => {
    const client = new AcmeClient({
      directoryUrl: LE_DIR,
      fetch: leFetch().fetch,
      accountKey: await generateAccountKey(),
    });
    await assert.rejects(
      client.order({
        identifiers: [{ type: "dns", value: "a.test" }],
        csr: new Uint8Array(),
        profile: "tlsclient",
        solver: { present: async () => {}, cleanup: async () => {} },
      }),
      (e: unknown) =>
        e instanceof AcmeError &&
        e.code === "unknown-profile" &&
        e.message ===
          'profile "tlsclient" is not offered by the CA; it offers classic, shortlived, tlsserver',
    );
  });

  test("a directory fetch that fails is retried on the next call", async () => {
    let fail = true;
    const inner = leFetch().fetch;
    const flaky: typeof fetch = (i, init) => (fail ? Promise.reject(new Error("down")) : inner(i, init));
    const client = new AcmeClient({
      directoryUrl: LE_DIR,
      fetch: flaky,
      accountKey: await generateAccountKey(),
    });
    await assert.rejects(client.directory(), (e: unknown) => e instanceof AcmeError && e.code === "network");
    fail = false;
    assert.ok((await client.directory()).newOrder);
  });

  test("parseDirectory() names the bad field", () => {
    const good = fixture("le-directory.json");
    assert.throws(() => parseDirectory({ ...good, newOrder: "not a url" }, "u"), /"newOrder" is not a URL/);
    assert.throws(
      () => parseDirectory({ ...good, meta: { profiles: { a: 1 } } }, "u"),
      /"meta.profiles" is not an object of strings/,
    );
    assert.throws(
      () => parseDirectory({ ...good, meta: { externalAccountRequired: "yes" } }, "u"),
      /"meta.externalAccountRequired" is not a boolean/,
    );
    assert.throws(() => parseDirectory([], "u"), /not a JSON object/);
  });

  test("a non-URL directoryUrl is a TypeError", async () => {
    assert.throws(
      () => new AcmeClient({ directoryUrl: "ca.test", fetch, accountKey: {} as CryptoKeyPair }),
      /directoryUrl "ca.test" is not a URL/,
    );
  });
});

describe("recorded orders and authorizations", () => {
  test("Let's Encrypt's order object", () => {
    const o = parseOrder(fixture("le-order.json"), "https://acme-v02.api.letsencrypt.org/acme/order/1/2");
    assert.equal(o.status, "pending");
    assert.equal(o.authorizations.length, 2);
    assert.match(o.finalize, /\/acme\/finalize\//);
    assert.throws(
      () => parseOrder({ ...fixture("le-order.json"), status: "done" }, "u"),
      /"status" is "done"/,
    );
  });

  test("an authorization's challenges keep token and error; a bad identifier is named", () => {
    const a = parseAuthorization(
      {
        identifier: { type: "ip", value: "203.0.113.7" },
        status: "invalid",
        challenges: [
          {
            type: "tls-alpn-01",
            url: "https://ca.test/c/1",
            status: "invalid",
            token: "t",
            error: { type: "urn:ietf:params:acme:error:connection", detail: "refused" },
          },
        ],
      },
      "u",
    );
    assert.equal(a.challenges[0]?.error?.detail, "refused");
    assert.throws(
      () =>
        parseAuthorization(
          { identifier: { type: "email", value: "x" }, status: "pending", challenges: [] },
          "u",
        ),
      /"identifier" is not a dns or ip identifier/,
    );
    assert.throws(
      () =>
        parseAuthorization(
          {
            identifier: { type: "dns", value: "x" },
            status: "pending",
            challenges: [{ type: "x", status: "pending", url: 3 }],
          },
          "u",
        ),
      /"url" is not a URL/,
    );
  });

  test("a rateLimited newOrder (recorded from Let's Encrypt): problem, rateLimited, Retry-After", async () => {
    const { fetch } = leFetch((url) => {
      if (url.pathname === "/acme/new-acct")
        return json({ status: "valid" }, 201, {
          location: "https://acme-v02.api.letsencrypt.org/acme/acct/1",
        });
      if (url.pathname === "/acme/new-order") return recorded("le-rate-limited.response.json");
      return undefined;
    });
    const client = new AcmeClient({
      directoryUrl: LE_DIR,
      fetch,
      accountKey: await generateAccountKey(),
      now: () => 0,
    });
    await assert.rejects(
      client.order({
        identifiers: [{ type: "dns", value: "example.org" }],
        csr: new Uint8Array([48]),
        solver: { present: async () => {}, cleanup: async () => {} },
      }),
      (e: unknown) => {
        assert.ok(e instanceof AcmeError);
        assert.equal(e.code, "problem");
        assert.equal(e.rateLimited, true);
        assert.equal(e.status, 429);
        assert.equal(e.retryAfterMs, 86_400_000);
        assert.match(
          e.message,
          /^POST https:\/\/acme-v02.api.letsencrypt.org\/acme\/new-order: 429 urn:ietf:params:acme:error:rateLimited: too many certificates/,
        );
        return true;
      },
    );
  });
});

describe("renewalInfo() (RFC 9773)", () => {
  test("GETs renewalInfo/<ariId> (unauthenticated) and returns the window, explanationURL and Retry-After", async () => {
    const { fetch, urls } = leFetch((url) =>
      url.pathname.startsWith("/acme/renewal-info/") ? recorded("le-renewal-info.response.json") : undefined,
    );
    const client = new AcmeClient({ directoryUrl: LE_DIR, fetch, accountKey: await generateAccountKey() });
    const info = await client.renewalInfo(RFC9773);
    assert.deepEqual(info, {
      start: Date.parse("2025-07-01T17:42:03Z"),
      end: Date.parse("2025-07-03T17:42:03Z"),
      explanationUrl: "https://community.letsencrypt.org/t/2025-07-revocation-incident/12345",
      retryAfterMs: 21_600_000,
    });
    assert.deepEqual(urls, [
      `GET ${LE_DIR}`,
      "GET https://acme-v02.api.letsencrypt.org/acme/renewal-info/aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE",
    ]);
  });

  test("a signal aborts the request: AcmeError aborted", async () => {
    const { fetch } = leFetch();
    const hanging: typeof fetch = (input, init) =>
      String(input).includes("/renewal-info/")
        ? new Promise((_, reject) =>
            init?.signal?.addEventListener("abort", () => reject(new Error("aborted by signal"))),
          )
        : fetch(input, init);
    const client = new AcmeClient({
      directoryUrl: LE_DIR,
      fetch: hanging,
      accountKey: await generateAccountKey(),
    });
    const ctl = new AbortController();
    const p = client.renewalInfo(RFC9773, { signal: ctl.signal });
    setTimeout(() => ctl.abort(new Error("stop")), 5);
    await assert.rejects(
      p,
      (e: unknown) => e instanceof AcmeError && e.code === "aborted" && /renewal-info/.test(e.message),
    );
  });

  test("null when the directory has no renewalInfo (Pebble 2.4), without a request", async () => {
    const ca = new FakeAcmeCa();
    const client = new AcmeClient({
      directoryUrl: ca.directoryUrl,
      fetch: ca.fetch,
      accountKey: await generateAccountKey(),
    });
    assert.equal(await client.renewalInfo(RFC9773), null);
    assert.equal(ca.requests.length, 0);
  });

  test("null for a certificate without an Authority Key Identifier", async () => {
    const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.createSelfSigned(
      { name: "CN=no aki", keys, signingAlgorithm: { name: "ECDSA", hash: "SHA-256" } },
      crypto,
    );
    const ca = new FakeAcmeCa({ renewalInfo: true });
    const client = new AcmeClient({
      directoryUrl: ca.directoryUrl,
      fetch: ca.fetch,
      accountKey: await generateAccountKey(),
    });
    assert.equal(await client.renewalInfo(cert.toString("pem")), null);
    assert.equal(ca.requests.length, 0);
  });

  test("a window that is missing or ends before it starts: bad-response", async () => {
    const ca = new FakeAcmeCa({ renewalInfo: true });
    const client = new AcmeClient({
      directoryUrl: ca.directoryUrl,
      fetch: ca.fetch,
      accountKey: await generateAccountKey(),
    });
    ca.renewalInfoResponse = () => json({ suggestedWindow: { start: "yesterday" } });
    await assert.rejects(client.renewalInfo(RFC9773), /"suggestedWindow" needs start and end dates/);
    ca.renewalInfoResponse = () =>
      json({ suggestedWindow: { start: "2026-01-02T00:00:00Z", end: "2026-01-01T00:00:00Z" } });
    await assert.rejects(client.renewalInfo(RFC9773), /ends before it starts/);
    assert.equal(ca.requests[0]?.path, "/renewal-info/aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
  });
});

describe("accountUrl()", () => {
  test("newAccount with jwk, termsOfServiceAgreed and contact; cached; the same URL for the same key", async () => {
    const ca = new FakeAcmeCa();
    const accountKey = await generateAccountKey();
    const client = new AcmeClient({
      directoryUrl: ca.directoryUrl,
      fetch: ca.fetch,
      accountKey,
      contact: ["mailto:a@example.test"],
    });
    const url = await client.accountUrl();
    assert.equal(url, `${ca.base}/acct/1`);
    assert.equal(await client.accountUrl(), url);
    assert.equal(ca.requests.length, 1);
    assert.deepEqual(ca.requests[0]?.payload, {
      termsOfServiceAgreed: true,
      contact: ["mailto:a@example.test"],
    });
    assert.deepEqual(ca.requests[0]?.header?.jwk, await accountJwk(accountKey.publicKey));
    const again = new AcmeClient({ directoryUrl: ca.directoryUrl, fetch: ca.fetch, accountKey });
    assert.equal(await again.accountUrl(), url);
  });

  test("EAB: accepted with the right MAC key; refused without (externalAccountRequired) or with a wrong one", async () => {
    const hmacKey = encodeBase64Url(crypto.getRandomValues(new Uint8Array(32)));
    const ca = new FakeAcmeCa({ eab: { keyId: "kid-1", hmacKey } });
    const make = async (eab?: { keyId: string; hmacKey: string }) =>
      new AcmeClient({
        directoryUrl: ca.directoryUrl,
        fetch: ca.fetch,
        accountKey: await generateAccountKey(),
        eab,
      });
    await assert.rejects(
      (await make()).accountUrl(),
      (e: unknown) =>
        e instanceof AcmeError && e.problem?.type === "urn:ietf:params:acme:error:externalAccountRequired",
    );
    const wrong = encodeBase64Url(crypto.getRandomValues(new Uint8Array(32)));
    await assert.rejects(
      (await make({ keyId: "kid-1", hmacKey: wrong })).accountUrl(),
      /EAB MAC does not verify/,
    );
    assert.match(await (await make({ keyId: "kid-1", hmacKey })).accountUrl(), /\/acct\/1$/);
  });

  test("keyAuthorization() is token.thumbprint of the account key", async () => {
    const accountKey = await generateAccountKey();
    const client = new AcmeClient({ directoryUrl: "https://ca.test/dir", fetch, accountKey });
    const thumb = await jwkThumbprint(await accountJwk(accountKey.publicKey));
    assert.equal(await client.keyAuthorization("tok_1-x"), `tok_1-x.${thumb}`);
  });

  test("a newAccount answer without Location: bad-response", async () => {
    const ca = new FakeAcmeCa();
    ca.intercept = (req) => (req.path === "/new-acct" ? json({ status: "valid" }, 201) : undefined);
    const client = new AcmeClient({
      directoryUrl: ca.directoryUrl,
      fetch: ca.fetch,
      accountKey: await generateAccountKey(),
    });
    await assert.rejects(
      client.accountUrl(),
      (e: unknown) =>
        e instanceof AcmeError && e.code === "bad-response" && /without a Location header/.test(e.message),
    );
  });
});
