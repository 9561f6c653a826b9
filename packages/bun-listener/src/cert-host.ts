/**
 * The certificate manager's runtime I/O on Bun (`CertHost` of `@alpnmux/core/certs/host`):
 * `fetch` with extra CA roots, atomic files with `node:fs`, and `sh -c` for `deploy` with
 * `Bun.spawn`. Only I/O: what to fetch, write and run is the core's.
 *
 * Bun's `fetch(url, { tls: { ca } })` **replaces** the trusted roots (its docs: "Mozilla's CAs
 * are completely replaced"; checked on Bun 1.4.5: a server trusted by default fails once `ca`
 * names another CA), so the extra roots go together with every root Bun trusts by default:
 * `tls.getCACertificates()` bundled, system and extra (`NODE_EXTRA_CA_CERTS`), once per process.
 *
 * @module cert-host
 */

import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import tls from "node:tls";
import type { CertHost, RunResult } from "@alpnmux/core/certs/host";
import { captureOutput } from "@alpnmux/core/certs/output-tail";

/** `tls.getCACertificates` (Node 22.15+, Bun 1.3+; not in the @types/node this project pins). */
const getCACertificates = (tls as { getCACertificates?: (kind: string) => string[] }).getCACertificates;

let defaultRoots: string[] | undefined;
/** Every root Bun trusts when no `ca` is given, deduplicated. */
function bunDefaultRoots(): string[] {
  if (defaultRoots !== undefined) return defaultRoots;
  const all = new Set<string>(tls.rootCertificates);
  for (const kind of ["default", "system", "bundled", "extra"] as const) {
    try {
      for (const pem of getCACertificates?.(kind) ?? []) all.add(pem);
    } catch {
      // A Bun that does not know `kind`: the others remain.
    }
  }
  defaultRoots = [...all];
  return defaultRoots;
}

async function run(
  command: string,
  env: Readonly<Record<string, string>>,
  timeoutMs: number,
): Promise<RunResult> {
  // Its own process group (detached), so a timeout kills what `sh` started too.
  const child = Bun.spawn(["sh", "-c", command], {
    env: { ...process.env, ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    detached: true,
  });
  const output = captureOutput([child.stdout, child.stderr]);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      child.kill("SIGKILL");
    }
  }, timeoutMs);
  const code = await child.exited;
  clearTimeout(timer);
  return { code: timedOut || child.signalCode !== null ? null : code, output: await output.finish() };
}

async function writeFileAtomic(path: string, data: Uint8Array | string, mode: number): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const fh = await open(tmp, "wx", mode);
  try {
    try {
      await fh.chmod(mode); // exactly `mode`, whatever the umask
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => {});
    throw e;
  }
}

/**
 * The certificate manager's I/O on Bun.
 *
 * @example
 * ```ts
 * import { certHost } from "@alpnmux/bun-listener/cert-host";
 * await certHost.writeFileAtomic("/tmp/alpnmux-example/a.txt", "hi", 0o600);
 * console.log((await certHost.readFile("/tmp/alpnmux-example/a.txt"))?.length); // 2
 * ```
 */
export const certHost: CertHost = {
  acmeFetch(ca) {
    if (ca === undefined) return fetch;
    const roots = [ca, ...bunDefaultRoots()];
    const withRoots = (input: string | URL | Request, init?: RequestInit) =>
      fetch(input, { ...init, tls: { ...(init as BunFetchRequestInit | undefined)?.tls, ca: roots } });
    return Object.assign(withRoots, { preconnect: fetch.preconnect }) as typeof fetch;
  },
  async readFile(path) {
    try {
      return new Uint8Array(await readFile(path));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw e;
    }
  },
  writeFileAtomic,
  run,
};
