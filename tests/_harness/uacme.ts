/**
 * @module uacme — runs uacme 1.7 (Debian `uacme`) against a harness {@link Pebble} with a hook.
 *
 * uacme trusts only the system CA bundle (no CA option, `CURL_CA_BUNDLE` ignored: FACTS.md), so
 * it runs as root under `unshare --mount` with a bundle holding Pebble's listener CA
 * bind-mounted over `/etc/ssl/certs/ca-certificates.crt`. `runDir`, when given, is
 * bind-mounted over `/run` in the same private namespace: the stock `ualpn.sh` hook runs
 * `ualpn` without `-s`, which connects to `/run/ualpn.sock`.
 *
 * @example
 * const r = await runUacme(ws, { pebble, identifiers: ['a.example.test'], hook: 'examples/hooks/uacme-alpnmux.sh' })
 * assert.equal(r.code, 0, r.output); assert.deepEqual(r.sans, ['a.example.test'])
 */
import fs from "node:fs";
import path from "node:path";
import { certSans } from "./certs.ts";
import type { Pebble } from "./pebble.ts";
import { runProc, type Workspace } from "./proc.ts";

export interface UacmeOptions {
  pebble: Pick<Pebble, "directoryUrl" | "caPem">;
  /** DNS names or IP literals; the first names the certificate directory. */
  identifiers: string[];
  /** `-h`: the hook program. */
  hook: string;
  /** Environment for uacme and so for the hook. */
  env?: Record<string, string>;
  /** A directory bind-mounted over `/run` for uacme (and its hook) only. */
  runDir?: string;
  /** Label for the log file and the confdir (default `uacme`). */
  label?: string;
  /** Kill uacme after this long (default 45 s). */
  timeoutMs?: number;
}

export interface UacmeResult {
  code: number | null;
  timedOut: boolean;
  output: string;
  /** `<confdir>/<first identifier>/cert.pem` if uacme wrote it. */
  certPath: string | undefined;
  /** SANs of the issued certificate (empty if none was issued). */
  sans: string[];
  elapsedMs: number;
  logPath: string;
}

const SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

/**
 * Creates an account (`new`) and issues (`issue`) with an EC key, both in one private mount
 * namespace. Never throws for a failed issuance: check `code` and `output`.
 */
export async function runUacme(ws: Workspace, opts: UacmeOptions): Promise<UacmeResult> {
  if (process.getuid?.() !== 0) {
    throw new Error("runUacme: needs root (unshare --mount, to trust the Pebble CA: FACTS.md)");
  }
  const label = opts.label ?? "uacme";
  const first = opts.identifiers[0];
  if (first === undefined) throw new TypeError("runUacme: at least one identifier is required");
  const confdir = ws.subdir(`${label}-conf`);
  const bundle = path.join(ws.dir, `${label}-ca-bundle.crt`);
  const system = fs.existsSync(SYSTEM_BUNDLE) ? fs.readFileSync(SYSTEM_BUNDLE, "utf8") : "";
  fs.writeFileSync(bundle, system + fs.readFileSync(opts.pebble.caPem, "utf8"));
  // $1 bundle, $2 run dir ("" for none), $3 directory URL, $4 confdir, $5 hook, $6… identifiers.
  const script = [
    "set -e",
    `mount --bind "$1" ${SYSTEM_BUNDLE}`,
    'if [ -n "$2" ]; then mount --bind "$2" /run; fi',
    "url=$3 confdir=$4 hook=$5; shift 5",
    'uacme -v -y -c "$confdir" -a "$url" new',
    'exec uacme -v -c "$confdir" -a "$url" -t EC -h "$hook" issue "$@"',
  ].join("\n");
  const started = Date.now();
  const r = await runProc(
    ws,
    label,
    [
      "unshare",
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-c",
      script,
      "uacme-ns",
      bundle,
      opts.runDir ?? "",
      opts.pebble.directoryUrl,
      confdir,
      opts.hook,
      ...opts.identifiers,
    ],
    { env: opts.env ?? {}, timeoutMs: opts.timeoutMs ?? 45_000 },
  );
  const certPath = path.join(confdir, first, "cert.pem");
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
