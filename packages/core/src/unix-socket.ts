/**
 * A unix stream socket server with ualpn's file rules, on the few primitives a runtime gives
 * ({@linkcode UnixSocketHost}: the Bun and Deno adapters implement them in a few lines each):
 *
 * - at start, a socket file nobody listens on (left by a crash) is replaced; a socket somebody
 *   listens on, or a file that is not a socket, is refused and left alone;
 * - after `listen`, the file gets `mode` (and `owner`/`group` when set) before any connection
 *   is served: connections accepted in between are closed;
 * - at stop, the listener closes and the socket file is removed.
 *
 * @example Serve on a host's unix sockets (the adapters pass theirs)
 * ```ts
 * import { serveUnixSocket, type UnixSocketHost } from "@alpnmux/core/cli";
 * async function serve(unix: UnixSocketHost) {
 *   const server = await serveUnixSocket(unix, { path: "/run/example.sock", mode: 0o600 }, (conn) => ({
 *     data: (bytes) => conn.write(bytes), // echo
 *     end: () => conn.close(),
 *   }));
 *   await server.close(); // and the file is gone
 * }
 * ```
 *
 * @module unix-socket
 */

/** One accepted connection, as the adapter drives it. */
export interface UnixConnection {
  /** Queues bytes (the adapter keeps the order and handles partial writes). */
  write(bytes: Uint8Array): void;
  /** Closes once the queued bytes are written. */
  close(): void;
}

/** What the core does with a connection's events. */
export interface UnixConnectionHandler {
  /** Bytes arrived. */
  data(bytes: Uint8Array): void;
  /** The peer closed its side, or the connection failed. */
  end(): void;
}

/** A listening unix socket. */
export interface UnixListener {
  /** Stops accepting; resolves once the listening socket is closed. */
  close(): Promise<void>;
}

/**
 * The runtime primitives {@linkcode serveUnixSocket} needs. Each does one system call's worth
 * of work and throws the runtime's error on failure.
 */
export interface UnixSocketHost {
  /** What is at `path`, without following a symlink (lstat): a socket, something else, or nothing. */
  kind(path: string): Promise<"socket" | "other" | "none">;
  /** Whether a connection to the socket at `path` succeeds (it is closed at once). */
  accepts(path: string): Promise<boolean>;
  /** Removes the file at `path`. */
  remove(path: string): Promise<void>;
  /** Listens at `path` (the file must not exist) and calls `accept` for each connection. */
  listen(path: string, accept: (conn: UnixConnection) => UnixConnectionHandler): Promise<UnixListener>;
  /** Sets the file's permission bits. */
  chmod(path: string, mode: number): Promise<void>;
  /** Sets the file's owner and group; `null` keeps one. */
  chown(path: string, uid: number | null, gid: number | null): Promise<void>;
}

/** Why a unix socket could not be served. */
export type UnixSocketErrorCode =
  | "in-use"
  | "not-a-socket"
  | "listen-failed"
  | "permissions-failed"
  | "unknown-user"
  | "unknown-group";

/**
 * A unix socket that cannot be served, naming the path and the reason.
 *
 * @example
 * ```ts
 * import { UnixSocketError } from "@alpnmux/core/cli";
 * const e = new UnixSocketError("in-use", "/run/ualpn.sock", "another process listens on it");
 * e.message; // "Cannot serve unix socket /run/ualpn.sock: another process listens on it"
 * ```
 */
export class UnixSocketError extends Error {
  /** Stable code. */
  readonly code: UnixSocketErrorCode;
  /** The socket path. */
  readonly path: string;
  /**
   * @param code Stable code.
   * @param path The socket path.
   * @param reason Why.
   * @param options The underlying error, if any.
   */
  constructor(code: UnixSocketErrorCode, path: string, reason: string, options?: { cause?: unknown }) {
    super(`Cannot serve unix socket ${path}: ${reason}`, options);
    this.name = "UnixSocketError";
    this.code = code;
    this.path = path;
  }
}

/** Where and how {@linkcode serveUnixSocket} listens. */
export interface UnixSocketOptions {
  /** The socket path. */
  readonly path: string;
  /** Permission bits of the socket file, e.g. `0o600`. */
  readonly mode: number;
  /** Owner to set (a name or a uid); if absent, the process's. */
  readonly owner?: string | number;
  /** Group to set (a name or a gid); if absent, the process's. */
  readonly group?: string | number;
  /**
   * Reads `/etc/passwd` or `/etc/group` to look up an owner or group given by name; if
   * absent, only numeric ids work.
   */
  readonly readFile?: (path: string) => string;
}

/** A served unix socket. */
export interface UnixSocketServer {
  readonly path: string;
  /** Closes the listener and removes the socket file. Never throws. */
  close(): Promise<void>;
}

const why = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * Serves a unix socket with the file rules in the module doc.
 *
 * @param host The runtime's primitives.
 * @param options Path, mode, owner and group.
 * @param accept Called for each connection once the file has its permissions.
 * @returns The server; `close()` stops it and removes the file.
 * @throws {UnixSocketError} `in-use`, `not-a-socket`, `listen-failed`, `permissions-failed`,
 *   `unknown-user`, `unknown-group` (checked before anything is touched).
 * @example
 * ```ts
 * import { serveUnixSocket, type UnixSocketHost } from "@alpnmux/core/cli";
 * async function start(unix: UnixSocketHost) {
 *   return serveUnixSocket(unix, { path: "/run/ualpn.sock", mode: 0o660, group: 998 }, (conn) => ({
 *     data: () => conn.close(),
 *     end: () => conn.close(),
 *   }));
 * }
 * ```
 */
export async function serveUnixSocket(
  host: UnixSocketHost,
  options: UnixSocketOptions,
  accept: (conn: UnixConnection) => UnixConnectionHandler,
): Promise<UnixSocketServer> {
  const { path } = options;
  const fail = (code: UnixSocketErrorCode, reason: string, cause?: unknown) =>
    new UnixSocketError(code, path, reason, cause === undefined ? undefined : { cause });
  const id = (kind: "user" | "group", spec: string | number | undefined): number | null => {
    if (spec === undefined) return null;
    const file = kind === "user" ? "/etc/passwd" : "/etc/group";
    let found: number | null;
    try {
      found = lookupUnixId(spec, () => {
        if (options.readFile === undefined) throw new Error("this runtime cannot read files");
        return options.readFile(file);
      });
    } catch (e) {
      throw fail(`unknown-${kind}`, `cannot read ${file} to look up ${kind} "${spec}": ${why(e)}`, e);
    }
    if (found === null) throw fail(`unknown-${kind}`, `no ${kind} "${spec}" in ${file} (give a numeric id)`);
    return found;
  };
  const uid = id("user", options.owner);
  const gid = id("group", options.group);
  let kind: "socket" | "other" | "none";
  try {
    kind = await host.kind(path);
  } catch (e) {
    throw fail("listen-failed", `cannot inspect it: ${why(e)}`, e);
  }
  if (kind === "other") throw fail("not-a-socket", "the file exists and is not a socket (left alone)");
  if (kind === "socket") {
    if (await host.accepts(path).catch(() => false)) {
      throw fail("in-use", "another process listens on it (another alpnmux or ualpn?)");
    }
    // Nobody listens: a socket file left by a process that did not remove it.
    try {
      await host.remove(path);
    } catch (e) {
      throw fail("listen-failed", `cannot remove the stale socket file: ${why(e)}`, e);
    }
  }
  let ready = false;
  let listener: UnixListener;
  try {
    listener = await host.listen(path, (conn) => {
      if (ready) return accept(conn);
      conn.close(); // accepted before the file had its permissions
      return { data() {}, end() {} };
    });
  } catch (e) {
    throw fail("listen-failed", why(e), e);
  }
  const stop = async () => {
    await listener.close().catch(() => {});
    try {
      if ((await host.kind(path)) === "socket") await host.remove(path);
    } catch {
      // Gone already, or not ours to remove: nothing more to do.
    }
  };
  try {
    await host.chmod(path, options.mode);
    if (uid !== null || gid !== null) await host.chown(path, uid, gid);
  } catch (e) {
    await stop();
    throw fail("permissions-failed", `cannot set its mode or owner: ${why(e)}`, e);
  }
  ready = true;
  return { path, close: stop };
}

/**
 * A user or group id from a name or a numeric id, with the name looked up in the text of
 * `/etc/passwd` or `/etc/group` (`name:x:id:…` lines; NSS sources such as LDAP are not
 * consulted: use the numeric id for those).
 *
 * @param spec A name, a numeric id, or a string of digits.
 * @param table Returns the text of `/etc/passwd` or `/etc/group`; called only for a name.
 * @returns The id, or `null` when the name is not listed.
 * @example
 * ```ts
 * import { lookupUnixId } from "@alpnmux/core/cli";
 * lookupUnixId("acme", () => "root:x:0:\nacme:x:998:alice\n"); // 998
 * lookupUnixId(1000, () => ""); // 1000
 * ```
 */
export function lookupUnixId(spec: string | number, table: () => string): number | null {
  if (typeof spec === "number") return spec;
  if (/^\d+$/.test(spec)) return Number(spec);
  for (const line of table().split("\n")) {
    const [name, , id] = line.split(":");
    if (name === spec && id !== undefined && /^\d+$/.test(id)) return Number(id);
  }
  return null;
}
