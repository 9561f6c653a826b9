/**
 * The Redis client's transport on Deno (`RedisDial` of `@alpnmux/core/redis`):
 * `Deno.connect`, or `Deno.connectTls` for `rediss:` URLs. A TLS dial resolves only after the
 * handshake, once rustls verified the server's certificate chain against `ca` (added to
 * Deno's default roots) or the default roots, and the certificate matched the host; else it
 * rejects with the reason (e.g. `invalid peer certificate: UnknownIssuer`).
 *
 * @module redis-dial
 */

import type { RedisConnection, RedisDialOptions } from "@alpnmux/core/redis";

// The TLS client API, beside the hand-written declarations of deno.d.ts. A TlsConn has no
// setNoDelay.
declare global {
  namespace Deno {
    interface TlsConn extends Omit<Conn, "setNoDelay"> {
      handshake(): Promise<unknown>;
    }
    function connectTls(options: { hostname: string; port: number; caCerts?: string[] }): Promise<TlsConn>;
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

async function open(options: RedisDialOptions): Promise<Deno.Conn | Deno.TlsConn> {
  const { host, port, tls, serverName, ca } = options;
  if (!tls) {
    const conn = await Deno.connect({ hostname: host, port });
    conn.setNoDelay(true);
    return conn;
  }
  // Deno.connectTls verifies the name it connects to; it has no separate server name.
  if (serverName !== host) {
    throw new Error(
      `TLS to ${host} verified as ${serverName} is not possible on Deno: use that name as host`,
    );
  }
  const caCerts = ca === undefined ? undefined : (ca.match(PEM_CERTIFICATE) ?? []);
  if (caCerts?.length === 0) throw new Error("TLS: the CA text holds no PEM certificate");
  const conn = await Deno.connectTls({ hostname: host, port, ...(caCerts ? { caCerts } : {}) });
  try {
    await conn.handshake();
  } catch (e) {
    conn.close();
    throw new Error(`TLS handshake failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  return conn;
}

/**
 * Opens a TCP or TLS connection for the Redis client: `conn.read` into a buffer, a write loop.
 *
 * @param options Host, port, and TLS with the name to verify and an optional PEM CA.
 * @returns The connection.
 */
export async function dial(options: RedisDialOptions): Promise<RedisConnection> {
  const conn = await open(options);
  const buf = new Uint8Array(64 * 1024);
  let closed = false;
  return {
    async write(bytes) {
      let off = 0;
      while (off < bytes.length) off += await conn.write(bytes.subarray(off));
    },
    async read() {
      if (closed) return null;
      try {
        const n = await conn.read(buf);
        return n === null ? null : buf.slice(0, n);
      } catch (e) {
        if (closed) return null;
        throw e;
      }
    },
    close() {
      if (closed) return;
      closed = true;
      try {
        conn.close();
      } catch {
        // already closed
      }
    },
  };
}
