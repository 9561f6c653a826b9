/**
 * Ephemeral (EC)DHE for the TLS 1.3 key_share (RFC 8446, Sections 4.2.8 and 7.4) on WebCrypto:
 * x25519 where the runtime's WebCrypto has it (feature-detected once per `crypto` object) and
 * secp256r1 always.
 *
 * @example Answer a client's x25519 share
 * ```ts
 * import { generateKeyShare, sharedSecret } from "./key-exchange.ts";
 * const mine = await generateKeyShare(crypto, 0x001d);
 * const clientShareBytes = (await generateKeyShare(crypto, 0x001d)).publicKey; // the client's key_exchange
 * const secret = await sharedSecret(crypto, mine, clientShareBytes); // 32 bytes
 * ```
 *
 * @module tls13/key-exchange
 */

import { NamedGroup } from "../constants.ts";
import { TlsAlert } from "./alerts.ts";
import { copy } from "./wire.ts";

/** A group this module can use. */
export type SupportedGroup = typeof NamedGroup.x25519 | typeof NamedGroup.secp256r1;

/** An ephemeral key pair for one handshake. */
export interface KeyShare {
  /** The named group. */
  readonly group: SupportedGroup;
  /** The private key: non-extractable, so it never leaves WebCrypto. */
  readonly privateKey: CryptoKey;
  /** The key_exchange bytes to send: 32 bytes (x25519) or 65 bytes `04 || X || Y` (P-256). */
  readonly publicKey: Uint8Array<ArrayBuffer>;
}

const detected = new WeakMap<Crypto, Promise<readonly SupportedGroup[]>>();

function algorithm(group: SupportedGroup): EcKeyGenParams | Algorithm {
  return group === NamedGroup.x25519 ? { name: "X25519" } : { name: "ECDH", namedCurve: "P-256" };
}

/**
 * The groups this `crypto` can use, in the server's order of preference (x25519 first).
 * The result is cached per `crypto` object.
 *
 * @param crypto A WebCrypto implementation.
 * @returns `[0x001d, 0x0017]`, or `[0x0017]` when WebCrypto has no X25519.
 * @example
 * ```ts
 * const groups = await supportedGroups(crypto); // [29, 23] on Node 20, Bun and Deno
 * ```
 */
export function supportedGroups(crypto: Crypto): Promise<readonly SupportedGroup[]> {
  let p = detected.get(crypto);
  if (p === undefined) {
    p = (async () => {
      try {
        await crypto.subtle.generateKey({ name: "X25519" }, false, ["deriveBits"]);
        return [NamedGroup.x25519, NamedGroup.secp256r1] as const;
      } catch {
        return [NamedGroup.secp256r1] as const;
      }
    })();
    detected.set(crypto, p);
  }
  return p;
}

/**
 * Generates an ephemeral key pair and its key_exchange bytes.
 *
 * @param crypto A WebCrypto implementation.
 * @param group x25519 (0x001d) or secp256r1 (0x0017).
 * @returns The key share.
 * @example
 * ```ts
 * const share = await generateKeyShare(crypto, 0x0017); // share.publicKey.length === 65
 * ```
 */
export async function generateKeyShare(crypto: Crypto, group: SupportedGroup): Promise<KeyShare> {
  // Non-extractable: `extractable` applies to the private key only; a public key is always
  // exportable (WebCrypto, Section 14.3.6 "generateKey").
  const pair = (await crypto.subtle.generateKey(algorithm(group), false, ["deriveBits"])) as CryptoKeyPair;
  const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return { group, privateKey: pair.privateKey, publicKey };
}

/**
 * Computes the (EC)DHE shared secret with the peer's key_exchange bytes (RFC 8446, Section 7.4).
 *
 * @param crypto A WebCrypto implementation.
 * @param mine Our key share.
 * @param peer The peer's key_exchange bytes for the same group.
 * @returns The 32-byte shared secret (x25519 output, or the P-256 x-coordinate).
 * @throws {TlsAlert} `illegalParameter` for a malformed or invalid public key, or an all-zero
 *   x25519 result (Section 7.4.2).
 * @example
 * ```ts
 * const share = await generateKeyShare(crypto, 0x0017);
 * const client = await generateKeyShare(crypto, 0x0017);
 * const clientKeyShare = { group: 0x0017, keyExchange: client.publicKey }; // as parsed from the hello
 * const secret = await sharedSecret(crypto, share, clientKeyShare.keyExchange);
 * ```
 */
export async function sharedSecret(
  crypto: Crypto,
  mine: KeyShare,
  peer: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  // Section 4.2.8.2: P-256 shares are uncompressed points; x25519 shares are 32 bytes.
  const want = mine.group === NamedGroup.x25519 ? 32 : 65;
  if (peer.length !== want || (mine.group === NamedGroup.secp256r1 && peer[0] !== 4)) {
    throw new TlsAlert("illegalParameter", `key_share for group ${mine.group} has a bad length or form`);
  }
  let out: Uint8Array<ArrayBuffer>;
  try {
    const pub = await crypto.subtle.importKey("raw", copy(peer), algorithm(mine.group), false, []);
    out = new Uint8Array(
      await crypto.subtle.deriveBits({ name: algorithm(mine.group).name, public: pub }, mine.privateKey, 256),
    );
  } catch {
    throw new TlsAlert("illegalParameter", `key_share for group ${mine.group} is not a valid public key`);
  }
  if (out.every((b) => b === 0)) throw new TlsAlert("illegalParameter", "all-zero (EC)DHE shared secret");
  return out;
}
