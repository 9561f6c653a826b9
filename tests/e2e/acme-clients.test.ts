/**
 * @module acme-clients.test — ACME clients other than lego drive alpnmux's built-in responder,
 * each in the form its hook holds the challenge (FACTS.md):
 *
 * 1. uacme 1.7 with `examples/hooks/uacme-alpnmux.sh`: its AUTH is the base64url SHA-256 digest.
 * 2. dehydrated 0.7 with `examples/hooks/dehydrated-alpnmux.sh`: its VALUE is the
 *    colon-separated hex digest.
 * 3. uacme with its stock `/usr/share/uacme/ualpn.sh` hook, unchanged: `ualpn` in client mode
 *    speaks ualpn's line protocol to `/run/ualpn.sock`, here alpnmux's `challenges.ualpnSocket`
 *    (uacme's private mount namespace has the socket's directory over /run), for an RFC 8738
 *    IP identifier. The socket replaced a stale file at start, has mode 0600, and is removed
 *    at stop.
 *
 * Each obtains a certificate from Pebble, which validates through alpnmux (3 connections per
 * challenge, all served by the responder), and leaves no challenge behind. Runs against the
 * CLI under test (`ALPNMUX_CMD`), which the hooks also call. uacme and dehydrated are Debian
 * packages (`node scripts/ensure-tools.mjs`); a missing one fails the test, it never skips.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import {
  adminFetch,
  type BuiltinRouter,
  connLines,
  startBuiltinRouter,
  waitConn,
} from "../_harness/admin.ts";
import { runDehydrated } from "../_harness/dehydrated.ts";
import { type Pebble, startPebble } from "../_harness/pebble.ts";
import { freePort } from "../_harness/ports.ts";
import { repoRoot, workspace } from "../_harness/proc.ts";
import { routerCommand } from "../_harness/router.ts";
import { runUacme } from "../_harness/uacme.ts";

const ws = workspace("acme-clients", after);
const HOOKS = path.join(repoRoot, "examples", "hooks");

/** Fails (never skips) when a Debian tool this file needs is missing. */
function requireTools(...cmds: string[]): void {
  const missing = cmds.filter((c) => {
    try {
      execFileSync("sh", ["-c", `command -v ${c}`], { stdio: "ignore" });
      return false;
    } catch {
      return true;
    }
  });
  assert.deepEqual(
    missing,
    [],
    `missing ${missing.join(", ")}: apt-get install uacme dehydrated (node scripts/ensure-tools.mjs does it as root)`,
  );
}

/** What the stock ualpn.sh finds at /run/ualpn.sock inside uacme's mount namespace. */
const RUN_DIR = ws.subdir("run");
const SOCKET = path.join(RUN_DIR, "ualpn.sock");

interface Setup {
  pebble: Pebble;
  router: BuiltinRouter;
  /** Whether a stale socket file was at SOCKET when the router started. */
  staleBefore: boolean;
}
let shared: Promise<Setup> | undefined;

/**
 * One Pebble and one alpnmux for the file: the built-in responder on Pebble's validation port,
 * the admin API, and the ualpn socket, started over a stale socket file (bound, never listened
 * on, never removed: what a crashed process leaves).
 */
function setup(): Promise<Setup> {
  shared ??= (async () => {
    execFileSync("python3", [
      "-c",
      "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])",
      SOCKET,
    ]);
    const staleBefore = fs.lstatSync(SOCKET).isSocket();
    const pebble = await startPebble(ws);
    const router = await startBuiltinRouter(ws, {
      def: await freePort(),
      port: pebble.tlsPort,
      label: "alpnmux",
      config: { challenges: { ualpnSocket: SOCKET } },
      // The Deno command writes only where it is told to (bin/alpnmux-deno); Bun ignores this.
      env: { ALPNMUX_DENO_ALLOW_WRITE: SOCKET },
    });
    await router.waitForLog((l) => String(l["message"] ?? "").startsWith("ualpn control socket on"));
    return { pebble, router, staleBefore };
  })();
  return shared;
}

/** What the hooks need to reach the admin API with the CLI under test. */
function hookEnv(router: BuiltinRouter): Record<string, string> {
  const token = path.join(ws.dir, "admin-token");
  fs.writeFileSync(token, `${router.token}\n`, { mode: 0o600 });
  return {
    ALPNMUX: routerCommand().join(" "),
    ALPNMUX_ADMIN: router.adminUrl,
    ALPNMUX_ADMIN_TOKEN_FILE: token,
    ALPNMUX_CHALLENGE_TTL: "5m",
  };
}

/** The issued leaf has exactly `sans` (openssl's words: `DNS:a`, `IP Address:…`) and is signed by the next certificate. */
function checkChain(certPath: string, sans: string[]): void {
  const pems = fs
    .readFileSync(certPath, "utf8")
    .match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  assert.ok(pems && pems.length >= 2, `expected a chain in ${certPath}`);
  const leaf = new X509Certificate(pems[0] as string);
  assert.deepEqual((leaf.subjectAltName ?? "").split(", ").sort(), [...sans].sort());
  assert.ok(leaf.verify(new X509Certificate(pems[1] as string).publicKey), "leaf not signed by its issuer");
}

/** The `alpnmux.ualpn` log lines: each command, its identifier and the reply. */
function ualpnLog(router: BuiltinRouter): string[] {
  return router.logs().flatMap((l) => {
    if (l["logger"] !== "alpnmux.ualpn") return [];
    const p = l["properties"] as { command: string; identifier: string | null; reply: string };
    return [`${p.command} ${p.identifier} ${p.reply}`];
  });
}

/** Pebble's 3 validations of `sni` were each answered by the responder, and nothing else was. */
async function checkServed(router: BuiltinRouter, sni: string): Promise<void> {
  await waitConn(router, () => connLines(router).filter((c) => c.sni === sni).length >= 3);
  const lines = connLines(router).filter((c) => c.sni === sni);
  assert.deepEqual(
    lines.map((c) => [c.route, c.outcome]),
    lines.map(() => ["acme", "challenge-served"]),
    `validations of ${sni}; router log ${router.proc.logPath}`,
  );
  const list = await adminFetch(router, "GET", "/v1/challenges");
  assert.deepEqual(list.json, { challenges: [] }, "the hook's done/clean step removed the challenge");
}

test("uacme + examples/hooks/uacme-alpnmux.sh (base64url digest) gets a certificate", {
  timeout: 50_000,
}, async () => {
  requireTools("uacme", "unshare", "mount");
  const { pebble, router } = await setup();
  const name = "uacme.acme-clients.test";
  const r = await runUacme(ws, {
    pebble,
    identifiers: [name],
    hook: path.join(HOOKS, "uacme-alpnmux.sh"),
    env: hookEnv(router),
  });
  assert.equal(
    r.code,
    0,
    `uacme failed (log ${r.logPath}; router log ${router.proc.logPath}):\n${r.output.slice(-3000)}`,
  );
  // The hook got the base64url digest (43 characters) as AUTH, and accepted the challenge.
  assert.match(
    r.output,
    /running .*uacme-alpnmux\.sh begin tls-alpn-01 uacme\.acme-clients\.test \S+ [A-Za-z0-9_-]{43}\b/,
  );
  assert.deepEqual(r.sans, [name]);
  checkChain(r.certPath as string, [`DNS:${name}`]);
  await checkServed(router, name);
  console.log(`# acme-clients: uacme issued in ${r.elapsedMs} ms`);
});

test("dehydrated + examples/hooks/dehydrated-alpnmux.sh (colon-separated hex digest) gets a certificate", {
  timeout: 50_000,
}, async () => {
  requireTools("dehydrated", "curl", "openssl");
  const { pebble, router } = await setup();
  const names = ["dehydrated.acme-clients.test", "www.dehydrated.acme-clients.test"];
  const r = await runDehydrated(ws, {
    pebble,
    domains: names,
    hook: path.join(HOOKS, "dehydrated-alpnmux.sh"),
    hookChain: true,
    env: hookEnv(router),
  });
  assert.equal(
    r.code,
    0,
    `dehydrated failed (log ${r.logPath}; router log ${router.proc.logPath}):\n${r.output.slice(-3000)}`,
  );
  assert.deepEqual(r.sans.sort(), [...names].sort());
  checkChain(
    r.certPath as string,
    names.map((n) => `DNS:${n}`),
  );
  for (const n of names) await checkServed(router, n);
  console.log(`# acme-clients: dehydrated issued 2 names in ${r.elapsedMs} ms`);
});

test("uacme + its stock ualpn.sh hook through challenges.ualpnSocket gets a certificate for an IP", {
  timeout: 50_000,
}, async () => {
  requireTools("uacme", "ualpn", "unshare", "mount", "python3");
  const stock = "/usr/share/uacme/ualpn.sh";
  assert.ok(fs.existsSync(stock), `${stock} is missing: apt-get install uacme`);
  const { pebble, router, staleBefore } = await setup();
  assert.ok(staleBefore, "a stale socket file was there at the start");
  const st = fs.lstatSync(SOCKET);
  assert.ok(st.isSocket(), "the stale file was replaced by alpnmux's socket");
  assert.equal((st.mode & 0o777).toString(8), "600", "default mode 0600");
  const ip = "127.0.0.1";
  const r = await runUacme(ws, {
    pebble,
    identifiers: [ip],
    hook: stock,
    runDir: RUN_DIR,
    label: "uacme-ualpn",
  });
  assert.equal(
    r.code,
    0,
    `uacme failed (log ${r.logPath}; router log ${router.proc.logPath}):\n${r.output.slice(-3000)}`,
  );
  assert.deepEqual(r.sans, [ip]);
  checkChain(r.certPath as string, [`IP Address:${ip}`]);
  // RFC 8738: Pebble's SNI is the reverse-DNS name; the challenge was stored under the address.
  await checkServed(router, "1.0.0.127.in-addr.arpa");
  assert.deepEqual(ualpnLog(router), [`auth ${ip} OK`, `unauth ${ip} OK`]);
  console.log(`# acme-clients: uacme via ualpn.sh and the ualpn socket issued in ${r.elapsedMs} ms`);
});

test("stopping alpnmux removes the ualpn socket file", async () => {
  const { router } = await setup();
  await router.stop();
  assert.equal(router.proc.exitStatus()?.code, 0, `router log ${router.proc.logPath}`);
  assert.equal(fs.existsSync(SOCKET), false, `${SOCKET} is still there`);
});
