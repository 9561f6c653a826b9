/**
 * Worker processes on Deno (`WorkerHost` of `@alpnmux/core/cli`), for `workers: N`:
 * `Deno.Command` of this same command (`ALPNMUX_DENO_SELF`, which `bin/alpnmux-deno` sets to
 * itself, so a worker gets the same Deno flags and permissions) with stdout and stderr
 * shared, and the primary's control listener on 127.0.0.1 with `Deno.listen`. Only I/O: the
 * restart policy, the protocol and the fan-out are the core's. Needs `--allow-run` for that
 * one path (`alpnmux-deno` grants exactly it).
 *
 * @module workers
 */

import type { UnixConnectionHandler, WorkerHost } from "@alpnmux/core/cli";

declare global {
  namespace Deno {
    const pid: number;
  }
}

/** `Deno.env.get` (deno.d.ts declares only `toObject`). */
const env = Deno.env as unknown as { get(name: string): string | undefined };

/** Reads until EOF or an error, passing bytes on; then `end`. */
async function pump(conn: Deno.Conn, handler: UnixConnectionHandler): Promise<void> {
  const buf = new Uint8Array(16 * 1024);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      handler.data(buf.slice(0, n));
    }
  } catch {
    // Closed by us, or reset by the peer.
  }
  handler.end();
}

/** Spawning and the control listener on Deno. */
export const workers: WorkerHost = {
  spawn(extra) {
    const self = env.get("ALPNMUX_DENO_SELF");
    if (self === undefined) {
      throw new Error("workers on Deno need the alpnmux-deno command (it sets ALPNMUX_DENO_SELF)");
    }
    const child = new Deno.Command(self, {
      args: [...Deno.args],
      env: { ...extra },
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    return {
      pid: child.pid,
      exited: child.status.then((s) => (s.signal ? null : s.code)),
      kill: (signal) => {
        try {
          child.kill(signal);
        } catch {
          // Already exited.
        }
      },
    };
  },
  async listenControl(accept) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    void (async () => {
      try {
        for await (const conn of listener) {
          let writes = Promise.resolve();
          const handler = accept({
            write(bytes) {
              writes = writes
                .then(async () => {
                  let off = 0;
                  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
                })
                .catch(() => {});
            },
            close() {
              void writes.then(() => {
                try {
                  conn.close();
                } catch {
                  // Already closed.
                }
              });
            },
          });
          void pump(conn, handler);
        }
      } catch {
        // The listener was closed.
      }
    })();
    return {
      port: listener.addr.port,
      async close() {
        try {
          listener.close();
        } catch {
          // Already closed.
        }
      },
    };
  },
};
