/**
 * @module dehydrated — runs dehydrated 0.7 (Debian `dehydrated`, bash + curl + openssl) against
 * a harness {@link Pebble} with `CHALLENGETYPE="tls-alpn-01"` and a hook.
 *
 * dehydrated talks to the CA with curl, which reads `CURL_CA_BUNDLE`: that is how it trusts
 * Pebble's listener CA. It writes its own challenge certificates into `BASEDIR/alpn-certs`
 * (unused here: the hook hands the digest to alpnmux). 0.7.0 cannot order IP identifiers
 * (FACTS.md): DNS names only.
 *
 * @example
 * const r = await runDehydrated(ws, { pebble, domains: ['a.example.test'], hook: 'examples/hooks/dehydrated-alpnmux.sh' })
 * assert.equal(r.code, 0, r.output); assert.deepEqual(r.sans, ['a.example.test'])
 */
import fs from "node:fs";
import path from "node:path";
import { certSans } from "./certs.ts";
import type { Pebble } from "./pebble.ts";
import { runProc, type Workspace } from "./proc.ts";

export interface DehydratedOptions {
  pebble: Pick<Pebble, "directoryUrl" | "caPem">;
  /** DNS names; the first names the certificate directory. */
  domains: string[];
  /** `HOOK`: the hook program. */
  hook: string;
  /** `HOOK_CHAIN="yes"`: one hook call for all challenges (default no). */
  hookChain?: boolean;
  /** Environment for dehydrated and so for the hook. */
  env?: Record<string, string>;
  /** Label for the log file and BASEDIR (default `dehydrated`). */
  label?: string;
  /** Kill dehydrated after this long (default 45 s). */
  timeoutMs?: number;
}

export interface DehydratedResult {
  code: number | null;
  timedOut: boolean;
  output: string;
  /** `BASEDIR/certs/<first domain>/fullchain.pem` (leaf first) if dehydrated wrote it. */
  certPath: string | undefined;
  sans: string[];
  elapsedMs: number;
  logPath: string;
}

/** Writes a config, registers an account and signs (`-c`) the domains. Never throws for a failed issuance. */
export async function runDehydrated(ws: Workspace, opts: DehydratedOptions): Promise<DehydratedResult> {
  const label = opts.label ?? "dehydrated";
  const first = opts.domains[0];
  if (first === undefined) throw new TypeError("runDehydrated: at least one domain is required");
  const basedir = ws.subdir(label);
  const config = path.join(basedir, "config");
  const q = (s: string) => `"${s.replace(/["\\$`]/g, (c) => `\\${c}`)}"`;
  fs.writeFileSync(
    config,
    [
      `CA=${q(opts.pebble.directoryUrl)}`,
      'CHALLENGETYPE="tls-alpn-01"',
      `HOOK=${q(opts.hook)}`,
      `HOOK_CHAIN=${opts.hookChain ? '"yes"' : '"no"'}`,
      `BASEDIR=${q(basedir)}`,
      'KEY_ALGO="prime256v1"',
      'CONTACT_EMAIL="a@example.test"',
      "",
    ].join("\n"),
  );
  const env = { CURL_CA_BUNDLE: opts.pebble.caPem, ...opts.env };
  const timeoutMs = opts.timeoutMs ?? 45_000;
  const started = Date.now();
  const reg = await runProc(
    ws,
    `${label}-register`,
    ["dehydrated", "--config", config, "--register", "--accept-terms"],
    { env, timeoutMs },
  );
  if (reg.code !== 0) {
    return {
      code: reg.code,
      timedOut: reg.timedOut,
      output: reg.output,
      certPath: undefined,
      sans: [],
      elapsedMs: Date.now() - started,
      logPath: reg.proc.logPath,
    };
  }
  const domainArgs = opts.domains.flatMap((d) => ["-d", d]);
  const r = await runProc(ws, label, ["dehydrated", "--config", config, "-c", ...domainArgs], {
    env,
    timeoutMs: Math.max(1000, timeoutMs - (Date.now() - started)),
  });
  const certPath = path.join(basedir, "certs", first, "fullchain.pem");
  const exists = fs.existsSync(certPath);
  return {
    code: r.code,
    timedOut: r.timedOut,
    output: r.output,
    certPath: exists ? certPath : undefined,
    sans: exists ? certSans(certPath) : [],
    elapsedMs: Date.now() - started,
    logPath: r.proc.logPath,
  };
}
