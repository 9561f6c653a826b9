/**
 * The built-in TLS-ALPN-01 responder wired to the router: the engine looks up the challenge
 * for a hello that matched an `acme: builtin` route (its SNI, or the IP behind a reverse-DNS
 * SNI) and, only when one is stored, answers with the sans-I/O TLS 1.3 responder; otherwise it
 * falls back (the route's fallback upstream, or an alert).
 *
 * @module challenge-responder
 */

import { ChallengeLookup } from "./challenge-lookup.ts";
import { ChallengeCertCache, type ChallengeStore } from "./challenge-store.ts";
import type { ChallengeHost } from "./router.ts";
import { createChallengeResponder, type ResponderCertificate } from "./tls13/responder.ts";

/** Options of {@linkcode createBuiltinResponder}. */
export interface BuiltinResponderOptions {
  /** Where challenges are stored (the admin API writes them). */
  readonly store: ChallengeStore;
  /** WebCrypto, e.g. `globalThis.crypto`. */
  readonly crypto: Crypto;
  /** Challenge certificate validity; if omitted, 7 days. */
  readonly validityMs?: number;
  /** How long a name without a challenge is remembered as missing (ms); if omitted, 500. */
  readonly negativeTtlMs?: number;
}

/**
 * Makes the router's built-in responder: challenge lookups through the certificate cache
 * (guarded by {@linkcode ChallengeLookup}), and a TLS 1.3 responder per validation. Outcomes
 * land in the connection's log line and in `alpnmux_challenges_total{outcome}`: `served`
 * (handshake completed), `failed` (an alert was sent or received, the store failed),
 * `missing` (no challenge stored and no fallback), `fallback` (passed to the fallback upstream).
 *
 * @param options Store and crypto.
 * @returns The host for `createRouter({ responder })`, the certificate cache, and the lookup
 *   (call `lookup.forget()` after setting a challenge so a recent miss is not remembered).
 * @example
 * ```ts
 * import { createRouter, loadConfig } from "@alpnmux/core";
 * import { createBuiltinResponder, MemoryChallengeStore } from "@alpnmux/core/challenge";
 * const store = new MemoryChallengeStore();
 * const { factory } = createBuiltinResponder({ store, crypto: globalThis.crypto });
 * const router = createRouter({ config: loadConfig("routes: [{match: {acme: true}, target: {acme: builtin}}]\ndefault: reject"), responder: factory });
 * await store.set("a.example.com", "token.thumbprint");
 * ```
 */
export function createBuiltinResponder(options: BuiltinResponderOptions): {
  factory: ChallengeHost;
  certs: ChallengeCertCache;
  lookup: ChallengeLookup<ResponderCertificate>;
} {
  const certs = new ChallengeCertCache({
    store: options.store,
    crypto: options.crypto,
    ...(options.validityMs ? { validityMs: options.validityMs } : {}),
  });
  const lookup = new ChallengeLookup<ResponderCertificate>({
    fetch: (name) => certs.getCertificate(name),
    ...(options.negativeTtlMs !== undefined ? { negativeTtlMs: options.negativeTtlMs } : {}),
  });
  const factory: ChallengeHost = {
    lookup: (serverName) => lookup.get(serverName),
    respond: (cert) => createChallengeResponder({ crypto: options.crypto, getCertificate: () => cert }),
  };
  return { factory, certs, lookup };
}
