/**
 * JSON Web Signatures as ACME needs them (RFC 8555, Section 6.2): the flattened JSON
 * serialization (RFC 7515, Section 7.2.2) signed ES256 with the account key, the account's
 * public JWK, its thumbprint (RFC 7638) for key authorizations, and the HS256 external account
 * binding (RFC 8555, Section 7.3.4).
 *
 * WebCrypto's ECDSA signature is already the raw `r || s` form JWS wants (RFC 7518, Section
 * 3.4), so no DER conversion happens here.
 *
 * @example
 * ```ts
 * import { accountJwk, generateAccountKey, jwkThumbprint } from "@alpnmux/core/acme";
 * const keys = await generateAccountKey();
 * const jwk = await accountJwk(keys.publicKey);
 * console.log(jwk.kty, (await jwkThumbprint(jwk)).length); // "EC" 43
 * ```
 *
 * @module acme/jws
 */

import { decodeBase64Url, encodeBase64Url } from "./base64url.ts";

/** A public JWK: the required members of RFC 7638, Section 3.2 (EC, RSA or oct). */
export type PublicJwk =
  | { readonly kty: "EC"; readonly crv: string; readonly x: string; readonly y: string }
  | { readonly kty: "RSA"; readonly n: string; readonly e: string }
  | { readonly kty: "oct"; readonly k: string };

/** A JWS in the flattened JSON serialization. */
export interface FlattenedJws {
  readonly protected: string;
  readonly payload: string;
  readonly signature: string;
}

const utf8 = (s: string) => new TextEncoder().encode(s);

/** The JWS `alg` and WebCrypto parameters for an ECDSA key's curve. */
function ecAlgorithm(key: CryptoKey): { alg: string; params: EcdsaParams } {
  const curve = (key.algorithm as EcKeyAlgorithm).namedCurve;
  if (key.algorithm.name === "ECDSA" && curve === "P-256") {
    return { alg: "ES256", params: { name: "ECDSA", hash: "SHA-256" } };
  }
  if (key.algorithm.name === "ECDSA" && curve === "P-384") {
    return { alg: "ES384", params: { name: "ECDSA", hash: "SHA-384" } };
  }
  throw new TypeError(
    `Cannot sign a JWS: the account key must be ECDSA P-256, not ${key.algorithm.name} ${curve ?? ""}`,
  );
}

/**
 * The public JWK of an account key: `crv`, `kty`, `x`, `y` only.
 *
 * @param publicKey An ECDSA public key.
 * @param crypto WebCrypto; default `globalThis.crypto`.
 * @returns The JWK.
 * @example
 * ```ts
 * import { accountJwk, generateAccountKey } from "@alpnmux/core/acme";
 * const { publicKey } = await generateAccountKey();
 * Object.keys(await accountJwk(publicKey)); // ["crv", "kty", "x", "y"]
 * ```
 */
export async function accountJwk(
  publicKey: CryptoKey,
  crypto: Crypto = globalThis.crypto,
): Promise<PublicJwk> {
  ecAlgorithm(publicKey);
  const jwk = await crypto.subtle.exportKey("jwk", publicKey);
  if (typeof jwk.crv !== "string" || typeof jwk.x !== "string" || typeof jwk.y !== "string") {
    throw new TypeError("Cannot export the account key as a JWK: crv, x or y missing");
  }
  return { crv: jwk.crv, kty: "EC", x: jwk.x, y: jwk.y };
}

/**
 * The RFC 7638 thumbprint: base64url(SHA-256) of the required members in lexicographic order,
 * without whitespace.
 *
 * @param jwk A public JWK.
 * @param crypto WebCrypto; default `globalThis.crypto`.
 * @returns 43 base64url characters.
 * @example
 * ```ts
 * import { jwkThumbprint } from "@alpnmux/core/acme";
 * await jwkThumbprint({ kty: "oct", k: "AA" }); // 43 characters
 * ```
 */
export async function jwkThumbprint(jwk: PublicJwk, crypto: Crypto = globalThis.crypto): Promise<string> {
  let json: string;
  if (jwk.kty === "EC") json = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  else if (jwk.kty === "RSA") json = JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n });
  else json = JSON.stringify({ k: jwk.k, kty: jwk.kty });
  return encodeBase64Url(new Uint8Array(await crypto.subtle.digest("SHA-256", utf8(json))));
}

/**
 * Signs a flattened JWS with an ECDSA account key.
 *
 * @param key The account's private key (ECDSA P-256, usage `sign`).
 * @param header The protected header without `alg` (`nonce`, `url`, and `jwk` or `kid`).
 * @param payload The payload object, or `""` for POST-as-GET (RFC 8555, Section 6.3).
 * @param crypto WebCrypto; default `globalThis.crypto`.
 * @returns The JWS.
 * @example
 * ```ts
 * import { generateAccountKey, signJws } from "@alpnmux/core/acme";
 * const keys = await generateAccountKey();
 * const jws = await signJws(keys.privateKey, { nonce: "n", url: "https://ca.test/acct", kid: "https://ca.test/acct/1" }, "");
 * console.log(jws.payload); // ""
 * ```
 */
export async function signJws(
  key: CryptoKey,
  header: Readonly<Record<string, unknown>>,
  payload: unknown,
  crypto: Crypto = globalThis.crypto,
): Promise<FlattenedJws> {
  const { alg, params } = ecAlgorithm(key);
  const protectedB64 = encodeBase64Url(utf8(JSON.stringify({ alg, ...header })));
  const payloadB64 = payload === "" ? "" : encodeBase64Url(utf8(JSON.stringify(payload)));
  const sig = await crypto.subtle.sign(params, key, utf8(`${protectedB64}.${payloadB64}`));
  return { protected: protectedB64, payload: payloadB64, signature: encodeBase64Url(new Uint8Array(sig)) };
}

/**
 * The `externalAccountBinding` of a newAccount request (RFC 8555, Section 7.3.4): an HS256 JWS
 * over the account's public JWK, with `kid` = the CA's key identifier and `url` = newAccount.
 *
 * @param options The account JWK, the CA's key id and base64url MAC key, the newAccount URL.
 * @param crypto WebCrypto; default `globalThis.crypto`.
 * @returns The JWS to put in the payload.
 * @throws {TypeError} When `hmacKey` is not base64url or empty.
 * @example
 * ```ts
 * import { createEabJws, decodeBase64Url } from "@alpnmux/core/acme";
 * const eab = await createEabJws({
 *   jwk: { kty: "EC", crv: "P-256", x: "x", y: "y" },
 *   keyId: "kid-1",
 *   hmacKey: "c2VjcmV0LWtleS1mb3ItdGVzdHM",
 *   url: "https://ca.test/new-acct",
 * });
 * const header = JSON.parse(new TextDecoder().decode(decodeBase64Url(eab.protected)));
 * console.log(header.alg, header.kid); // "HS256" "kid-1"
 * ```
 */
export async function createEabJws(
  options: {
    readonly jwk: PublicJwk;
    readonly keyId: string;
    readonly hmacKey: string;
    readonly url: string;
  },
  crypto: Crypto = globalThis.crypto,
): Promise<FlattenedJws> {
  let raw: Uint8Array<ArrayBuffer>;
  try {
    raw = decodeBase64Url(options.hmacKey);
  } catch (e) {
    throw new TypeError(`Cannot use the EAB hmacKey: ${(e as Error).message}`);
  }
  if (raw.length === 0) throw new TypeError("Cannot use the EAB hmacKey: it is empty");
  const key = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const protectedB64 = encodeBase64Url(
    utf8(JSON.stringify({ alg: "HS256", kid: options.keyId, url: options.url })),
  );
  const payloadB64 = encodeBase64Url(utf8(JSON.stringify(options.jwk)));
  const sig = await crypto.subtle.sign("HMAC", key, utf8(`${protectedB64}.${payloadB64}`));
  return { protected: protectedB64, payload: payloadB64, signature: encodeBase64Url(new Uint8Array(sig)) };
}
