/**
 * The certificate manager's runtime I/O on Deno (`CertHost` of `@alpnmux/core/certs/host`):
 * `fetch` through a `Deno.createHttpClient({ caCerts })` (the extra roots are added to the
 * default ones; checked on Deno 2.9.6), atomic files with `Deno.open`/`Deno.rename`, and
 * `sh -c` for `deploy` with `Deno.Command`. Only I/O: what to fetch, write and run is the core's.
 *
 * Permissions (see `bin/alpnmux-deno`): `--allow-write` for `acme.storage` and every
 * `certificates[].out`, `--allow-run=sh` when a certificate has `deploy`. The child inherits
 * the process environment without `--allow-env`; only the `ALPNMUX_CERT_*` variables are added.
 * A timeout kills the command's whole process group through a second `sh` (`kill -s KILL --
 * -PGID`), since `Deno.kill` of a group needs `--allow-run` for everything.
 *
 * @module cert-host
 */

import type { CertHost, RunResult } from "@alpnmux/core/certs/host";
import { captureOutput } from "@alpnmux/core/certs/output-tail";

declare global {
  namespace Deno {
    interface HttpClient {
      close(): void;
    }
    function createHttpClient(options: { caCerts?: string[] }): HttpClient;
    interface FsFile {
      write(p: Uint8Array): Promise<number>;
      sync(): Promise<void>;
      close(): void;
    }
    function open(
      path: string,
      options: { write?: boolean; createNew?: boolean; mode?: number },
    ): Promise<FsFile>;
    function mkdir(path: string, options?: { recursive?: boolean; mode?: number }): Promise<void>;
    function rename(from: string, to: string): Promise<void>;
    function remove(path: string): Promise<void>;
    function chmod(path: string, mode: number): Promise<void>;
  }
}

/** A missing Deno permission, with the `alpnmux-deno` env var that grants it. */
function withHint(e: unknown, hint: string): unknown {
  if (!(e instanceof Error) || e.name !== "NotCapable") return e;
  return new Error(`${e.message} (alpnmux-deno: ${hint})`, { cause: e });
}

/** SIGKILL to the child's process group (the detached `sh` and what it started). */
async function killGroup(child: Deno.ChildProcess): Promise<void> {
  try {
    const killer = new Deno.Command("sh", {
      args: ["-c", `kill -s KILL -- -${child.pid}`],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    });
    if ((await killer.output()).success) return;
  } catch {
    // No permission for a second `sh`: at least the first one goes.
  }
  try {
    child.kill("SIGKILL");
  } catch {
    // Already gone.
  }
}

async function run(
  command: string,
  env: Readonly<Record<string, string>>,
  timeoutMs: number,
): Promise<RunResult> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("sh", {
      args: ["-c", command],
      env: { ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: true,
    }).spawn();
  } catch (e) {
    throw withHint(e, "set ALPNMUX_DENO_ALLOW_RUN=sh for deploy");
  }
  const output = captureOutput([child.stdout, child.stderr]);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void killGroup(child);
  }, timeoutMs);
  const status = await child.status;
  clearTimeout(timer);
  return { code: timedOut || status.signal !== null ? null : status.code, output: await output.finish() };
}

async function writeFileAtomic(path: string, data: Uint8Array | string, mode: number): Promise<void> {
  try {
    await writeAtomic(path, data, mode);
  } catch (e) {
    throw withHint(e, `add the directory of ${path} to ALPNMUX_DENO_ALLOW_WRITE`);
  }
}

async function writeAtomic(path: string, data: Uint8Array | string, mode: number): Promise<void> {
  const slash = path.lastIndexOf("/");
  const dir = slash > 0 ? path.slice(0, slash) : slash === 0 ? "/" : ".";
  const base = path.slice(slash + 1);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const rand = Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => b.toString(16).padStart(2, "0"));
  const tmp = `${dir === "/" ? "" : dir}/.${base}.${rand.join("")}.tmp`;
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const file = await Deno.open(tmp, { write: true, createNew: true, mode });
  try {
    try {
      await Deno.chmod(tmp, mode); // exactly `mode`, whatever the umask
      let off = 0;
      while (off < bytes.length) off += await file.write(bytes.subarray(off));
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

const clients = new Map<string, Deno.HttpClient>();

/**
 * The certificate manager's I/O on Deno.
 *
 * @example
 * ```ts
 * import { certHost } from "@alpnmux/deno-listener/cert-host";
 * await certHost.writeFileAtomic("/tmp/alpnmux-example/a.txt", "hi", 0o600);
 * console.log((await certHost.readFile("/tmp/alpnmux-example/a.txt"))?.length); // 2
 * ```
 */
export const certHost: CertHost = {
  acmeFetch(ca) {
    if (ca === undefined) return fetch;
    let client = clients.get(ca);
    if (client === undefined) {
      client = Deno.createHttpClient({ caCerts: [ca] });
      clients.set(ca, client);
    }
    const withClient = client;
    return ((input: string | URL | Request, init?: RequestInit) =>
      fetch(input, { ...init, client: withClient } as RequestInit)) as typeof fetch;
  },
  async readFile(path) {
    try {
      return await Deno.readFile(path);
    } catch (e) {
      if (e instanceof Error && e.name === "NotFound") return null;
      throw e;
    }
  },
  writeFileAtomic,
  run,
};
