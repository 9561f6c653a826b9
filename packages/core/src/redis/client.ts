/**
 * A small Redis client over an injected transport ({@linkcode RedisDial}: TCP, or TLS for
 * `rediss:` URLs, dialled by the runtime adapter): commands are
 * pipelined on one connection and answered in order; `AUTH` and `SELECT` come from the URL;
 * every command has a timeout; after a failure the next command reconnects, no sooner than a
 * bounded exponential backoff allows (commands issued during the backoff fail at once, so a
 * caller such as a TLS handshake never waits on a dead server).
 *
 * @example With a runtime's dial function (not called here)
 * ```ts
 * import { RedisClient, type RedisDial } from "@alpnmux/core/redis";
 * async function demo(dial: RedisDial) {
 *   const redis = new RedisClient({ url: "redis://127.0.0.1:6379/0", dial, timeoutMs: 2000 });
 *   await redis.command(["SET", "k", "v", "PX", "60000"]); // "OK"
 *   redis.close();
 * }
 * ```
 *
 * @module client
 */

import { formatHostPort } from "../address.ts";
import { encodeCommand, RedisError, RespDecoder, type RespValue } from "./resp.ts";
import { parseRedisUrl, type RedisUrl } from "./url.ts";

/** One TCP or TLS connection, as a runtime adapter provides it. */
export interface RedisConnection {
  /** Writes all of `bytes` (in order with earlier writes); rejects when the connection broke. */
  write(bytes: Uint8Array): Promise<void>;
  /** The next bytes received, or `null` at end of stream (or after `close`). */
  read(): Promise<Uint8Array | null>;
  /** Closes the connection; pending and later `read`s give `null`. */
  close(): void;
}

/** Where and how {@linkcode RedisDial} connects. */
export interface RedisDialOptions {
  /** Host name or IP address (IPv6 without brackets). */
  readonly host: string;
  readonly port: number;
  /**
   * `true` (a `rediss:` URL): the connection is TLS, and it resolves only once the handshake
   * succeeded and the server's certificate was verified (chain and `serverName`). A dial
   * function that cannot do TLS must reject, never fall back to plain TCP.
   */
  readonly tls: boolean;
  /**
   * The name the certificate must be valid for: the URL's host (a DNS name, checked against
   * dNSName SANs and sent as SNI, or an IP address, checked against iPAddress SANs).
   */
  readonly serverName: string;
  /**
   * PEM text of the CA certificate(s) to trust for this server (one or more `BEGIN
   * CERTIFICATE` blocks), for a private CA; absent: the runtime's default roots. Only with `tls`.
   */
  readonly ca?: string;
}

/**
 * Opens a connection (TCP, or TLS when `options.tls`); rejects when it cannot, with the
 * reason (refused, timeout, certificate not trusted, name mismatch) in the message.
 */
export type RedisDial = (options: RedisDialOptions) => Promise<RedisConnection>;

/** Options of {@linkcode RedisClient}. */
export interface RedisClientOptions {
  /** `redis://[[user]:password@]host[:port][/db]` (`rediss://` for TLS), or its parsed form. */
  readonly url: string | RedisUrl;
  /** The transport. */
  readonly dial: RedisDial;
  /**
   * PEM CA certificate(s) that verify the server of a `rediss:` URL (passed to `dial` as
   * `ca`); if omitted, the runtime's default roots.
   */
  readonly ca?: string;
  /** Per-command timeout, connecting included; if 0 or omitted, 2000 ms. */
  readonly timeoutMs?: number;
  /** First reconnect delay after a failure; doubles per failure; if 0 or omitted, 100 ms. */
  readonly minBackoffMs?: number;
  /** Longest reconnect delay; if 0 or omitted, 2000 ms. */
  readonly maxBackoffMs?: number;
  /** Clock in milliseconds; if omitted, `Date.now`. */
  readonly now?: () => number;
}

interface Pending {
  resolve(v: RespValue): void;
  reject(e: RedisError): void;
}

/** One established connection and the replies it owes. */
interface Link {
  readonly conn: RedisConnection;
  readonly pending: Pending[];
  writes: Promise<void>;
  dead: boolean;
  /** Why it died. */
  error?: RedisError;
}

/**
 * A pipelining Redis client. Construction does not connect; the first command does.
 *
 * @example
 * ```ts
 * import { RedisClient } from "@alpnmux/core/redis";
 * const redis = new RedisClient({ url: "redis://127.0.0.1:6379", dial: async () => { throw new Error("offline"); } });
 * await redis.command(["PING"]).catch((e) => e.code); // "connection"
 * redis.close();
 * ```
 */
export class RedisClient {
  /** Where it connects. */
  readonly url: RedisUrl;
  readonly #dial: RedisDial;
  readonly #ca: string | undefined;
  readonly #timeout: number;
  readonly #minBackoff: number;
  readonly #maxBackoff: number;
  readonly #now: () => number;
  #link: Promise<Link> | null = null;
  /** What `#link` resolved to, once it did. */
  #live: Link | null = null;
  #failures = 0;
  #retryAt = 0;
  #lastError: RedisError | null = null;
  #closed = false;

  /**
   * @param options URL, transport, CA and timeouts.
   * @throws {RedisError} Code `bad-url` for a bad URL, or a CA with a `redis:` (not TLS) URL.
   */
  constructor(options: RedisClientOptions) {
    this.url = typeof options.url === "string" ? parseRedisUrl(options.url) : options.url;
    if (options.ca !== undefined && !this.url.tls) {
      throw new RedisError("bad-url", "A CA certificate is set for a redis: URL: use rediss: (TLS)");
    }
    this.#dial = options.dial;
    this.#ca = options.ca;
    this.#timeout = options.timeoutMs || 2000;
    this.#minBackoff = options.minBackoffMs || 100;
    this.#maxBackoff = options.maxBackoffMs || 2000;
    this.#now = options.now ?? Date.now;
  }

  get #where(): string {
    return formatHostPort({ host: this.url.host, port: this.url.port }) + (this.url.tls ? " (TLS)" : "");
  }

  /**
   * Sends one command and waits for its reply.
   *
   * @param args Command name and arguments.
   * @returns The reply (an error reply is thrown, not returned).
   * @throws {RedisError} `server` for an error reply, `timeout` after the per-command timeout,
   *   `connection` when the server cannot be reached or the connection broke, `protocol` for a
   *   reply that is not RESP2.
   * @example
   * ```ts
   * import { RedisClient, type RedisDial } from "@alpnmux/core/redis";
   * async function demo(dial: RedisDial) {
   *   const redis = new RedisClient({ url: "redis://127.0.0.1:6379", dial });
   *   const [value, pttl] = await Promise.all([redis.command(["GET", "k"]), redis.command(["PTTL", "k"])]);
   * }
   * ```
   */
  command(args: readonly (string | Uint8Array)[]): Promise<RespValue> {
    const name = typeof args[0] === "string" ? args[0].toUpperCase() : "command";
    return new Promise<RespValue>((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => {
        if (done) return;
        done = true;
        const e = new RedisError(
          "timeout",
          `Redis ${name} on ${this.#where} took longer than ${this.#timeout} ms`,
        );
        reject(e);
        // The connection may be stuck: drop it (its other commands fail too) and back off.
        if (link) this.#kill(link, e, true);
      }, this.#timeout);
      let link: Link | null = null;
      const finish = (f: () => void) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        f();
      };
      const pending: Pending = {
        resolve: (v) => finish(() => (v instanceof RedisError ? reject(v) : resolve(v))),
        reject: (e) => finish(() => reject(e)),
      };
      this.#connect().then(
        (l) => {
          if (done) return;
          link = l;
          this.#send(l, args, pending);
        },
        (e: RedisError) => pending.reject(e),
      );
    });
  }

  /**
   * Closes the connection; pending and later commands fail with code `connection`.
   *
   * @example
   * ```ts
   * import { RedisClient } from "@alpnmux/core/redis";
   * new RedisClient({ url: "redis://127.0.0.1", dial: async () => { throw new Error("unused"); } }).close();
   * ```
   */
  close(): void {
    this.#closed = true;
    const link = this.#link;
    this.#link = null;
    this.#live = null;
    void link?.then(
      (l) => this.#kill(l, new RedisError("connection", "The Redis client was closed"), false),
      () => {},
    );
  }

  #send(link: Link, args: readonly (string | Uint8Array)[], pending: Pending): void {
    if (link.dead) {
      pending.reject(
        link.error ?? new RedisError("connection", `The connection to Redis at ${this.#where} was lost`),
      );
      return;
    }
    link.pending.push(pending);
    const bytes = encodeCommand(args);
    link.writes = link.writes.then(() =>
      link.dead
        ? undefined
        : link.conn.write(bytes).catch((e: unknown) => {
            this.#kill(link, this.#connError("write failed", e), true);
          }),
    );
  }

  #connError(what: string, cause: unknown): RedisError {
    const reason = cause instanceof Error ? cause.message : String(cause);
    return new RedisError("connection", `Redis at ${this.#where}: ${what}: ${reason}`, { cause });
  }

  /** The live link, connecting (with AUTH/SELECT) if there is none. */
  #connect(): Promise<Link> {
    if (this.#closed) return Promise.reject(new RedisError("connection", "The Redis client was closed"));
    if (this.#link) return this.#link;
    const wait = this.#retryAt - this.#now();
    if (wait > 0) {
      return Promise.reject(
        new RedisError(
          "connection",
          `Redis at ${this.#where} is unavailable (${this.#lastError?.message ?? "failed"}); next attempt in ${wait} ms`,
        ),
      );
    }
    const attempt = this.#open();
    this.#link = attempt;
    attempt.then(
      (l) => {
        if (this.#link !== attempt) return;
        if (l.dead) this.#link = null;
        else this.#live = l;
      },
      (e: RedisError) => {
        if (this.#link === attempt) this.#link = null;
        this.#failed(e);
      },
    );
    return attempt;
  }

  async #open(): Promise<Link> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new RedisError(
              "timeout",
              `Connecting to Redis at ${this.#where} took longer than ${this.#timeout} ms`,
            ),
          ),
        this.#timeout,
      );
    });
    const { host, port, tls } = this.url;
    const dialing = this.#dial({
      host,
      port,
      tls,
      serverName: host,
      ...(this.#ca !== undefined ? { ca: this.#ca } : {}),
    });
    let conn: RedisConnection;
    try {
      conn = await Promise.race([dialing, timeout]);
    } catch (e) {
      void dialing.then(
        (c) => c.close(),
        () => {},
      );
      throw e instanceof RedisError ? e : this.#connError("cannot connect", e);
    } finally {
      clearTimeout(timer);
    }
    const link: Link = { conn, pending: [], writes: Promise.resolve(), dead: false };
    void this.#readLoop(link);
    const hello: Promise<RespValue>[] = [];
    const run = (args: string[]) =>
      new Promise<RespValue>((resolve, reject) => {
        this.#send(link, args, { resolve, reject });
      });
    const { username, password, db } = this.url;
    if (password !== undefined) hello.push(run(username ? ["AUTH", username, password] : ["AUTH", password]));
    if (db !== 0) hello.push(run(["SELECT", String(db)]));
    try {
      for (const r of hello) {
        const v = await r;
        if (v instanceof RedisError) throw v;
      }
    } catch (e) {
      const err =
        e instanceof RedisError && e.code === "server"
          ? new RedisError("server", `Redis at ${this.#where} refused AUTH/SELECT: ${e.message}`, {
              cause: e,
            })
          : e;
      this.#kill(link, err as RedisError, false);
      throw err;
    }
    this.#failures = 0;
    this.#retryAt = 0;
    return link;
  }

  async #readLoop(link: Link): Promise<void> {
    const decoder = new RespDecoder();
    for (;;) {
      let chunk: Uint8Array | null;
      try {
        chunk = await link.conn.read();
      } catch (e) {
        this.#kill(link, this.#connError("read failed", e), true);
        return;
      }
      if (link.dead) return;
      if (chunk === null) {
        this.#kill(
          link,
          new RedisError("connection", `Redis at ${this.#where} closed the connection`),
          link.pending.length > 0,
        );
        return;
      }
      let values: RespValue[];
      try {
        values = decoder.push(chunk);
      } catch (e) {
        this.#kill(link, e as RedisError, true);
        return;
      }
      for (const v of values) {
        const p = link.pending.shift();
        if (!p) {
          this.#kill(
            link,
            new RedisError("protocol", `Redis at ${this.#where} sent an unrequested reply`),
            true,
          );
          return;
        }
        p.resolve(v);
      }
    }
  }

  /** Ends a link: fails what it owes and, for a failure, schedules the backoff. */
  #kill(link: Link, error: RedisError, failure: boolean): void {
    if (link.dead) return;
    link.dead = true;
    link.error = error;
    link.conn.close();
    const owed = link.pending.splice(0);
    for (const p of owed) p.reject(error);
    if (this.#live === link) {
      this.#live = null;
      this.#link = null;
    }
    if (failure) this.#failed(error);
  }

  #failed(error: RedisError): void {
    this.#lastError = error;
    this.#failures++;
    const delay = Math.min(this.#maxBackoff, this.#minBackoff * 2 ** Math.min(this.#failures - 1, 20));
    this.#retryAt = this.#now() + delay;
  }
}
