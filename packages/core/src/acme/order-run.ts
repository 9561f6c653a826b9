/**
 * The deadline and abort of one order (see `order-flow.ts`): `orderTimeoutMs` checked against
 * the injected clock before and after each wait and enforced by a timer that aborts in-flight
 * requests; the caller's `AbortSignal` linked in; both mapped to `AcmeError` `timeout` and
 * `aborted`.
 *
 * @module acme/order-run
 */

import { AcmeError } from "./errors.ts";
import type { AcmeHttp, AcmeResponse } from "./http.ts";

/** The clock, sleep, HTTP and budget a run needs. */
export interface RunContext {
  readonly http?: AcmeHttp;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
  readonly timeoutMs: number;
}

/** The abort reason of a timeout. */
const TIMEOUT = Symbol("timeout");

/**
 * One order's deadline and abort: every await of the order goes through {@linkcode Run.guard},
 * every wait through {@linkcode Run.wait}, every request through {@linkcode Run.post} (which
 * also hands the signal to `fetch`), so a timeout or the caller's signal ends it at once.
 *
 * @example
 * ```ts
 * import { Run } from "./order-run.ts";
 * const run = new Run({ sleep: () => Promise.resolve(), now: Date.now, timeoutMs: 1000 }, undefined);
 * await run.wait(10);
 * run.close();
 * ```
 */
export class Run<C extends RunContext = RunContext> {
  readonly ctl = new AbortController();
  readonly deadline: number;
  readonly #aborted: Promise<never>;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #unlink: () => void = () => {};

  constructor(
    readonly ctx: C,
    signal: AbortSignal | undefined,
  ) {
    this.deadline = ctx.now() + ctx.timeoutMs;
    this.#aborted = new Promise<never>((_, reject) => {
      this.ctl.signal.addEventListener("abort", () => reject(this.ctl.signal.reason), { once: true });
    });
    this.#aborted.catch(() => {});
    if (signal !== undefined) {
      const onAbort = () => this.ctl.abort(signal.reason);
      if (signal.aborted) onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      this.#unlink = () => signal.removeEventListener("abort", onAbort);
    }
    // setTimeout fires at once for delays above 2^31 - 1 ms (about 24.8 days).
    this.#timer = setTimeout(() => this.ctl.abort(TIMEOUT), Math.min(ctx.timeoutMs, 2 ** 31 - 1));
  }

  /** `p`, unless the run is aborted or timed out first (or already). */
  guard<T>(p: Promise<T>): Promise<T> {
    if (this.ctl.signal.aborted) {
      p.catch(() => {}); // its later rejection is of no interest, and must not go unhandled
      return Promise.reject(this.ctl.signal.reason);
    }
    return Promise.race([p, this.#aborted]);
  }

  /** Throws the abort reason once the run is aborted or timed out. */
  throwIfAborted(): void {
    if (this.ctl.signal.aborted) throw this.ctl.signal.reason;
  }

  /** Waits `ms` (shortened to the deadline), then throws `timeout` if the deadline passed. */
  async wait(ms: number): Promise<void> {
    const left = this.deadline - this.ctx.now();
    if (left <= 0) this.ctl.abort(TIMEOUT);
    await this.guard(this.ctx.sleep(Math.min(ms, Math.max(left, 0))));
    if (this.ctx.now() >= this.deadline) this.ctl.abort(TIMEOUT);
    this.throwIfAborted();
  }

  post(url: string, payload: unknown, kid: string, accept?: string): Promise<AcmeResponse> {
    const options = { signal: this.ctl.signal, ...(accept !== undefined ? { accept } : {}) };
    const http = this.ctx.http;
    if (http === undefined) throw new TypeError("Run.post needs ctx.http");
    return this.guard(http.post(url, payload, { kid }, options));
  }

  /** Maps an error thrown while aborted to `timeout` / `aborted`. */
  translate(e: unknown): unknown {
    if (!this.ctl.signal.aborted) return e;
    if (this.ctl.signal.reason === TIMEOUT) {
      return new AcmeError(
        "timeout",
        `the order did not complete within ${Math.round(this.ctx.timeoutMs / 1000)} s`,
      );
    }
    return new AcmeError("aborted", "the order was aborted", { cause: this.ctl.signal.reason });
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#unlink();
  }
}
