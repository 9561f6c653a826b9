/**
 * ualpn's control protocol (uacme 1.7 `ualpn.c`), sans I/O: bytes in, reply bytes out, with the
 * challenge store as the only effect. uacme's stock `ualpn.sh` hook and certbot-ualpn speak it
 * to `/run/ualpn.sock`; with `challenges.ualpnSocket` alpnmux answers in ualpn's place.
 *
 * Framing, as ualpn reads it: one command per line ending in `\n` (a `\r` before it is
 * dropped), words separated by spaces or tabs, at most {@linkcode UALPN_MAX_LINE_BYTES} bytes
 * before the newline (a longer line gets `ERR too long` and the connection closes). Each line
 * gets one reply line, in order; a connection may carry several commands.
 *
 * | command | reply |
 * |---|---|
 * | `auth IDENT DIGEST` | `OK`: stored for 1 hour (ualpn's lifetime); DIGEST is base64url(SHA-256(key authorization)), 43 characters |
 * | `unauth IDENT` | `OK`, or `ERR not found` |
 * | anything else | `ERR usage: auth <ident> <auth> \| unauth <ident>` |
 *
 * Other errors are ualpn's words: `ERR invalid ident` (not 1-250 of `A-Za-z0-9-_.:`, or not a
 * host name or IP address), `ERR invalid auth`, `ERR too many parameters` (`unauth` with two).
 * An IP identifier is stored under its address (a reverse-DNS name maps to it, RFC 8738). One
 * difference: ualpn answers a repeated identical `auth` with `ERR already inserted`; alpnmux
 * stores it again and answers `OK`, so a retried hook succeeds. A failing store (Redis down)
 * answers `ERR challenge store unavailable: …`.
 *
 * @example
 * ```ts
 * import { MemoryChallengeStore } from "@alpnmux/core/challenge";
 * import { UalpnSession } from "@alpnmux/core/challenge";
 * const session = new UalpnSession({ store: new MemoryChallengeStore() });
 * const line = "auth a.example.test sYAwVrqDtVOuJZvAHurSAYPoEt5fFV_C4bdSOOW-o5Y\n";
 * const r = await session.receive(new TextEncoder().encode(line));
 * new TextDecoder().decode(r.bytes); // "OK\n"
 * ```
 *
 * @module ualpn-protocol
 */

import { normalizeIdentifier } from "./challenge-cert.ts";
import type { ChallengeStore } from "./challenge-store.ts";
import { parseChallengeValue } from "./challenge-value.ts";
import { parseReverseIpName } from "./hostname.ts";

/** Most bytes of a command line before its `\n` (ualpn's 512-byte line buffer). */
export const UALPN_MAX_LINE_BYTES = 510;

/** How long an `auth` lives unless `unauth` comes first: 1 hour, as in ualpn. */
export const UALPN_AUTH_TTL_MS = 3600_000;

/** One command and its outcome, for the log (never holds the digest). */
export interface UalpnEvent {
  /** `auth`, `unauth`, or the word given (`""` for an empty line). */
  readonly command: string;
  /** The normalised identifier, when the command named a valid one. */
  readonly identifier?: string;
  /** The reply line, without `\n`. */
  readonly reply: string;
}

/** What one {@linkcode UalpnSession.receive} call produced. */
export interface UalpnOutput {
  /** Reply lines to write (may be empty). */
  readonly bytes: Uint8Array;
  /** Close the connection after writing `bytes` (a line was too long). */
  readonly close: boolean;
  /** The commands handled. */
  readonly events: readonly UalpnEvent[];
}

/** Options of {@linkcode UalpnSession}. */
export interface UalpnSessionOptions {
  /** Where `auth` and `unauth` go. */
  readonly store: Pick<ChallengeStore, "set" | "delete">;
  /** Lifetime of an `auth`; if 0 or absent, {@linkcode UALPN_AUTH_TTL_MS}. */
  readonly ttlMs?: number;
}

/** A parsed command line. */
export type UalpnCommand =
  | { readonly kind: "auth"; readonly identifier: string; readonly digest: string }
  | { readonly kind: "unauth"; readonly identifier: string }
  | {
      readonly kind: "error";
      readonly command: string;
      readonly identifier?: string;
      readonly reply: string;
    };

const USAGE = "ERR usage: auth <ident> <auth> | unauth <ident>";
const IDENT_CHARS = /^[A-Za-z0-9_.:-]{1,250}$/;
const NEWLINE = 0x0a;
const enc = new TextEncoder();
const dec = new TextDecoder();

/** The identifier as stored, or `null` when alpnmux or ualpn would refuse it. */
function identifierOf(ident: string): string | null {
  if (!IDENT_CHARS.test(ident)) return null;
  try {
    const id = normalizeIdentifier(ident);
    if (id.type === "ip") return id.value;
    const ip = parseReverseIpName(id.value);
    if (ip !== null) return ip;
    // "127.000.0.1", "host.123": neither an address nor a host name.
    return /^\d+$/.test(id.value.slice(id.value.lastIndexOf(".") + 1)) ? null : id.value;
  } catch {
    return null;
  }
}

/**
 * Parses one command line (without its `\n`) as ualpn does: `strtok` on spaces and tabs, the
 * command, the identifier, then the digest for `auth` (extra words after it are ignored, as in
 * ualpn) or nothing more for `unauth`.
 *
 * @param line The line, `\r` already dropped.
 * @returns The command, or the error reply ualpn would give.
 * @example
 * ```ts
 * import { parseUalpnLine } from "@alpnmux/core/challenge";
 * parseUalpnLine("unauth A.Example.TEST"); // { kind: "unauth", identifier: "a.example.test" }
 * parseUalpnLine("hello"); // { kind: "error", command: "hello", reply: "ERR usage: auth <ident> <auth> | unauth <ident>" }
 * ```
 */
export function parseUalpnLine(line: string): UalpnCommand {
  const words = line.split(/[ \t]+/).filter((w) => w !== "");
  const [command = "", ident = "", auth] = words;
  if (command !== "auth" && command !== "unauth") return { kind: "error", command, reply: USAGE };
  const identifier = identifierOf(ident);
  if (identifier === null) return { kind: "error", command, reply: "ERR invalid ident" };
  if (command === "unauth") {
    return auth === undefined
      ? { kind: "unauth", identifier }
      : { kind: "error", command, identifier, reply: "ERR too many parameters" };
  }
  let digest: string | null = null;
  try {
    const v = parseChallengeValue(auth);
    if (v.format === "digest-base64url") digest = v.stored;
  } catch {
    // Not a value at all: ualpn's "invalid auth" too.
  }
  return digest === null
    ? { kind: "error", command, identifier, reply: "ERR invalid auth" }
    : { kind: "auth", identifier, digest };
}

/** One line of reply text, printable ASCII only (a store error message may hold anything). */
function oneLine(text: string): string {
  return text.replace(/[^\x20-\x7e]+/g, " ").slice(0, 200);
}

/**
 * One control connection: feed it the bytes read, write what it returns. Calls are handled in
 * order (each `receive` waits for the commands of the calls before it), so the adapter may
 * call it from its read callback without waiting.
 *
 * @example Partial lines wait for their newline
 * ```ts
 * import { MemoryChallengeStore, UalpnSession } from "@alpnmux/core/challenge";
 * const session = new UalpnSession({ store: new MemoryChallengeStore() });
 * const bytes = (s: string) => new TextEncoder().encode(s);
 * (await session.receive(bytes("unauth a.exa"))).bytes.length; // 0: no newline yet
 * new TextDecoder().decode((await session.receive(bytes("mple.test\n"))).bytes); // "ERR not found\n"
 * ```
 */
export class UalpnSession {
  readonly #store: Pick<ChallengeStore, "set" | "delete">;
  readonly #ttl: number;
  #buffer: Uint8Array = new Uint8Array(0);
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  /** @param options The store and the lifetime of an `auth`. */
  constructor(options: UalpnSessionOptions) {
    this.#store = options.store;
    this.#ttl = options.ttlMs || UALPN_AUTH_TTL_MS;
  }

  /** Whether the session refused more input (after `ERR too long`). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Takes the next bytes of the connection and handles every complete line.
   *
   * @param chunk Bytes as read (copied; the caller may reuse its buffer).
   * @returns The reply lines, whether to close after writing them, and the commands handled.
   *   Never rejects: store failures become `ERR …` replies.
   * @example
   * ```ts
   * import { MemoryChallengeStore, UalpnSession } from "@alpnmux/core/challenge";
   * const s = new UalpnSession({ store: new MemoryChallengeStore() });
   * const r = await s.receive(new TextEncoder().encode(`${"x".repeat(600)}`));
   * // r.close === true, r.bytes is "ERR too long\n"
   * ```
   */
  receive(chunk: Uint8Array): Promise<UalpnOutput> {
    const copy = chunk.slice();
    const run = this.#queue.then(() => this.#handle(copy));
    this.#queue = run;
    return run;
  }

  async #handle(chunk: Uint8Array): Promise<UalpnOutput> {
    if (this.#closed) return { bytes: new Uint8Array(0), close: true, events: [] };
    const joined = new Uint8Array(this.#buffer.length + chunk.length);
    joined.set(this.#buffer);
    joined.set(chunk, this.#buffer.length);
    const replies: string[] = [];
    const events: UalpnEvent[] = [];
    let start = 0;
    for (;;) {
      const nl = joined.indexOf(NEWLINE, start);
      const pending = (nl < 0 ? joined.length : nl) - start;
      if (pending > UALPN_MAX_LINE_BYTES) {
        this.#closed = true;
        this.#buffer = new Uint8Array(0);
        replies.push("ERR too long");
        events.push({ command: "", reply: "ERR too long" });
        break;
      }
      if (nl < 0) {
        this.#buffer = joined.slice(start);
        break;
      }
      let line = dec.decode(joined.subarray(start, nl));
      if (line.endsWith("\r")) line = line.slice(0, -1);
      start = nl + 1;
      const event = await this.#run(parseUalpnLine(line));
      replies.push(event.reply);
      events.push(event);
    }
    return {
      bytes: enc.encode(replies.map((r) => `${r}\n`).join("")),
      close: this.#closed,
      events,
    };
  }

  async #run(cmd: UalpnCommand): Promise<UalpnEvent> {
    if (cmd.kind === "error") {
      return {
        command: cmd.command,
        ...(cmd.identifier !== undefined ? { identifier: cmd.identifier } : {}),
        reply: cmd.reply,
      };
    }
    const { identifier } = cmd;
    try {
      if (cmd.kind === "auth") {
        await this.#store.set(identifier, cmd.digest, this.#ttl);
        return { command: "auth", identifier, reply: "OK" };
      }
      const removed = await this.#store.delete(identifier);
      return { command: "unauth", identifier, reply: removed ? "OK" : "ERR not found" };
    } catch (e) {
      const reason = oneLine(e instanceof Error ? e.message : String(e));
      return { command: cmd.kind, identifier, reply: `ERR challenge store unavailable: ${reason}` };
    }
  }
}
