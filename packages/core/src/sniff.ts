/**
 * An incremental ClientHello sniffer: feed it the first bytes of a connection as they arrive
 * and it says whether it needs more, found a hello, or gave up. It never throws on network
 * input and keeps every byte it was given, so the caller can replay them to an upstream.
 *
 * The decision is made by the record and handshake framing lengths, not by parse success
 * (a strict prefix of a valid hello is always `need-more`). A hello may span any number of
 * records (RFC 8446, Section 5.1; anti-censorship clients split it into dozens): the byte cap,
 * record headers included, bounds the work. Bytes after the hello (a ChangeCipherSpec, early
 * data) stay in the prelude untouched.
 *
 * Only malformed input makes an `invalid` result. An exception other than `ClientHelloError`
 * (a bug) is caught too, so it never reaches the network code, and reported as `invalid` with
 * the code `internal`, which tests assert never happens.
 *
 * @module sniff
 */

import { parseClientHello } from "./clienthello.ts";
import type { ClientHello } from "./clienthello-types.ts";
import { ContentType, DEFAULT_MAX_HELLO_BYTES, HandshakeType, MAX_PLAINTEXT } from "./constants.ts";
import { ClientHelloError } from "./errors.ts";

/** Options of {@linkcode createSniffer}. */
export interface SnifferOptions {
  /**
   * Most bytes the hello may take in the stream, record headers included, through the end of
   * its last record; if 0 or omitted, 16384 is used.
   */
  readonly maxHelloBytes?: number;
  /**
   * Most TLS records the hello may span; if 0 or omitted, no cap but `maxHelloBytes` (which
   * allows at most `maxHelloBytes / 6` records).
   */
  readonly maxRecords?: number;
}

/** Still inside the hello: push more bytes. */
export interface SniffNeedMore {
  readonly kind: "need-more";
  /** Bytes buffered so far. */
  readonly buffered: number;
}

/** A complete, well-formed ClientHello. */
export interface SniffHello {
  readonly kind: "hello";
  readonly hello: ClientHello;
  /** Every byte read so far, hello first; replay this to the upstream. */
  readonly prelude: Uint8Array;
  /** Bytes from the start of the stream through the end of the record that ends the hello. */
  readonly helloBytes: number;
  /** Records the hello spans. */
  readonly records: number;
}

/** The first byte is not a TLS handshake record: some other protocol. */
export interface SniffNotTls {
  readonly kind: "not-tls";
  readonly prelude: Uint8Array;
}

/** TLS framing, but not an acceptable ClientHello. */
export interface SniffInvalid {
  readonly kind: "invalid";
  readonly error: ClientHelloError;
  readonly prelude: Uint8Array;
}

/** The hello is (or declares itself) larger than `maxHelloBytes`. */
export interface SniffTooLarge {
  readonly kind: "too-large";
  readonly error: ClientHelloError;
  readonly prelude: Uint8Array;
}

/** What {@linkcode Sniffer.push} found. Every kind but `need-more` is final. */
export type SniffResult = SniffNeedMore | SniffHello | SniffNotTls | SniffInvalid | SniffTooLarge;

/** An incremental hello reader for one connection. */
export interface Sniffer {
  /**
   * Adds bytes (they are copied) and reports what is known now. After a final result, further
   * bytes are still kept in the prelude and the same final result is returned.
   */
  push(chunk: Uint8Array): SniffResult;
  /** The latest result. */
  readonly result: SniffResult;
}

/**
 * Creates a sniffer for one connection.
 *
 * @param options Caps on bytes and records.
 * @returns A fresh {@linkcode Sniffer}.
 * @example Route on the first flight
 * ```ts
 * import { createSniffer } from "@alpnmux/core";
 * const s = createSniffer({ maxHelloBytes: 16384 });
 * // Called with the bytes as read from the socket.
 * function onRead(chunk: Uint8Array) {
 *   const r = s.push(chunk);
 *   if (r.kind === "hello") console.log(r.hello.serverName, r.hello.alpn, r.prelude.length);
 * }
 * ```
 */
export function createSniffer(options: SnifferOptions = {}): Sniffer {
  return new HelloSniffer(
    options.maxHelloBytes || DEFAULT_MAX_HELLO_BYTES,
    options.maxRecords || Number.POSITIVE_INFINITY,
  );
}

/**
 * Reads a whole first flight at once (for tools and tests).
 *
 * @param bytes The first bytes of a connection.
 * @param options Caps on bytes and records.
 * @returns The final result, or `need-more` when the bytes end inside the hello.
 * @example
 * ```ts
 * import { sniffHello } from "@alpnmux/core";
 * const r = sniffHello(new Uint8Array([0x47, 0x45, 0x54])); // "GET"
 * r.kind; // "not-tls"
 * ```
 */
export function sniffHello(bytes: Uint8Array, options: SnifferOptions = {}): SniffResult {
  return createSniffer(options).push(bytes);
}

const NEED_MORE_EMPTY: SniffNeedMore = { kind: "need-more", buffered: 0 };
const EMPTY = new Uint8Array(0);

class HelloSniffer implements Sniffer {
  private buf = EMPTY;
  private len = 0;
  /** Start of the next record header not yet consumed. */
  private next = 0;
  /** [start, end) of each handshake fragment in buf. */
  private frags: number[] = [];
  private msgLen = 0;
  private msgTotal = -1;
  private final: Exclude<SniffResult, SniffNeedMore> | null = null;
  result: SniffResult = NEED_MORE_EMPTY;

  constructor(
    private readonly maxBytes: number,
    private readonly maxRecords: number,
  ) {}

  push(chunk: Uint8Array): SniffResult {
    this.append(chunk);
    if (this.final) {
      this.result = { ...this.final, prelude: this.prelude() };
      return this.result;
    }
    let r: SniffResult;
    try {
      r = this.scan();
    } catch (e) {
      // Only ClientHelloError is expected; anything else is a bug, reported as invalid input
      // with its own code (so tests can tell) rather than thrown at the network.
      const err =
        e instanceof ClientHelloError
          ? e
          : new ClientHelloError("internal", this.next, `internal error: ${String(e)}`, { cause: e });
      r = { kind: "invalid", error: err, prelude: this.prelude() };
    }
    if (r.kind !== "need-more") this.final = r;
    this.result = r;
    return r;
  }

  private append(chunk: Uint8Array): void {
    const need = this.len + chunk.length;
    if (need > this.buf.length) {
      // The first read usually holds the whole hello: size the buffer to it exactly.
      const grown = new Uint8Array(this.len === 0 ? need : Math.max(need, this.buf.length * 2, 2048));
      if (this.len > 0) grown.set(this.buf.subarray(0, this.len));
      this.buf = grown;
    }
    this.buf.set(chunk, this.len);
    this.len = need;
  }

  private prelude(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }

  private fail(code: ClientHelloError["code"], offset: number, reason: string): SniffInvalid {
    return { kind: "invalid", error: new ClientHelloError(code, offset, reason), prelude: this.prelude() };
  }

  private scan(): SniffResult {
    const b = this.buf;
    if (this.next === 0 && this.len > 0 && b[0] !== ContentType.handshake) {
      // SSL 2.0-compatible CLIENT-HELLO: 2-byte header with the top bit set, then msg type 1
      // (RFC 6101, Appendix E.2; RFC 5246, Appendix E.2).
      if ((b[0] as number) & 0x80) {
        if (this.len < 3) return { kind: "need-more", buffered: this.len };
        if (b[2] === 1) return this.fail("sslv2-hello", 0, "SSL 2.0-style ClientHello is not supported");
      }
      return { kind: "not-tls", prelude: this.prelude() };
    }
    while (true) {
      const at = this.next;
      const avail = this.len - at;
      if (avail >= 2 && b[at + 1] !== 3) {
        return this.fail(
          "bad-record-version",
          at + 1,
          `record version ${hex(b[at + 1] as number)}${avail >= 3 ? hex(b[at + 2] as number, "") : ""} is not TLS (3.x)`,
        );
      }
      if (avail >= 1 && b[at] !== ContentType.handshake) {
        // RFC 8446, Section 5.1: handshake messages MUST NOT be interleaved with other record types.
        return this.fail(
          "interleaved-record",
          at,
          `record of content type ${b[at]} before the end of the ClientHello`,
        );
      }
      // Another record is needed: refuse as soon as not even a 1-byte one fits under the cap.
      if (at + 6 > this.maxBytes) return this.tooLarge(`a ClientHello record would start at byte ${at}`);
      if (avail < 5) return this.needMore();
      const recLen = ((b[at + 3] as number) << 8) | (b[at + 4] as number);
      if (recLen > MAX_PLAINTEXT) {
        return this.fail("record-overflow", at + 3, `record length ${recLen} is over 2^14`);
      }
      if (recLen === 0) {
        // RFC 8446, Section 5.1: zero-length fragments of Handshake types MUST NOT be sent.
        return this.fail("empty-record", at + 3, "empty handshake record");
      }
      const records = this.frags.length / 2 + 1;
      if (records > this.maxRecords) {
        return this.fail("too-many-records", at, `ClientHello spans more than ${this.maxRecords} records`);
      }
      const fragStart = at + 5;
      const fragAvail = Math.min(recLen, this.len - fragStart);
      // Look at the handshake header as soon as its 4 bytes are here, to fail early.
      if (this.msgTotal < 0 && this.msgLen + fragAvail >= 4) {
        // In the common case (the header in this record) read in place: no view, no copy.
        const h = this.msgLen === 0 ? b : this.headerBytes(fragStart, fragAvail);
        const h0 = this.msgLen === 0 ? fragStart : 0;
        if (h[h0] !== HandshakeType.clientHello) {
          return this.fail(
            "not-client-hello",
            this.frags.length ? (this.frags[0] as number) : fragStart,
            `handshake message type ${h[h0]} is not ClientHello (1)`,
          );
        }
        this.msgTotal =
          4 + (((h[h0 + 1] as number) << 16) | ((h[h0 + 2] as number) << 8) | (h[h0 + 3] as number));
        const minStream = this.msgTotal + 5 * Math.ceil(this.msgTotal / MAX_PLAINTEXT);
        if (minStream > this.maxBytes) return this.tooLarge(`ClientHello declares ${this.msgTotal} bytes`);
      }
      // The cap counts record headers, so a hello in tiny records is bounded like any other.
      if (fragStart + recLen > this.maxBytes) {
        return this.tooLarge(`a ClientHello record ends at byte ${fragStart + recLen}`);
      }
      if (fragAvail < recLen) return this.needMore();
      // A complete record.
      this.frags.push(fragStart, fragStart + recLen);
      this.msgLen += recLen;
      this.next = fragStart + recLen;
      if (this.msgTotal >= 0 && this.msgLen >= this.msgTotal) {
        if (this.msgLen > this.msgTotal) {
          return this.fail(
            "trailing-data",
            this.next - (this.msgLen - this.msgTotal),
            `${this.msgLen - this.msgTotal} bytes of another handshake message follow the ClientHello in its record`,
          );
        }
        return this.finish();
      }
    }
  }

  private needMore(): SniffResult {
    if (this.len > this.maxBytes)
      return this.tooLarge(`${this.len} bytes read without a complete ClientHello`);
    return { kind: "need-more", buffered: this.len };
  }

  private tooLarge(reason: string): SniffTooLarge {
    return {
      kind: "too-large",
      error: new ClientHelloError(
        "too-large",
        this.next,
        `${reason}, more than the ${this.maxBytes}-byte limit`,
      ),
      prelude: this.prelude(),
    };
  }

  /** The first 4 bytes of the handshake message, from the fragments seen so far plus the current one. */
  private headerBytes(fragStart: number, fragAvail: number): Uint8Array {
    const out: number[] = [];
    const f = this.frags;
    for (let i = 0; i < f.length && out.length < 4; i += 2) {
      for (let j = f[i] as number; j < (f[i + 1] as number) && out.length < 4; j++)
        out.push(this.buf[j] as number);
    }
    for (let j = fragStart; j < fragStart + fragAvail && out.length < 4; j++) out.push(this.buf[j] as number);
    return Uint8Array.from(out);
  }

  private finish(): SniffHello {
    const f = this.frags;
    const records = f.length / 2;
    let message: Uint8Array;
    let toStream: ((i: number) => number) | number;
    if (records === 1) {
      const start = f[0] as number;
      message = this.buf.subarray(start, start + this.msgTotal);
      toStream = start;
    } else {
      message = new Uint8Array(this.msgTotal);
      const bases: number[] = [];
      let o = 0;
      for (let i = 0; i < f.length; i += 2) {
        const s = f[i] as number;
        const e = f[i + 1] as number;
        message.set(this.buf.subarray(s, e), o);
        bases.push(o, s);
        o += e - s;
      }
      // Binary search: the parser asks for offsets often, and a hello may span 2730 records.
      toStream = (idx) => {
        let lo = 0;
        let hi = bases.length / 2 - 1;
        while (lo < hi) {
          const mid = (lo + hi + 1) >> 1;
          if ((bases[2 * mid] as number) <= idx) lo = mid;
          else hi = mid - 1;
        }
        return (bases[2 * lo + 1] as number) + idx - (bases[2 * lo] as number);
      };
    }
    const hello = parseClientHello(message, toStream);
    return { kind: "hello", hello, prelude: this.prelude(), helloBytes: this.next, records };
  }
}

function hex(v: number, prefix = "0x"): string {
  return prefix + v.toString(16).padStart(2, "0");
}
