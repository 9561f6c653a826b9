/**
 * The clock and timers the certificate manager runs on, injected so tests drive time by hand,
 * and {@linkcode armTimer}: a timer for an absolute time any distance away (runtimes fire a
 * `setTimeout` over 2^31-1 ms at once, so long delays are re-armed in steps).
 *
 * @example
 * ```ts
 * import { armTimer, systemClock } from "@alpnmux/core/certs";
 * const cancel = armTimer(systemClock, Date.now() + 40 * 86_400_000, () => console.log("due"));
 * cancel(); // forty days was three steps; none runs now
 * ```
 *
 * @module certs/clock
 */

/** Time, timers and randomness. */
export interface CertClock {
  /** Epoch ms. */
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
  /** A number in [0, 1) (jitter). */
  random(): number;
}

/** The runtime's clock, timers and `Math.random`. */
export const systemClock: CertClock = {
  now: () => Date.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  random: () => Math.random(),
};

/** Longest delay one `setTimeout` takes (a signed 32-bit count of ms). */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * Calls `fn` at the absolute time `at` (at once when it has passed), in steps of at most
 * {@linkcode MAX_TIMER_MS}.
 *
 * @param clock The clock.
 * @param at Epoch ms.
 * @param fn What to run.
 * @returns Cancels it.
 * @example
 * ```ts
 * import { armTimer, systemClock } from "@alpnmux/core/certs";
 * armTimer(systemClock, Date.now() + 10, () => console.log("ten ms later"));
 * ```
 */
export function armTimer(clock: CertClock, at: number, fn: () => void): () => void {
  let handle: unknown;
  let cancelled = false;
  const step = () => {
    if (cancelled) return;
    const delay = at - clock.now();
    if (delay <= MAX_TIMER_MS) {
      handle = clock.setTimer(
        () => {
          if (!cancelled) fn();
        },
        Math.max(0, delay),
      );
    } else handle = clock.setTimer(step, MAX_TIMER_MS);
  };
  step();
  return () => {
    cancelled = true;
    clock.clearTimer(handle);
  };
}
