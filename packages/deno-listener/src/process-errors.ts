/**
 * The `alpnmux` command's safety net on Deno: an uncaught exception (the global `error`
 * event) or an unhandled promise rejection (`unhandledrejection`), a bug in one connection's
 * handling, is logged through LogTape and `preventDefault()` keeps the process running, so it
 * does not take the other connections down. The Bun command does the same.
 *
 * @module process-errors
 */

import { getLogger } from "@logtape/logtape";

const text = (e: unknown) => (e instanceof Error ? (e.stack ?? String(e)) : String(e));

/** Installs the `error` and `unhandledrejection` listeners (once per process). */
export function keepRunningOnUncaughtErrors(): void {
  const log = getLogger(["alpnmux", "main"]);
  globalThis.addEventListener("error", (e) => {
    e.preventDefault();
    log.error("uncaught exception (process kept running): {error}", { error: text(e.error) });
  });
  globalThis.addEventListener("unhandledrejection", (e) => {
    e.preventDefault();
    log.error("unhandled rejection (process kept running): {error}", { error: text(e.reason) });
  });
}
