/**
 * One direction-aware write queue per Bun socket: Bun's `socket.write()` accepts fewer bytes
 * than given when the kernel buffer is full and does not queue the rest, so we queue it, pause
 * the source socket, and flush on `drain` (FACTS.md, Bun sockets).
 *
 * @module splice
 */

import type { Socket } from "bun";

/** The socket surface the queue needs (kept small for tests). */
export type WritableSocket = Pick<Socket<unknown>, "write" | "shutdown" | "end" | "pause" | "resume">;

/** Bytes waiting to be written to one socket, and what to do once they are.
 *
 * @example Splice one direction
 * ```ts
 * import { WriteQueue } from "@alpnmux/bun-listener";
 * declare const client: import("bun").Socket<unknown>, upstream: import("bun").Socket<unknown>;
 * const up = new WriteQueue(upstream, client); // pauses `client` while `upstream` is backed up
 * up.write(new Uint8Array([1, 2, 3]));         // from client's data handler
 * up.flush();                                  // from upstream's drain handler
 * up.shutdownWhenFlushed();                    // on the client's FIN
 * ```
 */
export class WriteQueue {
  #chunks: Uint8Array[] = [];
  #queued = 0;
  #shutdownPending = false;
  /** Bytes handed to the kernel so far. */
  written = 0;
  /** The socket was shut down for writing (FIN sent). */
  shutDown = false;

  /**
   * @param target The socket written to.
   * @param source The socket whose reads feed `target` (paused while `target` is backed up).
   */
  constructor(
    readonly target: WritableSocket,
    public source: WritableSocket | null,
  ) {}

  /** Bytes still queued. */
  get pending(): number {
    return this.#queued;
  }

  /**
   * Writes (or queues) bytes. Pauses the source when the target is backed up.
   * @param bytes Data; copied if it must be queued.
   */
  write(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (this.#queued > 0) {
      this.#chunks.push(bytes.slice());
      this.#queued += bytes.length;
      return;
    }
    const n = Math.max(0, this.target.write(bytes));
    this.written += n;
    if (n < bytes.length) {
      this.#chunks.push(bytes.slice(n));
      this.#queued += bytes.length - n;
      this.source?.pause();
    }
  }

  /** Call from the target's `drain` handler: writes what is queued, resumes the source when empty. */
  flush(): void {
    while (this.#chunks.length > 0) {
      const head = this.#chunks[0] as Uint8Array;
      const n = Math.max(0, this.target.write(head));
      this.written += n;
      this.#queued -= n;
      if (n < head.length) {
        this.#chunks[0] = head.subarray(n);
        return;
      }
      this.#chunks.shift();
    }
    this.source?.resume();
    if (this.#shutdownPending) this.#doShutdown();
  }

  /** Sends FIN once everything queued is written. */
  shutdownWhenFlushed(): void {
    if (this.#queued > 0) this.#shutdownPending = true;
    else this.#doShutdown();
  }

  #doShutdown(): void {
    this.#shutdownPending = false;
    if (this.shutDown) return;
    this.shutDown = true;
    this.target.shutdown();
  }
}
