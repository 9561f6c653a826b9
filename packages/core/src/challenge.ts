/**
 * The challenge side of alpnmux core: RFC 8737 challenge certificates, the challenge store,
 * the TLS 1.3 responder and its wiring to the router. A separate entry point
 * (`@alpnmux/core/challenge`) because it loads `@peculiar/x509` and a Reflect polyfill.
 *
 * @example
 * ```ts
 * import { createBuiltinResponder, MemoryChallengeStore } from "@alpnmux/core/challenge";
 * const { factory } = createBuiltinResponder({ store: new MemoryChallengeStore(), crypto: globalThis.crypto });
 * ```
 * @module
 */
export * from "./challenge-cert.ts";
export * from "./challenge-lookup.ts";
export * from "./challenge-responder.ts";
export * from "./challenge-store.ts";
export * from "./challenge-value.ts";
export {
  type ChallengeResponder,
  type ChallengeResponderOptions,
  createChallengeResponder,
  type ResponderCertificate,
  type ResponderOutcome,
  type ResponderOutput,
} from "./tls13/responder.ts";
export * from "./ualpn-protocol.ts";
