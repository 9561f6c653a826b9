/**
 * The `alpnmux` command's safety net on Bun: an uncaught exception or an unhandled promise
 * rejection (a bug in one connection's handling) is logged through LogTape and the process
 * keeps running, so it does not take the other connections down. The Deno command does the
 * same (`@alpnmux/deno-listener`'s `process-errors.ts`).
 *
 * @module process-errors
 */

import { getLogger } from "@logtape/logtape";

const text = (e: unknown) => (e instanceof Error ? (e.stack ?? String(e)) : String(e));

/** Installs the `uncaughtException` and `unhandledRejection` handlers (once per process). */
export function keepRunningOnUncaughtErrors(): void {
  const log = getLogger(["alpnmux", "main"]);
  process.on("uncaughtException", (e) => {
    log.error("uncaught exception (process kept running): {error}", { error: text(e) });
  });
  process.on("unhandledRejection", (reason) => {
    log.error("unhandled rejection (process kept running): {error}", { error: text(reason) });
  });
}
