/**
 * A sans-I/O TLS 1.3 server that answers ACME TLS-ALPN-01 validations (RFC 8737) itself:
 * feed it the client's bytes from the very start of the connection, write back what it returns,
 * close when it says `done`. It speaks only what a validator needs: TLS_AES_128_GCM_SHA256,
 * x25519 (when the runtime's WebCrypto has it) or secp256r1, ecdsa_secp256r1_sha256, ALPN
 * `acme-tls/1`, HelloRetryRequest, middlebox-compatibility ChangeCipherSpec. After the
 * client's Finished it sends close_notify and stops: acme-tls/1 carries no application data.
 *
 * Every failure ends in one alert and `done: true`, never in an exception:
 *
 * | Condition | Alert |
 * |---|---|
 * | malformed ClientHello / records, handshake message too long | decode_error (50) |
 * | no TLS 1.3 in supported_versions | protocol_version (70) |
 * | `acme-tls/1` not offered in ALPN (the challenge certificate is never sent then) | no_application_protocol (120) |
 * | no TLS_AES_128_GCM_SHA256, no common group, no ecdsa_secp256r1_sha256 | handshake_failure (40) |
 * | supported_groups, key_share or signature_algorithms absent | missing_extension (109) |
 * | no SNI, or `getCertificate` has no certificate for the name | unrecognized_name (112) |
 * | bad key share, changed hello after HelloRetryRequest, compression offered | illegal_parameter (47) |
 * | wrong client Finished | decrypt_error (51) |
 * | record that fails authentication | bad_record_mac (20) |
 * | record longer than allowed | record_overflow (22) |
 * | second ClientHello, data out of order, unknown record type | unexpected_message (10) |
 * | more than 16 ChangeCipherSpec records in a row (Go's `maxUselessRecords`) | unexpected_message (10) |
 * | `getCertificate` throws | internal_error (80) |
 * | WebCrypto fails, or any other exception (a bug): the outcome has `internal: true` | internal_error (80) |
 *
 * Alerts before the server's Finished are plaintext records; after it they are protected with
 * the server application traffic key, as RFC 8446 requires.
 *
 * @example A socket adapter (any runtime)
 * ```ts
 * import { ChallengeCertCache, createChallengeResponder, MemoryChallengeStore } from "@alpnmux/core/challenge";
 * const certs = new ChallengeCertCache({ store: new MemoryChallengeStore(), crypto });
 * interface Socket {
 *   on(event: "data", listener: (chunk: Uint8Array) => void): void;
 *   write(bytes: Uint8Array): void;
 *   end(): void;
 * }
 * // Called for each accepted acme-tls/1 connection.
 * function attach(socket: Socket) {
 *   const responder = createChallengeResponder({ crypto, getCertificate: (sni) => certs.getCertificate(sni) });
 *   socket.on("data", async (chunk) => {
 *     const out = await responder.receive(chunk); // calls are queued internally, in order
 *     if (out.write.length > 0) socket.write(out.write);
 *     if (out.done) socket.end();
 *   });
 * }
 * ```
 *
 * @module tls13/responder
 */

import { parseClientHello } from "../clienthello.ts";
import type { ClientHello } from "../clienthello-types.ts";
import { ACME_TLS_ALPN, ContentType, HandshakeType, MAX_PLAINTEXT, ProtocolVersion } from "../constants.ts";
import { ClientHelloError } from "../errors.ts";
import { AlertDescription, alertBody, alertName, plaintextAlertRecord, TlsAlert } from "./alerts.ts";
import { sha256 } from "./hkdf.ts";
import { generateKeyShare, type SupportedGroup, sharedSecret, supportedGroups } from "./key-exchange.ts";
import { applicationSecrets, finishedVerifyData, handshakeSecrets, trafficKeys } from "./key-schedule.ts";
import {
  CHANGE_CIPHER_SPEC_RECORD,
  certificate,
  certificateVerify,
  ECDSA_SECP256R1_SHA256,
  encryptedExtensions,
  finished,
  helloRetryRequest,
  messageHash,
  serverHello,
  TLS_AES_128_GCM_SHA256,
} from "./messages.ts";
import { RecordCipher } from "./record-protection.ts";
import { HandshakeReader, RecordReader, type TlsRecord } from "./record-reader.ts";
import { bytesEqual, concat, copy } from "./wire.ts";

/** The certificate the responder presents: DER and its ECDSA P-256 signing key. */
export interface ResponderCertificate {
  /** The DER certificate (an RFC 8737 challenge certificate). */
  readonly certDer: Uint8Array;
  /** Its ECDSA P-256 private key with the "sign" usage. */
  readonly privateKey: CryptoKey;
}

/** Options of {@linkcode createChallengeResponder}. */
export interface ChallengeResponderOptions {
  /** The WebCrypto implementation, e.g. `globalThis.crypto`. */
  readonly crypto: Crypto;
  /**
   * The certificate for the client's SNI (`null` when the client sent none); `undefined`
   * makes the responder send unrecognized_name (112). A reverse-DNS name (RFC 8738) is passed
   * as is: `ChallengeCertCache.getCertificate` maps it to the IP identifier.
   */
  readonly getCertificate: (
    serverName: string | null,
  ) => Promise<ResponderCertificate | undefined> | ResponderCertificate | undefined;
}

/** How a connection ended. */
export type ResponderOutcome =
  | {
      /** The handshake completed and close_notify was sent. */
      readonly type: "completed";
      /** The client's SNI. */
      readonly serverName: string | null;
      /** The key exchange group used. */
      readonly group: number;
      /** Whether a HelloRetryRequest was needed. */
      readonly helloRetry: boolean;
    }
  | {
      /** The responder sent a fatal alert. */
      readonly type: "alert-sent";
      /** The alert description. */
      readonly alert: number;
      /** Its name, e.g. `"noApplicationProtocol"`. */
      readonly alertName: string;
      /** Why, for logs. */
      readonly reason: string;
      /**
       * Present (`true`) only when the alert, internal_error, answers an exception that was no
       * protocol decision: a bug or a WebCrypto failure, never the client's input. Absent for
       * every alert the rules above choose, internal_error for a failing `getCertificate`
       * included.
       */
      readonly internal?: true;
    }
  | {
      /** The client sent an alert (or close_notify) and the responder stopped. */
      readonly type: "alert-received";
      /** The alert description. */
      readonly alert: number;
      /** Its name. */
      readonly alertName: string;
    };

/** What to do after feeding bytes. */
export interface ResponderOutput {
  /** Bytes to write to the client (may be empty). */
  readonly write: Uint8Array;
  /** When `true`, close the connection after writing `write`; later calls return nothing. */
  readonly done: boolean;
  /** Set once, on the call that reaches `done`. */
  readonly outcome?: ResponderOutcome;
}

/** A per-connection TLS-ALPN-01 responder. */
export interface ChallengeResponder {
  /**
   * Feeds the bytes the client sent (from the first byte of the connection). Never throws or
   * rejects on any input; concurrent calls are processed in call order.
   */
  receive(bytes: Uint8Array): Promise<ResponderOutput>;
  /** Whether the connection is finished. */
  readonly done: boolean;
  /** The outcome, once `done`. */
  readonly outcome: ResponderOutcome | undefined;
  /** The client's SNI, once a ClientHello was read. */
  readonly serverName: string | null;
}

/**
 * How many ChangeCipherSpec records in a row are ignored (RFC 8446, Section 5: each one is
 * dropped without advancing the handshake); one more is unexpected_message. Go's crypto/tls
 * caps such non-advancing records at 16 (`maxUselessRecords`), counted since the last
 * non-empty handshake record.
 */
const MAX_IGNORED_CHANGE_CIPHER_SPECS = 16;

/** How much rejected 0-RTT data (RFC 8446, Section 4.2.10) is skipped: 64 KiB. */
const EARLY_DATA_SKIP_LIMIT = 65536;

const EMPTY = new Uint8Array(0);

type State = "client-hello" | "retried-client-hello" | "client-finished" | "done";

function plaintextRecords(type: number, data: Uint8Array): Uint8Array<ArrayBuffer>[] {
  const out: Uint8Array<ArrayBuffer>[] = [];
  for (let at = 0; at < data.length; at += MAX_PLAINTEXT) {
    const part = data.subarray(at, Math.min(data.length, at + MAX_PLAINTEXT));
    out.push(concat(Uint8Array.of(type, 3, 3, part.length >> 8, part.length & 0xff), part));
  }
  return out;
}

class Responder implements ChallengeResponder {
  readonly #crypto: Crypto;
  readonly #getCertificate: ChallengeResponderOptions["getCertificate"];
  readonly #records = new RecordReader();
  readonly #handshake = new HandshakeReader();
  #queue: Promise<unknown> = Promise.resolve();
  #state: State = "client-hello";
  #outcome: ResponderOutcome | undefined;
  #serverName: string | null = null;
  #transcript: Uint8Array[] = [];
  #cert: ResponderCertificate | undefined;
  #firstHello: ClientHello | undefined;
  #retryGroup: SupportedGroup | undefined;
  #sentCcs = false;
  #ignoredCcs = 0;
  #group = 0;
  #skipEarlyData = 0;
  #clientHandshake: RecordCipher | undefined;
  #serverApplication: RecordCipher | undefined;
  #expectedFinished: Uint8Array | undefined;

  constructor(options: ChallengeResponderOptions) {
    this.#crypto = options.crypto;
    this.#getCertificate = options.getCertificate;
  }

  get done(): boolean {
    return this.#state === "done";
  }

  get outcome(): ResponderOutcome | undefined {
    return this.#outcome;
  }

  get serverName(): string | null {
    return this.#serverName;
  }

  receive(bytes: Uint8Array): Promise<ResponderOutput> {
    const run = this.#queue.then(() => this.#receive(bytes));
    this.#queue = run.catch(() => undefined);
    return run.catch((e: unknown) => this.#internalFailure(e));
  }

  async #internalFailure(e: unknown): Promise<ResponderOutput> {
    // Only reachable if alert sealing itself failed: send a plaintext alert as a last resort.
    if (this.#state === "done") return { write: EMPTY, done: true };
    this.#state = "done";
    this.#outcome = {
      type: "alert-sent",
      alert: 80,
      alertName: "internalError",
      reason: String(e),
      internal: true,
    };
    return { write: plaintextAlertRecord(80), done: true, outcome: this.#outcome };
  }

  async #receive(bytes: Uint8Array): Promise<ResponderOutput> {
    if (this.#state === "done") return { write: EMPTY, done: true };
    const out: Uint8Array[] = [];
    try {
      this.#records.push(bytes);
      for (let r = this.#records.next(); r !== null; r = this.#records.next()) {
        await this.#record(r, out);
        if (this.done) break;
      }
    } catch (e) {
      const alert =
        e instanceof TlsAlert ? e : new TlsAlert("internalError", e instanceof Error ? e.message : String(e));
      out.push(
        this.#serverApplication === undefined
          ? plaintextAlertRecord(alert.description)
          : await this.#serverApplication.seal(ContentType.alert, alertBody(alert.description)),
      );
      this.#finish({
        type: "alert-sent",
        alert: alert.description,
        alertName: alert.code,
        reason: alert.message,
        ...(e instanceof TlsAlert ? {} : { internal: true as const }),
      });
    }
    const write = concat(...out);
    return this.done && this.#outcome !== undefined
      ? { write, done: true, outcome: this.#outcome }
      : { write, done: false };
  }

  #finish(outcome: ResponderOutcome): void {
    this.#state = "done";
    this.#outcome = outcome;
  }

  #peerAlert(fragment: Uint8Array): void {
    if (fragment.length !== 2) throw new TlsAlert("decodeError", `alert of ${fragment.length} bytes`);
    const d = fragment[1] as number;
    this.#finish({ type: "alert-received", alert: d, alertName: alertName(d) });
  }

  #changeCipherSpec(fragment: Uint8Array): void {
    // RFC 8446, Section 5: a single byte 0x01, ignored; anything else is unexpected_message.
    if (fragment.length !== 1 || fragment[0] !== 1) {
      throw new TlsAlert("unexpectedMessage", "malformed change_cipher_spec record");
    }
    // Section 5.1: handshake messages are not interleaved with other record types.
    if (!this.#handshake.empty) {
      throw new TlsAlert("unexpectedMessage", "change_cipher_spec inside a handshake message");
    }
    this.#ignoredCcs++;
    if (this.#ignoredCcs > MAX_IGNORED_CHANGE_CIPHER_SPECS) {
      throw new TlsAlert(
        "unexpectedMessage",
        `more than ${MAX_IGNORED_CHANGE_CIPHER_SPECS} change_cipher_spec records in a row`,
      );
    }
  }

  async #record(r: TlsRecord, out: Uint8Array[]): Promise<void> {
    if (r.type === ContentType.alert) {
      if (r.fragment.length > MAX_PLAINTEXT) throw new TlsAlert("recordOverflow", "alert record too long");
      return this.#peerAlert(r.fragment);
    }
    if (this.#state === "client-finished") return this.#protectedRecord(r, out);
    // Before ServerHello: plaintext records only.
    if (r.fragment.length > MAX_PLAINTEXT) {
      throw new TlsAlert("recordOverflow", `plaintext record of ${r.fragment.length} bytes`);
    }
    switch (r.type) {
      case ContentType.handshake: {
        if (r.fragment.length === 0) throw new TlsAlert("decodeError", "empty handshake record");
        this.#ignoredCcs = 0;
        this.#handshake.push(r.fragment);
        const msg = this.#handshake.next();
        if (msg === null) return;
        if (!this.#handshake.empty)
          throw new TlsAlert("unexpectedMessage", "handshake data after ClientHello");
        return this.#clientHello(msg, out);
      }
      case ContentType.changeCipherSpec:
        // A compatibility-mode client may send it between its two hellos (Appendix D.4).
        if (this.#state !== "retried-client-hello") {
          throw new TlsAlert("unexpectedMessage", "change_cipher_spec before ClientHello");
        }
        return this.#changeCipherSpec(r.fragment);
      default:
        // 0-RTT records sent with the first hello after a HelloRetryRequest (Section 4.2.10).
        if (this.#state === "retried-client-hello" && this.#skipEarlyData > 0) {
          this.#skipEarlyData -= r.fragment.length;
          if (this.#skipEarlyData >= 0) return;
        }
        throw new TlsAlert("unexpectedMessage", `record type ${r.type} before ClientHello`);
    }
  }

  async #protectedRecord(r: TlsRecord, out: Uint8Array[]): Promise<void> {
    if (r.type === ContentType.changeCipherSpec) return this.#changeCipherSpec(r.fragment);
    if (r.type !== ContentType.applicationData) {
      throw new TlsAlert("unexpectedMessage", `plaintext record type ${r.type} after ServerHello`);
    }
    const cipher = this.#clientHandshake as RecordCipher;
    let opened: Awaited<ReturnType<RecordCipher["open"]>>;
    try {
      opened = await cipher.open(r.header, r.fragment);
    } catch (e) {
      // Rejected 0-RTT data cannot be decrypted with the handshake key: skip it (4.2.10).
      if (e instanceof TlsAlert && e.code === "badRecordMac" && this.#skipEarlyData > 0) {
        this.#skipEarlyData -= r.fragment.length;
        if (this.#skipEarlyData >= 0) return;
      }
      throw e;
    }
    this.#skipEarlyData = 0;
    if (opened.contentType === ContentType.alert) return this.#peerAlert(opened.content);
    if (opened.contentType !== ContentType.handshake) {
      throw new TlsAlert(
        "unexpectedMessage",
        `protected record type ${opened.contentType} before client Finished`,
      );
    }
    if (opened.content.length === 0) throw new TlsAlert("decodeError", "empty handshake record");
    this.#ignoredCcs = 0;
    this.#handshake.push(opened.content);
    const msg = this.#handshake.next();
    if (msg === null) return;
    if (msg[0] === HandshakeType.clientHello) throw new TlsAlert("unexpectedMessage", "second ClientHello");
    if (msg[0] !== HandshakeType.finished) {
      throw new TlsAlert("unexpectedMessage", `handshake message ${msg[0]} instead of Finished`);
    }
    if (msg.length !== 4 + 32) throw new TlsAlert("decodeError", `Finished of ${msg.length - 4} bytes`);
    if (!bytesEqual(msg.subarray(4), this.#expectedFinished as Uint8Array)) {
      throw new TlsAlert("decryptError", "client Finished does not verify");
    }
    if (!this.#handshake.empty)
      throw new TlsAlert("unexpectedMessage", "handshake data after client Finished");
    // RFC 8737, Section 3: no application data; close right away.
    const app = this.#serverApplication as RecordCipher;
    out.push(await app.seal(ContentType.alert, alertBody(AlertDescription.closeNotify)));
    this.#finish({
      type: "completed",
      serverName: this.#serverName,
      group: this.#group,
      helloRetry: this.#retryGroup !== undefined,
    });
  }

  #parse(msg: Uint8Array): ClientHello {
    try {
      return parseClientHello(msg);
    } catch (e) {
      if (e instanceof ClientHelloError) throw new TlsAlert("decodeError", e.message);
      throw e;
    }
  }

  #check(ch: ClientHello): void {
    // RFC 8446, Section 4.2.1: only a client listing 0x0304 speaks TLS 1.3.
    if (ch.supportedVersions === null || !ch.supportedVersions.includes(ProtocolVersion.tls13)) {
      throw new TlsAlert("protocolVersion", "the client does not offer TLS 1.3");
    }
    // Section 4.1.2: legacy_compression_methods must be exactly [null].
    if (ch.compressionMethods.length !== 1 || ch.compressionMethods[0] !== 0) {
      throw new TlsAlert("illegalParameter", "compression methods other than null");
    }
    // RFC 8737, Section 3 and RFC 7301, Section 3.2: never show the challenge certificate to
    // a client that did not ask for acme-tls/1.
    if (ch.alpn === null || !ch.alpn.includes(ACME_TLS_ALPN)) {
      throw new TlsAlert("noApplicationProtocol", "the client does not offer acme-tls/1");
    }
    if (!ch.cipherSuites.includes(TLS_AES_128_GCM_SHA256)) {
      throw new TlsAlert("handshakeFailure", "the client does not offer TLS_AES_128_GCM_SHA256");
    }
    // Section 9.2: a certificate-authenticated handshake needs these extensions.
    if (ch.signatureAlgorithms === null) throw new TlsAlert("missingExtension", "no signature_algorithms");
    if (ch.supportedGroups === null) throw new TlsAlert("missingExtension", "no supported_groups");
    if (ch.keyShares === null) throw new TlsAlert("missingExtension", "no key_share");
    if (!ch.signatureAlgorithms.includes(ECDSA_SECP256R1_SHA256)) {
      throw new TlsAlert("handshakeFailure", "the client does not accept ecdsa_secp256r1_sha256");
    }
  }

  async #clientHello(msg: Uint8Array, out: Uint8Array[]): Promise<void> {
    const ch = this.#parse(msg);
    this.#check(ch);
    const keyShares = ch.keyShares ?? [];
    if (this.#state === "retried-client-hello") {
      const first = this.#firstHello as ClientHello;
      const group = this.#retryGroup as SupportedGroup;
      // Section 4.1.2: the second hello carries one share, for the group the server asked for.
      if (keyShares.length !== 1 || keyShares[0]?.group !== group) {
        throw new TlsAlert(
          "illegalParameter",
          `second ClientHello lacks a single key share for group ${group}`,
        );
      }
      if (ch.serverName !== first.serverName || !bytesEqual(ch.sessionId, first.sessionId)) {
        throw new TlsAlert("illegalParameter", "second ClientHello changed server_name or session id");
      }
      if (ch.earlyData) throw new TlsAlert("illegalParameter", "early_data offered after HelloRetryRequest");
      return this.#serverFlight(ch, group, keyShares[0].keyExchange, out);
    }

    this.#serverName = ch.serverName;
    let cert: ResponderCertificate | undefined;
    try {
      cert = await this.#getCertificate(ch.serverName);
    } catch (e) {
      throw new TlsAlert(
        "internalError",
        `getCertificate failed: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
    if (cert === undefined) {
      throw new TlsAlert(
        "unrecognizedName",
        ch.serverName === null ? "no server_name" : `no challenge for "${ch.serverName}"`,
      );
    }
    this.#cert = cert;

    // Server preference (x25519 first) among the shares the client sent; else ask for one.
    const groups = await supportedGroups(this.#crypto);
    for (const g of groups) {
      const share = keyShares.find((s) => s.group === g);
      if (share !== undefined) {
        this.#skipEarlyData = ch.earlyData ? EARLY_DATA_SKIP_LIMIT : 0;
        return this.#serverFlight(ch, g, share.keyExchange, out);
      }
    }
    const retry = groups.find((g) => ch.supportedGroups?.includes(g));
    if (retry === undefined) throw new TlsAlert("handshakeFailure", "no common key exchange group");
    // Section 4.4.1: ClientHello1 is replaced by message_hash in the transcript.
    const hrr = helloRetryRequest(ch.sessionId, retry);
    this.#transcript = [messageHash(await sha256(this.#crypto, msg)), hrr];
    this.#firstHello = { ...ch, sessionId: copy(ch.sessionId) };
    this.#retryGroup = retry;
    this.#skipEarlyData = ch.earlyData ? EARLY_DATA_SKIP_LIMIT : 0;
    this.#state = "retried-client-hello";
    out.push(...plaintextRecords(ContentType.handshake, hrr));
    if (ch.sessionId.length > 0) {
      out.push(CHANGE_CIPHER_SPEC_RECORD);
      this.#sentCcs = true;
    }
  }

  async #serverFlight(
    ch: ClientHello,
    group: SupportedGroup,
    peerKey: Uint8Array,
    out: Uint8Array[],
  ): Promise<void> {
    const c = this.#crypto;
    const cert = this.#cert as ResponderCertificate;
    const share = await generateKeyShare(c, group);
    const shared = await sharedSecret(c, share, peerKey);
    const sh = serverHello({
      random: c.getRandomValues(new Uint8Array(32)),
      sessionId: ch.sessionId,
      group,
      keyExchange: share.publicKey,
    });
    const t = [...this.#transcript, copy(ch.message), sh];
    const hs = await handshakeSecrets(c, shared, await sha256(c, concat(...t)));
    const serverHandshake = await RecordCipher.create(
      c,
      await trafficKeys(c, hs.serverHandshakeTrafficSecret),
    );
    const clientHandshake = await RecordCipher.create(
      c,
      await trafficKeys(c, hs.clientHandshakeTrafficSecret),
    );
    t.push(encryptedExtensions(ACME_TLS_ALPN), certificate(cert.certDer));
    t.push(await certificateVerify(c, cert.privateKey, await sha256(c, concat(...t))));
    t.push(
      finished(await finishedVerifyData(c, hs.serverHandshakeTrafficSecret, await sha256(c, concat(...t)))),
    );
    const finishedHash = await sha256(c, concat(...t));
    const app = await applicationSecrets(c, hs.handshakeSecret, finishedHash);
    this.#expectedFinished = await finishedVerifyData(c, hs.clientHandshakeTrafficSecret, finishedHash);
    const flight = concat(...t.slice(t.indexOf(sh) + 1));
    const records: Uint8Array[] = [...plaintextRecords(ContentType.handshake, sh)];
    // Appendix D.4: a compatibility-mode client (non-empty session id) gets one dummy CCS.
    if (ch.sessionId.length > 0 && !this.#sentCcs) records.push(CHANGE_CIPHER_SPEC_RECORD);
    for (let at = 0; at < flight.length; at += MAX_PLAINTEXT) {
      records.push(
        await serverHandshake.seal(ContentType.handshake, flight.subarray(at, at + MAX_PLAINTEXT)),
      );
    }
    this.#serverApplication = await RecordCipher.create(
      c,
      await trafficKeys(c, app.serverApplicationTrafficSecret),
    );
    this.#clientHandshake = clientHandshake;
    this.#transcript = t;
    this.#group = group;
    this.#sentCcs = true;
    this.#state = "client-finished";
    out.push(...records);
  }
}

/**
 * Creates the responder for one connection.
 *
 * @param options The WebCrypto implementation and the certificate lookup.
 * @returns A fresh responder; use one per connection.
 * @example
 * ```ts
 * import { ChallengeCertCache, createChallengeResponder, MemoryChallengeStore } from "@alpnmux/core/challenge";
 * const certs = new ChallengeCertCache({ store: new MemoryChallengeStore(), crypto });
 * const r = createChallengeResponder({ crypto, getCertificate: (sni) => certs.getCertificate(sni) });
 * const firstBytes = new TextEncoder().encode("GET / HTTP/1.1\r\n"); // not a TLS record
 * const { write, done, outcome } = await r.receive(firstBytes); // an alert, done: true
 * ```
 */
export function createChallengeResponder(options: ChallengeResponderOptions): ChallengeResponder {
  return new Responder(options);
}
