/**
 * Deno's permissions for the certificates, checked before the command starts: `--allow-write`
 * for `acme.storage` and every `certificates[].out`, `--allow-run=sh` for `deploy`. Which paths
 * and whether `sh` is needed come from core (`@alpnmux/core/certs/paths`); this file only asks
 * `Deno.permissions` and words the answer as the env vars of `bin/alpnmux-deno`:
 * `certificates[0].out: Deno has no write permission for /etc/ssl/alpnmux/web; start
 * alpnmux-deno with ALPNMUX_DENO_ALLOW_WRITE=/var/lib/alpnmux,/etc/ssl/alpnmux/web`.
 *
 * Core asks this (`CertHost.permissionProblems`) with the loaded config before `alpnmux run`
 * starts and before a reload is applied, so a new `out` in a reloaded file is refused with the
 * same hint while the running config stays.
 *
 * @module cert-permissions
 */

import { type CertPathsConfig, missingPermissions, writablePaths } from "@alpnmux/core/certs/paths";

declare global {
  namespace Deno {
    const permissions: {
      querySync(d: { name: "write"; path: string } | { name: "run"; command: string }): {
        state: "granted" | "denied" | "prompt";
      };
    };
  }
}

/** The env var of `bin/alpnmux-deno` that grants write access (comma-separated paths). */
export const ALLOW_WRITE_VAR = "ALPNMUX_DENO_ALLOW_WRITE";
/** The env var of `bin/alpnmux-deno` that grants `--allow-run` for more commands (`sh`). */
export const ALLOW_RUN_VAR = "ALPNMUX_DENO_ALLOW_RUN";

/**
 * The sentences for each missing permission of a config (none when all are granted).
 *
 * @param config A checked config.
 * @param allowWrite The current `ALPNMUX_DENO_ALLOW_WRITE`, kept in the suggested value.
 * @returns One line per missing permission.
 */
export function describeMissing(config: CertPathsConfig, allowWrite: string | undefined): string[] {
  const missing = missingPermissions(config, {
    write: (path) => Deno.permissions.querySync({ name: "write", path }).state === "granted",
    run: (command) => Deno.permissions.querySync({ name: "run", command }).state === "granted",
  });
  const paths = [
    ...new Set([
      ...(allowWrite ?? "").split(",").filter((p) => p !== ""),
      ...writablePaths(config).map((p) => p.path),
    ]),
  ];
  return missing.map((m) =>
    m.kind === "write"
      ? `${m.field}: Deno has no write permission for ${m.target}; start alpnmux-deno with ${ALLOW_WRITE_VAR}=${paths.join(",")}`
      : `${m.field}: Deno has no permission to run ${m.target} (for deploy); start alpnmux-deno with ${ALLOW_RUN_VAR}=${m.target}`,
  );
}
