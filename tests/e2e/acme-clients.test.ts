/**
 * @module acme-clients.test — ACME clients other than lego drive alpnmux's built-in responder,
 * each in the form its hook holds the challenge (FACTS.md):
 *
 * 1. uacme 1.7 with `examples/hooks/uacme-alpnmux.sh`: its AUTH is the base64url SHA-256 digest.
 * 2. dehydrated 0.7 with `examples/hooks/dehydrated-alpnmux.sh`: its VALUE is the
 *    colon-separated hex digest.
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

let shared: Promise<{ pebble: Pebble; router: BuiltinRouter }> | undefined;

/** One Pebble and one alpnmux (built-in responder on Pebble's validation port) for the file. */
function setup(): Promise<{ pebble: Pebble; router: BuiltinRouter }> {
  shared ??= (async () => {
    const pebble = await startPebble(ws);
    const router = await startBuiltinRouter(ws, {
      def: await freePort(),
      port: pebble.tlsPort,
      label: "alpnmux",
    });
    return { pebble, router };
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

/** The issued leaf names exactly `names` and is signed by the next certificate of the chain. */
function checkChain(certPath: string, names: string[]): void {
  const pems = fs
    .readFileSync(certPath, "utf8")
    .match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  assert.ok(pems && pems.length >= 2, `expected a chain in ${certPath}`);
  const leaf = new X509Certificate(pems[0] as string);
  assert.deepEqual((leaf.subjectAltName ?? "").split(", ").sort(), names.map((n) => `DNS:${n}`).sort());
  assert.ok(leaf.verify(new X509Certificate(pems[1] as string).publicKey), "leaf not signed by its issuer");
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
  checkChain(r.certPath as string, [name]);
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
  checkChain(r.certPath as string, names);
  for (const n of names) await checkServed(router, n);
  console.log(`# acme-clients: dehydrated issued 2 names in ${r.elapsedMs} ms`);
});
