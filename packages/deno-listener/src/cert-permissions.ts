/**
 * Deno's permissions for the certificates, checked before the command starts: `--allow-write`
 * for `acme.storage` and every `certificates[].out`, `--allow-run=sh` for `deploy`. Which paths
 * and whether `sh` is needed come from core (`@alpnmux/core/certs/paths`); this file only asks
 * `Deno.permissions` and words the answer as the env vars of `bin/alpnmux-deno`:
 * `certificates[0].out: Deno has no write permission for /etc/ssl/alpnmux/web; start
 * alpnmux-deno with ALPNMUX_DENO_ALLOW_WRITE=/var/lib/alpnmux,/etc/ssl/alpnmux/web`.
 *
 * Only `alpnmux run` is checked, once, with the config and flags it starts with (a config that
 * does not load is left to the command, which reports it); a reload that adds paths meets the
 * same permissions when it writes, and that error carries the same hint.
 *
 * @module cert-permissions
 */

import { applyRunFlags, DEFAULT_CONFIG_YAML, parseCli, parseConfig } from "@alpnmux/core";
import { type CertPathsConfig, missingPermissions, writablePaths } from "@alpnmux/core/certs/paths";
import { parse as parseYaml } from "yaml";

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

/**
 * The missing certificate permissions of `alpnmux run ARGV`, or none when the command is
 * another one, is a worker, or its config does not load (the command then says why).
 *
 * @param argv The command's arguments.
 * @param env `Deno.env.get`.
 * @returns One line per missing permission.
 */
export function certPermissionProblems(
  argv: readonly string[],
  env: (name: string) => string | undefined,
): string[] {
  if (env("ALPNMUX_WORKER") !== undefined) return [];
  let config: ReturnType<typeof parseConfig>;
  try {
    const cmd = parseCli(argv);
    if (cmd.command !== "run") return [];
    const text = cmd.flags.config ? Deno.readTextFileSync(cmd.flags.config) : DEFAULT_CONFIG_YAML;
    config = parseConfig(applyRunFlags(parseYaml(text), cmd.flags));
  } catch {
    return [];
  }
  return describeMissing(config, env(ALLOW_WRITE_VAR));
}
