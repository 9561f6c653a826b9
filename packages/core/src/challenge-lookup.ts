/**
 * Challenge lookups as the engine makes them for `acme-tls/1` hellos, guarded so that hellos
 * from anyone cannot become store load (with `store: redis`, one round trip each):
 * - concurrent lookups of one name share one store request;
 * - a name with no challenge is remembered as missing for `negativeTtlMs` (500 ms); a challenge
 *   set through this instance clears that at once, one set through another instance sharing the
 *   store is seen at most that long after;
 * - at most `maxConcurrent` (64) store requests are in flight; beyond that a lookup fails at once
 *   (`ChallengeLookupBusyError`), which the validator sees as an internal_error alert and retries.
 *
 * @module challenge-lookup
 */

/** Thrown (as a rejection) when too many lookups are in flight. */
export class ChallengeLookupBusyError extends Error {
  /** Always `"busy"`. */
  readonly code = "busy";
  override readonly name = "ChallengeLookupBusyError";
  /** @param max The bound that was reached. */
  constructor(max: number) {
    super(`more than ${max} challenge lookups in flight`);
  }
}

/** Options of {@linkcode ChallengeLookup}. */
export interface ChallengeLookupOptions<T> {
  /** The store request; resolves `undefined` when the name has no challenge. */
  readonly fetch: (name: string) => Promise<T | undefined>;
  /** How long a miss is remembered, in ms; if 0, misses are not remembered. Default 500. */
  readonly negativeTtlMs?: number;
  /** Store requests in flight at most; if 0, 64. */
  readonly maxConcurrent?: number;
  /** Clock; if absent, `Date.now`. */
  readonly now?: () => number;
}

/**
 * A guarded lookup function.
 *
 * @typeParam T What a lookup finds.
 * @example
 * ```ts
 * import { ChallengeLookup } from "@alpnmux/core/challenge";
 * let calls = 0;
 * const lookup = new ChallengeLookup({ fetch: async (_name: string) => { calls++; return undefined; } });
 * await Promise.all([lookup.get("a.example"), lookup.get("a.example")]);
 * await lookup.get("a.example"); // remembered as missing
 * calls; // 1
 * ```
 */
export class ChallengeLookup<T> {
  readonly #fetch: (name: string) => Promise<T | undefined>;
  readonly #ttl: number;
  readonly #max: number;
  readonly #now: () => number;
  readonly #inFlight = new Map<string, Promise<T | undefined>>();
  readonly #missing = new Map<string, number>();

  /** @param options The store request and the bounds. */
  constructor(options: ChallengeLookupOptions<T>) {
    this.#fetch = options.fetch;
    this.#ttl = options.negativeTtlMs ?? 500;
    this.#max = options.maxConcurrent || 64;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Looks a name up.
   * @param name The TLS server name.
   * @returns What the store has, or `undefined`.
   * @throws {ChallengeLookupBusyError} (a rejection) when too many lookups are in flight.
   */
  get(name: string): Promise<T | undefined> {
    const shared = this.#inFlight.get(name);
    if (shared !== undefined) return shared;
    const missUntil = this.#missing.get(name);
    if (missUntil !== undefined) {
      if (missUntil > this.#now()) return Promise.resolve(undefined);
      this.#missing.delete(name);
    }
    if (this.#inFlight.size >= this.#max) return Promise.reject(new ChallengeLookupBusyError(this.#max));
    const p = this.#fetch(name).then(
      (found) => {
        this.#inFlight.delete(name);
        if (found === undefined && this.#ttl > 0) this.#remember(name);
        return found;
      },
      (e: unknown) => {
        this.#inFlight.delete(name);
        throw e;
      },
    );
    this.#inFlight.set(name, p);
    return p;
  }

  /**
   * Forgets what is remembered as missing (call when a challenge is set or deleted).
   * @param name One name; if absent, all.
   */
  forget(name?: string): void {
    if (name === undefined) this.#missing.clear();
    else this.#missing.delete(name);
  }

  #remember(name: string): void {
    // Bounded: an attacker's random names expire; sweep when the map grows.
    if (this.#missing.size >= 4096) {
      const now = this.#now();
      for (const [k, until] of this.#missing) if (until <= now) this.#missing.delete(k);
      if (this.#missing.size >= 4096) this.#missing.clear();
    }
    this.#missing.set(name, this.#now() + this.#ttl);
  }
}
