/**
 * @module lego — runs lego 4.9 (`--tls`) against a harness {@link Pebble} and reports the result.
 *
 * @example
 * const r = await runLego(ws, { pebble, domains: ['a.example.test'], tlsAddress: `127.0.0.1:${port}` })
 * assert.equal(r.code, 0, r.output); assert.deepEqual(r.sans, ['a.example.test'])
 */
import fs from "node:fs";
import path from "node:path";
import { certSans } from "./certs.ts";
import type { Pebble } from "./pebble.ts";
import { runProc, type Workspace } from "./proc.ts";

export interface LegoOptions {
  pebble: Pick<Pebble, "directoryUrl" | "caPem">;
  domains: string[];
  /** `--tls.port`: where lego's challenge listener binds, e.g. `127.0.0.1:10443`. */
  tlsAddress: string;
  /** Label for the log file and data dir (default `lego`). */
  label?: string;
  keyType?: "ec256" | "ec384" | "rsa2048";
  /** Kill lego after this long (default 60 s). */
  timeoutMs?: number;
  extraArgs?: string[];
}

export interface LegoResult {
  code: number | null;
  timedOut: boolean;
  output: string;
  /** `<path>/certificates/<first domain>.crt` if it exists. */
  certPath: string | undefined;
  /** SANs of the issued certificate (empty if none was issued). */
  sans: string[];
  elapsedMs: number;
  logPath: string;
}

/** Runs `lego ... run` to completion. Never throws for a failed issuance: check `code`. */
export async function runLego(ws: Workspace, opts: LegoOptions): Promise<LegoResult> {
  const label = opts.label ?? "lego";
  const dataDir = ws.subdir(`${label}-data`);
  const first = opts.domains[0];
  if (first === undefined) throw new TypeError("runLego: at least one domain is required");
  const args = ["lego", "--server", opts.pebble.directoryUrl, "--email", "a@example.test"];
  for (const d of opts.domains) args.push("--domains", d);
  args.push("--tls", "--tls.port", opts.tlsAddress, "--accept-tos", "--path", dataDir);
  args.push("--key-type", opts.keyType ?? "ec256", ...(opts.extraArgs ?? []), "run");
  const started = Date.now();
  const r = await runProc(ws, label, args, {
    env: { LEGO_CA_CERTIFICATES: opts.pebble.caPem },
    timeoutMs: opts.timeoutMs ?? 60_000,
  });
  const certPath = path.join(dataDir, "certificates", `${first.replace(/^\*/, "_")}.crt`);
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
