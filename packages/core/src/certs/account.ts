/**
 * The ACME account of the certificate manager: its key in
 * `${storage}/accounts/<hash of the directory URL>/account-key.pem` (0600, made on first use),
 * the issuer made for it, and `account.json` (directory URL and account URL) written once the
 * CA has registered it. A failed load or registration is tried again on the next call.
 *
 * @example
 * ```ts
 * import { AccountStore } from "@alpnmux/core/certs";
 * console.log(typeof AccountStore); // "function": the manager makes one
 * ```
 *
 * @module certs/account
 */

import type { CertHost } from "./host.ts";
import type { CertificateIssuer, CertificateTools } from "./issuer.ts";
import { accountDir, joinPath, PRIVATE_MODE, PUBLIC_MODE, readText } from "./storage.ts";

/** Options of {@linkcode AccountStore}. */
export interface AccountStoreOptions {
  readonly host: CertHost;
  readonly tools: Pick<
    CertificateTools,
    "generateAccountKey" | "importPrivateKeyPem" | "exportPrivateKeyPem"
  >;
  readonly storage: string;
  readonly directory: string;
  readonly issuer: (accountKey: CryptoKeyPair) => CertificateIssuer;
  readonly crypto: Crypto;
}

/**
 * Loads the account key once and registers the account once.
 *
 * @example
 * ```ts
 * import { AccountStore, acmeTools } from "@alpnmux/core/certs";
 * const files = new Map<string, string>();
 * const host = {
 *   acmeFetch: () => fetch,
 *   readFile: async (p: string) => (files.has(p) ? new TextEncoder().encode(files.get(p)) : null),
 *   writeFileAtomic: async (p: string, d: Uint8Array | string) => { files.set(p, String(d)); },
 *   run: async () => ({ code: 0, output: "" }),
 * };
 * const accounts = new AccountStore({
 *   host, tools: acmeTools(), storage: "/var/lib/alpnmux", directory: "https://ca.test/dir",
 *   issuer: () => ({ order: () => Promise.reject(new Error("offline")), renewalInfo: async () => null }),
 *   crypto,
 * });
 * await accounts.issuer();
 * console.log([...files.keys()][0]?.endsWith("/account-key.pem")); // true: made and saved (0600)
 * ```
 */
export class AccountStore {
  readonly #o: AccountStoreOptions;
  #issuer: Promise<CertificateIssuer> | null = null;
  #registered: Promise<void> | null = null;

  /** @param options Host, tools, storage, directory, issuer factory. */
  constructor(options: AccountStoreOptions) {
    this.#o = options;
  }

  /** The issuer over the stored (or a new, saved) account key. */
  issuer(): Promise<CertificateIssuer> {
    this.#issuer ??= this.#load().catch((err) => {
      this.#issuer = null;
      throw err;
    });
    return this.#issuer;
  }

  /** Registers the account (before the first order) and records its URL in `account.json`. */
  register(issuer: CertificateIssuer): Promise<void> {
    this.#registered ??= (async () => {
      if (!issuer.accountUrl) return;
      const url = await issuer.accountUrl();
      const { host, directory } = this.#o;
      const doc = { directory, account: url };
      await host.writeFileAtomic(
        joinPath(await this.#dir(), "account.json"),
        `${JSON.stringify(doc, null, 2)}\n`,
        PUBLIC_MODE,
      );
    })().catch((err) => {
      this.#registered = null;
      throw err;
    });
    return this.#registered;
  }

  #dir(): Promise<string> {
    return accountDir(this.#o.storage, this.#o.directory, this.#o.crypto);
  }

  async #load(): Promise<CertificateIssuer> {
    const { host, tools } = this.#o;
    const path = joinPath(await this.#dir(), "account-key.pem");
    const pem = await readText(host, path);
    let keys: CryptoKeyPair;
    if (pem !== null) keys = await tools.importPrivateKeyPem(pem, "ecdsa-p256");
    else {
      keys = await tools.generateAccountKey();
      await host.writeFileAtomic(path, await tools.exportPrivateKeyPem(keys), PRIVATE_MODE);
    }
    return this.#o.issuer(keys);
  }
}
