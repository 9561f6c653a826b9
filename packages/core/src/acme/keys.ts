/**
 * Keys for ACME, all WebCrypto: the account key (ECDSA P-256 for ES256) and certificate keys
 * (ECDSA P-256/P-384, RSA 2048/3072 with RSASSA-PKCS1-v1_5 and SHA-256), with PKCS#8 PEM
 * export and import.
 *
 * @example
 * ```ts
 * import { exportPrivateKeyPem, generateCertificateKey, importPrivateKeyPem } from "@alpnmux/core/acme";
 * const keys = await generateCertificateKey("ecdsa-p256");
 * const pem = await exportPrivateKeyPem(keys);
 * const back = await importPrivateKeyPem(pem, "ecdsa-p256");
 * console.log(back.publicKey.type); // "public"
 * ```
 *
 * @module acme/keys
 */

import { derToPem, pemToDer } from "./base64url.ts";

/** The certificate key types. Closed union. */
export type CertificateKeyType = "ecdsa-p256" | "ecdsa-p384" | "rsa-2048" | "rsa-3072";

/** The WebCrypto import/generate parameters of a key type. */
export function keyAlgorithm(type: CertificateKeyType): EcKeyImportParams | RsaHashedImportParams {
  switch (type) {
    case "ecdsa-p256":
      return { name: "ECDSA", namedCurve: "P-256" };
    case "ecdsa-p384":
      return { name: "ECDSA", namedCurve: "P-384" };
    case "rsa-2048":
    case "rsa-3072":
      return { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
    default:
      throw new TypeError(`Unknown certificate key type ${JSON.stringify(type)}`);
  }
}

/**
 * A new account key: ECDSA P-256, extractable (so it can be stored).
 *
 * @param crypto WebCrypto; default `globalThis.crypto`.
 * @returns The key pair.
 * @example
 * ```ts
 * import { generateAccountKey } from "@alpnmux/core/acme";
 * const { privateKey } = await generateAccountKey();
 * console.log(privateKey.algorithm.name); // "ECDSA"
 * ```
 */
export function generateAccountKey(crypto: Crypto = globalThis.crypto): Promise<CryptoKeyPair> {
  return generateCertificateKey("ecdsa-p256", crypto);
}

/**
 * A new certificate key, extractable.
 *
 * @param type The key type.
 * @param crypto WebCrypto; default `globalThis.crypto`.
 * @returns The key pair.
 * @throws {TypeError} For an unknown type.
 * @example
 * ```ts
 * import { generateCertificateKey } from "@alpnmux/core/acme";
 * const keys = await generateCertificateKey("ecdsa-p384");
 * console.log((keys.publicKey.algorithm as EcKeyAlgorithm).namedCurve); // "P-384"
 * ```
 */
export async function generateCertificateKey(
  type: CertificateKeyType,
  crypto: Crypto = globalThis.crypto,
): Promise<CryptoKeyPair> {
  const alg = keyAlgorithm(type);
  const params =
    alg.name === "ECDSA"
      ? alg
      : {
          ...alg,
          modulusLength: type === "rsa-3072" ? 3072 : 2048,
          publicExponent: new Uint8Array([1, 0, 1]),
        };
  return (await crypto.subtle.generateKey(params, true, ["sign", "verify"])) as CryptoKeyPair;
}

/**
 * The private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
 *
 * @param keys The key pair (its private key must be extractable).
 * @param crypto WebCrypto; default `globalThis.crypto`.
 * @returns The PEM text.
 * @example
 * ```ts
 * import { exportPrivateKeyPem, generateAccountKey } from "@alpnmux/core/acme";
 * (await exportPrivateKeyPem(await generateAccountKey())).startsWith("-----BEGIN PRIVATE KEY-----"); // true
 * ```
 */
export async function exportPrivateKeyPem(
  keys: CryptoKeyPair,
  crypto: Crypto = globalThis.crypto,
): Promise<string> {
  return derToPem("PRIVATE KEY", new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey)));
}

/**
 * A key pair from PKCS#8 PEM; the public key is derived through JWK.
 *
 * @param pem PKCS#8 PEM text.
 * @param type The key type it must be.
 * @param crypto WebCrypto; default `globalThis.crypto`.
 * @returns The pair (private key extractable).
 * @throws {TypeError} When the PEM is not a PKCS#8 key of `type`.
 * @example
 * ```ts
 * import { exportPrivateKeyPem, generateAccountKey, importPrivateKeyPem } from "@alpnmux/core/acme";
 * const pem = await exportPrivateKeyPem(await generateAccountKey());
 * const keys = await importPrivateKeyPem(pem, "ecdsa-p256");
 * console.log(keys.privateKey.type); // "private"
 * ```
 */
export async function importPrivateKeyPem(
  pem: string,
  type: CertificateKeyType,
  crypto: Crypto = globalThis.crypto,
): Promise<CryptoKeyPair> {
  const alg = keyAlgorithm(type);
  const der = pemToDer("PRIVATE KEY", pem);
  let privateKey: CryptoKey;
  try {
    privateKey = await crypto.subtle.importKey("pkcs8", der, alg, true, ["sign"]);
  } catch (e) {
    throw new TypeError(`Cannot import the private key as ${type}: ${(e as Error).message}`);
  }
  if (type === "rsa-2048" || type === "rsa-3072") {
    const bits = (privateKey.algorithm as RsaHashedKeyAlgorithm).modulusLength;
    if (bits !== (type === "rsa-3072" ? 3072 : 2048)) {
      throw new TypeError(`Cannot import the private key as ${type}: it has ${bits} bits`);
    }
  }
  const jwk = await crypto.subtle.exportKey("jwk", privateKey);
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, key_ops: _ops, ...pub } = jwk;
  const publicKey = await crypto.subtle.importKey("jwk", { ...pub, key_ops: ["verify"] }, alg, true, [
    "verify",
  ]);
  return { privateKey, publicKey };
}
