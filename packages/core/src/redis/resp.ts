/**
 * RESP2, the Redis wire protocol, without I/O: {@linkcode encodeCommand} turns a command into
 * bytes, and a {@linkcode RespDecoder} turns the bytes a server sends, in chunks of any size,
 * into values. The decoder is strict (RESP2 types only, canonical integers, CRLF after every
 * bulk payload) and bounded (bulk strings, lines, arrays and nesting are capped), so a broken
 * or hostile peer gives a {@linkcode RedisError} with code `protocol`, never unbounded memory.
 *
 * @example Encode a command, decode a reply split across two chunks
 * ```ts
 * import { encodeCommand, RespDecoder } from "@alpnmux/core/redis";
 * const wire = encodeCommand(["GET", "k"]); // "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
 * const d = new RespDecoder();
 * d.push(new TextEncoder().encode("$5\r\nhel")); // [] (need more)
 * d.push(new TextEncoder().encode("lo\r\n")); // [Uint8Array "hello"]
 * ```
 *
 * @module resp
 */

/** Why a Redis operation failed. */
export type RedisErrorCode = "connection" | "timeout" | "server" | "protocol" | "bad-url";

/**
 * A Redis failure. As a decoded value (an `-ERR …` reply) it has code `server`; the client
 * throws it with the other codes for I/O, timeouts, bad replies and bad URLs.
 *
 * @example
 * ```ts
 * import { RedisError } from "@alpnmux/core/redis";
 * const e = new RedisError("timeout", "GET took longer than 2000 ms");
 * e.code; // "timeout"
 * ```
 */
export class RedisError extends Error {
  /** Stable code. */
  readonly code: RedisErrorCode;
  /**
   * @param code Stable code.
   * @param message Human-readable reason.
   * @param options The underlying error, if any.
   */
  constructor(code: RedisErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RedisError";
    this.code = code;
  }
}

/**
 * A decoded RESP2 value: simple string → `string`, error → {@linkcode RedisError} (code
 * `server`), integer → `number`, bulk string → `Uint8Array`, null bulk or null array → `null`,
 * array → `RespValue[]`.
 */
export type RespValue = string | number | Uint8Array | null | RedisError | RespValue[];

import { concat } from "../bytes.ts";

const enc = new TextEncoder();
const CRLF = [13, 10] as const;

/**
 * Encodes a command as a RESP2 array of bulk strings (how clients send every command).
 *
 * @param args Command name and arguments; strings are sent as UTF-8.
 * @returns The bytes to write.
 * @example
 * ```ts
 * import { encodeCommand } from "@alpnmux/core/redis";
 * new TextDecoder().decode(encodeCommand(["PING"])); // "*1\r\n$4\r\nPING\r\n"
 * ```
 */
export function encodeCommand(args: readonly (string | Uint8Array)[]): Uint8Array {
  const parts: Uint8Array[] = [enc.encode(`*${args.length}\r\n`)];
  for (const a of args) {
    const bytes = typeof a === "string" ? enc.encode(a) : a;
    const head = enc.encode(`$${bytes.length}\r\n`);
    parts.push(head, bytes, new Uint8Array(CRLF));
  }
  return concat(...parts);
}

/** Limits of a {@linkcode RespDecoder}. */
export interface RespDecoderOptions {
  /** Largest bulk string; if 0 or omitted, 64 MiB. */
  readonly maxBulkBytes?: number;
  /** Largest simple string, error or integer line; if 0 or omitted, 64 KiB. */
  readonly maxLineBytes?: number;
  /** Most elements in one array; if 0 or omitted, 1,048,576. */
  readonly maxArrayLength?: number;
  /** Deepest array nesting; if 0 or omitted, 16. */
  readonly maxDepth?: number;
}

const INCOMPLETE: unique symbol = Symbol("incomplete");
const dec = new TextDecoder("utf-8", { fatal: false });
/** `+ - : $ *`: the RESP2 types. */
const TYPES = new Set([0x2b, 0x2d, 0x3a, 0x24, 0x2a]);
const INTEGER = /^(?:0|-?[1-9][0-9]*)$/;

/**
 * An incremental RESP2 decoder: {@linkcode RespDecoder.push} takes the next chunk and returns
 * every value completed by it. It owns its buffer (chunks are copied).
 *
 * @example
 * ```ts
 * import { RespDecoder } from "@alpnmux/core/redis";
 * const d = new RespDecoder();
 * d.push(new TextEncoder().encode("+OK\r\n:4")); // ["OK"]
 * d.push(new TextEncoder().encode("2\r\n")); // [42]
 * ```
 */
export class RespDecoder {
  readonly #maxBulk: number;
  readonly #maxLine: number;
  readonly #maxArray: number;
  readonly #maxDepth: number;
  #chunks: Uint8Array[] = [];
  #size = 0;
  /** Buffered bytes needed before another parse attempt can succeed. */
  #need = 1;
  #failed: RedisError | null = null;

  /** @param options Limits. */
  constructor(options: RespDecoderOptions = {}) {
    this.#maxBulk = options.maxBulkBytes || 64 * 1024 * 1024;
    this.#maxLine = options.maxLineBytes || 64 * 1024;
    this.#maxArray = options.maxArrayLength || 1 << 20;
    this.#maxDepth = options.maxDepth || 16;
  }

  /** Bytes buffered but not yet decoded. */
  get buffered(): number {
    return this.#size;
  }

  /**
   * Adds a chunk and decodes what is complete.
   *
   * @param chunk The next bytes from the server (may be empty).
   * @returns The values completed by this chunk, in order (often none).
   * @throws {RedisError} Code `protocol` for bytes that are not RESP2 or exceed a limit; the
   *   decoder then stays failed.
   * @example
   * ```ts
   * import { RespDecoder } from "@alpnmux/core/redis";
   * new RespDecoder().push(new TextEncoder().encode("*2\r\n$1\r\na\r\n$-1\r\n")); // [[Uint8Array "a", null]]
   * ```
   */
  push(chunk: Uint8Array): RespValue[] {
    if (this.#failed) throw this.#failed;
    if (chunk.length > 0) {
      this.#chunks.push(chunk.slice());
      this.#size += chunk.length;
    }
    const out: RespValue[] = [];
    if (this.#size < this.#need) return out;
    const buf = this.#chunks.length === 1 ? this.#chunks[0]! : concat(...this.#chunks);
    let pos = 0;
    try {
      for (;;) {
        if (pos === buf.length) {
          this.#need = 1;
          break;
        }
        const r = this.#value(buf, pos, 0);
        if (r === INCOMPLETE) break;
        out.push(r[0]);
        pos = r[1];
      }
    } catch (e) {
      this.#failed = e instanceof RedisError ? e : new RedisError("protocol", String(e));
      this.#chunks = [];
      this.#size = 0;
      throw this.#failed;
    }
    const rest = buf.subarray(pos);
    this.#chunks = rest.length ? [rest] : [];
    this.#need = Math.max(1, this.#need - pos);
    this.#size = rest.length;
    return out;
  }

  #fail(pos: number, reason: string): never {
    throw new RedisError("protocol", `Cannot parse Redis reply: ${reason} (at byte ${pos})`);
  }

  /** The line starting at `pos` (without CRLF) and the position after it. */
  #line(buf: Uint8Array, pos: number): [string, number] | typeof INCOMPLETE {
    const limit = Math.min(buf.length, pos + this.#maxLine + 2);
    for (let i = pos; i < limit; i++) {
      if (buf[i] === 10) this.#fail(i, "LF without CR");
      if (buf[i] === 13) {
        if (i + 1 >= buf.length) {
          this.#need = i + 2;
          return INCOMPLETE;
        }
        if (buf[i + 1] !== 10) this.#fail(i, "CR without LF");
        return [dec.decode(buf.subarray(pos, i)), i + 2];
      }
    }
    if (limit - pos >= this.#maxLine + 2) this.#fail(pos, `line longer than ${this.#maxLine} bytes`);
    this.#need = buf.length + 1;
    return INCOMPLETE;
  }

  #int(text: string, pos: number): number {
    const n = Number(text);
    if (!INTEGER.test(text) || !Number.isSafeInteger(n))
      this.#fail(pos, `bad integer ${JSON.stringify(text)}`);
    return n;
  }

  #value(buf: Uint8Array, pos: number, depth: number): [RespValue, number] | typeof INCOMPLETE {
    const type = buf[pos];
    if (type !== undefined && !TYPES.has(type)) {
      this.#fail(pos, `unknown type byte 0x${type.toString(16).padStart(2, "0")}`);
    }
    const l = this.#line(buf, pos + 1);
    if (l === INCOMPLETE) return l;
    const [text, next] = l;
    switch (type) {
      case 0x2b: // '+' simple string
        return [text, next];
      case 0x2d: // '-' error
        return [new RedisError("server", text), next];
      case 0x3a: // ':' integer
        return [this.#int(text, pos), next];
      case 0x24: {
        // '$' bulk string
        const n = this.#int(text, pos);
        if (n === -1) return [null, next];
        if (n < 0) this.#fail(pos, `bulk length ${n}`);
        if (n > this.#maxBulk) this.#fail(pos, `bulk string of ${n} bytes exceeds ${this.#maxBulk}`);
        if (buf.length < next + n + 2) {
          this.#need = next + n + 2;
          return INCOMPLETE;
        }
        if (buf[next + n] !== 13 || buf[next + n + 1] !== 10)
          this.#fail(next + n, "bulk string without CRLF");
        return [buf.slice(next, next + n), next + n + 2];
      }
      case 0x2a: {
        // '*' array
        const n = this.#int(text, pos);
        if (n === -1) return [null, next];
        if (n < 0) this.#fail(pos, `array length ${n}`);
        if (n > this.#maxArray) this.#fail(pos, `array of ${n} elements exceeds ${this.#maxArray}`);
        if (depth >= this.#maxDepth) this.#fail(pos, `arrays nested deeper than ${this.#maxDepth}`);
        const items: RespValue[] = [];
        let p = next;
        for (let i = 0; i < n; i++) {
          const r = this.#value(buf, p, depth + 1);
          if (r === INCOMPLETE) return r;
          items.push(r[0]);
          p = r[1];
        }
        return [items, p];
      }
      default:
        this.#fail(pos, `unknown type byte 0x${(type ?? 0).toString(16).padStart(2, "0")}`);
    }
  }
}
