/**
 * What the certificate manager needs from the runtime, injected by each adapter (Hono's runtime
 * seam): HTTPS to the CA, files, and a shell for `deploy`. Core never touches a file or a process
 * itself.
 *
 * @module certs/host
 */

import type { CertPathsConfig } from "./paths.ts";

/** Result of {@linkcode CertHost.run}. */
export interface RunResult {
  /** The exit code, or null when the command was killed (its timeout passed, or a signal). */
  readonly code: number | null;
  /** stdout and stderr together, at most the last 4 KiB. */
  readonly output: string;
}

/**
 * Runtime I/O for the certificate manager.
 *
 * @example
 * ```ts
 * import type { CertHost } from "@alpnmux/core/certs/host";
 * const files = new Map<string, Uint8Array>();
 * const host: CertHost = {
 *   acmeFetch: () => fetch,
 *   readFile: (path) => Promise.resolve(files.get(path) ?? null),
 *   writeFileAtomic: (path, data) => {
 *     files.set(path, typeof data === "string" ? new TextEncoder().encode(data) : data);
 *     return Promise.resolve();
 *   },
 *   run: () => Promise.resolve({ code: 0, output: "" }),
 * };
 * await host.writeFileAtomic("/tmp/x", "hi", 0o600);
 * console.log((await host.readFile("/tmp/x"))?.length); // 2
 * ```
 */
export interface CertHost {
  /**
   * `fetch` for the ACME CA's HTTPS: with the extra roots `ca` (PEM text of
   * `acme.caCertificates`) trusted besides the system's, or the plain `fetch` when `ca` is
   * undefined.
   */
  acmeFetch(ca: string | undefined): typeof fetch;
  /** A file's bytes, or null when it does not exist (other errors reject). */
  readFile(path: string): Promise<Uint8Array | null>;
  /**
   * Writes a file atomically: creates missing parent directories (0700 for new ones), writes a
   * temporary file in the same directory with `mode`, then renames it over `path`.
   */
  writeFileAtomic(path: string, data: Uint8Array | string, mode: number): Promise<void>;
  /**
   * Runs `command` with `sh -c`, its environment the process's plus `env`; kills it after
   * `timeoutMs`.
   */
  run(command: string, env: Readonly<Record<string, string>>, timeoutMs: number): Promise<RunResult>;
  /**
   * What the runtime's sandbox does not allow for `config` (Deno's permissions: writing
   * `acme.storage` and each `out`, running `sh` for `deploy`; see `@alpnmux/core/certs/paths`),
   * one line each naming the config field and how to grant it; if absent, nothing is checked.
   * `alpnmux run` does not start, and a reload is refused, while any is missing.
   */
  permissionProblems?(config: CertPathsConfig): readonly string[];
}
