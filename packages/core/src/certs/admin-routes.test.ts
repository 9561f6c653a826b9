import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fakeSource, statusOf } from "../../testing/fake-certs.ts";
import { createAdminApp } from "../admin-api.ts";
import { AdminClientError, createAdminClient } from "../admin-client.ts";
import { MemoryChallengeStore } from "../challenge-store.ts";
import { parseConfig } from "../config.ts";
import { createRouter } from "../router.ts";
import type { CertificateSource, CertificateStatus } from "./status.ts";

const TOKEN = "test-token-0123456789abcdef";

function setup(certificates?: CertificateSource) {
  const router = createRouter({ config: parseConfig({ default: "reject" }) });
  const app = createAdminApp({
    router,
    challenges: new MemoryChallengeStore(),
    token: TOKEN,
    ...(certificates ? { certificates } : {}),
  });
  const req = (method: string, path: string, token = TOKEN) =>
    app.request(path, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { app, req };
}

describe("admin API: certificates", () => {
  test("every certificate route needs the bearer token", async () => {
    const { req } = setup(fakeSource([statusOf("web")]));
    for (const [m, p] of [
      ["GET", "/v1/certificates"],
      ["GET", "/v1/certificates/web"],
      ["POST", "/v1/certificates/web/renew"],
    ] as const) {
      assert.equal((await req(m, p, "")).status, 401, `${m} ${p} without a token`);
      assert.equal(
        (await req(m, p, "wrong-token-0123456789abc")).status,
        401,
        `${m} ${p} with a wrong token`,
      );
    }
  });

  test("GET lists every status; GET by name gives one, 404 for an unknown name", async () => {
    const source = fakeSource([statusOf("web"), statusOf("mail", { state: "failed", certificate: null })]);
    const { req } = setup(source);
    const list = await req("GET", "/v1/certificates");
    assert.equal(list.status, 200);
    const body = (await list.json()) as { certificates: CertificateStatus[] };
    assert.deepEqual(
      body.certificates.map((s) => [s.name, s.state]),
      [
        ["web", "valid"],
        ["mail", "failed"],
      ],
    );
    const one = await req("GET", "/v1/certificates/mail");
    assert.equal(one.status, 200);
    assert.equal(((await one.json()) as CertificateStatus).name, "mail");
    const none = await req("GET", "/v1/certificates/nope");
    assert.equal(none.status, 404);
    assert.equal(((await none.json()) as { error: { code: string } }).error.code, "certificate-not-found");
  });

  test("POST renew answers 202 with the running status; 404 for an unknown name", async () => {
    const source = fakeSource([statusOf("web")]);
    const { req } = setup(source);
    const res = await req("POST", "/v1/certificates/web/renew");
    assert.equal(res.status, 202);
    assert.equal(((await res.json()) as CertificateStatus).state, "renewing");
    assert.deepEqual(source.renewed, ["web"]);
    const none = await req("POST", "/v1/certificates/nope/renew");
    assert.equal(none.status, 404);
    assert.deepEqual(source.renewed, ["web"]);
  });

  test("without a certificate manager the list is empty and names are 404", async () => {
    const { req } = setup();
    assert.deepEqual(await (await req("GET", "/v1/certificates")).json(), { certificates: [] });
    assert.equal((await req("POST", "/v1/certificates/web/renew")).status, 404);
  });

  test("the admin client lists, gets and renews; an unknown name is not-found", async () => {
    const source = fakeSource([statusOf("web")]);
    const { app } = setup(source);
    const client = createAdminClient({
      baseUrl: "http://127.0.0.1:9180",
      token: TOKEN,
      fetch: (r) => app.fetch(r),
    });
    assert.equal((await client.listCertificates())[0]?.name, "web");
    assert.equal((await client.getCertificate("web")).certificate?.serial, "fa1e");
    assert.equal((await client.renewCertificate("web")).state, "renewing");
    await assert.rejects(
      client.renewCertificate("nope"),
      (e: unknown) =>
        e instanceof AdminClientError && e.code === "not-found" && e.serverCode === "certificate-not-found",
    );
  });
});
