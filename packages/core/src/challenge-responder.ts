/**
 * The built-in TLS-ALPN-01 responder wired to the router: for a hello that matched an
 * `acme: builtin` route, look up the challenge for its SNI (or the IP behind a reverse-DNS
 * SNI), answer with the sans-I/O TLS 1.3 responder, or fall back (external responder upstream
 * or close) when no challenge is stored.
 *
 * @module challenge-responder
 */

import { ChallengeCertCache, type ChallengeStore } from "./challenge-store.ts";
import type { ResponderFactory } from "./router.ts";
import type { ResponderStep } from "./session.ts";
import { createChallengeResponder } from "./tls13/responder.ts";

/** Options of {@linkcode createBuiltinResponder}. */
export interface BuiltinResponderOptions {
  /** Where challenges are stored (the admin API writes them). */
  readonly store: ChallengeStore;
  /** WebCrypto, e.g. `globalThis.crypto`. */
  readonly crypto: Crypto;
  /** Challenge certificate validity; if omitted, 7 days. */
  readonly validityMs?: number;
}

/**
 * Makes the router's responder factory. Outcomes land in the connection's log line and in
 * `alpnmux_challenges_total{outcome}`: `challenge-served` (handshake completed),
 * `challenge-failed` (an alert was sent or received), `challenge-missing` (no challenge stored
 * and no fallback).
 *
 * @param options Store and crypto.
 * @returns The factory for `createRouter({ responder })` and the certificate cache.
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
  factory: ResponderFactory;
  certs: ChallengeCertCache;
} {
  const certs = new ChallengeCertCache({
    store: options.store,
    crypto: options.crypto,
    ...(options.validityMs ? { validityMs: options.validityMs } : {}),
  });
  const factory: ResponderFactory = (session, decision, hello) => {
    let tls: ReturnType<typeof createChallengeResponder> | null = null;
    let started: Promise<ResponderStep | null> | null = null;
    const start = async (prelude: Uint8Array): Promise<ResponderStep | null> => {
      let cert: Awaited<ReturnType<ChallengeCertCache["getCertificate"]>>;
      try {
        cert = await certs.getCertificate(hello.serverName);
      } catch (e) {
        cert = undefined;
        session.setOutcome("challenge-failed", `challenge lookup failed: ${String(e)}`);
      }
      if (!cert && decision.fallback !== "reject") {
        session.setOutcome("challenge-fallback");
        const fallback = session.dialAction(
          {
            action: "forward",
            route: decision.route,
            upstream: decision.fallback,
            proxy: "none",
            tlvs: [],
            connectTimeoutMs: undefined,
          },
          prelude,
        );
        return { write: new Uint8Array(0), done: false, fallback };
      }
      if (!cert)
        session.setOutcome(
          "challenge-missing",
          `no challenge stored for ${JSON.stringify(hello.serverName)}`,
        );
      const found = cert;
      tls = createChallengeResponder({ crypto: options.crypto, getCertificate: () => found });
      return null;
    };
    return {
      async receive(bytes: Uint8Array): Promise<ResponderStep> {
        if (!started) {
          started = start(bytes);
          const step = await started;
          if (step) return step;
        } else {
          await started;
        }
        if (!tls) return { write: new Uint8Array(0), done: true };
        const out = await tls.receive(bytes);
        if (out.outcome) {
          if (out.outcome.type === "completed") session.setOutcome("challenge-served");
          else {
            const why =
              out.outcome.type === "alert-sent"
                ? `sent alert ${out.outcome.alertName}: ${out.outcome.reason}`
                : `received alert ${out.outcome.alertName}`;
            session.setOutcome("challenge-failed", why);
          }
        }
        return { write: out.write, done: out.done };
      },
    };
  };
  return { factory, certs };
}
