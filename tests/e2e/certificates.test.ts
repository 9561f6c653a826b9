/**
 * @module certificates.test — alpnmux obtains and renews certificates itself (`acme:` +
 * `certificates:`), against a real Pebble validating through alpnmux's own port (Pebble's
 * tlsPort), on the CLI under test (Bun, or Deno with `ALPNMUX_CMD=alpnmux-deno`):
 *
 * 1. certificate `a` (two DNS names + 127.0.0.1) is issued: fullchain.pem verifies up to
 *    Pebble's root (openssl verify -untrusted), the SANs are the configured ones, privkey.pem
 *    is 0600 and matches, cert.pem + chain.pem = fullchain.pem, deploy ran with
 *    ALPNMUX_CERT_NAME / ALPNMUX_CERT_DIR after the files were in place;
 * 2. certificate `b` names a host Pebble's DNS resolves to 127.0.0.2, where nothing listens:
 *    it fails with the CA's problem naming it in `GET /v1/certificates`, `alpnmux certs list`
 *    and the log, while `a` stays valid;
 * 3. `alpnmux certs renew a` and `POST /v1/certificates/a/renew` each give a new serial and
 *    run deploy again;
 * 4. the metrics show notAfter and the renewal counters;
 * 5. a restart with the same storage orders nothing for `a` (no new validation for its names
 *    in Pebble's log, same serial, no deploy);
 * HTTPS to the default backend through the same port every 200 ms never fails meanwhile
 * (paused only while the process is down for the restart).
 *
 * `alpnmux check examples/certificates.yaml` (the README's quick start) exits 0; the same file
 * with a wildcard identifier is refused naming the field.
 *
 * Then two instances sharing Redis (`challenges.store: redis`, a second Pebble): instance X on
 * 127.0.0.1 and Y on 127.0.0.3 (Pebble's DNS sends the second name there), one certificate for
 * both names with a different `out` each: one instance orders (once: one validation per name
 * in Pebble's log), each name's validation is answered by the instance Pebble dials (so the
 * challenges crossed Redis), and both write the same certificate and key and run deploy.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { formatUtc } from "@alpnmux/core/status-page";
import { adminFetch, type BuiltinRouter, connLines } from "../_harness/admin.ts";
import { startHttpsBackend } from "../_harness/backends.ts";
import {
  type CertEntry,
  certList,
  certsCli,
  normalizeSerial,
  pebbleAcme,
  probeLoop,
  publicKeys,
  sample,
  serialOf,
  startCertRouter,
  verifyFullchain,
  waitFile,
  waitStatus,
} from "../_harness/cert-e2e.ts";
import { certSans, createCA, issueCert } from "../_harness/certs.ts";
import { chromiumUnavailable, loginAndRead } from "../_harness/chromium.ts";
import { type Pebble, startPebble } from "../_harness/pebble.ts";
import { repoRoot, runProc, workspace } from "../_harness/proc.ts";
import { startRedisServer } from "../_harness/redis.ts";
import { routerCommand } from "../_harness/router.ts";

const ws = workspace("certificates", after);
const DNS1 = "one.certs.test";
const DNS2 = "two.certs.test";
const IP = "127.0.0.1";
const UNREACHABLE = "unreachable.certs.test";
const WEB = "web.certs.test";
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let pebble: Pebble;
let router: BuiltinRouter;
let config: { acme: { storage: string }; certificates: CertEntry[] } & Record<string, unknown>;
let outA = "";
let deployLog = "";
let backendPort = 0;
let backendBody = "";
let caPem = "";
let startedAt = 0;
let probes: ReturnType<typeof probeLoop>;
const probeTotals = { probes: 0, failures: [] as string[] };
const serials: string[] = [];

/** The lines the deploy command appended: `name dir serial`. */
const deploys = () =>
  fs.existsSync(deployLog)
    ? fs
        .readFileSync(deployLog, "utf8")
        .split("\n")
        .filter((l) => l !== "")
    : [];
/** How many validations Pebble started for `name` (its log names each task's identifier). */
const validations = (name: string) =>
  fs.readFileSync(pebble.pebble.logPath, "utf8").split(`Value:"${name}"`).length - 1;

/** A deploy line with the serial as the status gives it (lower case, no leading zeros). */
const normalizeDeploy = (l: string) =>
  l.replace(/ serial=([0-9A-Fa-f]+)$/, (_m, hex: string) => ` ${normalizeSerial(hex)}`);

function startProbes() {
  probes = probeLoop({ port: pebble.tlsPort, servername: WEB, ca: caPem, body: backendBody });
}
async function stopProbes() {
  const r = await probes.stop();
  probeTotals.probes += r.probes;
  probeTotals.failures.push(...r.failures);
}

describe("examples/certificates.yaml", () => {
  const example = path.join(repoRoot, "examples", "certificates.yaml");

  test("alpnmux check accepts it", { timeout: 20_000 }, async () => {
    const r = await runProc(ws, "check-example", [...routerCommand(), "check", example], {
      timeoutMs: 15_000,
    });
    assert.equal(r.code, 0, r.output);
    assert.match(r.stdout, /certificates\.yaml: ok/);
  });

  test("the same file with a wildcard identifier is refused, naming the field", {
    timeout: 20_000,
  }, async () => {
    const bad = path.join(ws.dir, "certificates-wildcard.yaml");
    fs.writeFileSync(bad, fs.readFileSync(example, "utf8").replace('"www.example.com"', '"*.example.com"'));
    const r = await runProc(ws, "check-wildcard", [...routerCommand(), "check", bad], { timeoutMs: 15_000 });
    assert.equal(r.code, 1, r.output);
    assert.match(r.stderr, /certificates\[0\]\.identifiers\[1\]: .*wildcard/);
  });
});

describe("certificates: alpnmux orders, renews and deploys its own certificates (Pebble)", () => {
  before(async () => {
    const ca = createCA(ws.subdir("pki"));
    caPem = ca.cert;
    const leaf = issueCert(ca, [WEB]);
    pebble = await startPebble(ws);
    await pebble.addA(UNREACHABLE, ["127.0.0.2"]);
    const backend = await startHttpsBackend(ws, { name: "web", cert: leaf });
    backendPort = backend.port;
    backendBody = backend.body;
    outA = path.join(ws.dir, "out", "a");
    deployLog = path.join(ws.dir, "deploy.log");
    const deploy = `echo "$ALPNMUX_CERT_NAME $ALPNMUX_CERT_DIR $(openssl x509 -noout -serial -in "$ALPNMUX_CERT_DIR/cert.pem")" >> ${deployLog}`;
    config = {
      acme: pebbleAcme(pebble, path.join(ws.dir, "storage")) as { storage: string },
      certificates: [
        { name: "a", identifiers: [DNS1, DNS2, IP], out: outA, deploy },
        { name: "b", identifiers: [UNREACHABLE], out: path.join(ws.dir, "out", "b"), deploy },
      ],
    };
    startedAt = Date.now();
    router = await startCertRouter(ws, { pebble, def: backendPort, config });
    startProbes();
  });

  test("a: issued with the configured names, files complete and consistent, deploy ran", {
    timeout: 60_000,
  }, async (t) => {
    const firstMs = await waitFile(path.join(outA, "fullchain.pem"), startedAt);
    t.diagnostic(`first certificate on disk ${firstMs} ms`);
    console.log(`# certs: first certificate on disk ${firstMs} ms (2 DNS + 1 IP, from starting alpnmux)`);
    const a = await waitStatus(router, "a", (s) => s.state === "valid" && deploys().length >= 1);

    const full = path.join(outA, "fullchain.pem");
    const verified = verifyFullchain(ws.dir, full, await pebble.issuingRoot());
    assert.match(verified, /verify-leaf\.pem: OK/);
    assert.deepEqual(certSans(full).sort(), [DNS1, DNS2, IP].sort());
    const fullText = fs.readFileSync(full, "utf8");
    const cert = fs.readFileSync(path.join(outA, "cert.pem"), "utf8");
    const chain = fs.readFileSync(path.join(outA, "chain.pem"), "utf8");
    assert.equal(cert.match(/BEGIN CERTIFICATE/g)?.length, 1);
    assert.ok((chain.match(/BEGIN CERTIFICATE/g)?.length ?? 0) >= 1);
    assert.equal(
      (cert + chain).replace(/\s+/g, ""),
      fullText.replace(/\s+/g, ""),
      "cert.pem + chain.pem = fullchain.pem",
    );
    assert.equal(fs.statSync(path.join(outA, "privkey.pem")).mode & 0o777, 0o600);
    const keys = publicKeys(path.join(outA, "cert.pem"), path.join(outA, "privkey.pem"));
    assert.equal(keys.key, keys.cert, "privkey.pem is the key of cert.pem");

    const serial = serialOf(full);
    serials.push(serial);
    assert.equal(a.certificate?.serial, serial);
    assert.deepEqual([...(a.certificate?.identifiers ?? [])].sort(), [DNS1, DNS2, IP].sort());
    assert.deepEqual(a.identifiers, [DNS1, DNS2, IP]);
    assert.ok(a.nextRenewal !== null && Date.parse(a.nextRenewal.at) > Date.now(), JSON.stringify(a));
    assert.equal(a.lastResult?.outcome, "issued");
    assert.equal(a.lastResult?.deployExitCode, 0);
    // Deploy ran once, with the name and directory, after the new files were in place.
    assert.deepEqual(deploys().map(normalizeDeploy), [`a ${outA} ${serial}`]);
  });

  test("b: Pebble cannot reach it; the failure names it in the status, the CLI and the log; a is fine", {
    timeout: 60_000,
  }, async () => {
    const b = await waitStatus(router, "b", (s) => s.lastResult?.outcome === "failed");
    assert.equal(b.state, "failed");
    assert.equal(b.certificate, null);
    const problems = b.lastResult?.problems ?? [];
    assert.ok(
      problems.some(
        (p) => p.identifier?.value === UNREACHABLE && p.type.startsWith("urn:ietf:params:acme:error:"),
      ),
      `problems naming ${UNREACHABLE}: ${JSON.stringify(b.lastResult)}`,
    );
    assert.match(b.lastResult?.message ?? "", new RegExp(UNREACHABLE.replace(/\./g, "\\.")));
    assert.ok(b.nextRenewal !== null && b.nextRenewal.reason === "retry-backoff", JSON.stringify(b));
    assert.equal(fs.existsSync(path.join(ws.dir, "out", "b", "fullchain.pem")), false);

    const cli = await certsCli(ws, router, ["list"], "certs-list");
    assert.equal(cli.code, 0, cli.stderr);
    const bLine = cli.stdout.split("\n").find((l) => /^b\b/.test(l.trim()));
    assert.ok(bLine !== undefined && /failed/.test(cli.stdout), `certs list: ${cli.stdout}`);
    assert.match(cli.stdout, new RegExp(UNREACHABLE.replace(/\./g, "\\.")));
    const aLine = cli.stdout.split("\n").find((l) => /^a\b/.test(l.trim()));
    assert.ok(aLine !== undefined && /valid/.test(aLine), `certs list: ${cli.stdout}`);
    assert.match(cli.stdout, new RegExp(serials[0] as string));

    const logged = router.logs().find((l) => {
      const props = l["properties"] as { name?: unknown } | undefined;
      return (
        l["level"] === "ERROR" &&
        props?.name === "b" &&
        typeof l["message"] === "string" &&
        l["message"].includes(UNREACHABLE)
      );
    });
    assert.ok(logged, `an ERROR log line for b naming ${UNREACHABLE}; log ${router.proc.logPath}`);
    const a = (await certList(router)).find((s) => s.name === "a");
    assert.equal(a?.state, "valid");
    assert.equal(a?.certificate?.serial, serials[0]);
  });

  test("a: alpnmux certs renew, then POST /v1/certificates/a/renew: a new serial and deploy each time", {
    timeout: 90_000,
  }, async () => {
    const cli = await certsCli(ws, router, ["renew", "a"], "certs-renew");
    assert.equal(cli.code, 0, `${cli.stdout}\n${cli.stderr}`);
    const second = await waitStatus(
      router,
      "a",
      (s) => s.state === "valid" && s.certificate?.serial !== serials[0] && deploys().length >= 2,
    );
    serials.push(second.certificate?.serial as string);
    assert.equal(serialOf(path.join(outA, "fullchain.pem")), serials[1]);
    assert.equal(second.lastResult?.outcome, "issued");

    const res = await adminFetch(router, "POST", "/v1/certificates/a/renew");
    assert.ok(res.status === 200 || res.status === 202, `${res.status} ${res.text}`);
    const third = await waitStatus(
      router,
      "a",
      (s) => s.state === "valid" && s.certificate?.serial !== serials[1] && deploys().length >= 3,
    );
    serials.push(third.certificate?.serial as string);
    assert.equal(new Set(serials).size, 3, `three serials: ${serials.join(", ")}`);
    assert.equal(serialOf(path.join(outA, "fullchain.pem")), serials[2]);
    // Each deploy saw its own new certificate in place.
    assert.deepEqual(
      deploys().map(normalizeDeploy),
      serials.map((serial) => `a ${outA} ${serial}`),
    );
    const unknown = await adminFetch(router, "POST", "/v1/certificates/nope/renew");
    assert.equal(unknown.status, 404, unknown.text);
  });

  test("metrics: notAfter of a, renewals by result", { timeout: 20_000 }, async () => {
    const m = await adminFetch(router, "GET", "/metrics");
    assert.equal(m.status, 200);
    const a = (await certList(router)).find((s) => s.name === "a");
    const notAfter = sample(m.text, 'alpnmux_certificate_not_after_seconds{name="a"}');
    assert.equal(notAfter, Math.floor(Date.parse(a?.certificate?.notAfter as string) / 1000), m.text);
    const issued = m.text
      .split("\n")
      .filter((l) => l.startsWith("alpnmux_certificate_renewals_total{") && l.includes('name="a"'))
      .filter((l) => l.includes('result="issued"'))
      .map((l) => Number(l.split(" ").pop()));
    assert.deepEqual(issued, [3], m.text);
    const failed = m.text
      .split("\n")
      .filter((l) => l.startsWith("alpnmux_certificate_renewals_total{") && l.includes('name="b"'))
      .filter((l) => l.includes('result="failed"'))
      .map((l) => Number(l.split(" ").pop()));
    assert.ok(failed.length === 1 && (failed[0] as number) >= 1, m.text);
  });

  test("status page in headless Chromium: a with its expiry, b with the CA's problem", {
    timeout: 60_000,
  }, async (t) => {
    const missing = chromiumUnavailable();
    assert.equal(missing, undefined, missing);
    const a = (await certList(router)).find((s) => s.name === "a");
    const notAfter = a?.certificate?.notAfter;
    assert.ok(notAfter !== undefined, JSON.stringify(a));
    const shot = path.join(ws.dir, "status-certificates.png");
    const text = await loginAndRead(router.adminUrl, router.token, shot);
    t.diagnostic(`screenshot ${shot}`);
    assert.ok(fs.statSync(shot).size > 10_000, "a screenshot was written");
    assert.match(text, /Certificates \(2\)/, text);
    // a: its names and its expiry as the page writes it (UTC, minutes), with "in N days".
    for (const id of [DNS1, DNS2, IP]) assert.ok(text.includes(id), `${id} on the page:\n${text}`);
    assert.ok(text.includes(formatUtc(notAfter)), `expiry ${formatUtc(notAfter)} on the page:\n${text}`);
    assert.match(text, /in \d+ days/, text);
    // b: failed, with the identifier the CA named and the problem type.
    assert.ok(text.includes(UNREACHABLE), text);
    assert.match(text, /urn:ietf:params:acme:error:\w+/, text);
  });

  test("restart with the same storage: a is taken from disk, nothing ordered for it, no deploy", {
    timeout: 60_000,
  }, async () => {
    await stopProbes();
    const before = { one: validations(DNS1), two: validations(DNS2), deploys: deploys().length };
    // One validation task per order of a (3 connections each): the issuance and 2 renewals.
    assert.equal(before.one, serials.length, `Pebble validated ${DNS1} ${before.one} times`);
    await router.stop();
    router = await startCertRouter(ws, { pebble, def: backendPort, config, label: "alpnmux-restarted" });
    startProbes();
    const a = await waitStatus(router, "a", (s) => s.state === "valid");
    assert.equal(a.certificate?.serial, serials[2]);
    // b is ordered again (it has none); give a's schedule time to act if it were going to.
    await waitStatus(router, "b", (s) => s.lastResult?.outcome === "failed");
    await sleep(3000);
    const again = (await certList(router)).find((s) => s.name === "a");
    assert.equal(again?.state, "valid");
    assert.equal(again?.certificate?.serial, serials[2]);
    assert.ok(again?.nextRenewal !== null && again?.nextRenewal.reason !== "missing", JSON.stringify(again));
    assert.equal(serialOf(path.join(outA, "fullchain.pem")), serials[2]);
    assert.equal(deploys().length, before.deploys, "deploy did not run");
    assert.equal(validations(DNS1), before.one, `no new validation of ${DNS1}`);
    assert.equal(validations(DNS2), before.two, `no new validation of ${DNS2}`);
  });

  test("HTTPS through the same port never failed meanwhile", { timeout: 20_000 }, async () => {
    await sleep(1000);
    await stopProbes();
    console.log(
      `# certs: ${probeTotals.probes} HTTPS probes through the router during issuance, failure, 2 renewals and the restart, ${probeTotals.failures.length} failures`,
    );
    assert.ok(probeTotals.probes >= 20, `only ${probeTotals.probes} probes`);
    assert.deepEqual(probeTotals.failures, []);
  });
});

describe("certificates: two instances sharing Redis order once and both deploy", () => {
  const S1 = "x.shared.test";
  const S2 = "y.shared.test";
  let pebble2: Pebble;
  let x: BuiltinRouter;
  let y: BuiltinRouter;
  let sharedDeployLog = "";
  const outOf = (who: string) => path.join(ws.dir, "shared", who, "out");

  before(async () => {
    pebble2 = await startPebble(ws);
    await pebble2.addA(S2, ["127.0.0.3"]);
    const redis = await startRedisServer(ws, { label: "redis-server" });
    const ca = createCA(ws.subdir("pki-shared"));
    const backend = await startHttpsBackend(ws, { name: "shared-web", cert: issueCert(ca, [WEB]) });
    sharedDeployLog = path.join(ws.dir, "shared-deploy.log");
    const configFor = (who: string) => ({
      acme: pebbleAcme(pebble2, path.join(ws.dir, "shared", who, "storage")) as { storage: string },
      challenges: {
        store: "redis",
        redis: { url: `redis://127.0.0.1:${redis.port}/0`, keyPrefix: "certs-e2e:" },
      },
      certificates: [
        {
          name: "shared",
          identifiers: [S1, S2],
          out: outOf(who),
          deploy: `echo "${who} $ALPNMUX_CERT_NAME $ALPNMUX_CERT_DIR" >> ${sharedDeployLog}`,
        },
      ],
    });
    [x, y] = await Promise.all([
      startCertRouter(ws, { pebble: pebble2, def: backend.port, config: configFor("x"), label: "shared-x" }),
      startCertRouter(ws, {
        pebble: pebble2,
        def: backend.port,
        config: configFor("y"),
        label: "shared-y",
        host: "127.0.0.3",
      }),
    ]);
  });

  test("one order, validations answered by the instance Pebble dials, both out dirs and deploys", {
    timeout: 90_000,
  }, async () => {
    const deployed = () =>
      fs.existsSync(sharedDeployLog)
        ? fs
            .readFileSync(sharedDeployLog, "utf8")
            .split("\n")
            .filter((l) => l !== "")
        : [];
    const [sx, sy] = await Promise.all(
      [x, y].map((r) => waitStatus(r, "shared", (s) => s.state === "valid" && s.lastResult !== null, 60_000)),
    );
    assert.ok(sx && sy);
    assert.equal(sx.certificate?.serial, sy.certificate?.serial);
    assert.deepEqual(
      [sx.lastResult?.outcome, sy.lastResult?.outcome].sort(),
      ["issued", "shared"],
      `x: ${JSON.stringify(sx.lastResult)}, y: ${JSON.stringify(sy.lastResult)}`,
    );
    for (const who of ["x", "y"]) {
      assert.equal(serialOf(path.join(outOf(who), "fullchain.pem")), sx.certificate?.serial);
      assert.equal(fs.statSync(path.join(outOf(who), "privkey.pem")).mode & 0o777, 0o600);
    }
    assert.equal(
      fs.readFileSync(path.join(outOf("x"), "privkey.pem"), "utf8"),
      fs.readFileSync(path.join(outOf("y"), "privkey.pem"), "utf8"),
    );
    const deadline = Date.now() + 10_000;
    while (deployed().length < 2 && Date.now() < deadline) await sleep(100);
    assert.deepEqual(deployed().sort(), [`x shared ${outOf("x")}`, `y shared ${outOf("y")}`]);
    // One order: Pebble validated each name once (one task of 3 connections).
    const log = fs.readFileSync(pebble2.pebble.logPath, "utf8");
    assert.equal(log.split(`Value:"${S1}"`).length - 1, 1);
    assert.equal(log.split(`Value:"${S2}"`).length - 1, 1);
    // Each validation reached the instance on the address Pebble's DNS gave: whichever
    // instance ordered, the other answered one name from the challenge it found in Redis.
    const served = (r: BuiltinRouter, sni: string) =>
      connLines(r).filter((c) => c.sni === sni && c.outcome === "challenge-served").length;
    assert.equal(served(x, S1), 3, `x served ${S1}`);
    assert.equal(served(y, S2), 3, `y served ${S2}`);
    assert.equal(served(x, S2) + served(y, S1), 0);
    console.log(
      `# certs: two instances over Redis: ${sx.lastResult?.outcome === "issued" ? "x" : "y"} ordered, the other took the shared certificate; both deployed`,
    );
  });
});
