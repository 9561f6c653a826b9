/**
 * The read-size policy for pull-based runtimes (Deno's `conn.read(buf)`), where a pending read
 * holds its buffer for as long as the socket is idle. An idle connection reads into
 * {@linkcode MIN_READ_BYTES} (a ClientHello, an HTTP request or a small response fits); a read
 * that fills its buffer makes the next one 4x larger, up to {@linkcode MAX_READ_BYTES} while the
 * connection is busy (bulk: fewer read and write ops per byte; FACTS.md measured 256 KiB faster
 * than 64 KiB), and a read under 1/8 of it makes the next one 4x smaller again. (512 B cost a
 * second read for many ClientHellos and server flights: more CPU per connection for no memory
 * gain measured.)
 *
 * @module read-size
 */

/** The first and smallest read buffer: 1 KiB. */
export const MIN_READ_BYTES = 1024;
/** The largest read buffer, reached only while reads keep filling it: 256 KiB. */
export const MAX_READ_BYTES = 256 * 1024;

/**
 * The size of the next read buffer after a read of `n` bytes into a buffer of `size` bytes.
 *
 * @param n Bytes the last read returned.
 * @param size The last read buffer's length.
 * @returns The next buffer's length (the same `size` when it should be kept).
 * @example
 * ```ts
 * import { MIN_READ_BYTES, nextReadSize } from "@alpnmux/core";
 * console.log(nextReadSize(MIN_READ_BYTES, MIN_READ_BYTES)); // 4096: it filled, grow
 * console.log(nextReadSize(100, 65536)); // 16384: mostly empty, shrink
 * console.log(nextReadSize(517, MIN_READ_BYTES)); // 1024: keep
 * ```
 */
export function nextReadSize(n: number, size: number): number {
  if (n === size) return Math.min(MAX_READ_BYTES, size * 4);
  if (n < size / 8) return Math.max(MIN_READ_BYTES, size / 4);
  return size;
}
