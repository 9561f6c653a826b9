/**
 * The control channel between the primary process and each worker (`workers: N`), sans-I/O:
 * JSON lines, one message per line, over whatever stream the runtime connects (loopback TCP
 * here). Either side may send requests (`{"id":7,"type":"lookup","name":"a.example"}`), each
 * answered once by a response with the same id (`{"id":7,"ok":true,"value":…}` or
 * `{"id":7,"ok":false,"error":"…"}`), and pushes, which have no id and get no answer.
 *
 * | from | message | answer |
 * | --- | --- | --- |
 * | worker | `hello { worker, pid, token }` (push, first line) | the primary checks the token, then pushes `config` |
 * | worker | `lookup { name }` | the stored challenge, or `null` |
 * | primary | `config { config }` (push) | the worker calls `router.setConfig` |
 * | primary | `forget` (push) | the worker drops remembered misses (a challenge was set) |
 * | primary | `metrics` | the worker's `Registry.snapshot()` |
 * | primary | `stop { drainMs }` (push) | the worker drains and exits 0 |
 *
 * @example Two channels wired back to back
 * ```ts
 * import { ControlChannel } from "@alpnmux/core/cli";
 * const a: ControlChannel = new ControlChannel({ send: (b) => b2.data(b), handle: async () => null, push: () => {} });
 * const b2: ControlChannel = new ControlChannel({ send: (b) => a.data(b), handle: async (m) => m.type === "lookup" ? "found" : null, push: () => {} });
 * await a.request({ type: "lookup", name: "a.example" }); // "found"
 * ```
 *
 * @module worker-protocol
 */

import type { ChallengeEntry } from "./challenge-store.ts";

/** The longest line either side accepts (a config or a metrics snapshot fits easily). */
export const MAX_CONTROL_LINE = 4 * 1024 * 1024;

/** A request or push body: a `type` and fields. */
export type ControlMessage = { readonly type: string } & Readonly<Record<string, unknown>>;

/** Why a request failed: the channel closed, the peer answered an error, or a line was bad. */
export class ControlChannelError extends Error {
  override readonly name = "ControlChannelError";
}

/** Options of {@linkcode ControlChannel}. */
export interface ControlChannelOptions {
  /** Writes bytes to the peer (the adapter keeps the order). */
  readonly send: (bytes: Uint8Array) => void;
  /** Answers a request from the peer; a rejection is sent back as `{ ok: false, error }`. */
  readonly handle: (message: ControlMessage) => Promise<unknown>;
  /** A push from the peer. */
  readonly push: (message: ControlMessage) => void;
  /** A line that is not a JSON object, or too long: the channel is unusable (close it). */
  readonly invalid?: (reason: string) => void;
}

/** One end of the control channel: bytes in with `data`, requests out with `request`. */
export class ControlChannel {
  readonly #opts: ControlChannelOptions;
  readonly #pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  readonly #decoder = new TextDecoder();
  readonly #encoder = new TextEncoder();
  #buffer = "";
  #nextId = 1;
  #closed = false;

  /** @param options How to send, and what to do with what arrives. */
  constructor(options: ControlChannelOptions) {
    this.#opts = options;
  }

  /**
   * Sends a request; resolves with the peer's `value`.
   * @param message The request.
   * @returns The answer.
   * @throws {ControlChannelError} (as a rejection) When the peer answers an error or the channel closes.
   */
  request(message: ControlMessage): Promise<unknown> {
    if (this.#closed) return Promise.reject(new ControlChannelError("control channel closed"));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#write({ ...message, id });
    });
  }

  /** Sends a push (no answer). @param message The push. */
  push(message: ControlMessage): void {
    if (!this.#closed) this.#write(message);
  }

  /** Bytes from the peer. @param bytes A chunk (lines may span chunks). */
  data(bytes: Uint8Array): void {
    if (this.#closed) return;
    this.#buffer += this.#decoder.decode(bytes, { stream: true });
    for (;;) {
      const nl = this.#buffer.indexOf("\n");
      if (nl < 0) break;
      const line = this.#buffer.slice(0, nl);
      this.#buffer = this.#buffer.slice(nl + 1);
      if (line.trim() !== "") this.#line(line);
      if (this.#closed) return;
    }
    if (this.#buffer.length > MAX_CONTROL_LINE) this.#invalid(`line longer than ${MAX_CONTROL_LINE} bytes`);
  }

  /** The stream ended: pending requests fail. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of this.#pending.values()) p.reject(new ControlChannelError("control channel closed"));
    this.#pending.clear();
  }

  /** Whether {@linkcode close} was called (or a bad line closed it). */
  get closed(): boolean {
    return this.#closed;
  }

  #write(message: object): void {
    this.#opts.send(this.#encoder.encode(`${JSON.stringify(message)}\n`));
  }

  #invalid(reason: string): void {
    this.close();
    this.#opts.invalid?.(reason);
  }

  #line(line: string): void {
    let m: unknown;
    try {
      m = JSON.parse(line);
    } catch {
      this.#invalid("a line is not JSON");
      return;
    }
    if (typeof m !== "object" || m === null || Array.isArray(m)) {
      this.#invalid("a line is not a JSON object");
      return;
    }
    const msg = m as Record<string, unknown>;
    const id = msg["id"];
    if (typeof msg["type"] !== "string") {
      // A response.
      const p = typeof id === "number" ? this.#pending.get(id) : undefined;
      if (p === undefined) return; // late or unknown: ignored
      this.#pending.delete(id as number);
      if (msg["ok"] === true) p.resolve(msg["value"] ?? null);
      else p.reject(new ControlChannelError(String(msg["error"] ?? "request failed")));
      return;
    }
    const message = msg as ControlMessage;
    if (typeof id !== "number") {
      this.#opts.push(message);
      return;
    }
    this.#opts.handle(message).then(
      (value) => this.#closed || this.#write({ id, ok: true, value: value ?? null }),
      (e: unknown) =>
        this.#closed || this.#write({ id, ok: false, error: e instanceof Error ? e.message : String(e) }),
    );
  }
}

/** A challenge entry as JSON (`expiresAt: null` for never). @param e The entry, or none. @returns JSON-safe data. */
export function encodeChallengeEntry(e: ChallengeEntry | undefined): unknown {
  if (e === undefined) return null;
  return { ...e, expiresAt: Number.isFinite(e.expiresAt) ? e.expiresAt : null };
}

/**
 * The entry a `lookup` answer holds.
 * @param v The answer's value.
 * @returns The entry, or `undefined` for none.
 * @throws {ControlChannelError} For a value that is not an entry.
 */
export function decodeChallengeEntry(v: unknown): ChallengeEntry | undefined {
  if (v === null || v === undefined) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o["identifier"] !== "string" || typeof o["keyAuthorization"] !== "string") {
    throw new ControlChannelError("lookup answer is not a challenge entry");
  }
  const exp = o["expiresAt"];
  return {
    identifier: o["identifier"],
    keyAuthorization: o["keyAuthorization"],
    expiresAt: typeof exp === "number" ? exp : Number.POSITIVE_INFINITY,
  };
}

/** What a worker finds in its environment (`ALPNMUX_WORKER`), set by the primary. */
export interface WorkerEnv {
  /** 1-based worker number. */
  readonly worker: number;
  /** The primary's control port on 127.0.0.1. */
  readonly port: number;
  /** The secret the worker's `hello` carries. */
  readonly token: string;
}

/** The name of the variable that marks a worker. */
export const WORKER_ENV_VAR = "ALPNMUX_WORKER";

/**
 * `ALPNMUX_WORKER`'s value for a worker. @param w Worker, port, token. @returns `worker:port:token`.
 */
export function formatWorkerEnv(w: WorkerEnv): string {
  return `${w.worker}:${w.port}:${w.token}`;
}

/**
 * Reads `ALPNMUX_WORKER`. @param value The variable. @returns The worker's settings, or `null` if malformed.
 */
export function parseWorkerEnv(value: string): WorkerEnv | null {
  const m = /^(\d{1,4}):(\d{1,5}):([A-Za-z0-9_-]{16,})$/.exec(value);
  if (m === null) return null;
  const port = Number(m[2]);
  return port > 0 && port < 65536 ? { worker: Number(m[1]), port, token: m[3] as string } : null;
}
