/**
 * The `alpnmux hello` report: one JSON object describing a first flight, for people debugging
 * a client (and for scoring the parser against captures).
 *
 * @module hello-report
 */

import type { SnifferOptions } from "./sniff.ts";
import { sniffHello } from "./sniff.ts";

/** A readable hello. */
export interface HelloReport {
  sni: string | null;
  alpn: readonly string[] | null;
  ech: boolean;
  /** Offered versions, newest first as sent: supported_versions, else legacy_version. */
  versions: string[];
  /** Bytes through the end of the record that ends the hello. */
  bytes: number;
  records: number;
}

/** An unreadable first flight. */
export interface HelloErrorReport {
  error: string;
  offset: number;
  message: string;
}

const VERSION_NAMES: Record<number, string> = {
  768: "SSLv3",
  769: "TLSv1.0",
  770: "TLSv1.1",
  771: "TLSv1.2",
  772: "TLSv1.3",
};

/**
 * Names a protocol version.
 * @param v Wire value.
 * @returns `"TLSv1.3"` etc., or hex such as `"0x7f1c"` for drafts and unknown values.
 * @example
 * ```ts
 * import { versionName } from "@alpnmux/core";
 * versionName(0x0304); // "TLSv1.3"
 * ```
 */
export function versionName(v: number): string {
  return VERSION_NAMES[v] ?? `0x${v.toString(16).padStart(4, "0")}`;
}

/**
 * Reads a first flight and reports the hello or the error. Bytes after the hello are ignored.
 *
 * @param bytes The raw first bytes a client sent.
 * @param options Sniffer caps.
 * @returns The report and the exit code (0 for a hello, 1 otherwise).
 * @example
 * ```ts
 * import { helloReport } from "@alpnmux/core";
 * const { report, exitCode } = helloReport(new Uint8Array([0x47, 0x45, 0x54]));
 * // report: { error: "not-tls", offset: 0, message: "..." }, exitCode: 1
 * ```
 */
export function helloReport(
  bytes: Uint8Array,
  options: SnifferOptions = {},
): { report: HelloReport | HelloErrorReport; exitCode: 0 | 1 } {
  const r = sniffHello(bytes, options);
  switch (r.kind) {
    case "hello": {
      const h = r.hello;
      return {
        exitCode: 0,
        report: {
          sni: h.serverName,
          alpn: h.alpn,
          ech: h.ech,
          versions: (h.supportedVersions ?? [h.legacyVersion]).map(versionName),
          bytes: r.helloBytes,
          records: r.records,
        },
      };
    }
    case "need-more":
      return {
        exitCode: 1,
        report: {
          error: "truncated",
          offset: bytes.length,
          message: `Cannot parse ClientHello: the input ends after ${bytes.length} bytes, inside the ClientHello`,
        },
      };
    case "not-tls":
      return {
        exitCode: 1,
        report: {
          error: "not-tls",
          offset: 0,
          message: `Cannot parse ClientHello: first byte 0x${(bytes[0] ?? 0).toString(16).padStart(2, "0")} is not a TLS handshake record (0x16)`,
        },
      };
    case "invalid":
    case "too-large":
      return {
        exitCode: 1,
        report: { error: r.error.code, offset: r.error.offset, message: r.error.message },
      };
  }
}
