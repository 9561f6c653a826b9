/**
 * The byte-moving rules of the engine for one direction of a connection ({@linkcode Flow}):
 * write at once when the target can take it, otherwise hold a copy and pause the source; on
 * drain write what was held, resume the source, and pass on a FIN that waited for those bytes.
 *
 * @module flow
 */

import type { Connection, Flow } from "./connection.ts";
import type { EngineIO } from "./engine-types.ts";

/** Held bytes per direction (dialing, responder busy) above which the source is paused. */
export const HOLD_HIGH_WATER = 64 * 1024;

/**
 * Bytes from one side to the other: written at once, or held while the target is backed up.
 * @param io The adapter's socket operations.
 * @param c The connection (spliced: both sockets are there).
 * @param f `c.up` (client → upstream) or `c.down`.
 * @param bytes What was read; copied if held.
 * @example
 * ```ts
 * import { Connection, forward, type EngineIO } from "@alpnmux/core";
 * const io: EngineIO<string> = {
 *   write: () => false, // the socket is backed up
 *   pause() {}, resume() {}, shutdown() {}, close() {}, dial() {}, timer() {},
 * };
 * const c = new Connection("client", { client: { address: "192.0.2.1", port: 5000 }, local: { address: "192.0.2.2", port: 443 } }, 0);
 * c.upstream = "upstream";
 * forward(io, c, c.up, new Uint8Array([1, 2, 3]));
 * c.up.blocked; // true: the next bytes are held until the upstream drains
 * ```
 */
export function forward<S>(io: EngineIO<S>, c: Connection<S>, f: Flow, bytes: Uint8Array): void {
  if (f.blocked || f.queued > 0) {
    hold(io, c, f, bytes);
    return;
  }
  const up = f === c.up;
  if (up) c.bytesUp += bytes.length;
  else c.bytesDown += bytes.length;
  if (!io.write(up ? (c.upstream as S) : c.client, bytes)) {
    f.blocked = true;
    pauseFrom(io, c, f);
  }
}

/**
 * Keeps a copy of bytes the target cannot take yet; pauses the source when too much is held.
 * @param io The adapter's socket operations.
 * @param c The connection.
 * @param f The direction.
 * @param bytes What was read.
 */
export function hold<S>(io: EngineIO<S>, c: Connection<S>, f: Flow, bytes: Uint8Array): void {
  f.queue.push(bytes.slice());
  f.queued += bytes.length;
  if (f.blocked || f.queued >= HOLD_HIGH_WATER) pauseFrom(io, c, f);
}

/**
 * Writes what is held until the target backs up; once all is written, resumes the source and
 * passes on a FIN that waited. Does nothing before the target socket exists.
 * @param io The adapter's socket operations.
 * @param c The connection.
 * @param f The direction.
 */
export function flush<S>(io: EngineIO<S>, c: Connection<S>, f: Flow): void {
  const up = f === c.up;
  const to = up ? c.upstream : c.client;
  if (to === null) return;
  while (f.queue.length > 0 && !f.blocked) {
    const b = f.queue.shift() as Uint8Array;
    f.queued -= b.length;
    if (up) c.bytesUp += b.length;
    else c.bytesDown += b.length;
    if (!io.write(to, b)) f.blocked = true;
  }
  if (f.blocked) return;
  resumeFrom(io, c, f);
  if (f.eof && !f.shut) {
    f.shut = true;
    io.shutdown(to);
  }
}

/**
 * Bytes the router itself sends the client (the responder's flight, an alert): in order after
 * anything still held for the client.
 * @param io The adapter's socket operations.
 * @param c The connection.
 * @param bytes What to send (not copied: the caller gives them away).
 */
export function writeToClient<S>(io: EngineIO<S>, c: Connection<S>, bytes: Uint8Array): void {
  if (c.down.blocked || c.down.queued > 0) {
    c.down.queue.push(bytes);
    c.down.queued += bytes.length;
    return;
  }
  c.bytesDown += bytes.length;
  if (!io.write(c.client, bytes)) c.down.blocked = true;
}

/** Pauses the socket that feeds `f` (once). */
function pauseFrom<S>(io: EngineIO<S>, c: Connection<S>, f: Flow): void {
  const from = f === c.up ? c.client : c.upstream;
  if (f.paused || from === null) return;
  f.paused = true;
  io.pause(from);
}

/**
 * Resumes the socket that feeds `f`, if the engine paused it.
 * @param io The adapter's socket operations.
 * @param c The connection.
 * @param f The direction.
 */
export function resumeFrom<S>(io: EngineIO<S>, c: Connection<S>, f: Flow): void {
  const from = f === c.up ? c.client : c.upstream;
  if (!f.paused || from === null) return;
  f.paused = false;
  io.resume(from);
}
