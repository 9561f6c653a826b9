/**
 * A minimal sans-I/O TLS 1.3 **client** for tests of the responder (test-only: it lives outside
 * `src/` and is not exported from the package): it builds ClientHellos with chosen parameters,
 * follows a HelloRetryRequest, decrypts the server flight, checks the server Finished and sends
 * its own (optionally corrupted).
 * It runs on WebCrypto only, so the same tests run on Node, Bun and Deno alike.
 *
 * @example Drive a responder in memory
 * ```ts
 * import { createChallengeCertificate } from "@alpnmux/core/challenge";
 * import { createChallengeResponder } from "../src/tls13/responder.ts";
 * import { TestClient } from "./tls13-client.ts";
 * const cert = await createChallengeCertificate({ identifier: "a.example.test", keyAuthorization: "t.k", crypto });
 * const responder = createChallengeResponder({ crypto, getCertificate: () => cert });
 * const client = await TestClient.create({ crypto });
 * let toServer: Uint8Array = client.hello();
 * while (toServer.length > 0 && !client.closed) {
 *   const out = await responder.receive(toServer);
 *   toServer = await client.receive(out.write);
 * }
 * console.log(client.alpn, client.closeNotify); // "acme-tls/1" true
 * ```
 *
 * @module testing/tls13-client
 */

import { concat } from "../src/bytes.ts";
import { ContentType, ExtensionType, HandshakeType, NamedGroup } from "../src/constants.ts";
import { sha256 } from "../src/tls13/hkdf.ts";
import { generateKeyShare, type KeyShare, sharedSecret } from "../src/tls13/key-exchange.ts";
import {
  applicationSecrets,
  finishedVerifyData,
  handshakeSecrets,
  trafficKeys,
} from "../src/tls13/key-schedule.ts";
import {
  CHANGE_CIPHER_SPEC_RECORD,
  finished,
  HELLO_RETRY_REQUEST_RANDOM,
  handshakeMessage,
  messageHash,
} from "../src/tls13/messages.ts";
import { RecordCipher } from "../src/tls13/record-protection.ts";
import { HandshakeReader, RecordReader } from "../src/tls13/record-reader.ts";
import { bytesEqual, u8, u16, vec8, vec16 } from "../src/tls13/wire.ts";

/** What the ClientHello offers. Every field has a default that makes a valid acme-tls/1 hello. */
export interface TestClientOptions {
  /** WebCrypto. */
  readonly crypto: Crypto;
  /** SNI; `null` leaves the extension out. Default "a.example.test". */
  readonly serverName?: string | null;
  /** ALPN list; `null` leaves the extension out. Default ["acme-tls/1"]. */
  readonly alpn?: readonly string[] | null;
  /** Groups to send key shares for. Default [x25519]. Unknown groups get random bytes. */
  readonly keyShareGroups?: readonly number[];
  /** supported_groups; `null` leaves it out. Default [x25519, secp256r1]. */
  readonly supportedGroups?: readonly number[] | null;
  /** cipher_suites. Default [0x1301]. */
  readonly cipherSuites?: readonly number[];
  /** signature_algorithms; `null` leaves it out. Default [0x0403, 0x0804]. */
  readonly signatureAlgorithms?: readonly number[] | null;
  /** supported_versions; `null` leaves it out. Default [0x0304]. */
  readonly versions?: readonly number[] | null;
  /** legacy_session_id. Default 32 random bytes (middlebox compatibility mode). */
  readonly sessionId?: Uint8Array;
  /** Offer early_data (an empty extension). Default false. */
  readonly earlyData?: boolean;
  /** Flip a bit of the client Finished. Default false. */
  readonly corruptFinished?: boolean;
  /** Do not send the client Finished (leaves sequence 0 of the handshake key unused). */
  readonly withholdFinished?: boolean;
}

/** A parsed view of what the test client saw. */
export interface SeenCertificateVerify {
  /** SignatureScheme. */
  readonly scheme: number;
  /** DER signature. */
  readonly signature: Uint8Array;
  /** Transcript hash the server signed. */
  readonly transcriptHash: Uint8Array;
}

class Reader {
  i = 0;
  constructor(readonly b: Uint8Array) {}
  get left(): number {
    return this.b.length - this.i;
  }
  n(len: number): Uint8Array {
    if (this.i + len > this.b.length) throw new Error("test client: truncated server message");
    const out = this.b.subarray(this.i, this.i + len);
    this.i += len;
    return out;
  }
  u8(): number {
    return this.n(1)[0] as number;
  }
  u16(): number {
    const x = this.n(2);
    return ((x[0] as number) << 8) | (x[1] as number);
  }
  u24(): number {
    const x = this.n(3);
    return ((x[0] as number) << 16) | ((x[1] as number) << 8) | (x[2] as number);
  }
}

/** Parameters of {@linkcode buildClientHello}. */
export interface ClientHelloParams {
  readonly random: Uint8Array;
  readonly sessionId: Uint8Array;
  readonly cipherSuites: readonly number[];
  readonly serverName: string | null;
  readonly alpn: readonly string[] | null;
  readonly versions: readonly number[] | null;
  readonly supportedGroups: readonly number[] | null;
  readonly signatureAlgorithms: readonly number[] | null;
  readonly keyShares: readonly { readonly group: number; readonly keyExchange: Uint8Array }[] | null;
  readonly earlyData: boolean;
}

const utf8 = new TextEncoder();
const ext = (type: number, data: Uint8Array) => concat(u16(type), vec16(data));
const list16 = (xs: readonly number[]) => concat(...xs.map(u16));

/**
 * Builds a ClientHello handshake message (test-only).
 *
 * @param p Every field of the hello.
 * @returns The handshake message with its 4-byte header.
 * @example
 * ```ts
 * import { buildClientHello, type ClientHelloParams } from "./tls13-client.ts";
 * const params: ClientHelloParams = {
 *   random: new Uint8Array(32),
 *   sessionId: new Uint8Array(0),
 *   cipherSuites: [0x1301],
 *   serverName: "a.example.test",
 *   alpn: ["acme-tls/1"],
 *   versions: [0x0304],
 *   supportedGroups: [0x001d],
 *   signatureAlgorithms: [0x0403],
 *   keyShares: [{ group: 0x001d, keyExchange: new Uint8Array(32).fill(9) }],
 *   earlyData: false,
 * };
 * const msg = buildClientHello({ ...params, alpn: ["h2"] });
 * ```
 */
export function buildClientHello(p: ClientHelloParams): Uint8Array<ArrayBuffer> {
  const exts: Uint8Array[] = [];
  if (p.serverName !== null) {
    exts.push(ext(ExtensionType.serverName, vec16(concat(u8(0), vec16(utf8.encode(p.serverName))))));
  }
  if (p.supportedGroups !== null)
    exts.push(ext(ExtensionType.supportedGroups, vec16(list16(p.supportedGroups))));
  if (p.signatureAlgorithms !== null) {
    exts.push(ext(ExtensionType.signatureAlgorithms, vec16(list16(p.signatureAlgorithms))));
  }
  if (p.alpn !== null)
    exts.push(ext(ExtensionType.alpn, vec16(concat(...p.alpn.map((a) => vec8(utf8.encode(a)))))));
  if (p.keyShares !== null) {
    exts.push(
      ext(
        ExtensionType.keyShare,
        vec16(concat(...p.keyShares.map((s) => concat(u16(s.group), vec16(s.keyExchange))))),
      ),
    );
  }
  if (p.versions !== null) exts.push(ext(ExtensionType.supportedVersions, vec8(list16(p.versions))));
  exts.push(ext(ExtensionType.pskKeyExchangeModes, vec8(u8(1))));
  if (p.earlyData) exts.push(ext(ExtensionType.earlyData, new Uint8Array(0)));
  const body = concat(
    u16(0x0303),
    p.random,
    vec8(p.sessionId),
    vec16(list16(p.cipherSuites)),
    vec8(u8(0)),
    vec16(concat(...exts)),
  );
  return handshakeMessage(HandshakeType.clientHello, body);
}

/**
 * Frames bytes as plaintext records of at most `max` bytes each.
 *
 * @param type Content type.
 * @param data Payload.
 * @param max Largest fragment; default 16384.
 * @returns The records, concatenated.
 * @example
 * ```ts
 * import { records, TestClient } from "./tls13-client.ts";
 * const { helloMessage } = await TestClient.create({ crypto });
 * records(22, helloMessage, 100); // the hello spread over several records
 * ```
 */
export function records(type: number, data: Uint8Array, max = 16384): Uint8Array<ArrayBuffer> {
  const out: Uint8Array[] = [];
  for (let at = 0; at < data.length || at === 0; at += max) {
    const part = data.subarray(at, Math.min(at + max, data.length));
    out.push(concat(Uint8Array.of(type, 3, at === 0 ? 1 : 3), vec16(part)));
    if (data.length === 0) break;
  }
  return concat(...out);
}

/**
 * The test client. See the module example.
 *
 * @example
 * ```ts
 * const client = await TestClient.create({ crypto, keyShareGroups: [0x0018] }); // forces a HelloRetryRequest
 * ```
 */
export class TestClient {
  readonly #o: TestClientOptions;
  readonly #c: Crypto;
  readonly #records = new RecordReader();
  readonly #hs = new HandshakeReader();
  #shares: KeyShare[] = [];
  #params: ClientHelloParams;
  #transcript: Uint8Array[] = [];
  #serverHs: RecordCipher | undefined;
  #clientHs: RecordCipher | undefined;
  #serverApp: RecordCipher | undefined;
  #clientHsSecret: Uint8Array | undefined;
  #serverHsSecret: Uint8Array | undefined;
  #handshakeSecret: Uint8Array | undefined;

  /** ALPN the server selected. */
  alpn: string | undefined;
  /** The server's certificate. */
  certDer: Uint8Array<ArrayBuffer> | undefined;
  /** The server's CertificateVerify. */
  certificateVerify: SeenCertificateVerify | undefined;
  /** Whether the server Finished verified. */
  serverFinishedOk = false;
  /** Whether close_notify arrived. */
  closeNotify = false;
  /** The alert the server sent, if any. */
  alert: number | undefined;
  /** The group a HelloRetryRequest asked for. */
  helloRetryGroup: number | undefined;
  /** The session id the ServerHello echoed. */
  echoedSessionId: Uint8Array | undefined;
  /** The group of the ServerHello. */
  group: number | undefined;
  /** ChangeCipherSpec records received. */
  ccsCount = 0;

  private constructor(o: TestClientOptions, params: ClientHelloParams) {
    this.#o = o;
    this.#c = o.crypto;
    this.#params = params;
  }

  /**
   * Creates a client with fresh key shares.
   *
   * @param o Options.
   * @returns The client, ready to send `hello()`.
   * @example
   * ```ts
   * const c = await TestClient.create({ crypto, alpn: ["h2"] });
   * ```
   */
  static async create(o: TestClientOptions): Promise<TestClient> {
    const c = o.crypto;
    const shares: KeyShare[] = [];
    const keyShares: { group: number; keyExchange: Uint8Array }[] = [];
    for (const g of o.keyShareGroups ?? [NamedGroup.x25519]) {
      if (g === NamedGroup.x25519 || g === NamedGroup.secp256r1) {
        const s = await generateKeyShare(c, g);
        shares.push(s);
        keyShares.push({ group: g, keyExchange: s.publicKey });
      } else {
        keyShares.push({
          group: g,
          keyExchange: c.getRandomValues(new Uint8Array(g === NamedGroup.secp384r1 ? 97 : 1216)),
        });
      }
    }
    const params: ClientHelloParams = {
      random: c.getRandomValues(new Uint8Array(32)),
      sessionId: o.sessionId ?? c.getRandomValues(new Uint8Array(32)),
      cipherSuites: o.cipherSuites ?? [0x1301],
      serverName: o.serverName === undefined ? "a.example.test" : o.serverName,
      alpn: o.alpn === undefined ? ["acme-tls/1"] : o.alpn,
      versions: o.versions === undefined ? [0x0304] : o.versions,
      supportedGroups:
        o.supportedGroups === undefined ? [NamedGroup.x25519, NamedGroup.secp256r1] : o.supportedGroups,
      signatureAlgorithms: o.signatureAlgorithms === undefined ? [0x0403, 0x0804] : o.signatureAlgorithms,
      keyShares,
      earlyData: o.earlyData ?? false,
    };
    const client = new TestClient(o, params);
    client.#shares = shares;
    return client;
  }

  /** The ClientHello message (handshake header included). */
  get helloMessage(): Uint8Array {
    return buildClientHello(this.#params);
  }

  /**
   * The first flight: the ClientHello in one record.
   *
   * @returns Record bytes.
   * @example
   * ```ts
   * import { createChallengeResponder } from "../src/tls13/responder.ts";
   * import { TestClient } from "./tls13-client.ts";
   * const responder = createChallengeResponder({ crypto, getCertificate: () => undefined });
   * const client = await TestClient.create({ crypto });
   * await responder.receive(client.hello()); // unrecognized_name: no certificate
   * ```
   */
  hello(): Uint8Array<ArrayBuffer> {
    const msg = buildClientHello(this.#params);
    this.#transcript = [msg];
    return records(ContentType.handshake, msg);
  }

  /** Whether the server ended the connection (alert or close_notify). */
  get closed(): boolean {
    return this.alert !== undefined || this.closeNotify;
  }

  /**
   * Seals arbitrary content under the client handshake key (after ServerHello), for hostile tests.
   *
   * @param type Inner content type.
   * @param content Content.
   * @returns One protected record.
   * @example
   * ```ts
   * import { createChallengeCertificate } from "@alpnmux/core/challenge";
   * import { createChallengeResponder } from "../src/tls13/responder.ts";
   * import { TestClient } from "./tls13-client.ts";
   * const cert = await createChallengeCertificate({ identifier: "a.example.test", keyAuthorization: "t.k", crypto });
   * const responder = createChallengeResponder({ crypto, getCertificate: () => cert });
   * const client = await TestClient.create({ crypto });
   * await client.receive((await responder.receive(client.hello())).write); // the server flight
   * await responder.receive(await client.sealHandshake(22, client.helloMessage)); // a 2nd hello
   * ```
   */
  sealHandshake(type: number, content: Uint8Array): Promise<Uint8Array> {
    if (this.#clientHs === undefined) throw new Error("test client: no handshake keys yet");
    return this.#clientHs.seal(type, content);
  }

  /**
   * Processes server bytes.
   *
   * @param bytes What the server wrote.
   * @returns What the client sends next (may be empty).
   * @example
   * ```ts
   * import { createChallengeCertificate } from "@alpnmux/core/challenge";
   * import { createChallengeResponder } from "../src/tls13/responder.ts";
   * import { TestClient } from "./tls13-client.ts";
   * const cert = await createChallengeCertificate({ identifier: "a.example.test", keyAuthorization: "t.k", crypto });
   * const responder = createChallengeResponder({ crypto, getCertificate: () => cert });
   * const client = await TestClient.create({ crypto });
   * const out = await responder.receive(client.hello());
   * const toServer = await client.receive(out.write); // the client Finished
   * ```
   */
  async receive(bytes: Uint8Array): Promise<Uint8Array> {
    this.#records.push(bytes);
    const out: Uint8Array[] = [];
    for (let r = this.#records.next(); r !== null; r = this.#records.next()) {
      if (r.type === ContentType.changeCipherSpec) {
        this.ccsCount++;
        continue;
      }
      if (r.type === ContentType.alert) {
        this.alert = r.fragment[1];
        continue;
      }
      if (r.type === ContentType.handshake) {
        this.#hs.push(r.fragment);
        for (let m = this.#hs.next(); m !== null; m = this.#hs.next()) out.push(await this.#serverHello(m));
        continue;
      }
      const cipher = this.#serverApp ?? this.#serverHs;
      if (cipher === undefined) throw new Error("test client: encrypted record before ServerHello");
      const { contentType, content } = await cipher.open(r.header, r.fragment);
      if (contentType === ContentType.alert) {
        if (content[1] === 0) this.closeNotify = true;
        else this.alert = content[1];
        continue;
      }
      this.#hs.push(content);
      for (let m = this.#hs.next(); m !== null; m = this.#hs.next()) out.push(await this.#encrypted(m));
    }
    return concat(...out);
  }

  async #serverHello(m: Uint8Array): Promise<Uint8Array> {
    const r = new Reader(m);
    if (r.u8() !== HandshakeType.serverHello) throw new Error("test client: expected ServerHello");
    r.u24();
    r.u16();
    const random = r.n(32);
    this.echoedSessionId = r.n(r.u8()).slice();
    r.u16();
    r.u8();
    const exts = new Reader(r.n(r.u16()));
    let keyShare: Reader | undefined;
    while (exts.left > 0) {
      const t = exts.u16();
      const d = new Reader(exts.n(exts.u16()));
      if (t === ExtensionType.keyShare) keyShare = d;
    }
    if (keyShare === undefined) throw new Error("test client: no key_share");
    if (bytesEqual(random, HELLO_RETRY_REQUEST_RANDOM)) {
      const group = keyShare.u16();
      this.helloRetryGroup = group;
      const s = await generateKeyShare(this.#c, group as 0x1d | 0x17);
      this.#shares = [s];
      this.#params = { ...this.#params, keyShares: [{ group, keyExchange: s.publicKey }], earlyData: false };
      const ch2 = buildClientHello(this.#params);
      this.#transcript = [messageHash(await sha256(this.#c, this.#transcript[0] as Uint8Array)), m, ch2];
      const ccs = this.#params.sessionId.length > 0 ? CHANGE_CIPHER_SPEC_RECORD : new Uint8Array(0);
      return concat(ccs, records(ContentType.handshake, ch2));
    }
    const group = keyShare.u16();
    const peer = keyShare.n(keyShare.u16());
    const mine = this.#shares.find((s) => s.group === group);
    if (mine === undefined) throw new Error(`test client: server chose group ${group} without a share`);
    this.group = group;
    this.#transcript.push(m);
    const hs = await handshakeSecrets(this.#c, await sharedSecret(this.#c, mine, peer), await this.#hash());
    this.#handshakeSecret = hs.handshakeSecret;
    this.#clientHsSecret = hs.clientHandshakeTrafficSecret;
    this.#serverHsSecret = hs.serverHandshakeTrafficSecret;
    this.#serverHs = await RecordCipher.create(
      this.#c,
      await trafficKeys(this.#c, hs.serverHandshakeTrafficSecret),
    );
    this.#clientHs = await RecordCipher.create(
      this.#c,
      await trafficKeys(this.#c, hs.clientHandshakeTrafficSecret),
    );
    return new Uint8Array(0);
  }

  #hash(): Promise<Uint8Array> {
    return sha256(this.#c, concat(...this.#transcript));
  }

  async #encrypted(m: Uint8Array): Promise<Uint8Array> {
    const r = new Reader(m);
    const type = r.u8();
    r.u24();
    switch (type) {
      case HandshakeType.encryptedExtensions: {
        const exts = new Reader(r.n(r.u16()));
        while (exts.left > 0) {
          const t = exts.u16();
          const d = new Reader(exts.n(exts.u16()));
          if (t === ExtensionType.alpn) {
            d.u16();
            this.alpn = new TextDecoder().decode(d.n(d.u8()));
          }
        }
        break;
      }
      case HandshakeType.certificate: {
        r.n(r.u8());
        r.u24();
        this.certDer = r.n(r.u24()).slice();
        break;
      }
      case HandshakeType.certificateVerify: {
        const scheme = r.u16();
        this.certificateVerify = {
          scheme,
          signature: r.n(r.u16()).slice(),
          transcriptHash: await this.#hash(),
        };
        break;
      }
      case HandshakeType.finished: {
        const want = await finishedVerifyData(
          this.#c,
          this.#serverHsSecret as Uint8Array,
          await this.#hash(),
        );
        this.serverFinishedOk = bytesEqual(r.n(32), want);
        this.#transcript.push(m);
        const hash = await this.#hash();
        const app = await applicationSecrets(this.#c, this.#handshakeSecret as Uint8Array, hash);
        this.#serverApp = await RecordCipher.create(
          this.#c,
          await trafficKeys(this.#c, app.serverApplicationTrafficSecret),
        );
        if (this.#o.withholdFinished) return new Uint8Array(0);
        const verify = await finishedVerifyData(this.#c, this.#clientHsSecret as Uint8Array, hash);
        if (this.#o.corruptFinished) verify[0] = (verify[0] as number) ^ 1;
        const ccs =
          this.#params.sessionId.length > 0 && this.helloRetryGroup === undefined
            ? CHANGE_CIPHER_SPEC_RECORD
            : new Uint8Array(0);
        return concat(
          ccs,
          await (this.#clientHs as RecordCipher).seal(ContentType.handshake, finished(verify)),
        );
      }
      default:
        throw new Error(`test client: unexpected handshake message ${type}`);
    }
    this.#transcript.push(m);
    return new Uint8Array(0);
  }
}
