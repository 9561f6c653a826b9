/**
 * The certificate manager's files, through {@linkcode CertHost}:
 *
 * - `${storage}/accounts/<hash>/account-key.pem` (0600) and `account.json` (directory URL,
 *   account URL): one account per directory URL, `<hash>` the first 16 hex digits of its SHA-256;
 * - `${storage}/certificates/<name>/privkey.pem` (0600), `fullchain.pem` and `state.json`
 *   (the last result and the next renewal, for humans and the next start);
 * - `out`: `privkey.pem` (0600), `cert.pem`, `chain.pem`, `fullchain.pem` (0644).
 *
 * Each file is written atomically, the private key first and `fullchain.pem` last, so a reader
 * that sees the new certificate also sees its key.
 *
 * @example
 * ```ts
 * import { certificateFiles } from "@alpnmux/core/certs";
 * certificateFiles("-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n", "KEY", (p) => p.match(/-----BEGIN[^]*?END CERTIFICATE-----\n?/g) ?? [])
 *   .map((f) => f.file); // ["privkey.pem", "cert.pem", "chain.pem", "fullchain.pem"]
 * ```
 *
 * @module certs/storage
 */

import type { CertHost } from "./host.ts";

/** Mode of private keys. */
export const PRIVATE_MODE = 0o600;
/** Mode of certificates and state. */
export const PUBLIC_MODE = 0o644;

/**
 * `a/b` without doubled slashes.
 *
 * @example
 * ```ts
 * import { joinPath } from "@alpnmux/core/certs";
 * joinPath("/var/lib/alpnmux/", "certificates"); // "/var/lib/alpnmux/certificates"
 * ```
 */
export function joinPath(dir: string, name: string): string {
  return `${dir.replace(/\/+$/, "")}/${name}`;
}

/**
 * The account directory for a CA directory URL.
 *
 * @param storage `acme.storage`.
 * @param directoryUrl `acme.directory`.
 * @param crypto WebCrypto.
 * @returns `${storage}/accounts/<16 hex digits>`.
 * @example
 * ```ts
 * import { accountDir } from "@alpnmux/core/certs";
 * await accountDir("/var/lib/alpnmux", "https://acme.example/dir"); // "/var/lib/alpnmux/accounts/…"
 * ```
 */
export async function accountDir(
  storage: string,
  directoryUrl: string,
  crypto: Crypto = globalThis.crypto,
): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(directoryUrl)));
  const hex = [...d.slice(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return joinPath(joinPath(storage, "accounts"), hex);
}

/**
 * `${storage}/certificates/<name>`.
 *
 * @example
 * ```ts
 * import { certificateDir } from "@alpnmux/core/certs";
 * certificateDir("/var/lib/alpnmux", "web"); // "/var/lib/alpnmux/certificates/web"
 * ```
 */
export function certificateDir(storage: string, name: string): string {
  return joinPath(joinPath(storage, "certificates"), name);
}

/** A file to write: name, contents, mode. */
export interface FileSpec {
  readonly file: string;
  readonly data: string;
  readonly mode: number;
}

/**
 * The files of `out`, in the order they are written: key, leaf, chain, full chain.
 *
 * @param fullchain Leaf first.
 * @param privkey PKCS#8 PEM.
 * @param split Splits a PEM chain into certificates.
 * @returns The four files.
 * @example
 * ```ts
 * import { certificateFiles } from "@alpnmux/core/certs";
 * const files = certificateFiles("LEAF\nCA\n", "KEY\n", (pem) => pem.split(/(?<=\n)/));
 * files.map((f) => `${f.file} ${f.mode.toString(8)}`); // ["privkey.pem 600", "cert.pem 644", "chain.pem 644", "fullchain.pem 644"]
 * ```
 */
export function certificateFiles(
  fullchain: string,
  privkey: string,
  split: (pem: string) => string[],
): FileSpec[] {
  const parts = split(fullchain).map((p) => (p.endsWith("\n") ? p : `${p}\n`));
  return [
    { file: "privkey.pem", data: privkey, mode: PRIVATE_MODE },
    { file: "cert.pem", data: parts[0] ?? "", mode: PUBLIC_MODE },
    { file: "chain.pem", data: parts.slice(1).join(""), mode: PUBLIC_MODE },
    { file: "fullchain.pem", data: parts.join(""), mode: PUBLIC_MODE },
  ];
}

/**
 * Reads a text file, or null when it does not exist.
 *
 * @example
 * ```ts
 * import { readText } from "@alpnmux/core/certs";
 * const host = { acmeFetch: () => fetch, readFile: async () => null, writeFileAtomic: async () => {}, run: async () => ({ code: 0, output: "" }) };
 * console.log(await readText(host, "/nothing")); // null
 * ```
 */
export async function readText(host: CertHost, path: string): Promise<string | null> {
  const b = await host.readFile(path);
  return b === null ? null : new TextDecoder().decode(b);
}

/**
 * The key and full chain in a directory (storage or `out`), or null when either is missing.
 *
 * @example
 * ```ts
 * import { readPair } from "@alpnmux/core/certs";
 * const host = { acmeFetch: () => fetch, readFile: async () => null, writeFileAtomic: async () => {}, run: async () => ({ code: 0, output: "" }) };
 * console.log(await readPair(host, "/etc/ssl/web")); // null
 * ```
 */
export async function readPair(
  host: CertHost,
  dir: string,
): Promise<{ fullchain: string; privkey: string } | null> {
  const [fullchain, privkey] = await Promise.all([
    readText(host, joinPath(dir, "fullchain.pem")),
    readText(host, joinPath(dir, "privkey.pem")),
  ]);
  return fullchain === null || privkey === null ? null : { fullchain, privkey };
}

/**
 * Writes a new certificate into its storage directory (key, full chain) and into `out` (the
 * four files), each atomically, keys first.
 * @example
 * ```ts
 * import { writeCertificate } from "@alpnmux/core/certs";
 * const files = new Map<string, string>();
 * const host = {
 *   acmeFetch: () => fetch,
 *   readFile: async (p: string) => (files.has(p) ? new TextEncoder().encode(files.get(p)) : null),
 *   writeFileAtomic: async (p: string, d: Uint8Array | string) => { files.set(p, String(d)); },
 *   run: async () => ({ code: 0, output: "" }),
 * };
 * await writeCertificate(host, { storage: "/s/certificates/web", out: "/o/web" }, "LEAF\n", "KEY\n", (p) => [p]);
 * console.log([...files.keys()][0]); // "/s/certificates/web/privkey.pem": the key first
 * ```
 */
export async function writeCertificate(
  host: CertHost,
  dirs: { readonly storage: string; readonly out: string },
  fullchain: string,
  privkey: string,
  split: (pem: string) => string[],
): Promise<void> {
  await host.writeFileAtomic(joinPath(dirs.storage, "privkey.pem"), privkey, PRIVATE_MODE);
  await host.writeFileAtomic(joinPath(dirs.storage, "fullchain.pem"), fullchain, PRIVATE_MODE);
  await writeOut(host, dirs.out, fullchain, privkey, split);
}

/**
 * Writes the four `out` files, key first, full chain last.
 *
 * @example
 * ```ts
 * import { writeOut } from "@alpnmux/core/certs";
 * const files = new Map<string, string>();
 * const host = {
 *   acmeFetch: () => fetch,
 *   readFile: async (p: string) => (files.has(p) ? new TextEncoder().encode(files.get(p)) : null),
 *   writeFileAtomic: async (p: string, d: Uint8Array | string) => { files.set(p, String(d)); },
 *   run: async () => ({ code: 0, output: "" }),
 * };
 * await writeOut(host, "/o/web", "LEAF\n", "KEY\n", (p) => [p]);
 * console.log([...files.keys()].at(-1)); // "/o/web/fullchain.pem": the full chain last
 * ```
 */
export async function writeOut(
  host: CertHost,
  out: string,
  fullchain: string,
  privkey: string,
  split: (pem: string) => string[],
): Promise<void> {
  for (const f of certificateFiles(fullchain, privkey, split)) {
    await host.writeFileAtomic(joinPath(out, f.file), f.data, f.mode);
  }
}
