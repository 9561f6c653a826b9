/**
 * TLS 1.3 record protection with AES-128-GCM (RFC 8446, Section 5.2-5.3): the per-record nonce
 * is the write IV XOR the 64-bit sequence number, the additional data is the 5-byte record
 * header, and the inner plaintext is `content || ContentType || zero padding`.
 *
 * @example Seal the server's first encrypted record
 * ```ts
 * import { trafficKeys } from "./key-schedule.ts";
 * import { encryptedExtensions } from "./messages.ts";
 * import { RecordCipher } from "./record-protection.ts";
 * const { key, iv } = await trafficKeys(crypto, new Uint8Array(32).fill(1)); // server handshake traffic secret
 * const sealer = await RecordCipher.create(crypto, { key, iv });
 * const handshakeMessages = encryptedExtensions("acme-tls/1");
 * const record = await sealer.seal(22, handshakeMessages); // 17 03 03 len ... (sequence 0)
 * ```
 *
 * @module tls13/record-protection
 */

import { TlsAlert } from "./alerts.ts";
import type { TrafficKeys } from "./key-schedule.ts";
import { concat, copy } from "./wire.ts";

/** The AES-GCM tag length in bytes. */
export const TAG_LENGTH = 16;
/** Largest TLSInnerPlaintext (RFC 8446, Section 5.2): 2^14 + 1 (content type). */
export const MAX_INNER_PLAINTEXT = 16384 + 1;
/** Largest TLSCiphertext.length (RFC 8446, Section 5.2): 2^14 + 256. */
export const MAX_CIPHERTEXT = 16384 + 256;

/** A decrypted record. */
export interface OpenedRecord {
  /** The inner (real) content type. */
  readonly contentType: number;
  /** The content without type byte and padding. */
  readonly content: Uint8Array<ArrayBuffer>;
}

/**
 * One direction of AES-128-GCM record protection with its own sequence number. Calls must be
 * awaited in order: each `seal`/`open` uses and then increments the sequence number.
 *
 * @example Open a record the peer sent
 * ```ts
 * import { trafficKeys } from "./key-schedule.ts";
 * import { RecordCipher } from "./record-protection.ts";
 * const clientHandshakeKeys = await trafficKeys(crypto, new Uint8Array(32).fill(2));
 * const peer = await RecordCipher.create(crypto, clientHandshakeKeys); // the client's side
 * const record = await peer.seal(22, new Uint8Array([20, 0, 0, 32, ...new Uint8Array(32)]));
 * const header = record.subarray(0, 5);
 * const body = record.subarray(5);
 * const opener = await RecordCipher.create(crypto, clientHandshakeKeys);
 * const { contentType, content } = await opener.open(header, body); // 22, the Finished message
 * ```
 */
export class RecordCipher {
  readonly #crypto: Crypto;
  readonly #key: CryptoKey;
  readonly #iv: Uint8Array<ArrayBuffer>;
  #seq = 0;

  private constructor(crypto: Crypto, key: CryptoKey, iv: Uint8Array<ArrayBuffer>) {
    this.#crypto = crypto;
    this.#key = key;
    this.#iv = iv;
  }

  /**
   * Imports the traffic key.
   *
   * @param crypto A WebCrypto implementation.
   * @param keys The traffic key and IV.
   * @returns A cipher at sequence number 0.
   * @example
   * ```ts
   * import { trafficKeys } from "./key-schedule.ts";
   * import { RecordCipher } from "./record-protection.ts";
   * const secret = new Uint8Array(32).fill(1); // a traffic secret
   * const c = await RecordCipher.create(crypto, await trafficKeys(crypto, secret));
   * ```
   */
  static async create(crypto: Crypto, keys: TrafficKeys): Promise<RecordCipher> {
    const key = await crypto.subtle.importKey("raw", copy(keys.key), { name: "AES-GCM" }, false, [
      "encrypt",
      "decrypt",
    ]);
    return new RecordCipher(crypto, key, copy(keys.iv));
  }

  /** The sequence number the next record will use. */
  get sequence(): number {
    return this.#seq;
  }

  #nonce(): Uint8Array<ArrayBuffer> {
    const n = copy(this.#iv);
    // The 64-bit sequence number, left-padded to the IV length, XORed into the IV (Section 5.3).
    let s = this.#seq;
    for (let i = n.length - 1; i >= n.length - 8 && s > 0; i--) {
      n[i] = (n[i] as number) ^ (s % 256);
      s = Math.floor(s / 256);
    }
    return n;
  }

  /**
   * Encrypts one record.
   *
   * @param contentType The real content type (22 handshake, 21 alert, 23 application data).
   * @param content At most 2^14 bytes.
   * @returns The whole TLSCiphertext record: `17 03 03 len || ciphertext || tag`.
   * @throws {RangeError} When `content` is longer than 2^14 bytes.
   * @example
   * ```ts
   * import { RecordCipher } from "./record-protection.ts";
   * const sealer = await RecordCipher.create(crypto, { key: new Uint8Array(16), iv: new Uint8Array(12) });
   * const closeNotify = await sealer.seal(21, Uint8Array.of(1, 0));
   * ```
   */
  async seal(contentType: number, content: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
    if (content.length + 1 > MAX_INNER_PLAINTEXT) {
      throw new RangeError(`Cannot seal record: ${content.length} bytes > 16384`);
    }
    const inner = concat(content, Uint8Array.of(contentType));
    const len = inner.length + TAG_LENGTH;
    const header = Uint8Array.of(23, 3, 3, len >> 8, len & 0xff);
    const ct = await this.#crypto.subtle.encrypt(
      { name: "AES-GCM", iv: this.#nonce(), additionalData: header, tagLength: 128 },
      this.#key,
      inner,
    );
    this.#seq++;
    return concat(header, new Uint8Array(ct));
  }

  /**
   * Decrypts one record and strips the padding.
   *
   * @param header The 5-byte record header (the additional data).
   * @param body The encrypted_record (ciphertext and tag).
   * @returns The inner content type and content.
   * @throws {TlsAlert} `badRecordMac` when authentication fails (the sequence number is then
   *   left unchanged), `recordOverflow` when the
   *   record or its plaintext is too long, `unexpectedMessage` when the plaintext is all padding.
   * @example
   * ```ts
   * import { RecordCipher } from "./record-protection.ts";
   * const keys = { key: new Uint8Array(16), iv: new Uint8Array(12) };
   * const record = await (await RecordCipher.create(crypto, keys)).seal(21, Uint8Array.of(1, 0));
   * const opener = await RecordCipher.create(crypto, keys);
   * const { contentType, content } = await opener.open(record.subarray(0, 5), record.subarray(5)); // 21, [1, 0]
   * ```
   */
  async open(header: Uint8Array, body: Uint8Array): Promise<OpenedRecord> {
    if (body.length > MAX_CIPHERTEXT) {
      throw new TlsAlert("recordOverflow", `encrypted record of ${body.length} bytes`);
    }
    if (body.length < TAG_LENGTH + 1) {
      throw new TlsAlert("badRecordMac", `encrypted record of ${body.length} bytes is too short`);
    }
    const nonce = this.#nonce();
    let inner: Uint8Array;
    try {
      inner = new Uint8Array(
        await this.#crypto.subtle.decrypt(
          { name: "AES-GCM", iv: nonce, additionalData: copy(header), tagLength: 128 },
          this.#key,
          copy(body),
        ),
      );
    } catch {
      throw new TlsAlert("badRecordMac", "record authentication failed");
    }
    // Only an authentic record consumes a sequence number, so a caller may skip records it
    // cannot decrypt (rejected 0-RTT data, RFC 8446, Section 4.2.10) and keep going.
    this.#seq++;
    if (inner.length > MAX_INNER_PLAINTEXT) {
      throw new TlsAlert("recordOverflow", `inner plaintext of ${inner.length} bytes`);
    }
    let end = inner.length;
    while (end > 0 && inner[end - 1] === 0) end--;
    if (end === 0) throw new TlsAlert("unexpectedMessage", "encrypted record has no content type");
    return { contentType: inner[end - 1] as number, content: copy(inner.subarray(0, end - 1)) };
  }
}
