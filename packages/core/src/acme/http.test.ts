import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FakeAcmeCa, json } from "../../testing/fake-acme-ca.ts";
import { AcmeError } from "./errors.ts";
import { AcmeHttp, BAD_NONCE_ATTEMPTS, NONCE_POOL_SIZE } from "./http.ts";
import { accountJwk } from "./jws.ts";
import { generateAccountKey } from "./keys.ts";

async function setup(fetchFn?: typeof fetch) {
  const ca = new FakeAcmeCa();
  const keys = await generateAccountKey();
  const http = new AcmeHttp({
    fetch: fetchFn ?? ca.fetch,
    key: keys.privateKey,
    newNonceUrl: () => Promise.resolve("https://ca.test/new-nonce"),
  });
  const jwk = await accountJwk(keys.publicKey);
  return { ca, http, jwk };
}

const newAccount = { termsOfServiceAgreed: true };

describe("AcmeHttp", () => {
  test("a signed POST: HEAD newNonce only when the pool is empty; every Replay-Nonce is kept", async () => {
    const ca = new FakeAcmeCa();
    const calls: string[] = [];
    const spy: typeof fetch = (input, init) => {
      calls.push(`${init?.method} ${new URL(String(input)).pathname}`);
      return ca.fetch(input, init);
    };
    const { http, jwk } = await setup(spy);
    const r = await http.post(`${ca.base}/new-acct`, newAccount, { jwk });
    assert.equal(r.status, 201);
    const kid = r.headers.get("location") ?? "";
    await http.post(`${ca.base}/new-acct`, newAccount, { jwk });
    await http.get(`${ca.base}/dir`);
    await http.post(`${ca.base}/new-order`, { identifiers: [{ type: "dns", value: "a.test" }] }, { kid });
    assert.deepEqual(calls, [
      "HEAD /new-nonce",
      "POST /new-acct",
      "POST /new-acct",
      "GET /dir",
      "POST /new-order",
    ]);
    assert.equal(http.pooledNonces, 1, "the new-order answer's nonce");
    assert.equal(ca.requests[0]?.contentType, "application/jose+json");
    assert.deepEqual(Object.keys(ca.requests[0]?.header ?? {}).sort(), ["alg", "jwk", "nonce", "url"]);
    assert.deepEqual(Object.keys(ca.requests[2]?.header ?? {}).sort(), ["alg", "kid", "nonce", "url"]);
  });

  test("badNonce: the request is signed again with the fresh nonce, up to 3 retries", async () => {
    const { ca, http, jwk } = await setup();
    ca.badNonces = BAD_NONCE_ATTEMPTS - 1;
    const r = await http.post(`${ca.base}/new-acct`, newAccount, { jwk });
    assert.equal(r.status, 201);
    assert.equal(ca.requests.length, BAD_NONCE_ATTEMPTS);
    const nonces = ca.requests.map((q) => q.header?.nonce);
    assert.equal(new Set(nonces).size, nonces.length, "a fresh nonce each time");
  });

  test("badNonce a 4th time: the problem is thrown", async () => {
    const { ca, http, jwk } = await setup();
    ca.badNonces = BAD_NONCE_ATTEMPTS;
    await assert.rejects(http.post(`${ca.base}/new-acct`, newAccount, { jwk }), (e: unknown) => {
      assert.ok(e instanceof AcmeError);
      assert.equal(e.code, "problem");
      assert.equal(e.problem?.type, "urn:ietf:params:acme:error:badNonce");
      assert.equal(e.status, 400);
      return true;
    });
    assert.equal(ca.requests.length, BAD_NONCE_ATTEMPTS);
  });

  test("the nonce pool is bounded", async () => {
    let n = 0;
    const many: typeof fetch = async () => json({}, 200, { "replay-nonce": `n${++n}` });
    const { http } = await setup(many);
    for (let i = 0; i < NONCE_POOL_SIZE + 5; i++) await http.get("https://ca.test/x");
    assert.equal(http.pooledNonces, NONCE_POOL_SIZE);
  });

  test("a fetch that throws: AcmeError network with the cause", async () => {
    const cause = new TypeError("fetch failed: ECONNREFUSED");
    const { http } = await setup(() => Promise.reject(cause));
    await assert.rejects(http.get("https://ca.test/dir"), (e: unknown) => {
      assert.ok(e instanceof AcmeError);
      assert.equal(e.code, "network");
      assert.equal(e.cause, cause);
      assert.match(e.message, /GET https:\/\/ca.test\/dir failed: fetch failed: ECONNREFUSED/);
      return true;
    });
  });

  test("an error status without a problem document: bad-response with status and Retry-After", async () => {
    const { http } = await setup(
      async () =>
        new Response("<html>Bad gateway</html>", {
          status: 503,
          headers: { "retry-after": "30", "content-type": "text/html" },
        }),
    );
    await assert.rejects(http.get("https://ca.test/dir"), (e: unknown) => {
      assert.ok(e instanceof AcmeError);
      assert.equal(e.code, "bad-response");
      assert.equal(e.status, 503);
      assert.equal(e.retryAfterMs, 30_000);
      assert.match(e.message, /503 \(text\/html\) without a problem document/);
      return true;
    });
  });

  test("a problem document: AcmeError problem with type, status and Retry-After", async () => {
    const body = { type: "urn:ietf:params:acme:error:rateLimited", detail: "slow down", status: 429 };
    const { http } = await setup(async () =>
      json(body, 429, { "retry-after": "120", "content-type": "application/problem+json" }),
    );
    await assert.rejects(http.get("https://ca.test/x"), (e: unknown) => {
      assert.ok(e instanceof AcmeError);
      assert.equal(e.code, "problem");
      assert.deepEqual(e.problem, body);
      assert.equal(e.retryAfterMs, 120_000);
      assert.equal(e.rateLimited, true);
      assert.equal(e.message, "GET https://ca.test/x: 429 urn:ietf:params:acme:error:rateLimited: slow down");
      return true;
    });
  });

  test("newNonce without a Replay-Nonce header: bad-response", async () => {
    const { http, jwk } = await setup(async () => new Response(null, { status: 200 }));
    await assert.rejects(http.post("https://ca.test/new-acct", {}, { jwk }), /without a Replay-Nonce header/);
  });
});
