/**
 * What a config asks of the runtime's sandbox for its certificates: the paths the certificate
 * manager writes (`acme.storage`, every `certificates[].out`) and whether it runs `sh` (a
 * `deploy` command). Pure: a sandboxed runtime (Deno's permissions) asks these of the config
 * and checks them up front, so a missing permission is one clear message at start naming the
 * config field, not a failed renewal weeks later.
 *
 * @example
 * ```ts
 * import { missingPermissions, writablePaths } from "@alpnmux/core/certs/paths";
 * const config = {
 *   acme: { storage: "/var/lib/alpnmux" },
 *   certificates: [{ out: "/etc/ssl/alpnmux/web", deploy: "systemctl reload nginx" }],
 * };
 * console.log(writablePaths(config)[1]); // { field: "certificates[0].out", path: "/etc/ssl/alpnmux/web" }
 * const granted = { write: (path: string) => path === "/var/lib/alpnmux", run: () => false };
 * const missing = missingPermissions(config, granted);
 * console.log(missing.length, missing[1]?.field); // 2 "certificates[0].deploy"
 * ```
 *
 * @module certs/paths
 */

/** The parts of a checked config (`RouterConfig`) these functions read. */
export interface CertPathsConfig {
  readonly acme: { readonly storage: string };
  readonly certificates: readonly { readonly out: string; readonly deploy?: string | undefined }[];
}

/** A path the certificate manager writes, and the config field that names it. */
export interface WritablePath {
  /** `acme.storage` or `certificates[N].out`. */
  readonly field: string;
  readonly path: string;
}

/** The command a `deploy` is run with (`sh -c DEPLOY`). */
export const DEPLOY_SHELL = "sh";

/**
 * The directories the certificate manager writes into: `acme.storage` (account key and
 * state), then each `certificates[N].out`, in config order. Empty without certificates (the
 * storage is then never touched).
 *
 * @param config A checked config.
 * @returns One entry per field, paths as configured.
 * @example
 * ```ts
 * import { writablePaths } from "@alpnmux/core/certs/paths";
 * console.log(writablePaths({ acme: { storage: "/var/lib/alpnmux" }, certificates: [] }).length); // 0
 * ```
 */
export function writablePaths(config: CertPathsConfig): readonly WritablePath[] {
  if (config.certificates.length === 0) return [];
  return [
    { field: "acme.storage", path: config.acme.storage },
    ...config.certificates.map((c, i) => ({ field: `certificates[${i}].out`, path: c.out })),
  ];
}

/**
 * Whether the certificate manager runs {@linkcode DEPLOY_SHELL}: some certificate has `deploy`.
 *
 * @param config A checked config.
 * @returns True when a `deploy` command is configured.
 * @example
 * ```ts
 * import { needsRun } from "@alpnmux/core/certs/paths";
 * console.log(needsRun({ acme: { storage: "/s" }, certificates: [{ out: "/o", deploy: "true" }] })); // true
 * ```
 */
export function needsRun(config: CertPathsConfig): boolean {
  return config.certificates.some((c) => c.deploy !== undefined);
}

/** One permission the sandbox lacks. */
export interface MissingPermission {
  /** The config field that needs it: `acme.storage`, `certificates[N].out` or `certificates[N].deploy`. */
  readonly field: string;
  readonly kind: "write" | "run";
  /** The path (write) or the command (run, always {@linkcode DEPLOY_SHELL}). */
  readonly target: string;
}

/**
 * The permissions a config needs that `granted` says are missing, in config order.
 *
 * @param config A checked config.
 * @param granted The sandbox's answers: may `path` be written, may `command` be run.
 * @returns Nothing when every path and the shell are allowed.
 * @example
 * ```ts
 * import { missingPermissions } from "@alpnmux/core/certs/paths";
 * const config = { acme: { storage: "/s" }, certificates: [{ out: "/o" }] };
 * console.log(missingPermissions(config, { write: () => true, run: () => false }).length); // 0
 * ```
 */
export function missingPermissions(
  config: CertPathsConfig,
  granted: { write(path: string): boolean; run(command: string): boolean },
): readonly MissingPermission[] {
  const missing: MissingPermission[] = [];
  for (const p of writablePaths(config)) {
    if (!granted.write(p.path)) missing.push({ field: p.field, kind: "write", target: p.path });
  }
  if (needsRun(config) && !granted.run(DEPLOY_SHELL)) {
    config.certificates.forEach((c, i) => {
      if (c.deploy !== undefined) {
        missing.push({ field: `certificates[${i}].deploy`, kind: "run", target: DEPLOY_SHELL });
      }
    });
  }
  return missing;
}
