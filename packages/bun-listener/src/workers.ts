/**
 * Worker processes on Bun (`WorkerHost` of `@alpnmux/core/cli`), for `workers: N`:
 * `Bun.spawn` of this same command (the Bun binary and its arguments, so a compiled binary
 * runs itself) with stdout and stderr shared, and the primary's control listener on
 * 127.0.0.1 with `Bun.listen`. Only I/O: the restart policy, the protocol and the fan-out are
 * the core's.
 *
 * @module workers
 */

import type { WorkerHost } from "@alpnmux/core/cli";
import { type State, streamHandlers } from "./ualpn-socket.ts";

/** Spawning and the control listener on Bun. */
export const workers: WorkerHost = {
  spawn(env) {
    const p = Bun.spawn([process.execPath, ...process.argv.slice(1)], {
      env: { ...process.env, ...env },
      stdin: "ignore",
      stdout: "inherit",
      stderr: "inherit",
    });
    return {
      pid: p.pid,
      exited: p.exited.then((code) => (p.signalCode ? null : code)),
      kill: (signal) => p.kill(signal),
    };
  },
  async listenControl(accept) {
    const l = Bun.listen<State>({ hostname: "127.0.0.1", port: 0, socket: streamHandlers(accept) });
    return {
      port: l.port,
      async close() {
        l.stop(true);
      },
    };
  },
};
