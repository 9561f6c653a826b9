/**
 * Incremental reassembly for the responder: TLS records out of arbitrary socket reads (a read
 * may hold part of a record or several), and handshake messages out of record fragments (a
 * message may span records, a record may hold several messages; RFC 8446, Section 5.1).
 * Both own their buffers: pushed chunks are copied.
 *
 * @example Records from reads, messages from records
 * ```ts
 * import { HandshakeReader, RecordReader } from "./record-reader.ts";
 * const chunk = new Uint8Array([0x16, 3, 1, 0, 4, 20, 0, 0, 0]); // one record: an empty handshake message
 * const records = new RecordReader();
 * const messages = new HandshakeReader();
 * records.push(chunk);
 * for (let r = records.next(); r !== null; r = records.next()) {
 *   if (r.type === 22) messages.push(r.fragment);
 * }
 * const hello = messages.next(); // null until a whole message is there
 * ```
 *
 * @module tls13/record-reader
 */

import { TlsAlert } from "./alerts.ts";
import { MAX_CIPHERTEXT } from "./record-protection.ts";

/** One TLS record as read from the wire. */
export interface TlsRecord {
  /** The outer content type. */
  readonly type: number;
  /** The 5-byte header (the AEAD additional data of protected records). */
  readonly header: Uint8Array<ArrayBuffer>;
  /** The record body. */
  readonly fragment: Uint8Array<ArrayBuffer>;
}

/** Default cap on one handshake message (Go's `maxHandshake`): 65536 bytes. */
export const DEFAULT_MAX_HANDSHAKE_MESSAGE = 65536;

class Buffer {
  #b = new Uint8Array(0);
  #start = 0;
  #end = 0;

  get length(): number {
    return this.#end - this.#start;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.#end + chunk.length > this.#b.length) {
      const need = this.length + chunk.length;
      const next =
        need <= this.#b.length ? this.#b : new Uint8Array(Math.max(need, this.#b.length * 2, 1024));
      next.set(this.#b.subarray(this.#start, this.#end), 0);
      this.#end = this.length;
      this.#start = 0;
      this.#b = next;
    }
    this.#b.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  peek(i: number): number {
    return this.#b[this.#start + i] as number;
  }

  take(n: number): Uint8Array<ArrayBuffer> {
    const out = this.#b.slice(this.#start, this.#start + n);
    this.#start += n;
    return out;
  }
}

/**
 * Splits a byte stream into TLS records.
 *
 * @example
 * ```ts
 * const reader = new RecordReader();
 * reader.push(new Uint8Array([0x16, 3, 1]));
 * reader.next(); // null: the header is incomplete
 * ```
 */
export class RecordReader {
  readonly #buf = new Buffer();

  /** Bytes held that do not yet form a whole record. */
  get buffered(): number {
    return this.#buf.length;
  }

  /**
   * Appends bytes read from the socket (copied).
   *
   * @param chunk Any number of bytes.
   * @example
   * ```ts
   * import { RecordReader } from "./record-reader.ts";
   * const reader = new RecordReader();
   * const chunk = new Uint8Array([0x16, 3, 1, 0, 4]); // a record header, body still to come
   * reader.push(chunk);
   * ```
   */
  push(chunk: Uint8Array): void {
    this.#buf.push(chunk);
  }

  /**
   * Takes the next whole record, if there is one.
   *
   * @returns The record, or `null` when more bytes are needed.
   * @throws {TlsAlert} `unexpectedMessage` for an unknown content type or a record version
   *   whose major byte is not 3; `recordOverflow` for a length above 2^14 + 256.
   * @example
   * ```ts
   * import { RecordReader, type TlsRecord } from "./record-reader.ts";
   * const reader = new RecordReader();
   * reader.push(new Uint8Array([0x15, 3, 3, 0, 2, 1, 0])); // an alert record: close_notify
   * const handle = (r: TlsRecord) => console.log(r.type, r.fragment); // 21 [1, 0]
   * for (let r = reader.next(); r !== null; r = reader.next()) handle(r);
   * ```
   */
  next(): TlsRecord | null {
    const b = this.#buf;
    if (b.length < 1) return null;
    const type = b.peek(0);
    if (type < 20 || type > 23)
      throw new TlsAlert("unexpectedMessage", `record content type ${type} is not TLS`);
    if (b.length < 2) return null;
    if (b.peek(1) !== 3)
      throw new TlsAlert("unexpectedMessage", `record version major byte ${b.peek(1)} is not 3`);
    if (b.length < 5) return null;
    const len = (b.peek(3) << 8) | b.peek(4);
    if (len > MAX_CIPHERTEXT)
      throw new TlsAlert("recordOverflow", `record length ${len} is above 2^14 + 256`);
    if (b.length < 5 + len) return null;
    const header = b.take(5);
    return { type, header, fragment: b.take(len) };
  }
}

/**
 * Reassembles handshake messages from record fragments.
 *
 * @example
 * ```ts
 * import { HandshakeReader, RecordReader } from "./record-reader.ts";
 * const records = new RecordReader();
 * records.push(new Uint8Array([0x16, 3, 3, 0, 4, 20, 0, 0, 0]));
 * const record = records.next()!;
 * const hs = new HandshakeReader();
 * hs.push(record.fragment);
 * const msg = hs.next(); // type || uint24 length || body, or null
 * ```
 */
export class HandshakeReader {
  readonly #buf = new Buffer();
  readonly #max: number;

  /**
   * @param maxMessage Largest accepted message body; if 0 or omitted, 65536.
   */
  constructor(maxMessage = 0) {
    this.#max = maxMessage > 0 ? maxMessage : DEFAULT_MAX_HANDSHAKE_MESSAGE;
  }

  /** Whether no partial message is held (a key change must fall on a message boundary). */
  get empty(): boolean {
    return this.#buf.length === 0;
  }

  /**
   * Appends the fragment of a handshake record (copied).
   *
   * @param fragment Handshake bytes.
   * @example
   * ```ts
   * import { HandshakeReader } from "./record-reader.ts";
   * const hs = new HandshakeReader();
   * const record = { type: 22, fragment: new Uint8Array([20, 0, 0, 0]) };
   * hs.push(record.fragment);
   * ```
   */
  push(fragment: Uint8Array): void {
    this.#buf.push(fragment);
  }

  /**
   * Takes the next whole handshake message, header included.
   *
   * @returns The message, or `null` when more bytes are needed.
   * @throws {TlsAlert} `decodeError` when a message declares a body longer than the cap.
   * @example
   * ```ts
   * import { HandshakeReader } from "./record-reader.ts";
   * const hs = new HandshakeReader();
   * hs.push(new Uint8Array([20, 0, 0, 0]));
   * const checkFinished = (m: Uint8Array) => console.log("Finished", m.length);
   * const msg = hs.next();
   * if (msg !== null && msg[0] === 20) checkFinished(msg);
   * ```
   */
  next(): Uint8Array<ArrayBuffer> | null {
    const b = this.#buf;
    if (b.length < 4) return null;
    const len = (b.peek(1) << 16) | (b.peek(2) << 8) | b.peek(3);
    if (len > this.#max)
      throw new TlsAlert("decodeError", `handshake message of ${len} bytes is above ${this.#max}`);
    if (b.length < 4 + len) return null;
    return b.take(4 + len);
  }
}
