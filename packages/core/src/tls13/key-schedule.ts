/**
 * The TLS 1.3 key schedule for TLS_AES_128_GCM_SHA256 without PSK (RFC 8446, Section 7.1):
 * early secret, handshake and master secrets, traffic secrets, traffic keys/IVs (Section 7.3)
 * and Finished keys and verify_data (Section 4.4.4).
 *
 * @example The server's handshake keys after ServerHello
 * ```ts
 * import { sha256 } from "./hkdf.ts";
 * import { handshakeSecrets, trafficKeys } from "./key-schedule.ts";
 * const ecdheSharedSecret = new Uint8Array(32).fill(7); // from sharedSecret()
 * const hashOfClientHelloToServerHello = await sha256(crypto, new Uint8Array([1, 0, 0, 0, 2, 0, 0, 0]));
 * const hs = await handshakeSecrets(crypto, ecdheSharedSecret, hashOfClientHelloToServerHello);
 * const { key, iv } = await trafficKeys(crypto, hs.serverHandshakeTrafficSecret);
 * ```
 *
 * @module tls13/key-schedule
 */

import { deriveSecret, EMPTY_HASH, HASH_LENGTH, hkdfExpandLabel, hkdfExtract, hmacSha256 } from "./hkdf.ts";

/** AES-128-GCM key length. */
export const KEY_LENGTH = 16;
/** AES-GCM IV (nonce) length. */
export const IV_LENGTH = 12;

/** A record-protection key and IV (RFC 8446, Section 7.3). */
export interface TrafficKeys {
  /** The 16-byte AES-128-GCM key. */
  readonly key: Uint8Array<ArrayBuffer>;
  /** The 12-byte write IV. */
  readonly iv: Uint8Array<ArrayBuffer>;
}

/** The secrets of the handshake stage. */
export interface HandshakeSecrets {
  /** HKDF-Extract(Derive-Secret(early, "derived", ""), (EC)DHE). */
  readonly handshakeSecret: Uint8Array<ArrayBuffer>;
  /** client_handshake_traffic_secret. */
  readonly clientHandshakeTrafficSecret: Uint8Array<ArrayBuffer>;
  /** server_handshake_traffic_secret. */
  readonly serverHandshakeTrafficSecret: Uint8Array<ArrayBuffer>;
}

/** The secrets of the application stage. */
export interface ApplicationSecrets {
  /** The master secret. */
  readonly masterSecret: Uint8Array<ArrayBuffer>;
  /** client_application_traffic_secret_0. */
  readonly clientApplicationTrafficSecret: Uint8Array<ArrayBuffer>;
  /** server_application_traffic_secret_0. */
  readonly serverApplicationTrafficSecret: Uint8Array<ArrayBuffer>;
}

/**
 * The early secret without a PSK: `HKDF-Extract(0, 0^32)`.
 *
 * @param crypto A WebCrypto implementation.
 * @returns 32 bytes (always 33ad0a1c…f92a for SHA-256).
 * @example
 * ```ts
 * const early = await earlySecret(crypto);
 * ```
 */
export function earlySecret(crypto: Crypto): Promise<Uint8Array<ArrayBuffer>> {
  return hkdfExtract(crypto, new Uint8Array(HASH_LENGTH), new Uint8Array(HASH_LENGTH));
}

/**
 * Computes the handshake secret and both handshake traffic secrets.
 *
 * @param crypto A WebCrypto implementation.
 * @param sharedSecret The (EC)DHE shared secret.
 * @param helloHash Transcript-Hash(ClientHello..ServerHello).
 * @returns The handshake-stage secrets.
 * @example
 * ```ts
 * import { sha256 } from "./hkdf.ts";
 * import { handshakeSecrets } from "./key-schedule.ts";
 * import { concat } from "./wire.ts";
 * const shared = new Uint8Array(32).fill(7); // the (EC)DHE shared secret
 * const ch = new Uint8Array([1, 0, 0, 0]); // ClientHello (stand-in)
 * const sh = new Uint8Array([2, 0, 0, 0]); // ServerHello (stand-in)
 * const hs = await handshakeSecrets(crypto, shared, await sha256(crypto, concat(ch, sh)));
 * ```
 */
export async function handshakeSecrets(
  crypto: Crypto,
  sharedSecret: Uint8Array,
  helloHash: Uint8Array,
): Promise<HandshakeSecrets> {
  const derived = await deriveSecret(crypto, await earlySecret(crypto), "derived", EMPTY_HASH);
  const handshakeSecret = await hkdfExtract(crypto, derived, sharedSecret);
  return {
    handshakeSecret,
    clientHandshakeTrafficSecret: await deriveSecret(crypto, handshakeSecret, "c hs traffic", helloHash),
    serverHandshakeTrafficSecret: await deriveSecret(crypto, handshakeSecret, "s hs traffic", helloHash),
  };
}

/**
 * Computes the master secret and both application traffic secrets.
 *
 * @param crypto A WebCrypto implementation.
 * @param handshakeSecret The handshake secret.
 * @param finishedHash Transcript-Hash(ClientHello..server Finished).
 * @returns The application-stage secrets.
 * @example
 * ```ts
 * import { EMPTY_HASH } from "./hkdf.ts";
 * import { applicationSecrets, handshakeSecrets } from "./key-schedule.ts";
 * const hs = await handshakeSecrets(crypto, new Uint8Array(32).fill(7), EMPTY_HASH);
 * const hashThroughServerFinished = EMPTY_HASH; // transcript hash stand-in
 * const app = await applicationSecrets(crypto, hs.handshakeSecret, hashThroughServerFinished);
 * ```
 */
export async function applicationSecrets(
  crypto: Crypto,
  handshakeSecret: Uint8Array,
  finishedHash: Uint8Array,
): Promise<ApplicationSecrets> {
  const derived = await deriveSecret(crypto, handshakeSecret, "derived", EMPTY_HASH);
  const masterSecret = await hkdfExtract(crypto, derived, new Uint8Array(HASH_LENGTH));
  return {
    masterSecret,
    clientApplicationTrafficSecret: await deriveSecret(crypto, masterSecret, "c ap traffic", finishedHash),
    serverApplicationTrafficSecret: await deriveSecret(crypto, masterSecret, "s ap traffic", finishedHash),
  };
}

/**
 * The write key and IV of a traffic secret.
 *
 * @param crypto A WebCrypto implementation.
 * @param trafficSecret A traffic secret.
 * @returns The AES-128-GCM key and IV.
 * @example
 * ```ts
 * import { EMPTY_HASH } from "./hkdf.ts";
 * import { handshakeSecrets, trafficKeys } from "./key-schedule.ts";
 * const hs = await handshakeSecrets(crypto, new Uint8Array(32).fill(7), EMPTY_HASH);
 * const keys = await trafficKeys(crypto, hs.serverHandshakeTrafficSecret); // 16-byte key, 12-byte iv
 * ```
 */
export async function trafficKeys(crypto: Crypto, trafficSecret: Uint8Array): Promise<TrafficKeys> {
  const none = new Uint8Array(0);
  return {
    key: await hkdfExpandLabel(crypto, trafficSecret, "key", none, KEY_LENGTH),
    iv: await hkdfExpandLabel(crypto, trafficSecret, "iv", none, IV_LENGTH),
  };
}

/**
 * The finished_key of a handshake traffic secret (RFC 8446, Section 4.4.4).
 *
 * @param crypto A WebCrypto implementation.
 * @param baseKey A handshake traffic secret.
 * @returns 32 bytes.
 * @example
 * ```ts
 * import { EMPTY_HASH } from "./hkdf.ts";
 * import { finishedKey, handshakeSecrets } from "./key-schedule.ts";
 * const hs = await handshakeSecrets(crypto, new Uint8Array(32).fill(7), EMPTY_HASH);
 * const fk = await finishedKey(crypto, hs.serverHandshakeTrafficSecret);
 * ```
 */
export function finishedKey(crypto: Crypto, baseKey: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  return hkdfExpandLabel(crypto, baseKey, "finished", new Uint8Array(0), HASH_LENGTH);
}

/**
 * Finished verify_data: `HMAC(finished_key, Transcript-Hash(...))`.
 *
 * @param crypto A WebCrypto implementation.
 * @param baseKey The sender's handshake traffic secret.
 * @param transcriptHash The transcript hash up to (not including) this Finished.
 * @returns The 32-byte verify_data.
 * @example
 * ```ts
 * import { EMPTY_HASH } from "./hkdf.ts";
 * import { finishedVerifyData, handshakeSecrets } from "./key-schedule.ts";
 * const hs = await handshakeSecrets(crypto, new Uint8Array(32).fill(7), EMPTY_HASH);
 * const hashThroughCertVerify = EMPTY_HASH; // transcript hash stand-in
 * const verify = await finishedVerifyData(crypto, hs.serverHandshakeTrafficSecret, hashThroughCertVerify);
 * ```
 */
export async function finishedVerifyData(
  crypto: Crypto,
  baseKey: Uint8Array,
  transcriptHash: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  return hmacSha256(crypto, await finishedKey(crypto, baseKey), transcriptHash);
}
