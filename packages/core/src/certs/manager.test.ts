import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { acmeError, FakeCertRedis, FakeClock, FakeIssuer, MemoryCertHost } from "../../testing/fake-certs.ts";
import { MemoryChallengeStore } from "../challenge-store.ts";
import { parseConfig } from "../config.ts";
import { Registry } from "../metrics.ts";
import { MAX_TIMER_MS } from "./clock.ts";
import { CertificateManager, type CertificateManagerOptions } from "./manager.ts";
import { RedisCoordinator } from "./shared.ts";
import { acmeTools } from "./wire.ts";

const DAY = 86_400_000;
const ROUTE = { name: "acme", match: { acme: "exact" }, target: { acme: "builtin" } };

function configOf(cert: Record<string, unknown> = {}) {
  return parseConfig({
    default: "reject",
    routes: [ROUTE],
    acme: { directory: "https://ca.test/dir", storage: "/var/lib/alpnmux", profile: "classic" },
    certificates: [
      {
        name: "web",
        identifiers: ["example.com", "203.0.113.7"],
        out: "/etc/ssl/web",
        deploy: "systemctl reload nginx",
        ...cert,
      },
    ],
  });
}

function setup(
  o: {
    host?: MemoryCertHost;
    clock?: FakeClock;
    cert?: Record<string, unknown>;
    extra?: Partial<CertificateManagerOptions>;
  } = {},
) {
  const clock = o.clock ?? new FakeClock();
  const host = o.host ?? new MemoryCertHost();
  const issuer = new FakeIssuer(clock);
  const store = new MemoryChallengeStore({ now: () => clock.now() });
  const registry = new Registry();
  const config = configOf(o.cert);
  const manager = new CertificateManager({
    acme: config.acme,
    certificates: config.certificates,
    host,
    issuer: () => issuer,
    tools: acmeTools(),
    challenges: store,
    clock,
    registry,
    ...o.extra,
  });
  const settle = () => manager.idle();
  return { clock, host, issuer, store, registry, manager, settle };
}

const status = (m: CertificateManager) =>
  m.list()[0] as NonNullable<ReturnType<CertificateManager["list"]>[0]>;

describe("CertificateManager", () => {
  test("a missing certificate is ordered at start: files, modes, order, deploy, status, metrics", async () => {
    const { host, issuer, store, registry, manager, settle, clock } = setup();
    await manager.start();
    assert.equal(status(manager).state, "renewing");
    await settle();
    assert.equal(issuer.orders.length, 1);
    const order = issuer.orders[0];
    assert.deepEqual(order?.identifiers, [
      { type: "dns", value: "example.com" },
      { type: "ip", value: "203.0.113.7" },
    ]);
    assert.equal(order?.profile, "classic");
    assert.equal(order?.replaces, undefined);
    // The key authorizations went to the challenge store and were removed after.
    assert.deepEqual(
      issuer.presented.map((p) => p.identifier),
      ["example.com", "203.0.113.7"],
    );
    assert.equal((await store.list()).length, 0);
    for (const f of ["privkey.pem", "cert.pem", "chain.pem", "fullchain.pem"]) {
      assert.ok(host.files.has(`/etc/ssl/web/${f}`), f);
    }
    assert.equal(host.files.get("/etc/ssl/web/privkey.pem")?.mode, 0o600);
    assert.equal(host.files.get("/etc/ssl/web/fullchain.pem")?.mode, 0o644);
    assert.equal(host.files.get("/var/lib/alpnmux/certificates/web/privkey.pem")?.mode, 0o600);
    const w = host.writes;
    assert.ok(w.indexOf("/etc/ssl/web/privkey.pem") < w.indexOf("/etc/ssl/web/fullchain.pem"));
    assert.ok(
      w.indexOf("/var/lib/alpnmux/certificates/web/privkey.pem") <
        w.indexOf("/var/lib/alpnmux/certificates/web/fullchain.pem"),
    );
    const full = host.text("/etc/ssl/web/fullchain.pem") ?? "";
    assert.equal(full, `${host.text("/etc/ssl/web/cert.pem")}${host.text("/etc/ssl/web/chain.pem")}`);
    assert.match(host.text("/etc/ssl/web/privkey.pem") ?? "", /BEGIN PRIVATE KEY/);
    const accountKey = [...host.files].find(([p]) => p.endsWith("/account-key.pem"));
    assert.ok(accountKey?.[0].startsWith("/var/lib/alpnmux/accounts/"));
    assert.equal(accountKey?.[1].mode, 0o600);
    assert.deepEqual(host.runs, [
      {
        command: "systemctl reload nginx",
        env: { ALPNMUX_CERT_NAME: "web", ALPNMUX_CERT_DIR: "/etc/ssl/web" },
        timeoutMs: 60_000,
      },
    ]);
    const s = status(manager);
    assert.equal(s.state, "valid");
    assert.equal(s.lastResult?.outcome, "issued");
    assert.equal(s.lastResult?.deployExitCode, 0);
    assert.deepEqual(s.certificate?.identifiers, ["example.com", "203.0.113.7"]);
    // No ARI: 2/3 of 90 days after notBefore (random 0.5 = no jitter).
    const nb = Date.parse(s.certificate?.notBefore ?? "");
    assert.equal(s.nextRenewal?.reason, "lifetime");
    assert.equal(Date.parse(s.nextRenewal?.at ?? ""), nb + 60 * DAY);
    const state = JSON.parse(host.text("/var/lib/alpnmux/certificates/web/state.json") ?? "{}");
    assert.equal(state.lastResult.outcome, "issued");
    assert.equal(state.nextRenewal.reason, "lifetime");
    const text = registry.render();
    assert.match(text, /alpnmux_certificate_renewals_total\{name="web",result="issued"\} 1/);
    assert.match(
      text,
      new RegExp(
        `alpnmux_certificate_not_after_seconds\\{name="web"\\} ${Date.parse(s.certificate?.notAfter ?? "") / 1000}`,
      ),
    );
    assert.ok(clock.nextAt() !== undefined);
    await manager.stop();
    assert.equal(clock.nextAt(), undefined, "stop cancels the timer");
  });

  test("a restart with a valid certificate on disk orders nothing; changed identifiers or key type do", async () => {
    const first = setup();
    await first.manager.start();
    await first.settle();
    await first.manager.stop();
    const serial = status(first.manager).certificate?.serial;

    const again = setup({ host: first.host, clock: first.clock });
    await again.manager.start();
    await again.settle();
    assert.equal(again.issuer.orders.length, 0);
    assert.equal(status(again.manager).state, "valid");
    assert.equal(status(again.manager).certificate?.serial, serial);
    assert.equal(status(again.manager).lastResult?.outcome, "issued", "the last result is read back");
    assert.equal(first.host.runs.length, 1, "no deploy: out already holds it");
    await again.manager.stop();

    const more = setup({
      host: first.host,
      clock: first.clock,
      cert: { identifiers: ["example.com", "www.example.com"] },
    });
    await more.manager.start();
    await more.settle();
    assert.equal(more.issuer.orders.length, 1);
    assert.deepEqual(status(more.manager).certificate?.identifiers, ["example.com", "www.example.com"]);
    await more.manager.stop();

    const rsa = setup({
      host: first.host,
      clock: first.clock,
      cert: { identifiers: ["example.com", "www.example.com"], keyType: "rsa-2048" },
    });
    await rsa.manager.start();
    await rsa.settle();
    assert.equal(rsa.issuer.orders.length, 1, "another key type is a new order");
    await rsa.manager.stop();
  });

  test("a failure keeps the old certificate, reports the problems and backs off; Retry-After and rateLimited wait longer", async () => {
    const { issuer, manager, settle, clock, registry, host } = setup();
    await manager.start();
    await settle();
    const old = status(manager).certificate?.serial;
    const problems = [
      {
        type: "urn:ietf:params:acme:error:unauthorized",
        detail: "no acme-tls/1 answer",
        identifier: { type: "ip" as const, value: "203.0.113.7" },
      },
    ];
    issuer.failures.push(acmeError("authorization for 203.0.113.7 failed: unauthorized", { problems }));
    await manager.renew("web");
    await settle();
    let s = status(manager);
    assert.equal(s.state, "valid");
    assert.equal(s.certificate?.serial, old);
    assert.equal(s.lastResult?.outcome, "failed");
    assert.deepEqual(s.lastResult?.problems, problems);
    assert.match(s.lastResult?.message ?? "", /203\.0\.113\.7/);
    assert.equal(s.nextRenewal?.reason, "retry-backoff");
    assert.equal(Date.parse(s.nextRenewal?.at ?? "") - clock.now(), 60_000);
    assert.match(registry.render(), /result="failed"\} 1/);
    assert.equal(host.runs.length, 1, "no deploy for a failure");

    issuer.failures.push(acmeError("again"));
    await clock.advanceTo(clock.now() + 60_000, settle);
    s = status(manager);
    assert.equal(Date.parse(s.nextRenewal?.at ?? "") - clock.now(), 120_000, "doubles");

    issuer.failures.push(acmeError("slow down", { retryAfterMs: 3_600_000 }));
    await clock.advanceTo(clock.now() + 120_000, settle);
    s = status(manager);
    assert.equal(s.nextRenewal?.reason, "retry-after");
    assert.equal(Date.parse(s.nextRenewal?.at ?? "") - clock.now(), 3_600_000);

    issuer.failures.push(acmeError("too many", { rateLimited: true }));
    await clock.advanceTo(clock.now() + 3_600_000, settle);
    s = status(manager);
    assert.equal(s.nextRenewal?.reason, "retry-after");
    assert.ok(Date.parse(s.nextRenewal?.at ?? "") - clock.now() >= 3_600_000);

    await clock.advanceTo(Date.parse(s.nextRenewal?.at ?? ""), settle);
    s = status(manager);
    assert.equal(s.lastResult?.outcome, "issued");
    assert.notEqual(s.certificate?.serial, old);
    assert.equal(s.nextRenewal?.reason, "lifetime", "success resets the backoff");
    await manager.stop();
  });

  test("with no certificate, a failure is state failed", async () => {
    const { issuer, manager, settle } = setup();
    issuer.failures.push(acmeError("dns problem"));
    await manager.start();
    await settle();
    assert.equal(status(manager).state, "failed");
    assert.equal(status(manager).certificate, null);
    await manager.stop();
  });

  test("a failing deploy is logged in the result; the certificate is still issued", async () => {
    const host = new MemoryCertHost();
    host.runResult = { code: 3, output: "nginx: [emerg] bad config\n" };
    const { manager, settle } = setup({ host });
    await manager.start();
    await settle();
    assert.equal(status(manager).lastResult?.outcome, "issued");
    assert.equal(status(manager).lastResult?.deployExitCode, 3);
    assert.equal(status(manager).state, "valid");
    await manager.stop();
  });

  test("ARI: a random time inside the window, rechecked every 6 h, and the renewal replaces the ariId", async () => {
    const { issuer, manager, settle, clock } = setup();
    await manager.start();
    await settle();
    const start = clock.now() + 30 * DAY;
    issuer.ari = { start, end: start + 2 * DAY, explanationUrl: "https://ca.test/why" };
    clock.randomValue = 0.25;
    await manager.renew("web");
    await settle();
    const s = status(manager);
    assert.equal(s.nextRenewal?.reason, "ari-window");
    assert.equal(s.nextRenewal?.explanationUrl, "https://ca.test/why");
    assert.equal(Date.parse(s.nextRenewal?.at ?? ""), start + 0.5 * DAY);
    assert.equal(clock.nextAt(), clock.now() + 6 * 3_600_000, "the timer rechecks ARI first");
    const calls = issuer.renewalInfoCalls;
    clock.randomValue = 0.9; // the window is the same: the time picked stays
    await clock.advanceTo(clock.now() + 6 * 3_600_000, settle);
    assert.equal(issuer.renewalInfoCalls, calls + 1);
    assert.equal(Date.parse(status(manager).nextRenewal?.at ?? ""), start + 0.5 * DAY);
    // The CA moves the window to now (RFC 9773 §4.2: renew at once when it has passed).
    const serial = status(manager).certificate?.serial;
    const { certificate } = status(manager);
    const past = { start: clock.now() - DAY, end: clock.now() - 1, retryAfterMs: 60_000 };
    const later = { start: clock.now() + 60 * DAY, end: clock.now() + 61 * DAY };
    // The window of the certificate in use has passed; the new one's is later.
    issuer.ari = (pem) => (acmeTools().parseCertificate(pem).serial === certificate?.serial ? past : later);
    await clock.advanceTo(clock.now() + 6 * 3_600_000, settle);
    assert.equal(issuer.orders.length, 3);
    assert.match(issuer.orders[2]?.replaces ?? "", /^[\w-]+\.[\w-]+$/, "replaces the current ariId");
    assert.notEqual(status(manager).certificate?.serial, serial);
    await manager.stop();
  });

  test("short lifetimes renew at 1/2; long delays are armed in steps of at most 2^31-1 ms", async () => {
    const short = setup();
    short.issuer.lifetimeMs = 6 * DAY;
    await short.manager.start();
    await short.settle();
    const s = status(short.manager);
    assert.equal(Date.parse(s.nextRenewal?.at ?? ""), Date.parse(s.certificate?.notBefore ?? "") + 3 * DAY);
    await short.manager.stop();

    const long = setup();
    long.issuer.lifetimeMs = 5 * 365 * DAY; // Pebble's
    await long.manager.start();
    await long.settle();
    const timers = [...long.clock.timers.values()];
    assert.equal(timers.length, 1);
    assert.equal(timers[0]?.ms, MAX_TIMER_MS);
    const due = Date.parse(status(long.manager).nextRenewal?.at ?? "");
    // Stepping through the capped timers does not order early...
    await long.clock.advanceTo(due - 1, long.settle);
    assert.equal(long.issuer.orders.length, 1);
    // ...and the last step orders on time.
    await long.clock.advanceTo(due, long.settle);
    assert.equal(long.issuer.orders.length, 2);
    await long.manager.stop();
  });

  test("renew: an unknown name is a RangeError; while one order runs, a second renew starts none", async () => {
    const { issuer, manager, settle } = setup();
    await assert.rejects(manager.renew("nope"), RangeError);
    let open = () => {};
    issuer.gate = new Promise<void>((r) => {
      open = r;
    });
    await manager.start();
    const a = await manager.renew("web");
    assert.equal(a.state, "renewing");
    assert.equal(a.nextRenewal, null);
    await manager.renew("web");
    open();
    await settle();
    assert.equal(issuer.orders.length, 1);
    await manager.stop();
  });

  test("stop aborts a running order and leaves no timer", async () => {
    const { issuer, manager, clock } = setup();
    issuer.gate = new Promise(() => {});
    await manager.start();
    // The fake issuer waits on the gate; stop aborts through the signal passed to order().
    const signal = await new Promise<AbortSignal>((resolve) => {
      const t = setInterval(() => {
        const s = issuer.orders[0]?.signal;
        if (s) {
          clearInterval(t);
          resolve(s);
        }
      }, 1);
    });
    await manager.stop();
    assert.equal(signal.aborted, true);
    assert.equal(clock.nextAt(), undefined);
    assert.equal(status(manager).lastResult, null, "an aborted order is no failure");
  });

  test("Redis: while one instance orders, the other waits and takes its result (shared)", async () => {
    const clock = new FakeClock();
    const redis = new FakeCertRedis(() => clock.now());
    const coordinator = () => new RedisCoordinator({ client: redis, keyPrefix: "t:" });
    const a = setup({ clock, extra: { coordinator: coordinator(), sharedPollMs: 5_000 } });
    const b = setup({ clock, extra: { coordinator: coordinator(), sharedPollMs: 5_000 } });
    let open = () => {};
    a.issuer.gate = new Promise<void>((r) => {
      open = r;
    });
    await a.manager.start();
    while (a.issuer.orders.length === 0) await new Promise((r) => setTimeout(r, 1));
    assert.ok(redis.kv.has("t:cert-lock:web"), "A holds the lock");
    await b.manager.start();
    while (clock.timers.size < 2) await new Promise((r) => setTimeout(r, 1)); // A's lock extender, B's poll
    open();
    await a.settle();
    assert.equal(status(a.manager).lastResult?.outcome, "issued");
    assert.ok(!redis.kv.has("t:cert-lock:web"), "A released the lock");
    assert.ok(redis.kv.has("t:cert:web"), "A published the certificate");
    await clock.advanceTo(clock.now() + 5_000);
    await b.settle();
    assert.equal(b.issuer.orders.length, 0);
    const sb = status(b.manager);
    assert.equal(sb.lastResult?.outcome, "shared");
    assert.equal(sb.certificate?.serial, status(a.manager).certificate?.serial);
    assert.equal(b.host.text("/etc/ssl/web/fullchain.pem"), a.host.text("/etc/ssl/web/fullchain.pem"));
    assert.equal(b.host.runs.length, 1, "B runs its own deploy");
    assert.match(b.registry.render(), /result="shared"\} 1/);
    // A third instance starting later takes the shared one at once.
    const c = setup({ clock, extra: { coordinator: coordinator() } });
    await c.manager.start();
    await c.settle();
    assert.equal(c.issuer.orders.length, 0);
    assert.equal(status(c.manager).lastResult?.outcome, "shared");
    await Promise.all([a.manager.stop(), b.manager.stop(), c.manager.stop()]);
  });

  test("update (SIGHUP): added certificates start, removed ones stop, changed ones start from their files", async () => {
    const { issuer, manager, settle, clock, registry } = setup();
    await manager.start();
    await settle();
    const web = configOf().certificates[0];
    assert.ok(web);
    const mail = { ...web, name: "mail", identifiers: ["mail.example.com"], out: "/etc/ssl/mail" };
    let r = await manager.update([web, mail]);
    assert.deepEqual(r, { added: ["mail"], removed: [], changed: [] });
    await settle();
    assert.equal(issuer.orders.length, 2);
    assert.deepEqual(
      manager.list().map((s) => [s.name, s.state]),
      [
        ["web", "valid"],
        ["mail", "valid"],
      ],
    );
    // Only the deploy command changed: the certificate on disk still fits, nothing is ordered.
    r = await manager.update([{ ...web, deploy: "true" }, mail]);
    assert.deepEqual(r.changed, ["web"]);
    await settle();
    assert.equal(issuer.orders.length, 2);
    assert.equal(manager.list()[0]?.state, "valid");
    // New identifiers: ordered; mail removed: gone from the list, its timer and gauge too.
    r = await manager.update([{ ...web, identifiers: ["example.com", "www.example.com"] }]);
    assert.deepEqual(r, { added: [], removed: ["mail"], changed: ["web"] });
    await settle();
    assert.equal(issuer.orders.length, 3);
    assert.deepEqual(
      issuer.orders[2]?.identifiers.map((i) => i.value),
      ["example.com", "www.example.com"],
    );
    assert.deepEqual(
      manager.list().map((s) => s.name),
      ["web"],
    );
    assert.equal(clock.timers.size, 1, "one timer: web's");
    assert.doesNotMatch(registry.render(), /not_after_seconds\{name="mail"\}/);
    await manager.stop();
  });

  test("ARI unreachable: the lifetime schedule, and ARI asked again in 6 h", async () => {
    const { issuer, manager, settle, clock } = setup();
    issuer.ari = () => {
      throw new Error("ECONNREFUSED");
    };
    await manager.start();
    await settle();
    assert.equal(status(manager).nextRenewal?.reason, "lifetime");
    assert.equal(clock.nextAt(), clock.now() + 6 * 3_600_000);
    const start = clock.now() + 20 * DAY;
    issuer.ari = { start, end: start + DAY };
    await clock.advanceTo(clock.now() + 6 * 3_600_000, settle);
    assert.equal(status(manager).nextRenewal?.reason, "ari-window");
    assert.equal(Date.parse(status(manager).nextRenewal?.at ?? ""), start + DAY / 2);
    assert.equal(issuer.orders.length, 1);
    await manager.stop();
  });
});
