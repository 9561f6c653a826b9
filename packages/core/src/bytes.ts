/**
 * A bounds-checked big-endian reader over a Uint8Array, after Go's `cryptobyte.String`:
 * length-prefixed child readers cannot read past their length, and `end()` checks that
 * nothing is left over. Also the one byte concatenation ({@linkcode concat}) every module uses.
 *
 * @module bytes
 */

import { ClientHelloError } from "./errors.ts";

/**
 * Concatenates byte arrays (or short lists of byte values) into a new array.
 *
 * @param parts The parts, in order: `Uint8Array`s, or arrays of numbers 0-255.
 * @returns A fresh array backed by its own `ArrayBuffer`, holding all the bytes.
 * @example
 * ```ts
 * import { concat } from "@alpnmux/core";
 * concat(new Uint8Array([1]), [2, 3]); // Uint8Array [1, 2, 3]
 * ```
 */
export function concat(...parts: readonly ArrayLike<number>[]): Uint8Array<ArrayBuffer> {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Reads big-endian integers and length-prefixed vectors from `buf[start, end)`.
 * Every overrun throws `ClientHelloError("truncated")` with the stream offset of the read.
 *
 * @example Read a u16-prefixed vector
 * ```ts
 * import { ByteReader } from "@alpnmux/core";
 * const r = new ByteReader(new Uint8Array([0, 2, 0xaa, 0xbb]));
 * const v = r.u16Prefixed("list");
 * v.u16("item"); // 0xaabb
 * r.end("list"); // nothing left: no throw
 * ```
 */
export class ByteReader {
  /** Next index to read in `buf`. */
  pos: number;

  /**
   * @param buf The bytes (not copied).
   * @param start First index to read; if 0, the start of `buf`.
   * @param limit One past the last index to read; if omitted, `buf.length`.
   * @param toStream Maps an index of `buf` to a stream offset for error messages: a function,
   *   or a number added to the index (the cheap common case); identity if omitted.
   */
  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly limit: number = buf.length,
    private readonly map: ((index: number) => number) | number = 0,
  ) {
    this.pos = start;
  }

  /**
   * The stream offset of an index of `buf`.
   * @param index An index into `buf`.
   * @returns Its offset in the connection's byte stream.
   */
  toStream(index: number): number {
    const m = this.map;
    return typeof m === "number" ? index + m : m(index);
  }

  /** Whether every byte has been read. */
  get empty(): boolean {
    return this.pos >= this.limit;
  }

  /** How many bytes are left. */
  get remaining(): number {
    return this.limit - this.pos;
  }

  /** The stream offset of the next byte. */
  get offset(): number {
    return this.toStream(this.pos);
  }

  private need(n: number, what: string): void {
    if (this.limit - this.pos < n) {
      throw new ClientHelloError(
        "truncated",
        this.toStream(this.pos),
        `${what} needs ${n} bytes but ${this.limit - this.pos} are left`,
      );
    }
  }

  /** Reads one byte. @param what Names the field in errors. @returns The byte. */
  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++] as number;
  }

  /** Reads a big-endian uint16. @param what Names the field in errors. @returns The value. */
  u16(what: string): number {
    this.need(2, what);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 2;
    return ((b[p] as number) << 8) | (b[p + 1] as number);
  }

  /** Reads a big-endian uint24. @param what Names the field in errors. @returns The value. */
  u24(what: string): number {
    this.need(3, what);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 3;
    return ((b[p] as number) << 16) | ((b[p + 1] as number) << 8) | (b[p + 2] as number);
  }

  /** Reads `n` bytes as a view (no copy). @param n Count. @param what Names the field. @returns The view. */
  bytes(n: number, what: string): Uint8Array {
    this.need(n, what);
    const p = this.pos;
    this.pos = p + n;
    return this.buf.subarray(p, p + n);
  }

  /** Skips `n` bytes. @param n Count. @param what Names the field in errors. */
  skipBytes(n: number, what: string): void {
    this.need(n, what);
    this.pos += n;
  }

  /** A child reader over a vector with a 1-byte length prefix. @param what Names the vector. @returns The child. */
  u8Prefixed(what: string): ByteReader {
    return this.child(this.u8(what), what);
  }

  /** A child reader over a vector with a 2-byte length prefix. @param what Names the vector. @returns The child. */
  u16Prefixed(what: string): ByteReader {
    return this.child(this.u16(what), what);
  }

  /** A child reader over a vector with a 3-byte length prefix. @param what Names the vector. @returns The child. */
  u24Prefixed(what: string): ByteReader {
    return this.child(this.u24(what), what);
  }

  /**
   * A reader over `buf[start, end)` with the same stream mapping (bounds are the caller's).
   * @param start First index.
   * @param end One past the last index.
   * @returns The reader.
   */
  range(start: number, end: number): ByteReader {
    return new ByteReader(this.buf, start, end, this.map);
  }

  private child(n: number, what: string): ByteReader {
    this.need(n, what);
    const r = new ByteReader(this.buf, this.pos, this.pos + n, this.map);
    this.pos += n;
    return r;
  }

  /**
   * Checks that nothing is left over.
   * @param what Names the structure in the error message.
   * @throws {ClientHelloError} "trailing-data" when bytes remain.
   */
  end(what: string): void {
    if (this.pos !== this.limit) {
      throw new ClientHelloError(
        "trailing-data",
        this.toStream(this.pos),
        `${this.limit - this.pos} unexpected bytes after ${what}`,
      );
    }
  }
}
