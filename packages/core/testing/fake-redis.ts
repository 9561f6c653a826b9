/**
 * A test-only in-memory Redis: a {@linkcode RedisDial} whose connections talk RESP2 to a tiny
 * command interpreter (SET [PX], GET, PTTL, DEL, SCAN MATCH COUNT, AUTH, SELECT, PING) with an
 * injectable clock, plus switches for failures: refuse connections, stop answering, drop every
 * connection, split replies into small chunks. Also the server side of RESP2,
 * {@linkcode encodeValue}. Test-only: not part of the published package.
 *
 * @module fake-redis
 */

import { concat } from "../src/bytes.ts";
import type { RedisConnection, RedisDial, RedisDialOptions } from "../src/redis/client.ts";
import { RedisError, RespDecoder, type RespValue } from "../src/redis/resp.ts";

const enc = new TextEncoder();

/**
 * Encodes any {@linkcode RespValue}, as a server sends it.
 *
 * @param value The value; a string must not contain CR or LF.
 * @returns The bytes.
 * @throws {RangeError} For a simple string or error message with CR/LF, or a non-integer number.
 * @example
 * ```ts
 * new TextDecoder().decode(encodeValue(["OK", 1, null])); // "*3\r\n+OK\r\n:1\r\n$-1\r\n"
 * ```
 */
export function encodeValue(value: RespValue): Uint8Array {
  const line = (prefix: string, text: string) => {
    if (/[\r\n]/.test(text))
      throw new RangeError(`Cannot encode ${JSON.stringify(text)}: CR or LF in a line`);
    return enc.encode(`${prefix}${text}\r\n`);
  };
  if (value === null) return enc.encode("$-1\r\n");
  if (typeof value === "string") return line("+", value);
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new RangeError(`Cannot encode ${value}: not a safe integer`);
    return line(":", String(value));
  }
  if (value instanceof RedisError) return line("-", value.message);
  if (value instanceof Uint8Array) return concat(enc.encode(`$${value.length}\r\n`), value, [13, 10]);
  return concat(enc.encode(`*${value.length}\r\n`), ...value.map(encodeValue));
}

const text = new TextDecoder();
const bytes = (s: string) => new TextEncoder().encode(s);

interface Entry {
  value: string;
  expiresAt: number;
}

export class FakeRedis {
  now = 0;
  /** Password required by AUTH, or undefined. */
  password: string | undefined;
  /** dial() rejects (connection refused). */
  refuse = false;
  /** Connections accept writes but never reply. */
  hang = false;
  /** Replies are delivered in chunks of at most this many bytes (0: whole). */
  chunk = 0;
  /** Every command received, as text arrays. */
  readonly log: string[][] = [];
  dials = 0;
  /** The options of every dial, in order. */
  readonly dialed: RedisDialOptions[] = [];
  readonly dbs = new Map<number, Map<string, Entry>>();
  readonly #conns = new Set<() => void>();

  db(n = 0): Map<string, Entry> {
    let d = this.dbs.get(n);
    if (!d) {
      d = new Map();
      this.dbs.set(n, d);
    }
    return d;
  }

  /** Closes every open connection (like a server restart). */
  dropAll(): void {
    for (const close of [...this.#conns]) close();
  }

  get open(): number {
    return this.#conns.size;
  }

  readonly dial: RedisDial = async (options) => {
    this.dials++;
    this.dialed.push(options);
    if (this.refuse) throw new Error("connect ECONNREFUSED");
    const decoder = new RespDecoder();
    const inbox: Uint8Array[] = [];
    let closed = false;
    let waiter: (() => void) | null = null;
    const wake = () => {
      const w = waiter;
      waiter = null;
      w?.();
    };
    const state = { db: 0, authed: this.password === undefined };
    const close = () => {
      closed = true;
      this.#conns.delete(close);
      wake();
    };
    this.#conns.add(close);
    const conn: RedisConnection = {
      write: async (b) => {
        if (closed) throw new Error("EPIPE");
        for (const cmd of decoder.push(b)) {
          if (this.hang) continue;
          const out = encodeValue(this.#run(cmd, state));
          const step = this.chunk || out.length;
          for (let i = 0; i < out.length; i += step) inbox.push(out.slice(i, i + step));
        }
        wake();
      },
      read: async () => {
        while (inbox.length === 0 && !closed) await new Promise<void>((r) => (waiter = r));
        return inbox.shift() ?? null;
      },
      close,
    };
    return conn;
  };

  #live(db: number, key: string): Entry | undefined {
    const d = this.db(db);
    const e = d.get(key);
    if (e && e.expiresAt <= this.now) {
      d.delete(key);
      return undefined;
    }
    return e;
  }

  #run(cmd: RespValue, state: { db: number; authed: boolean }): RespValue {
    if (!Array.isArray(cmd)) return new RedisError("server", "ERR protocol");
    const args = cmd.map((a) => (a instanceof Uint8Array ? text.decode(a) : String(a)));
    this.log.push(args);
    const [name = "", ...rest] = args;
    const upper = name.toUpperCase();
    if (upper === "AUTH") {
      if (rest.at(-1) === this.password) {
        state.authed = true;
        return "OK";
      }
      return new RedisError("server", "WRONGPASS invalid username-password pair");
    }
    if (!state.authed) return new RedisError("server", "NOAUTH Authentication required.");
    const d = this.db(state.db);
    switch (upper) {
      case "PING":
        return "PONG";
      case "SELECT":
        state.db = Number(rest[0]);
        return "OK";
      case "SET": {
        const [key = "", value = "", px, ms] = rest;
        d.set(key, {
          value,
          expiresAt: px?.toUpperCase() === "PX" ? this.now + Number(ms) : Number.POSITIVE_INFINITY,
        });
        return "OK";
      }
      case "GET": {
        const e = this.#live(state.db, rest[0] ?? "");
        return e ? bytes(e.value) : null;
      }
      case "PTTL": {
        const e = this.#live(state.db, rest[0] ?? "");
        if (!e) return -2;
        return e.expiresAt === Number.POSITIVE_INFINITY ? -1 : e.expiresAt - this.now;
      }
      case "DEL": {
        let n = 0;
        for (const k of rest) if (this.#live(state.db, k) && d.delete(k)) n++;
        return n;
      }
      case "SCAN": {
        // Cursor = index into the sorted key list; COUNT keys per call; MATCH supports a trailing *.
        const cursor = Number(rest[0]);
        const match = rest[rest.findIndex((a) => a.toUpperCase() === "MATCH") + 1] ?? "*";
        const count = Number(rest[rest.findIndex((a) => a.toUpperCase() === "COUNT") + 1] ?? 10);
        const prefix = match.endsWith("*") ? match.slice(0, -1).replace(/\\(.)/g, "$1") : match;
        const keys = [...d.keys()].sort();
        const page = keys.slice(cursor, cursor + count);
        const next = cursor + count >= keys.length ? 0 : cursor + count;
        return [bytes(String(next)), page.filter((k) => k.startsWith(prefix)).map(bytes)];
      }
      default:
        return new RedisError("server", `ERR unknown command '${name}'`);
    }
  }
}
