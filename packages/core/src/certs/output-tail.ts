/**
 * A `deploy` command's output, runtime-neutral: {@linkcode createOutputTail} keeps the last
 * bytes of everything pushed, {@linkcode captureOutput} reads a child's pipes into one tail and,
 * once the child has exited, waits a short grace for them and cancels what is still open (a
 * background child may hold a pipe). The Bun and Deno `CertHost.run` spawn the process; this
 * file is what they share.
 *
 * @example
 * ```ts
 * import { captureOutput } from "@alpnmux/core/certs/output-tail";
 * const out = captureOutput([new Blob(["hello "]).stream(), new Blob(["world"]).stream()]);
 * console.log((await out.finish()).length); // 11 ("hello world" or "worldhello ")
 * ```
 *
 * @module certs/output-tail
 */

/** How much of a command's output is kept (the end of it): 4 KiB, as `RunResult.output` says. */
export const OUTPUT_BYTES = 4096;
/** How long {@linkcode CapturedOutput.finish} waits for the pipes after the command exits. */
export const PIPE_GRACE_MS = 500;

/** The last bytes of everything pushed, in arrival order. */
export interface OutputTail {
  push(chunk: Uint8Array): void;
  /** The kept bytes (at most `maxBytes`), decoded as UTF-8. */
  text(): string;
}

/**
 * A buffer that keeps the last `maxBytes` of what is pushed.
 *
 * @param maxBytes How many bytes to keep; default {@linkcode OUTPUT_BYTES}.
 * @returns The tail.
 * @example
 * ```ts
 * import { createOutputTail } from "@alpnmux/core/certs/output-tail";
 * const tail = createOutputTail(4);
 * tail.push(new TextEncoder().encode("abc"));
 * tail.push(new TextEncoder().encode("def"));
 * console.log(tail.text()); // "cdef"
 * ```
 */
export function createOutputTail(maxBytes: number = OUTPUT_BYTES): OutputTail {
  const chunks: Uint8Array[] = [];
  let size = 0;
  return {
    push(c: Uint8Array): void {
      chunks.push(c);
      size += c.length;
      while (chunks.length > 1 && size - (chunks[0] as Uint8Array).length >= maxBytes) {
        size -= (chunks.shift() as Uint8Array).length;
      }
    },
    text(): string {
      const all = new Uint8Array(size);
      let off = 0;
      for (const c of chunks) {
        all.set(c, off);
        off += c.length;
      }
      return new TextDecoder().decode(all.subarray(Math.max(0, size - maxBytes)));
    },
  };
}

/** One pipe being read: `done` settles at EOF, on a broken pipe or after `cancel()`. */
export interface DrainingPipe {
  readonly done: Promise<void>;
  cancel(): void;
}

/**
 * Reads `stream` into `tail` until EOF, an error or `cancel()`; what arrived is kept.
 *
 * @param stream A child's stdout or stderr.
 * @param tail Where the bytes go.
 * @returns The read in progress.
 * @example
 * ```ts
 * import { createOutputTail, drainInto } from "@alpnmux/core/certs/output-tail";
 * const tail = createOutputTail();
 * await drainInto(new Blob(["ok"]).stream(), tail).done;
 * console.log(tail.text()); // "ok"
 * ```
 */
export function drainInto(stream: ReadableStream<Uint8Array>, tail: OutputTail): DrainingPipe {
  const reader = stream.getReader();
  const done = (async () => {
    try {
      for (;;) {
        const r = await reader.read();
        if (r.done) return;
        tail.push(r.value);
      }
    } catch {
      // Cancelled, or the pipe broke: what arrived is kept.
    }
  })();
  return { done, cancel: () => void reader.cancel().catch(() => {}) };
}

/** The pipes of one child, read into one tail. */
export interface CapturedOutput {
  /**
   * Call after the child exited: waits for every pipe's EOF or `graceMs`, whichever is first,
   * cancels the pipes still open, and returns the tail's text.
   */
  finish(graceMs?: number): Promise<string>;
}

/**
 * Starts reading a child's pipes (stdout and stderr together, in arrival order) into one tail.
 *
 * @param streams The pipes.
 * @param maxBytes How many bytes to keep; default {@linkcode OUTPUT_BYTES}.
 * @returns The capture; call `finish()` once the child exited.
 * @example
 * ```ts
 * import { captureOutput } from "@alpnmux/core/certs/output-tail";
 * const out = captureOutput([new Blob(["x".repeat(5000)]).stream()]);
 * console.log((await out.finish()).length); // 4096
 * ```
 */
export function captureOutput(
  streams: readonly ReadableStream<Uint8Array>[],
  maxBytes: number = OUTPUT_BYTES,
): CapturedOutput {
  const tail = createOutputTail(maxBytes);
  const pipes = streams.map((s) => drainInto(s, tail));
  return {
    async finish(graceMs = PIPE_GRACE_MS) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<void>((r) => {
        timer = setTimeout(r, graceMs);
      });
      await Promise.race([Promise.all(pipes.map((p) => p.done)), grace]);
      clearTimeout(timer);
      for (const p of pipes) p.cancel();
      return tail.text();
    },
  };
}
