/**
 * When to renew, as pure functions of the certificate, the CA's answers and a random number
 * (injected, so tests pin it): inside the ARI window (RFC 9773), else at 2/3 of the lifetime
 * (1/2 for lifetimes of 10 days or less) with ±5% jitter, never later than `notAfter` minus a
 * margin; failed attempts back off exponentially, or wait as long as the CA said.
 *
 * @example
 * ```ts
 * import { lifetimeRenewalAt } from "@alpnmux/core/certs";
 * const day = 86_400_000;
 * const at = lifetimeRenewalAt(0, 90 * day, () => 0.5); // no jitter at 0.5
 * console.log(at / day); // 60
 * ```
 *
 * @module certs/schedule
 */

/** One hour in ms. */
const HOUR = 3_600_000;
/** One day in ms. */
const DAY = 24 * HOUR;

/** How often ARI is asked again when the CA gives no Retry-After: 6 h. */
export const ARI_RECHECK_MS = 6 * HOUR;
/**
 * A certificate this instance just got is not renewed through ARI sooner than this (a CA whose
 * window for the new certificate has already passed would otherwise make it order in a loop).
 */
export const ARI_MIN_AGE_MS = HOUR;
/** First retry after a failure: 1 min. */
export const BACKOFF_MIN_MS = 60_000;
/** Longest retry delay after failures: 6 h. */
export const BACKOFF_MAX_MS = 6 * HOUR;
/** At least this long after a `rateLimited` problem without Retry-After: 1 h. */
export const RATE_LIMIT_MIN_MS = HOUR;
/** Lifetimes up to this renew at 1/2 instead of 2/3. */
export const SHORT_LIFETIME_MS = 10 * DAY;

/**
 * The margin before `notAfter` no renewal is scheduled past: a tenth of the lifetime, at most
 * one day.
 *
 * @param lifetimeMs `notAfter - notBefore`.
 * @returns The margin in ms.
 * @example
 * ```ts
 * import { expiryMargin } from "@alpnmux/core/certs";
 * expiryMargin(6 * 86_400_000); // 51840000 (0.6 days)
 * ```
 */
export function expiryMargin(lifetimeMs: number): number {
  return Math.min(DAY, Math.max(0, lifetimeMs) / 10);
}

/**
 * The renewal time without ARI: `notBefore` + 2/3 of the lifetime (1/2 when it is 10 days or
 * less), ± 5% of the lifetime, never past `notAfter` minus {@linkcode expiryMargin}.
 *
 * @param notBefore Epoch ms.
 * @param notAfter Epoch ms.
 * @param random A number in [0, 1); 0.5 is no jitter.
 * @returns Epoch ms.
 * @example
 * ```ts
 * import { lifetimeRenewalAt } from "@alpnmux/core/certs";
 * lifetimeRenewalAt(0, 6 * 86_400_000, () => 0.5); // 259200000: half of 6 days
 * ```
 */
export function lifetimeRenewalAt(notBefore: number, notAfter: number, random: () => number): number {
  const life = Math.max(0, notAfter - notBefore);
  const fraction = life <= SHORT_LIFETIME_MS ? 1 / 2 : 2 / 3;
  const jitter = (random() * 2 - 1) * 0.05 * life;
  return Math.min(notBefore + fraction * life + jitter, notAfter - expiryMargin(life));
}

/**
 * The renewal time inside an ARI window: uniformly random in `[start, end)`; `now` when the
 * window has passed (RFC 9773 §4.2).
 *
 * @param window The suggested window, epoch ms.
 * @param now Epoch ms.
 * @param random A number in [0, 1).
 * @returns Epoch ms.
 * @example
 * ```ts
 * import { ariRenewalAt } from "@alpnmux/core/certs";
 * ariRenewalAt({ start: 1000, end: 2000 }, 0, () => 0.25); // 1250
 * ```
 */
export function ariRenewalAt(
  window: { start: number; end: number },
  now: number,
  random: () => number,
): number {
  if (window.end <= now) return now;
  const start = Math.max(window.start, now);
  return start + Math.max(0, window.end - start) * random();
}

/**
 * When to ask ARI again: at its Retry-After, else every {@linkcode ARI_RECHECK_MS}.
 *
 * @param now Epoch ms.
 * @param retryAfterMs The Retry-After of the last answer, if any.
 * @returns Epoch ms.
 * @example
 * ```ts
 * import { ariRecheckAt } from "@alpnmux/core/certs";
 * ariRecheckAt(0, 60_000); // 60000
 * ```
 */
export function ariRecheckAt(now: number, retryAfterMs?: number): number {
  return now + (retryAfterMs !== undefined && retryAfterMs > 0 ? retryAfterMs : ARI_RECHECK_MS);
}

/**
 * The delay before retry number `failures` (1 for the first failure): 1 min doubling to 6 h,
 * times a jitter factor in [0.8, 1.2), capped at 6 h.
 *
 * @param failures Consecutive failures, at least 1.
 * @param random A number in [0, 1).
 * @returns Delay in ms.
 * @example
 * ```ts
 * import { backoffDelay } from "@alpnmux/core/certs";
 * backoffDelay(3, () => 0.5); // 240000: 4 min
 * ```
 */
export function backoffDelay(failures: number, random: () => number): number {
  const n = Math.max(1, Math.min(failures, 30));
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (n - 1));
  return Math.min(BACKOFF_MAX_MS, base * (0.8 + 0.4 * random()));
}

/** When to try again after a failure, and why. */
export interface RetryPlan {
  readonly at: number;
  readonly reason: "retry-backoff" | "retry-after";
}

/**
 * The next attempt after a failed one: at the CA's Retry-After when it sent one (at least the
 * backoff's first step is not imposed: the CA knows best), after a `rateLimited` problem at
 * least 1 h, else the backoff.
 *
 * @param now Epoch ms.
 * @param failures Consecutive failures, this one included.
 * @param failure What the CA said.
 * @param random A number in [0, 1).
 * @returns When and why.
 * @example
 * ```ts
 * import { retryPlan } from "@alpnmux/core/certs";
 * retryPlan(0, 1, { retryAfterMs: 30_000 }, Math.random); // { at: 30000, reason: "retry-after" }
 * ```
 */
export function retryPlan(
  now: number,
  failures: number,
  failure: { readonly retryAfterMs?: number; readonly rateLimited?: boolean },
  random: () => number,
): RetryPlan {
  if (failure.retryAfterMs !== undefined && failure.retryAfterMs > 0) {
    return { at: now + failure.retryAfterMs, reason: "retry-after" };
  }
  const delay = backoffDelay(failures, random);
  if (failure.rateLimited) return { at: now + Math.max(delay, RATE_LIMIT_MIN_MS), reason: "retry-after" };
  return { at: now + delay, reason: "retry-backoff" };
}
