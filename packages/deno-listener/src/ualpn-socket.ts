/**
 * Unix stream sockets on Deno (`UnixSocketHost` of `@alpnmux/core/cli`), for the ualpn control
 * socket: `Deno.listen({ transport: "unix" })`, `Deno.connect`, `Deno.lstat`/`remove`/`chmod`/
 * `chown`. Only I/O: the file rules and the protocol are the core's. A unix socket needs
 * `--allow-net` (Deno 2 checks `unix:PATH`), `--allow-read` and `--allow-write` for its path:
 * `alpnmux-deno` grants write access only to the paths in `ALPNMUX_DENO_ALLOW_WRITE`.
 *
 * @module ualpn-socket
 */

import type { UnixConnectionHandler, UnixSocketHost } from "@alpnmux/core/cli";

// The unix socket and file APIs used here, beside the hand-written declarations of deno.d.ts.
declare global {
  namespace Deno {
    interface UnixConn {
      read(p: Uint8Array): Promise<number | null>;
      write(p: Uint8Array): Promise<number>;
      close(): void;
    }
    interface UnixListener extends AsyncIterable<UnixConn> {
      close(): void;
    }
    function listen(options: { transport: "unix"; path: string }): UnixListener;
    function connect(options: { transport: "unix"; path: string }): Promise<UnixConn>;
    function lstat(path: string): Promise<{ isSocket: boolean | null }>;
    function remove(path: string): Promise<void>;
    function chmod(path: string, mode: number): Promise<void>;
    function chown(path: string, uid: number | null, gid: number | null): Promise<void>;
  }
}

/** A missing permission, with the switch that grants it. */
function withHint(e: unknown, path: string): unknown {
  if (!(e instanceof Error) || e.name !== "NotCapable") return e;
  return new Error(`${e.message} (alpnmux-deno: set ALPNMUX_DENO_ALLOW_WRITE=${path})`, { cause: e });
}

const hinted =
  <A extends unknown[], R>(f: (path: string, ...a: A) => Promise<R>) =>
  async (path: string, ...a: A): Promise<R> => {
    try {
      return await f(path, ...a);
    } catch (e) {
      throw withHint(e, path);
    }
  };

/** Reads until EOF or an error, passing bytes on; then `end`. */
async function pump(conn: Deno.UnixConn, handler: UnixConnectionHandler): Promise<void> {
  const buf = new Uint8Array(4096);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      handler.data(buf.slice(0, n));
    }
  } catch {
    // Closed by us, or reset by the peer: either way the connection is over.
  }
  handler.end();
}

/** The unix socket primitives on Deno. */
export const unix: UnixSocketHost = {
  kind: hinted(async (path) => {
    try {
      return (await Deno.lstat(path)).isSocket ? "socket" : "other";
    } catch (e) {
      if (e instanceof Error && e.name === "NotFound") return "none";
      throw e;
    }
  }),
  async accepts(path) {
    try {
      (await Deno.connect({ transport: "unix", path })).close();
      return true;
    } catch {
      return false;
    }
  },
  remove: hinted((path) => Deno.remove(path)),
  chmod: hinted((path, mode: number) => Deno.chmod(path, mode)),
  chown: hinted((path, uid: number | null, gid: number | null) => Deno.chown(path, uid, gid)),
  listen: hinted(async (path, accept: Parameters<UnixSocketHost["listen"]>[1]) => {
    const listener = Deno.listen({ transport: "unix", path });
    void (async () => {
      try {
        for await (const conn of listener) {
          let writes = Promise.resolve();
          const handler = accept({
            write(bytes) {
              writes = writes.then(async () => {
                let off = 0;
                while (off < bytes.length) off += await conn.write(bytes.subarray(off));
              });
              writes = writes.catch(() => {});
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
      async close() {
        try {
          listener.close();
        } catch {
          // Already closed.
        }
      },
    };
  }),
};
