/**
 * A test-only in-memory {@linkcode UnixSocketHost}: a file table (sockets and other files with
 * mode, uid, gid), listeners that clients reach with {@linkcode FakeUnix.connect}, and switches
 * for failures (a path whose chmod fails, a listener registered by "another process"). Every
 * primitive call is recorded in `calls`. Test-only: not part of the published package.
 *
 * @module fake-unix
 */

import type { UnixConnection, UnixConnectionHandler, UnixSocketHost } from "../src/unix-socket.ts";

/** A file in the fake table. */
export interface FakeFile {
  kind: "socket" | "other";
  mode: number;
  uid: number;
  gid: number;
}

/** The client end of a fake connection. */
export interface FakeClient {
  /** Sends bytes (a string is UTF-8 encoded) to the server's handler. */
  send(data: string | Uint8Array): void;
  /** Half-closes: the server's handler gets `end()`. */
  end(): void;
  /** Everything the server wrote, decoded. */
  text(): string;
  /** Whether the server closed the connection. */
  readonly closed: boolean;
  /** Resolves once the server closed. */
  readonly done: Promise<void>;
  /** Resolves once `text()` satisfies `pred`. */
  waitText(pred: (t: string) => boolean, timeoutMs?: number): Promise<string>;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The fake host and its inspection helpers. */
export class FakeUnix implements UnixSocketHost {
  readonly files = new Map<string, FakeFile>();
  readonly calls: string[] = [];
  /** Paths where another process listens (`accepts` is true, no handler here). */
  readonly foreign = new Set<string>();
  /** Paths whose chmod throws. */
  readonly chmodFails = new Set<string>();
  readonly #listeners = new Map<string, (conn: UnixConnection) => UnixConnectionHandler>();

  async kind(path: string): Promise<"socket" | "other" | "none"> {
    this.calls.push(`kind ${path}`);
    return this.files.get(path)?.kind ?? "none";
  }
  async accepts(path: string): Promise<boolean> {
    this.calls.push(`accepts ${path}`);
    return this.foreign.has(path) || this.#listeners.has(path);
  }
  async remove(path: string): Promise<void> {
    this.calls.push(`remove ${path}`);
    if (!this.files.delete(path)) throw new Error(`ENOENT: ${path}`);
  }
  async chmod(path: string, mode: number): Promise<void> {
    this.calls.push(`chmod ${path} ${mode.toString(8)}`);
    if (this.chmodFails.has(path)) throw new Error(`EPERM: chmod ${path}`);
    const f = this.files.get(path);
    if (f === undefined) throw new Error(`ENOENT: ${path}`);
    f.mode = mode;
  }
  async chown(path: string, uid: number | null, gid: number | null): Promise<void> {
    this.calls.push(`chown ${path} ${uid} ${gid}`);
    const f = this.files.get(path);
    if (f === undefined) throw new Error(`ENOENT: ${path}`);
    if (uid !== null) f.uid = uid;
    if (gid !== null) f.gid = gid;
  }
  async listen(path: string, accept: (conn: UnixConnection) => UnixConnectionHandler) {
    this.calls.push(`listen ${path}`);
    if (this.files.has(path)) throw new Error(`EADDRINUSE: ${path}`);
    this.files.set(path, { kind: "socket", mode: 0o755, uid: 0, gid: 0 });
    this.#listeners.set(path, accept);
    return {
      close: async () => {
        this.calls.push(`close ${path}`);
        this.#listeners.delete(path);
      },
    };
  }

  /** Whether a listener is open at `path`. */
  listening(path: string): boolean {
    return this.#listeners.has(path);
  }

  /** Connects to the listener at `path` (throws ECONNREFUSED when none). */
  connect(path: string): FakeClient {
    const accept = this.#listeners.get(path);
    if (accept === undefined) throw new Error(`ECONNREFUSED: ${path}`);
    let received = "";
    let closed = false;
    let resolveDone = () => {};
    const done = new Promise<void>((r) => {
      resolveDone = r;
    });
    const waiters = new Set<() => void>();
    const wake = () => {
      for (const w of [...waiters]) w();
    };
    const handler = accept({
      write(bytes) {
        if (closed) throw new Error("write after close");
        received += dec.decode(bytes);
        wake();
      },
      close() {
        closed = true;
        resolveDone();
        wake();
      },
    });
    return {
      send: (data) => handler.data(typeof data === "string" ? enc.encode(data) : data),
      end: () => handler.end(),
      text: () => received,
      get closed() {
        return closed;
      },
      done,
      waitText: (pred, timeoutMs = 2000) =>
        new Promise((resolve, reject) => {
          const check = () => {
            if (!pred(received)) return;
            waiters.delete(check);
            clearTimeout(t);
            resolve(received);
          };
          const t = setTimeout(() => {
            waiters.delete(check);
            reject(new Error(`fake unix client: timed out; received ${JSON.stringify(received)}`));
          }, timeoutMs);
          waiters.add(check);
          check();
        }),
    };
  }
}
