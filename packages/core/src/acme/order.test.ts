import assert from "node:assert/strict";
import { describe, test } from "node:test";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { FakeAcmeCa, type FakeAcmeCaOptions, json, problem } from "../../testing/fake-acme-ca.ts";
import { decodeBase64Url } from "./base64url.ts";
import { parseCertificate, splitPemChain } from "./certificate.ts";
import { AcmeClient, type AcmeClientOptions } from "./client.ts";
import { createCsr } from "./csr.ts";
import { AcmeError } from "./errors.ts";
import { generateAccountKey, generateCertificateKey } from "./keys.ts";
import type { TlsAlpnSolver } from "./order-flow.ts";
import type { AcmeIdentifier } from "./resources.ts";

const IDS: AcmeIdentifier[] = [
  { type: "dns", value: "a.example.test" },
  { type: "dns", value: "b.example.test" },
  { type: "ip", value: "203.0.113.7" },
];

/** A fake CA whose validator accepts only what the solver published, a fake clock, a client. */
async function setup(o: FakeAcmeCaOptions = {}, clientOptions: Partial<AcmeClientOptions> = {}) {
  const published = new Map<string, string>();
  const log: string[] = [];
  const ca = new FakeAcmeCa({
    validate: (id, keyAuthorization) =>
      published.get(id.value) === keyAuthorization
        ? null
        : { type: "urn:ietf:params:acme:error:unauthorized", detail: `no key authorization for ${id.value}` },
    ...o,
  });
  const sleeps: number[] = [];
  let clock = Date.parse("2026-01-01T00:00:00Z");
  const client = new AcmeClient({
    directoryUrl: ca.directoryUrl,
    fetch: ca.fetch,
    accountKey: await generateAccountKey(),
    sleep: async (ms) => {
      sleeps.push(ms);
      clock += ms;
    },
    now: () => clock,
    ...clientOptions,
  });
  const solver: TlsAlpnSolver = {
    present: async (id, ka) => {
      log.push(`present ${id.type}:${id.value}`);
      published.set(id.value, ka);
    },
    cleanup: async (id, ka) => {
      log.push(`cleanup ${id.type}:${id.value}`);
      assert.equal(published.get(id.value), ka, "cleanup gets the presented key authorization");
      published.delete(id.value);
    },
  };
  const keys = await generateCertificateKey("ecdsa-p256");
  const csrFor = (ids: readonly AcmeIdentifier[]) => createCsr(ids, keys, "ecdsa-p256");
  return { ca, client, solver, log, sleeps, keys, csrFor, published };
}

const paths = (ca: FakeAcmeCa, prefix: string) => ca.requests.filter((r) => r.path.startsWith(prefix));

describe("AcmeClient.order() against the fake CA", () => {
  test("2 DNS + 1 IP: present, POST {}, poll, finalize with the CSR, download; cleanup each", async () => {
    const { ca, client, solver, log, sleeps, keys, csrFor, published } = await setup();
    const csr = await csrFor(IDS);
    const issued = await client.order({ identifiers: IDS, csr, solver });
    assert.equal(issued.orderUrl, `${ca.base}/order/0`);
    assert.equal(issued.replaced, false);
    const chain = splitPemChain(issued.pem);
    assert.equal(chain.length, 2);
    const leaf = new x509.X509Certificate(chain[0] as string);
    assert.ok(await leaf.verify({ publicKey: new x509.X509Certificate(await ca.caPem()).publicKey }, crypto));
    const info = parseCertificate(issued.pem);
    assert.deepEqual(info.identifiers, IDS);
    assert.deepEqual(
      info.publicKeySpki,
      new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey)),
    );
    assert.match(info.ariId ?? "", /^aYhba4dGQEHhs3uEe6CuLN4ByNQ\./);

    assert.deepEqual(log, [
      "present dns:a.example.test",
      "present dns:b.example.test",
      "present ip:203.0.113.7",
      "cleanup dns:a.example.test",
      "cleanup dns:b.example.test",
      "cleanup ip:203.0.113.7",
    ]);
    assert.equal(published.size, 0);
    const thumb = await client.keyAuthorization("");
    for (const c of paths(ca, "/chall/")) assert.deepEqual(c.payload, {}, "a challenge is answered with {}");
    for (const r of [...paths(ca, "/authz/"), ...paths(ca, "/order/"), ...paths(ca, "/cert/")]) {
      assert.equal(r.payload, "", `${r.path} is POST-as-GET`);
    }
    assert.equal(paths(ca, "/cert/")[0]?.accept, "application/pem-certificate-chain");
    const fin = paths(ca, "/finalize/")[0]?.payload as { csr: string };
    assert.deepEqual(decodeBase64Url(fin.csr), csr);
    assert.deepEqual(paths(ca, "/new-order")[0]?.payload, { identifiers: IDS });
    assert.ok(thumb.startsWith("."));
    // The fake keeps an authorization pending for one poll and an order processing for one poll.
    assert.deepEqual(
      sleeps,
      [1000, 1000, 1000],
      "two waits for the authorizations, one for the processing order",
    );
  });

  test("Retry-After is honoured (capped at 10 s); default 1 s", async () => {
    const a = await setup({ retryAfter: 3, pendingPolls: 2 });
    await a.client.order({
      identifiers: IDS.slice(0, 1),
      csr: await a.csrFor(IDS.slice(0, 1)),
      solver: a.solver,
    });
    assert.deepEqual(a.sleeps, [1000, 3000, 3000, 3000]);
    const b = await setup({ retryAfter: 60 });
    await b.client.order({
      identifiers: IDS.slice(0, 1),
      csr: await b.csrFor(IDS.slice(0, 1)),
      solver: b.solver,
    });
    assert.deepEqual(b.sleeps, [1000, 10_000, 10_000]);
  });

  test("an authorization that is already valid (reuse) is skipped", async () => {
    const { client, solver, log, csrFor } = await setup({ validIdentifiers: ["a.example.test"] });
    await client.order({ identifiers: IDS.slice(0, 2), csr: await csrFor(IDS.slice(0, 2)), solver });
    assert.deepEqual(log, ["present dns:b.example.test", "cleanup dns:b.example.test"]);
  });

  test("failed authorizations: every identifier is reported, all are polled to the end, all cleaned up", async () => {
    const { ca, client, log, csrFor } = await setup({ pendingPolls: 2 });
    const solver: TlsAlpnSolver = {
      present: async (id) => {
        log.push(`present ${id.value}`);
      },
      cleanup: async (id) => {
        log.push(`cleanup ${id.value}`);
      },
    };
    // Publish nothing: all three fail; the IP one too.
    const err = await client
      .order({ identifiers: IDS, csr: await csrFor(IDS), solver })
      .catch((e: unknown) => e);
    assert.ok(err instanceof AcmeError);
    assert.equal(err.code, "authorization-failed");
    assert.deepEqual(
      err.problems.map((p) => p.identifier),
      IDS,
    );
    assert.equal(err.problems[0]?.type, "urn:ietf:params:acme:error:unauthorized");
    assert.equal(
      err.message,
      "authorization failed for a.example.test: urn:ietf:params:acme:error:unauthorized: no key authorization for a.example.test; " +
        "b.example.test: urn:ietf:params:acme:error:unauthorized: no key authorization for b.example.test; " +
        "203.0.113.7: urn:ietf:params:acme:error:unauthorized: no key authorization for 203.0.113.7",
    );
    assert.equal(ca.authzs.filter((a) => a.status === "invalid").length, 3);
    assert.deepEqual(log.filter((l) => l.startsWith("cleanup")).length, 3);
    assert.equal(paths(ca, "/finalize/").length, 0);
  });

  test("one good and one bad identifier: only the bad one is reported", async () => {
    const { client, solver, csrFor } = await setup();
    const bad: TlsAlpnSolver = {
      present: (id, ka) => (id.value === "b.example.test" ? Promise.resolve() : solver.present(id, ka)),
      cleanup: async () => {},
    };
    const ids = IDS.slice(0, 2);
    const err = await client
      .order({ identifiers: ids, csr: await csrFor(ids), solver: bad })
      .catch((e: unknown) => e);
    assert.ok(err instanceof AcmeError && err.code === "authorization-failed");
    assert.deepEqual(
      err.problems.map((p) => p.identifier?.value),
      ["b.example.test"],
    );
    assert.equal(err.problem?.identifier?.value, "b.example.test");
    assert.match(
      err.message,
      /^authorization failed for b\.example\.test: urn:ietf:params:acme:error:unauthorized/,
    );
  });

  test("no tls-alpn-01 challenge: no-tls-alpn-challenge naming the identifier and what is offered", async () => {
    const { client, solver, log, csrFor } = await setup({ challengeTypes: ["http-01", "dns-01"] });
    await assert.rejects(
      client.order({ identifiers: IDS.slice(0, 1), csr: await csrFor(IDS.slice(0, 1)), solver }),
      (e: unknown) => {
        assert.ok(e instanceof AcmeError);
        assert.equal(e.code, "no-tls-alpn-challenge");
        assert.equal(
          e.message,
          "the CA offers no tls-alpn-01 challenge for a.example.test (offered: http-01, dns-01)",
        );
        return true;
      },
    );
    assert.deepEqual(log, []);
  });

  test("the whole order is bounded by orderTimeoutMs: timeout, and the challenge is cleaned up", async () => {
    const { client, solver, log, csrFor, sleeps } = await setup(
      { pendingPolls: Number.POSITIVE_INFINITY, retryAfter: 10 },
      { orderTimeoutMs: 35_000 },
    );
    await assert.rejects(
      client.order({ identifiers: IDS.slice(0, 1), csr: await csrFor(IDS.slice(0, 1)), solver }),
      (e: unknown) => {
        assert.ok(e instanceof AcmeError);
        assert.equal(e.code, "timeout");
        assert.match(e.message, /within 35 s/);
        return true;
      },
    );
    assert.deepEqual(sleeps, [1000, 10_000, 10_000, 10_000, 4000]);
    assert.deepEqual(log, ["present dns:a.example.test", "cleanup dns:a.example.test"]);
  });

  test("a signal aborts: aborted, with cleanup", async () => {
    const ctl = new AbortController();
    const { client, solver, log, csrFor } = await setup({}, { sleep: () => new Promise(() => {}) });
    const p = client.order({
      identifiers: IDS.slice(0, 1),
      csr: await csrFor(IDS.slice(0, 1)),
      solver,
      signal: ctl.signal,
    });
    while (!log.includes("present dns:a.example.test")) await new Promise((r) => setTimeout(r, 1));
    ctl.abort(new Error("shutting down"));
    await assert.rejects(
      p,
      (e: unknown) =>
        e instanceof AcmeError && e.code === "aborted" && (e.cause as Error).message === "shutting down",
    );
    assert.deepEqual(log, ["present dns:a.example.test", "cleanup dns:a.example.test"]);
    const pre = new AbortController();
    pre.abort();
    await assert.rejects(
      client.order({ identifiers: IDS.slice(0, 1), csr: new Uint8Array(), solver, signal: pre.signal }),
      (e: unknown) => e instanceof AcmeError && e.code === "aborted",
    );
  });

  test("a solver that throws in cleanup does not hide the result; onCleanupError hears it", async () => {
    const { client, solver, csrFor } = await setup();
    const seen: string[] = [];
    const issued = await client.order({
      identifiers: IDS.slice(0, 1),
      csr: await csrFor(IDS.slice(0, 1)),
      solver: { present: solver.present, cleanup: () => Promise.reject(new Error("store down")) },
      onCleanupError: (id, e) => seen.push(`${id.value}: ${(e as Error).message}`),
    });
    assert.ok(issued.pem.includes("BEGIN CERTIFICATE"));
    assert.deepEqual(seen, ["a.example.test: store down"]);
  });

  test("an order that becomes invalid after finalize: order-failed with the order's error", async () => {
    const { ca, client, solver, csrFor } = await setup();
    ca.intercept = (req) => {
      if (req.path !== "/order/0" || ca.orders[0]?.status !== "processing") return undefined;
      return json({
        status: "invalid",
        authorizations: [],
        finalize: `${ca.base}/finalize/0`,
        error: { type: "urn:ietf:params:acme:error:serverInternal", detail: "signing failed" },
      });
    };
    await assert.rejects(
      client.order({ identifiers: IDS.slice(0, 1), csr: await csrFor(IDS.slice(0, 1)), solver }),
      (e: unknown) => {
        assert.ok(e instanceof AcmeError);
        assert.equal(e.code, "order-failed");
        assert.equal(e.problem?.type, "urn:ietf:params:acme:error:serverInternal");
        assert.match(e.message, /failed: urn:ietf:params:acme:error:serverInternal: signing failed$/);
        return true;
      },
    );
  });

  test("garbage from the CA: bad-response naming the resource and field", async () => {
    const { ca, client, solver, csrFor } = await setup();
    ca.intercept = (req) =>
      req.path === "/authz/0" ? new Response("{not json", { status: 200 }) : undefined;
    await assert.rejects(
      client.order({ identifiers: IDS.slice(0, 1), csr: await csrFor(IDS.slice(0, 1)), solver }),
      (e: unknown) =>
        e instanceof AcmeError &&
        e.code === "bad-response" &&
        /Cannot parse the authorization from https:\/\/ca.test\/authz\/0: not JSON/.test(e.message),
    );
    ca.intercept = (req) =>
      req.path === "/new-order"
        ? json({ status: "pending", authorizations: "x", finalize: "f" }, 201, {
            location: `${ca.base}/order/9`,
          })
        : undefined;
    await assert.rejects(
      client.order({ identifiers: IDS.slice(0, 1), csr: await csrFor(IDS.slice(0, 1)), solver }),
      /Cannot parse the order from https:\/\/ca.test\/order\/9: "authorizations" is not an array of URLs/,
    );
  });

  test("bad identifiers are a TypeError before anything is sent", async () => {
    const { ca, client, solver } = await setup();
    await assert.rejects(
      client.order({ identifiers: [{ type: "ip", value: "a.test" }], csr: new Uint8Array(), solver }),
      TypeError,
    );
    assert.equal(ca.requests.length, 0);
  });
});

describe("profiles (draft-ietf-acme-profiles)", () => {
  test("no meta.profiles: unknown-profile saying the CA advertises none; nothing ordered", async () => {
    const { ca, client, solver } = await setup();
    await assert.rejects(
      client.order({ identifiers: IDS, csr: new Uint8Array(), solver, profile: "shortlived" }),
      (e: unknown) => {
        assert.ok(e instanceof AcmeError);
        assert.equal(e.code, "unknown-profile");
        assert.equal(e.message, 'profile "shortlived" cannot be requested: the CA advertises no profiles');
        return true;
      },
    );
    assert.equal(paths(ca, "/new-order").length, 0);
  });

  test("a profile the CA does not list: unknown-profile naming the advertised ones", async () => {
    const { client, solver } = await setup({ profiles: { classic: "c", shortlived: "s" } });
    await assert.rejects(
      client.order({ identifiers: IDS, csr: new Uint8Array(), solver, profile: "tlsserver" }),
      (e: unknown) =>
        e instanceof AcmeError &&
        e.code === "unknown-profile" &&
        e.message === 'profile "tlsserver" is not offered by the CA; it offers classic, shortlived',
    );
  });

  test("an advertised profile goes into newOrder", async () => {
    const { ca, client, solver, csrFor } = await setup({ profiles: { classic: "c", shortlived: "s" } });
    await client.order({
      identifiers: IDS.slice(0, 1),
      csr: await csrFor(IDS.slice(0, 1)),
      solver,
      profile: "shortlived",
    });
    assert.deepEqual(paths(ca, "/new-order")[0]?.payload, {
      identifiers: IDS.slice(0, 1),
      profile: "shortlived",
    });
  });
});

describe("replaces (RFC 9773, Section 5)", () => {
  const one = IDS.slice(0, 1);
  test("left out when the directory has no renewalInfo", async () => {
    const { ca, client, solver, csrFor } = await setup();
    const r = await client.order({
      identifiers: one,
      csr: await csrFor(one),
      solver,
      replaces: "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE",
    });
    assert.equal(r.replaced, false);
    assert.deepEqual(paths(ca, "/new-order")[0]?.payload, { identifiers: one });
  });

  test("sent when the directory has renewalInfo", async () => {
    const { ca, client, solver, csrFor } = await setup({ renewalInfo: true });
    const r = await client.order({
      identifiers: one,
      csr: await csrFor(one),
      solver,
      replaces: "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE",
    });
    assert.equal(r.replaced, true);
    assert.deepEqual(paths(ca, "/new-order")[0]?.payload, {
      identifiers: one,
      replaces: "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE",
    });
  });

  test("alreadyReplaced: once more without replaces", async () => {
    const { ca, client, solver, csrFor } = await setup({ renewalInfo: true, alreadyReplaced: true });
    const r = await client.order({ identifiers: one, csr: await csrFor(one), solver, replaces: "x.y" });
    assert.equal(r.replaced, false);
    assert.deepEqual(
      paths(ca, "/new-order").map((q) => q.payload),
      [{ identifiers: one, replaces: "x.y" }, { identifiers: one }],
    );
  });

  test("another refusal of replaces is not retried", async () => {
    const { ca, client, solver, csrFor } = await setup({ renewalInfo: true });
    ca.intercept = (req) => (req.path === "/new-order" ? problem("malformed", "bad replaces") : undefined);
    await assert.rejects(
      client.order({ identifiers: one, csr: await csrFor(one), solver, replaces: "x.y" }),
      /bad replaces/,
    );
    assert.equal(paths(ca, "/new-order").length, 1);
  });
});
