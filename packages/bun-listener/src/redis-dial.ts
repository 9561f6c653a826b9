/**
 * The Redis client's transport on Bun (`RedisDial` of `@alpnmux/core/redis`): `Bun.connect`,
 * with TLS for `rediss:` URLs. A TLS dial resolves only after the handshake, once the
 * server's certificate chain verified against `ca` (Node semantics: it replaces Bun's
 * default roots) or the default roots, and its SAN matched `serverName`; else it rejects
 * with the reason.
 *
 * @module redis-dial
 */

import type { RedisConnection, RedisDialOptions } from "@alpnmux/core/redis";

/**
 * Opens a TCP or TLS connection for the Redis client: `data` callbacks feed a queue that
 * `read()` pulls.
 *
 * @param options Host, port, and TLS with the name to verify and an optional PEM CA.
 * @returns The connection.
 */
export async function dial(options: RedisDialOptions): Promise<RedisConnection> {
  const { host, port, tls, serverName, ca } = options;
  const queue: Uint8Array[] = [];
  let ended = false;
  // Both a read and a write may be waiting; every event wakes all, and each re-checks.
  const waiters: (() => void)[] = [];
  const notify = () => {
    for (const w of waiters.splice(0)) w();
  };
  let handshake: { resolve(): void; reject(e: Error): void } | undefined;
  const verified = new Promise<void>((resolve, reject) => {
    handshake = { resolve, reject };
  });
  verified.catch(() => {}); // awaited only for TLS, and only once connected
  const end = () => {
    ended = true;
    handshake?.reject(new Error("TLS handshake failed: the connection closed"));
    notify();
  };
  const socket = await Bun.connect({
    hostname: host,
    port,
    allowHalfOpen: true,
    ...(tls ? { tls: { serverName, rejectUnauthorized: true, ...(ca !== undefined ? { ca } : {}) } } : {}),
    socket: {
      handshake(_s, success, authorizationError) {
        const h = handshake;
        handshake = undefined;
        if (success && authorizationError === null) h?.resolve();
        else {
          const code = (authorizationError as { code?: string } | null)?.code;
          const why = authorizationError?.message ?? "certificate not accepted";
          h?.reject(new Error(`TLS handshake failed: ${why}${code ? ` (${code})` : ""}`));
        }
      },
      data(_s, d) {
        queue.push(new Uint8Array(d));
        notify();
      },
      drain: notify,
      end,
      close: end,
      error: end,
      connectError: end,
    },
  });
  if (tls) {
    try {
      await verified;
    } catch (e) {
      socket.end();
      throw e;
    }
  } else {
    handshake = undefined;
  }
  const wait = () => new Promise<void>((r) => waiters.push(r));
  return {
    async write(bytes) {
      let off = 0;
      while (off < bytes.length) {
        if (ended) throw new Error("connection closed");
        const n = socket.write(bytes.subarray(off));
        if (n < 0) throw new Error("connection closed");
        off += n;
        if (off < bytes.length) await wait();
      }
    },
    async read() {
      while (queue.length === 0 && !ended) await wait();
      return queue.shift() ?? null;
    },
    close() {
      socket.end();
      end();
    },
  };
}
