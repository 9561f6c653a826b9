/**
 * Runs a certificate's `deploy` command after a new certificate is in place (`sh -c`, with
 * `ALPNMUX_CERT_NAME` and `ALPNMUX_CERT_DIR`, killed after 60 s by default) and logs its exit
 * code and the tail of its output. A failing deploy never fails the certificate.
 *
 * @example
 * ```ts
 * import { runDeploy } from "@alpnmux/core/certs";
 * const host = { run: async () => ({ code: 0, output: "reloaded" }) };
 * console.log(await runDeploy(host, { name: "web", out: "/etc/ssl/web", deploy: "true" })); // 0
 * ```
 *
 * @module certs/deploy
 */

import { getLogger } from "@logtape/logtape";
import type { CertHost } from "./host.ts";

/** Lines of the command's output kept in the log. */
const TAIL_LINES = 5;

/**
 * Runs `cert.deploy`, if any.
 *
 * @param host Runs the command.
 * @param cert Name, `out` and `deploy`.
 * @param timeoutMs Longest run; default 60 s.
 * @returns The exit code; -1 when it was killed (timeout) or could not start; undefined without `deploy`.
 * @example
 * ```ts
 * import { runDeploy } from "@alpnmux/core/certs";
 * const host = { run: async () => ({ code: 3, output: "nginx: [emerg] bad config" }) };
 * console.log(await runDeploy(host, { name: "web", out: "/etc/ssl/web", deploy: "systemctl reload nginx" })); // 3
 * ```
 */
export async function runDeploy(
  host: Pick<CertHost, "run">,
  cert: { readonly name: string; readonly out: string; readonly deploy?: string | undefined },
  timeoutMs = 60_000,
): Promise<number | undefined> {
  const log = getLogger(["alpnmux", "certs"]);
  const command = cert.deploy;
  if (command === undefined) return undefined;
  const env = { ALPNMUX_CERT_NAME: cert.name, ALPNMUX_CERT_DIR: cert.out };
  try {
    const r = await host.run(command, env, timeoutMs);
    const output = r.output.trim().split("\n").slice(-TAIL_LINES).join("\n");
    if (r.code === 0) log.info("certificate {name}: deploy exited 0", { name: cert.name, command, output });
    else {
      log.error("certificate {name}: deploy {command} exited {code}: {output}", {
        name: cert.name,
        command,
        code: r.code ?? "killed (timeout)",
        output,
      });
    }
    return r.code ?? -1;
  } catch (err) {
    log.error("certificate {name}: deploy {command} could not run: {error}", {
      name: cert.name,
      command,
      error: err,
    });
    return -1;
  }
}
