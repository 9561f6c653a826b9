/**
 * Unix stream sockets on Bun (`UnixSocketHost` of `@alpnmux/core/cli`), for the ualpn control
 * socket: `Bun.listen({ unix })`, `Bun.connect({ unix })` and `node:fs`. Only I/O: the file
 * rules and the protocol are the core's. Bun's `write()` may take fewer bytes than given and
 * does not queue the rest (FACTS.md): the rest waits here for `drain`.
 *
 * @module ualpn-socket
 */

import { chmod, chown, lstat, unlink } from "node:fs/promises";
import type { UnixConnection, UnixConnectionHandler, UnixSocketHost } from "@alpnmux/core/cli";
import type { Socket, SocketHandler } from "bun";

export interface State {
  handler: UnixConnectionHandler;
  queue: Uint8Array[];
  closing: boolean;
}

/** Writes what Bun takes; keeps the rest in order; ends once empty and asked to. */
function flush(s: Socket<State>): void {
  const st = s.data;
  while (st.queue.length > 0) {
    const head = st.queue[0] as Uint8Array;
    const n = s.write(head);
    if (n < head.length) {
      st.queue[0] = head.subarray(Math.max(0, n));
      return;
    }
    st.queue.shift();
  }
  if (st.closing) s.end();
}

/**
 * Bun socket handlers that hand each accepted stream (unix or TCP) to `accept`, with an
 * ordered write queue.
 * @param accept The core's connection handler factory.
 * @returns Handlers for `Bun.listen`.
 */
export function streamHandlers(
  accept: (conn: UnixConnection) => UnixConnectionHandler,
): SocketHandler<State> {
  return {
    open(s) {
      const state: State = { handler: { data() {}, end() {} }, queue: [], closing: false };
      s.data = state;
      state.handler = accept({
        write(bytes) {
          state.queue.push(bytes);
          flush(s);
        },
        close() {
          state.closing = true;
          flush(s);
        },
      });
    },
    data: (s, bytes) => s.data.handler.data(new Uint8Array(bytes)),
    drain: flush,
    end: (s) => s.data.handler.end(),
    error: (s) => s.data?.handler.end(),
  };
}

/** The unix socket primitives on Bun. */
export const unix: UnixSocketHost = {
  async kind(path) {
    try {
      return (await lstat(path)).isSocket() ? "socket" : "other";
    } catch (e) {
      if ((e as { code?: string }).code === "ENOENT") return "none";
      throw e;
    }
  },
  async accepts(path) {
    try {
      const s = await Bun.connect({ unix: path, socket: { data() {} } });
      s.end();
      return true;
    } catch {
      return false;
    }
  },
  remove: (path) => unlink(path),
  chmod: (path, mode) => chmod(path, mode),
  chown: (path, uid, gid) => chown(path, uid ?? -1, gid ?? -1),
  async listen(path, accept) {
    const listener = Bun.listen<State>({ unix: path, allowHalfOpen: true, socket: streamHandlers(accept) });
    return {
      async close() {
        listener.stop(true);
      },
    };
  },
};
