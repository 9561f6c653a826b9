/**
 * The ualpn-compatible control socket (`challenges.ualpnSocket`): a unix socket served with
 * {@linkcode serveUnixSocket}'s file rules where each connection is a
 * {@linkcode UalpnSession} over the challenge store, so uacme's stock `ualpn.sh` hook (which
 * runs `ualpn` in client mode against `/run/ualpn.sock`) and certbot-ualpn publish challenges
 * to alpnmux unchanged. A connection idle for {@linkcode UALPN_IDLE_TIMEOUT_MS} is closed.
 *
 * @example
 * ```ts
 * import { serveUalpnSocket, type UnixSocketHost } from "@alpnmux/core/cli";
 * import { MemoryChallengeStore } from "@alpnmux/core/challenge";
 * async function start(unix: UnixSocketHost) {
 *   const server = await serveUalpnSocket({ unix, path: "/run/ualpn.sock", mode: 0o600, store: new MemoryChallengeStore() });
 *   // echo "auth a.example.test <base64url digest>" | ualpn   → OK
 *   await server.close();
 * }
 * ```
 *
 * @module ualpn-socket
 */

import { getLogger } from "@logtape/logtape";
import type { ChallengeStore } from "./challenge-store.ts";
import { UalpnSession } from "./ualpn-protocol.ts";
import {
  serveUnixSocket,
  type UnixConnection,
  type UnixConnectionHandler,
  type UnixSocketHost,
  type UnixSocketOptions,
  type UnixSocketServer,
} from "./unix-socket.ts";

/** A control connection with no bytes and no pending command for this long is closed: 10 s. */
export const UALPN_IDLE_TIMEOUT_MS = 10_000;

/** Options of {@linkcode serveUalpnSocket}: the socket's, plus the runtime and the store. */
export interface UalpnSocketOptions extends UnixSocketOptions {
  /** The runtime's unix socket primitives. */
  readonly unix: UnixSocketHost;
  /** Where `auth`/`unauth` go (the store the admin API writes). */
  readonly store: Pick<ChallengeStore, "set" | "delete">;
  /** Idle timeout; if 0 or absent, {@linkcode UALPN_IDLE_TIMEOUT_MS}. */
  readonly idleTimeoutMs?: number;
}

/**
 * Serves the ualpn control protocol on a unix socket.
 *
 * @param options Socket path, mode, owner, group, the runtime's primitives and the store.
 * @returns The server; `close()` stops it, closes open control connections and removes the
 *   socket file.
 * @throws {UnixSocketError} When the socket cannot be served (see {@linkcode serveUnixSocket}).
 * @example
 * ```ts
 * import { serveUalpnSocket, type UnixSocketHost } from "@alpnmux/core/cli";
 * import { MemoryChallengeStore } from "@alpnmux/core/challenge";
 * const start = (unix: UnixSocketHost) =>
 *   serveUalpnSocket({ unix, path: "/run/ualpn.sock", mode: 0o660, group: "acme", store: new MemoryChallengeStore() });
 * ```
 */
export async function serveUalpnSocket(options: UalpnSocketOptions): Promise<UnixSocketServer> {
  const log = getLogger(["alpnmux", "ualpn"]);
  const idleMs = options.idleTimeoutMs || UALPN_IDLE_TIMEOUT_MS;
  const { unix, store, idleTimeoutMs: _, ...socket } = options;
  const open = new Set<() => void>();
  const server = await serveUnixSocket(unix, socket, (conn: UnixConnection): UnixConnectionHandler => {
    const session = new UalpnSession({ store });
    let pending = 0;
    let done = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const close = () => {
      if (done) return;
      done = true;
      open.delete(close);
      clearTimeout(timer);
      conn.close();
    };
    open.add(close);
    const arm = () => {
      clearTimeout(timer);
      if (!done && pending === 0) timer = setTimeout(close, idleMs);
    };
    arm();
    const feed = (bytes: Uint8Array, thenClose: boolean) => {
      pending++;
      clearTimeout(timer);
      void session.receive(bytes).then((out) => {
        pending--;
        for (const e of out.events) {
          log.info("ualpn {command} {identifier}: {reply}", {
            command: e.command || "(line too long)",
            identifier: e.identifier ?? null,
            reply: e.reply,
          });
        }
        if (!done && out.bytes.length > 0) conn.write(out.bytes);
        if (out.close || thenClose) close();
        else arm();
      });
    };
    return {
      data: (bytes) => {
        if (!done) feed(bytes, false);
      },
      // The peer is done sending: answer what it sent (a partial last line is dropped), then close.
      end: () => {
        if (!done) feed(new Uint8Array(0), true);
      },
    };
  });
  return {
    path: server.path,
    close: async () => {
      for (const close of [...open]) close();
      await server.close();
    },
  };
}
