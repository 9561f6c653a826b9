/**
 * Parse one ClientHello handshake message (RFC 8446, Section 4.1.2), strictly where the RFCs
 * are strict and following Go's `crypto/tls` checks: no duplicate extensions, non-empty SNI and
 * ALPN lists, a single `host_name`, no trailing dot, no empty protocol, nothing left over.
 * Unknown extensions are ignored, and GREASE values (RFC 8701) are left out of every list. The
 * `host_name` follows the same rule as route patterns (`findHostNameIssue` in hostname.ts).
 *
 * @module clienthello
 */

import { ByteReader } from "./bytes.ts";
import { parseClientHelloFast } from "./clienthello-fast.ts";
import {
  type ClientHello,
  type KeyShareEntry,
  type MutableClientHello,
  newClientHello,
} from "./clienthello-types.ts";
import { ExtensionType, HandshakeType, isGrease } from "./constants.ts";
import { ClientHelloError, type ClientHelloErrorCode } from "./errors.ts";
import { findHostNameIssue, type HostNameIssueCode, MAX_HOST_NAME_LENGTH } from "./hostname.ts";

export type { ClientHello, KeyShareEntry } from "./clienthello-types.ts";

/** Longest host name in SNI, in text form without a trailing dot (RFC 1035: 255 octets on the wire). */
export const MAX_SERVER_NAME_LENGTH: number = MAX_HOST_NAME_LENGTH;

/**
 * Parses a complete ClientHello handshake message: the 4-byte handshake header and its body,
 * already reassembled from records.
 *
 * @param message The handshake message (type, uint24 length, body). Not copied: byte fields of
 *   the result are views into it.
 * @param toStream Maps an index in `message` to a byte offset in the connection's stream for
 *   error offsets: a function, or a number to add (e.g. 5 for a hello in one record); if
 *   omitted, offsets are indexes in `message`.
 * @returns The parsed hello.
 * @throws {ClientHelloError} When the message is not a well-formed ClientHello.
 * @example Parse a hello taken from a record
 * ```ts
 * import { parseClientHello } from "@alpnmux/core";
 * const text = (s: string) => [...new TextEncoder().encode(s)];
 * // A minimal TLS 1.3 ClientHello in one record: SNI "a.example", ALPN "h2".
 * const record = new Uint8Array([
 *   0x16, 3, 1, 0, 81, // record header: handshake, 81 bytes
 *   1, 0, 0, 77, 3, 3, ...new Array<number>(32).fill(0), 0, // ClientHello, legacy_version, random, session id
 *   0, 2, 0x13, 0x01, 1, 0, // cipher_suites, compression_methods
 *   0, 34, // extensions:
 *   0, 0, 0, 14, 0, 12, 0, 0, 9, ...text("a.example"), // server_name
 *   0, 16, 0, 5, 0, 3, 2, ...text("h2"), // application_layer_protocol_negotiation
 *   0, 43, 0, 3, 2, 3, 4, // supported_versions: TLS 1.3
 * ]);
 * const hello = parseClientHello(record.subarray(5), 5);
 * console.log(hello.serverName, hello.alpn); // "a.example" ["h2"]
 * ```
 */
export function parseClientHello(
  message: Uint8Array,
  toStream: ((index: number) => number) | number = 0,
): ClientHello {
  // The common, well-formed hello: one pass, no reader objects. Anything else is read again
  // below, which reports the error.
  return parseClientHelloFast(message) ?? parseClientHelloChecked(message, toStream);
}

/**
 * The checked parser alone, without the fast path {@linkcode parseClientHello} tries first:
 * the same result, and every error with its stream offset and message (slower: a reader object
 * per vector).
 *
 * @param message The handshake message, as for {@linkcode parseClientHello}.
 * @param toStream Index to stream offset, as for {@linkcode parseClientHello}.
 * @returns The parsed hello.
 * @throws {ClientHelloError} When the message is not a well-formed ClientHello.
 * @example
 * ```ts
 * import { ClientHelloError, parseClientHelloChecked } from "@alpnmux/core";
 * try {
 *   parseClientHelloChecked(new Uint8Array([1, 0, 0, 1, 3]));
 * } catch (e) {
 *   if (e instanceof ClientHelloError) console.log(e.code); // "truncated"
 * }
 * ```
 */
export function parseClientHelloChecked(
  message: Uint8Array,
  toStream: ((index: number) => number) | number = 0,
): ClientHello {
  const r = new ByteReader(message, 0, message.length, toStream);
  const type = r.u8("handshake type");
  if (type !== HandshakeType.clientHello) {
    throw new ClientHelloError(
      "not-client-hello",
      r.toStream(0),
      `handshake message type ${type} is not ClientHello (1)`,
    );
  }
  const body = r.u24Prefixed("ClientHello");
  r.end("ClientHello");

  const legacyVersion = body.u16("legacy_version");
  const random = body.bytes(32, "random");
  const sidAt = body.offset;
  const sessionId = body.bytes(body.u8("legacy_session_id length"), "legacy_session_id");
  if (sessionId.length > 32) {
    // RFC 8446, Section 4.1.2: opaque legacy_session_id<0..32>.
    throw new ClientHelloError(
      "bad-session-id",
      sidAt,
      `legacy_session_id is ${sessionId.length} bytes, more than 32`,
    );
  }

  // RFC 8446, Section 4.1.2: CipherSuite cipher_suites<2..2^16-2>.
  const suitesAt = body.offset;
  const suites = body.u16Prefixed("cipher_suites");
  if (suites.empty) throw emptyList("cipher_suites", suitesAt);
  const cipherSuites: number[] = [];
  while (!suites.empty) {
    const s = suites.u16("cipher suite");
    if (!isGrease(s)) cipherSuites.push(s);
  }

  // opaque legacy_compression_methods<1..2^8-1>.
  const compAt = body.offset;
  const comp = body.u8Prefixed("legacy_compression_methods");
  if (comp.empty) throw emptyList("legacy_compression_methods", compAt);
  const compressionMethods: number[] = [];
  while (!comp.empty) compressionMethods.push(comp.u8("compression method"));

  const hello = newClientHello(legacyVersion, random, sessionId, cipherSuites, compressionMethods, message);

  // Extensions are optional before TLS 1.3 (RFC 5246, Section 7.4.1.2).
  if (body.empty) return hello;
  const exts = body.u16Prefixed("extensions");
  body.end("extensions");

  const seen: number[] = [];
  try {
    readExtensions(exts, hello, seen);
  } finally {
    for (const t of seen) SEEN[t >>> 5] = 0;
  }
  return hello;
}

/**
 * One bit per extension type (2^16 bits), shared by every call: parsing is synchronous, and
 * each call clears the bits it set before it returns or throws. An array scan would be
 * quadratic (a 16 KiB hello holds ~4000 empty extensions); a fresh Set costs more per hello.
 */
const SEEN = new Uint32Array(65536 / 32);

/** Reads the extensions block into `hello`; pushes each type to `seen` as it marks it in SEEN. */
function readExtensions(exts: ByteReader, hello: MutableClientHello, seen: number[]): void {
  const extensions = hello.extensions as number[];
  while (!exts.empty) {
    const typeAt = exts.pos;
    const ext = exts.u16("extension type");
    const len = exts.u16("extension data length");
    const start = exts.pos;
    exts.skipBytes(len, "extension data");
    const word = ext >>> 5;
    const bit = 1 << (ext & 31);
    if ((SEEN[word] as number) & bit) {
      // RFC 8446, Section 4.2: no more than one extension of the same type.
      throw new ClientHelloError(
        "duplicate-extension",
        exts.toStream(typeAt),
        `extension ${ext}${extName(ext)} appears twice`,
      );
    }
    SEEN[word] = (SEEN[word] as number) | bit;
    seen.push(ext);
    if (isGrease(ext)) continue;
    extensions.push(ext);
    // Ignore unknown extensions (GREASE, future ones) without looking inside.
    if (!HANDLED.has(ext)) continue;
    const data = exts.range(start, start + len);
    switch (ext) {
      case ExtensionType.serverName:
        hello.serverName = readServerName(data);
        break;
      case ExtensionType.alpn:
        hello.alpn = readAlpn(data);
        break;
      case ExtensionType.supportedVersions: {
        // RFC 8446, Section 4.2.1: ProtocolVersion versions<2..254>.
        hello.supportedVersions = readU16List(data, 1, "supported_versions");
        break;
      }
      case ExtensionType.supportedGroups:
        // RFC 8446, Section 4.2.7: NamedGroup named_group_list<2..2^16-1>.
        hello.supportedGroups = readU16List(data, 2, "supported_groups");
        break;
      case ExtensionType.signatureAlgorithms:
        // RFC 8446, Section 4.2.3: supported_signature_algorithms<2..2^16-2>.
        hello.signatureAlgorithms = readU16List(data, 2, "signature_algorithms");
        break;
      case ExtensionType.keyShare:
        hello.keyShares = readKeyShares(data);
        break;
      case ExtensionType.pskKeyExchangeModes: {
        // RFC 8446, Section 4.2.9: PskKeyExchangeMode ke_modes<1..255>.
        const at = data.offset;
        const modes = data.u8Prefixed("psk_key_exchange_modes");
        if (modes.empty) throw emptyList("psk_key_exchange_modes", at);
        const list: number[] = [];
        while (!modes.empty) list.push(modes.u8("psk mode"));
        hello.pskKeyExchangeModes = list;
        break;
      }
      case ExtensionType.earlyData:
        // RFC 8446, Section 4.2.10: empty in a ClientHello.
        if (!data.empty) {
          throw new ClientHelloError(
            "bad-early-data",
            data.offset,
            "early_data in a ClientHello must be empty",
          );
        }
        hello.earlyData = true;
        break;
      case ExtensionType.preSharedKey:
        // RFC 8446, Section 4.2.11: pre_shared_key MUST be the last extension.
        if (!exts.empty) {
          throw new ClientHelloError(
            "psk-not-last",
            exts.toStream(typeAt),
            "pre_shared_key (41) is not the last extension",
          );
        }
        data.pos = data.limit;
        break;
      case ExtensionType.encryptedClientHello:
        // draft-ietf-tls-esni: the outer SNI is the public name; route by it.
        hello.ech = true;
        data.pos = data.limit;
        break;
    }
    // Build the message only on failure: this loop is the hot path.
    if (data.pos !== data.limit) data.end(`extension ${ext}${extName(ext)}`);
  }
}

/** RFC 6066, Section 3: ServerNameList with at most one host_name. */
function readServerName(data: ByteReader): string | null {
  const listAt = data.offset;
  const list = data.u16Prefixed("server_name_list");
  if (list.empty) {
    throw new ClientHelloError(
      "empty-server-name-list",
      listAt,
      "extension 0 (server_name) has an empty list",
    );
  }
  let host: string | null = null;
  while (!list.empty) {
    const entryAt = list.offset;
    const nameType = list.u8("server name type");
    const name = list.u16Prefixed("server name");
    if (nameType !== 0) {
      // Only host_name (0) is defined; other types are skipped.
      name.pos = name.limit;
      continue;
    }
    if (host !== null) {
      throw new ClientHelloError(
        "multiple-host-names",
        entryAt,
        "extension 0 (server_name) has more than one host_name",
      );
    }
    host = readHostName(name);
  }
  return host;
}

/** How each broken part of the host-name rule is reported for SNI. */
const HOST_NAME_CODES: Record<HostNameIssueCode, ClientHelloErrorCode> = {
  empty: "empty-server-name",
  "too-long": "server-name-too-long",
  "label-too-long": "server-name-too-long",
  "trailing-dot": "server-name-trailing-dot",
  "empty-label": "server-name-empty-label",
  "bad-character": "server-name-bad-character",
};

/**
 * A host name per RFC 6066, Section 3 ("HostName" is a fully qualified DNS name without a
 * trailing dot), checked by the rule route patterns follow too ({@linkcode findHostNameIssue}):
 * labels of 1-63 bytes of visible ASCII, so `_` and other bytes real clients send are read,
 * while NUL, control bytes, space and non-ASCII bytes are refused. Returned in lower case.
 */
function readHostName(name: ByteReader): string {
  const b = name.buf;
  const start = name.pos;
  const end = name.limit;
  const issue = findHostNameIssue(b.subarray(start, end));
  if (issue !== null) {
    throw new ClientHelloError(
      HOST_NAME_CODES[issue.code],
      name.toStream(start + issue.index),
      `host_name ${issue.reason}`,
    );
  }
  // Build the string once; all bytes are ASCII here.
  let out = "";
  for (let i = start; i < end; i++) {
    const c = b[i] as number;
    out += String.fromCharCode(c >= 0x41 && c <= 0x5a ? c | 0x20 : c);
  }
  name.pos = end;
  return out;
}

/** RFC 7301, Section 3.1: ProtocolName protocol_name_list<2..2^16-1>, ProtocolName<1..2^8-1>. */
function readAlpn(data: ByteReader): string[] {
  const listAt = data.offset;
  const list = data.u16Prefixed("protocol_name_list");
  if (list.empty) {
    throw new ClientHelloError("empty-alpn-list", listAt, "extension 16 (ALPN) has an empty protocol list");
  }
  const out: string[] = [];
  while (!list.empty) {
    const at = list.offset;
    const p = list.u8Prefixed("protocol name");
    if (p.empty) {
      throw new ClientHelloError("empty-alpn-protocol", at, "extension 16 (ALPN) has an empty protocol name");
    }
    const b = p.buf;
    // RFC 8701, Section 3.3: GREASE ALPN ids are two bytes 0x?A?A.
    if (p.remaining === 2 && isGrease(((b[p.pos] as number) << 8) | (b[p.pos + 1] as number))) continue;
    let s = "";
    for (let i = p.pos; i < p.limit; i++) s += String.fromCharCode(b[i] as number);
    out.push(s);
  }
  return out;
}

/** A non-empty list of uint16 values behind a `prefix`-byte length. */
function readU16List(data: ByteReader, prefix: 1 | 2, what: string): number[] {
  const at = data.offset;
  const list = prefix === 1 ? data.u8Prefixed(what) : data.u16Prefixed(what);
  if (list.empty) throw emptyList(what, at);
  const out: number[] = [];
  while (!list.empty) {
    const v = list.u16(what);
    if (!isGrease(v)) out.push(v);
  }
  return out;
}

/** RFC 8446, Section 4.2.8: KeyShareEntry client_shares<0..2^16-1>; key_exchange<1..2^16-1>. */
function readKeyShares(data: ByteReader): KeyShareEntry[] {
  const list = data.u16Prefixed("client_shares");
  const out: KeyShareEntry[] = [];
  while (!list.empty) {
    const group = list.u16("key share group");
    const at = list.offset;
    const len = list.u16("key_exchange length");
    if (len === 0) {
      throw new ClientHelloError("empty-key-exchange", at, `key share for group ${group} is empty`);
    }
    const keyExchange = list.bytes(len, "key_exchange");
    if (!isGrease(group)) out.push({ group, keyExchange });
  }
  return out;
}

function emptyList(what: string, offset: number): ClientHelloError {
  return new ClientHelloError("empty-list", offset, `${what} is empty`);
}

const HANDLED: ReadonlySet<number> = new Set([
  ExtensionType.serverName,
  ExtensionType.alpn,
  ExtensionType.supportedVersions,
  ExtensionType.supportedGroups,
  ExtensionType.signatureAlgorithms,
  ExtensionType.keyShare,
  ExtensionType.pskKeyExchangeModes,
  ExtensionType.earlyData,
  ExtensionType.preSharedKey,
  ExtensionType.encryptedClientHello,
]);

const EXT_NAMES: Record<number, string> = {
  0: "server_name",
  10: "supported_groups",
  13: "signature_algorithms",
  16: "ALPN",
  41: "pre_shared_key",
  42: "early_data",
  43: "supported_versions",
  45: "psk_key_exchange_modes",
  51: "key_share",
  65037: "encrypted_client_hello",
};

function extName(type: number): string {
  const n = EXT_NAMES[type];
  return n ? ` (${n})` : "";
}
