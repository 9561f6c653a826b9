/**
 * @module cert-e2e — helpers for the certificate manager e2e test (tests/e2e/certificates.test.ts):
 * alpnmux started with `acme:` + `certificates:` against a Pebble (on Pebble's validation
 * port, with the Deno permissions the config needs), its certificate status over the admin
 * API, `alpnmux certs ...`, openssl checks of the files it writes, and an HTTPS probe loop.
 *
 * @example
 * const r = await startCertRouter(ws, { pebble, def: backend.port, config })
 * const a = await waitStatus(r, 'a', (s) => s.state === 'valid')
 * const loop = probeLoop({ port: r.port, servername: 'web.test', ca: ca.cert, body: backend.body })
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { CertificateStatus } from "../../packages/core/src/certs/status.ts";
import { ADMIN_TOKEN, adminFetch, type BuiltinRouter } from "./admin.ts";
import { httpsRequest } from "./clients.ts";
import type { Pebble } from "./pebble.ts";
import { freePort, waitForPort } from "./ports.ts";
import { runProc, type Workspace } from "./proc.ts";
import { routerCommand, spawnRouter } from "./router.ts";

export type { CertificateStatus };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One `certificates[]` entry as written to the YAML. */
export interface CertEntry {
  name: string;
  identifiers: string[];
  out: string;
  deploy?: string;
  keyType?: string;
}

/** The `acme:` section for `pebble`, with the harness CA for its HTTPS. */
export function pebbleAcme(pebble: Pebble, storage: string): Record<string, unknown> {
  return {
    directory: pebble.directoryUrl,
    email: "certs-e2e@example.test",
    caCertificates: pebble.caPem,
    storage,
  };
}

/**
 * Starts alpnmux on Pebble's validation port (on `host`, default 127.0.0.1) with `--acme
 * builtin`, an admin API on a free loopback port and `config` (which carries `acme:` and
 * `certificates:`). On Deno the permissions come from the env vars of `alpnmux-deno`: write
 * access to the storage and every `out`, `sh` for deploy.
 */
export async function startCertRouter(
  ws: Workspace,
  o: {
    pebble: Pebble;
    def: number;
    config: { acme: { storage: string }; certificates: CertEntry[] } & Record<string, unknown>;
    host?: string;
    label?: string;
    env?: Record<string, string>;
  },
): Promise<BuiltinRouter> {
  const host = o.host ?? "127.0.0.1";
  const port = o.pebble.tlsPort;
  const adminPort = await freePort();
  const label = o.label ?? "alpnmux";
  const file = path.join(ws.dir, `${label}.yaml`);
  fs.writeFileSync(file, JSON.stringify(o.config, null, 2));
  const writable = [o.config.acme.storage, ...o.config.certificates.map((c) => c.out)];
  const args = ["--listen", `${host}:${port}`, "--acme", "builtin", "--default", `127.0.0.1:${o.def}`];
  args.push("--admin", `127.0.0.1:${adminPort}`, "--hello-timeout", "2s", "--config", file);
  args.push("--log-format", "json", "--log-level", "debug");
  const r = await spawnRouter(ws, args, {
    label,
    noWait: true,
    env: {
      ALPNMUX_ADMIN_TOKEN: ADMIN_TOKEN,
      ALPNMUX_DENO_ALLOW_WRITE: writable.join(","),
      ALPNMUX_DENO_ALLOW_RUN: "sh",
      ...o.env,
    },
  });
  const abort = () => {
    const st = r.proc.exitStatus();
    return st === undefined
      ? undefined
      : `alpnmux exited (${st.code}); log ${r.proc.logPath}\n${r.proc.output().slice(-2000)}`;
  };
  await Promise.all([
    waitForPort(port, { host, abort, timeoutMs: 15_000 }),
    waitForPort(adminPort, { abort, timeoutMs: 15_000 }),
  ]);
  return Object.assign(r, { port, adminPort, adminUrl: `http://127.0.0.1:${adminPort}`, token: ADMIN_TOKEN });
}

/** `GET /v1/certificates`: the status of every configured certificate. */
export async function certList(r: BuiltinRouter): Promise<CertificateStatus[]> {
  const res = await adminFetch(r, "GET", "/v1/certificates");
  if (res.status !== 200) throw new Error(`GET /v1/certificates: ${res.status} ${res.text}`);
  const j = res.json as { certificates?: CertificateStatus[] } | CertificateStatus[];
  const list = Array.isArray(j) ? j : j.certificates;
  if (!Array.isArray(list)) throw new Error(`GET /v1/certificates: no list in ${res.text}`);
  return list;
}

/** Polls the status of `name` until `pred` holds (rejects with the last status on timeout). */
export async function waitStatus(
  r: BuiltinRouter,
  name: string,
  pred: (s: CertificateStatus) => boolean,
  timeoutMs = 30_000,
): Promise<CertificateStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: CertificateStatus | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      last = (await certList(r)).find((s) => s.name === name);
      if (last !== undefined && pred(last)) return last;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `certificate ${name}: condition not met in ${timeoutMs} ms; last status ${JSON.stringify(last)}${lastError ? `; last error ${String(lastError)}` : ""}; log ${r.proc.logPath}`,
      );
    }
    await sleep(100);
  }
}

/** Waits until `file` exists (resolves with ms waited from `since`). */
export async function waitFile(file: string, since: number, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (!fs.existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`${file} did not appear in ${timeoutMs} ms`);
    await sleep(10);
  }
  return Date.now() - since;
}

/** `alpnmux certs ARGS` against the router's admin API (ALPNMUX_ADMIN, ALPNMUX_ADMIN_TOKEN). */
export async function certsCli(
  ws: Workspace,
  r: Pick<BuiltinRouter, "adminUrl" | "token">,
  args: string[],
  label = "certs-cli",
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const res = await runProc(ws, label, [...routerCommand(), "certs", ...args], {
    env: { ALPNMUX_ADMIN: r.adminUrl, ALPNMUX_ADMIN_TOKEN: r.token },
    timeoutMs: 20_000,
  });
  return { code: res.code, stdout: res.stdout, stderr: res.stderr };
}

function openssl(args: string[], input?: string): string {
  return execFileSync("openssl", args, {
    encoding: "utf8",
    stdio: ["pipe", "pipe", "pipe"],
    ...(input !== undefined ? { input } : {}),
  });
}

/**
 * The serial of the first certificate in a PEM file as the status gives it: openssl's hex bytes
 * in lower case (a leading `0a` byte stays; a `00` sign byte, if any, goes).
 */
export function serialOf(pemPath: string): string {
  return normalizeSerial(
    openssl(["x509", "-noout", "-serial", "-in", pemPath])
      .trim()
      .replace(/^serial=/, ""),
  );
}

/** Hex bytes (openssl's `serial=` form) in the status's form: lower case, no `00` sign byte. */
export function normalizeSerial(hex: string): string {
  return hex.toLowerCase().replace(/^(00)+(?=..)/, "");
}

/** The SubjectPublicKeyInfo PEM of a certificate file and of a private key file. */
export function publicKeys(certPath: string, keyPath: string): { cert: string; key: string } {
  return {
    cert: openssl(["x509", "-noout", "-pubkey", "-in", certPath]),
    key: openssl(["pkey", "-pubout", "-in", keyPath]),
  };
}

/**
 * `openssl verify -CAfile ROOT -untrusted CHAIN LEAF` of a fullchain.pem: the leaf checked
 * up to `rootPem` through the intermediates that follow it. Returns openssl's output.
 */
export function verifyFullchain(dir: string, fullchainPath: string, rootPem: string): string {
  const blocks = fs
    .readFileSync(fullchainPath, "utf8")
    .match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g);
  if (blocks === null || blocks.length < 2)
    throw new Error(`${fullchainPath}: expected a leaf and intermediates`);
  const leaf = path.join(dir, "verify-leaf.pem");
  const untrusted = path.join(dir, "verify-intermediates.pem");
  const root = path.join(dir, "verify-root.pem");
  fs.writeFileSync(leaf, blocks[0] as string);
  fs.writeFileSync(untrusted, blocks.slice(1).join(""));
  fs.writeFileSync(root, rootPem);
  return openssl(["verify", "-CAfile", root, "-untrusted", untrusted, leaf]);
}

/** An HTTPS request every `everyMs` through the router, counting failures until `stop()`. */
export function probeLoop(o: {
  port: number;
  servername: string;
  ca: string;
  body: string;
  everyMs?: number;
}) {
  const failures: string[] = [];
  let probes = 0;
  let stopped = false;
  const every = o.everyMs ?? 200;
  const loop = (async () => {
    while (!stopped) {
      const t0 = Date.now();
      const n = ++probes;
      try {
        const r = await httpsRequest(`https://${o.servername}:${o.port}/`, {
          ca: o.ca,
          connectHost: "127.0.0.1",
          servername: o.servername,
          timeoutMs: 3000,
          alpn: ["h2", "http/1.1"],
        });
        if (r.status !== 200 || r.body !== o.body) failures.push(`probe ${n}: ${r.status} ${r.body}`);
      } catch (e) {
        failures.push(`probe ${n} at ${new Date().toISOString()}: ${(e as Error).message}`);
      }
      const wait = every - (Date.now() - t0);
      if (wait > 0) await sleep(wait);
    }
  })();
  return {
    get probes() {
      return probes;
    },
    failures,
    async stop(): Promise<{ probes: number; failures: string[] }> {
      stopped = true;
      await loop;
      return { probes, failures };
    },
  };
}

/** The value of a Prometheus sample (`name{labels}`), or undefined when absent. */
export function sample(text: string, name: string): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name} `)) return Number(line.slice(name.length + 1));
  }
  return undefined;
}
