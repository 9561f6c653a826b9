/**
 * The server's TLS 1.3 handshake messages (RFC 8446, Section 4), built as whole handshake
 * messages (1-byte type, uint24 length, body): ServerHello, HelloRetryRequest, the synthetic
 * message_hash, EncryptedExtensions with ALPN, Certificate, CertificateVerify (ECDSA P-256,
 * with WebCrypto's raw `r || s` signature turned into DER `ECDSA-Sig-Value`) and Finished.
 *
 * @example The messages of a server flight
 * ```ts
 * import { certificate, certificateVerify, encryptedExtensions, finished } from "./messages.ts";
 * import { concat } from "./wire.ts";
 * const { privateKey } = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
 * const certDer = new Uint8Array([0x30, 0x00]); // stand-in for the challenge certificate's DER
 * const cv = await certificateVerify(crypto, privateKey, new Uint8Array(32)); // over the transcript hash
 * const verifyData = new Uint8Array(32); // finishedVerifyData() in a handshake
 * const flight = concat(encryptedExtensions("acme-tls/1"), certificate(certDer), cv, finished(verifyData));
 * ```
 *
 * @module tls13/messages
 */

import { ExtensionType, HandshakeType, ProtocolVersion } from "../constants.ts";
import { concat, copy, u8, u16, vec8, vec16, vec24 } from "./wire.ts";

/** TLS_AES_128_GCM_SHA256 (RFC 8446, Appendix B.4), the only suite the responder speaks. */
export const TLS_AES_128_GCM_SHA256 = 0x1301;
/** ecdsa_secp256r1_sha256 (RFC 8446, Section 4.2.3), the only signature scheme it uses. */
export const ECDSA_SECP256R1_SHA256 = 0x0403;

/** The ServerHello.random of a HelloRetryRequest: SHA-256("HelloRetryRequest") (Section 4.1.3). */
export const HELLO_RETRY_REQUEST_RANDOM: Uint8Array<ArrayBuffer> = Uint8Array.from(
  "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c".match(/../g) ?? [],
  (h) => Number.parseInt(h, 16),
);

/** A whole ChangeCipherSpec record for middlebox compatibility (Appendix D.4). */
export const CHANGE_CIPHER_SPEC_RECORD: Uint8Array<ArrayBuffer> = Uint8Array.of(20, 3, 3, 0, 1, 1);

const utf8 = new TextEncoder();

/**
 * Frames a handshake message: `msg_type || uint24 length || body`.
 *
 * @param type The HandshakeType.
 * @param body The message body.
 * @returns The handshake message.
 * @example
 * ```ts
 * const verifyData = new Uint8Array(32);
 * handshakeMessage(20, verifyData); // 14 00 00 20 ...
 * ```
 */
export function handshakeMessage(type: number, body: Uint8Array): Uint8Array<ArrayBuffer> {
  return concat(u8(type), vec24(body));
}

function extension(type: number, data: Uint8Array): Uint8Array<ArrayBuffer> {
  return concat(u16(type), vec16(data));
}

/** What a ServerHello carries. */
export interface ServerHelloParams {
  /** 32 random bytes. */
  readonly random: Uint8Array;
  /** The client's legacy_session_id, echoed. */
  readonly sessionId: Uint8Array;
  /** The selected group. */
  readonly group: number;
  /** The server's key_exchange bytes. */
  readonly keyExchange: Uint8Array;
}

/**
 * Builds a ServerHello for TLS_AES_128_GCM_SHA256 with key_share then supported_versions
 * (the order of RFC 8448's trace).
 *
 * @param p Random, echoed session id, group and public key.
 * @returns The handshake message.
 * @example
 * ```ts
 * import { generateKeyShare } from "./key-exchange.ts";
 * import { serverHello } from "./messages.ts";
 * const random = crypto.getRandomValues(new Uint8Array(32));
 * const hello = { sessionId: new Uint8Array(32) }; // the parsed ClientHello
 * const share = await generateKeyShare(crypto, 0x001d);
 * const sh = serverHello({ random, sessionId: hello.sessionId, group: 0x001d, keyExchange: share.publicKey });
 * ```
 */
export function serverHello(p: ServerHelloParams): Uint8Array<ArrayBuffer> {
  const exts = concat(
    extension(ExtensionType.keyShare, concat(u16(p.group), vec16(p.keyExchange))),
    extension(ExtensionType.supportedVersions, u16(ProtocolVersion.tls13)),
  );
  return handshakeMessage(
    HandshakeType.serverHello,
    concat(
      u16(ProtocolVersion.tls12),
      p.random,
      vec8(p.sessionId),
      u16(TLS_AES_128_GCM_SHA256),
      u8(0),
      vec16(exts),
    ),
  );
}

/**
 * Builds a HelloRetryRequest asking for a share of `group` (RFC 8446, Section 4.1.4).
 *
 * @param sessionId The client's legacy_session_id, echoed.
 * @param group The group the client must send a share for.
 * @returns The handshake message (a ServerHello with the special random).
 * @example
 * ```ts
 * const hello = { sessionId: new Uint8Array(32) }; // the parsed ClientHello
 * const hrr = helloRetryRequest(hello.sessionId, 0x0017);
 * ```
 */
export function helloRetryRequest(sessionId: Uint8Array, group: number): Uint8Array<ArrayBuffer> {
  const exts = concat(
    extension(ExtensionType.supportedVersions, u16(ProtocolVersion.tls13)),
    extension(ExtensionType.keyShare, u16(group)),
  );
  return handshakeMessage(
    HandshakeType.serverHello,
    concat(
      u16(ProtocolVersion.tls12),
      HELLO_RETRY_REQUEST_RANDOM,
      vec8(sessionId),
      u16(TLS_AES_128_GCM_SHA256),
      u8(0),
      vec16(exts),
    ),
  );
}

/**
 * The synthetic message that replaces ClientHello1 in the transcript after a
 * HelloRetryRequest (RFC 8446, Section 4.4.1): `message_hash || 00 00 20 || Hash(ClientHello1)`.
 *
 * @param clientHello1Hash SHA-256 of the first ClientHello.
 * @returns The 36-byte message.
 * @example
 * ```ts
 * import { sha256 } from "./hkdf.ts";
 * import { helloRetryRequest, messageHash } from "./messages.ts";
 * const ch1 = new Uint8Array([1, 0, 0, 0]); // the first ClientHello (stand-in)
 * const hrr = helloRetryRequest(new Uint8Array(32), 0x0017);
 * let transcript: Uint8Array[] = [ch1];
 * transcript = [messageHash(await sha256(crypto, ch1)), hrr];
 * ```
 */
export function messageHash(clientHello1Hash: Uint8Array): Uint8Array<ArrayBuffer> {
  return handshakeMessage(HandshakeType.messageHash, clientHello1Hash);
}

/**
 * Builds EncryptedExtensions holding only the selected ALPN protocol (RFC 7301, Section 3.1).
 *
 * @param protocol The selected protocol, e.g. `"acme-tls/1"`.
 * @returns The handshake message.
 * @example
 * ```ts
 * encryptedExtensions("acme-tls/1"); // 08 00 00 11 00 0f 00 10 00 0b 00 09 0a "acme-tls/1"
 * ```
 */
export function encryptedExtensions(protocol: string): Uint8Array<ArrayBuffer> {
  const alpn = extension(ExtensionType.alpn, vec16(vec8(utf8.encode(protocol))));
  return handshakeMessage(HandshakeType.encryptedExtensions, vec16(alpn));
}

/**
 * Builds a Certificate message with one certificate and no extensions (Section 4.4.2).
 *
 * @param certDer The DER certificate.
 * @returns The handshake message.
 * @example
 * ```ts
 * import { createChallengeCertificate } from "@alpnmux/core/challenge";
 * import { certificate } from "./messages.ts";
 * const challenge = await createChallengeCertificate({ identifier: "a.example.test", keyAuthorization: "t.k", crypto });
 * const cert = certificate(challenge.certDer);
 * ```
 */
export function certificate(certDer: Uint8Array): Uint8Array<ArrayBuffer> {
  const entry = concat(vec24(certDer), vec16(new Uint8Array(0)));
  return handshakeMessage(HandshakeType.certificate, concat(vec8(new Uint8Array(0)), vec24(entry)));
}

/**
 * The content a server signs in CertificateVerify (Section 4.4.3): 64 spaces, the context
 * string "TLS 1.3, server CertificateVerify", a zero byte and the transcript hash.
 *
 * @param transcriptHash Transcript-Hash(ClientHello..Certificate).
 * @returns The bytes to sign.
 * @example
 * ```ts
 * const hashThroughCertificate = new Uint8Array(32); // transcript hash stand-in
 * const tbs = certificateVerifyInput(hashThroughCertificate); // 64 spaces, context string, 0, hash
 * ```
 */
export function certificateVerifyInput(transcriptHash: Uint8Array): Uint8Array<ArrayBuffer> {
  return concat(
    new Uint8Array(64).fill(0x20),
    utf8.encode("TLS 1.3, server CertificateVerify"),
    u8(0),
    transcriptHash,
  );
}

function derInteger(v: Uint8Array): Uint8Array<ArrayBuffer> {
  let i = 0;
  while (i < v.length - 1 && v[i] === 0) i++;
  const trimmed = v.subarray(i);
  // A leading 1 bit would make the INTEGER negative: prefix a zero byte.
  const body = (trimmed[0] as number) & 0x80 ? concat(u8(0), trimmed) : copy(trimmed);
  return concat(Uint8Array.of(0x02, body.length), body);
}

/**
 * Converts WebCrypto's raw ECDSA signature (`r || s`, each the curve size) to the DER
 * `ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` that TLS carries (RFC 8446,
 * Section 4.2.3; RFC 3279).
 *
 * @param raw The 64-byte P-256 signature.
 * @returns The DER SEQUENCE (at most 72 bytes for P-256).
 * @throws {RangeError} When `raw` has an odd length or is longer than 250 bytes.
 * @example
 * ```ts
 * const alg = { name: "ECDSA", hash: "SHA-256" };
 * const { privateKey: key } = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
 * const data = new TextEncoder().encode("to be signed");
 * const der = ecdsaRawToDer(new Uint8Array(await crypto.subtle.sign(alg, key, data)));
 * ```
 */
export function ecdsaRawToDer(raw: Uint8Array): Uint8Array<ArrayBuffer> {
  if (raw.length % 2 !== 0 || raw.length === 0 || raw.length > 250) {
    throw new RangeError(`Cannot convert ECDSA signature: ${raw.length} bytes`);
  }
  const half = raw.length / 2;
  const seq = concat(derInteger(raw.subarray(0, half)), derInteger(raw.subarray(half)));
  return concat(Uint8Array.of(0x30, seq.length), seq);
}

/**
 * Signs the transcript with the certificate's P-256 key and builds CertificateVerify
 * (ecdsa_secp256r1_sha256).
 *
 * @param crypto A WebCrypto implementation.
 * @param privateKey An ECDSA P-256 private key with the "sign" usage.
 * @param transcriptHash Transcript-Hash(ClientHello..Certificate).
 * @returns The handshake message.
 * @example
 * ```ts
 * import { createChallengeCertificate } from "@alpnmux/core/challenge";
 * import { sha256 } from "./hkdf.ts";
 * import { certificateVerify } from "./messages.ts";
 * const challenge = await createChallengeCertificate({ identifier: "a.example.test", keyAuthorization: "t.k", crypto });
 * const transcript = new Uint8Array([1, 0, 0, 0]); // ClientHello … Certificate (stand-in)
 * const cv = await certificateVerify(crypto, challenge.privateKey, await sha256(crypto, transcript));
 * ```
 */
export async function certificateVerify(
  crypto: Crypto,
  privateKey: CryptoKey,
  transcriptHash: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  const raw = await crypto.subtle.sign(
    { name: "ECDSA", hash: "SHA-256" },
    privateKey,
    certificateVerifyInput(transcriptHash),
  );
  const body = concat(u16(ECDSA_SECP256R1_SHA256), vec16(ecdsaRawToDer(new Uint8Array(raw))));
  return handshakeMessage(HandshakeType.certificateVerify, body);
}

/**
 * Builds a Finished message.
 *
 * @param verifyData The 32-byte verify_data.
 * @returns The handshake message.
 * @example
 * ```ts
 * import { EMPTY_HASH } from "./hkdf.ts";
 * import { finishedVerifyData } from "./key-schedule.ts";
 * import { finished } from "./messages.ts";
 * const serverHandshakeTrafficSecret = new Uint8Array(32).fill(1); // from handshakeSecrets()
 * const hash = EMPTY_HASH; // transcript hash through CertificateVerify (stand-in)
 * finished(await finishedVerifyData(crypto, serverHandshakeTrafficSecret, hash));
 * ```
 */
export function finished(verifyData: Uint8Array): Uint8Array<ArrayBuffer> {
  return handshakeMessage(HandshakeType.finished, verifyData);
}
