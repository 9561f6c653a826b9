/**
 * Challenges shared through Redis (`@alpnmux/core/redis`): a RESP2 codec, a small pipelining
 * client over a runtime's TCP dial function, and a `ChallengeStore` on top, so several alpnmux
 * instances behind one name answer the validations of a challenge set through any of them.
 *
 * @example
 * ```ts
 * import { RedisChallengeStore, RedisClient, type RedisDial } from "@alpnmux/core/redis";
 * function sharedStore(dial: RedisDial) {
 *   const client = new RedisClient({ url: "redis://127.0.0.1:6379/0", dial, timeoutMs: 2000 });
 *   return new RedisChallengeStore({ client, keyPrefix: "alpnmux:" });
 * }
 * ```
 * @module
 */
export * from "./challenge-store.ts";
export * from "./client.ts";
export * from "./resp.ts";
export * from "./url.ts";
