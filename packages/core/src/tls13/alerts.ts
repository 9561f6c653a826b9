/**
 * TLS alerts (RFC 8446, Section 6): the descriptions the challenge responder sends, the typed
 * {@linkcode TlsAlert} error its state machine throws internally, and plaintext alert records.
 *
 * @example Turn a failure into the bytes to send
 * ```ts
 * import { AlertDescription, plaintextAlertRecord } from "./alerts.ts";
 * const bytes = plaintextAlertRecord(AlertDescription.protocolVersion); // 15 03 03 00 02 02 46
 * ```
 *
 * @module tls13/alerts
 */

/** Alert descriptions (RFC 8446, Section 6; RFC 7301 for no_application_protocol). */
export const AlertDescription = {
  closeNotify: 0,
  unexpectedMessage: 10,
  badRecordMac: 20,
  recordOverflow: 22,
  handshakeFailure: 40,
  badCertificate: 42,
  illegalParameter: 47,
  decodeError: 50,
  decryptError: 51,
  protocolVersion: 70,
  internalError: 80,
  userCanceled: 90,
  missingExtension: 109,
  unrecognizedName: 112,
  noApplicationProtocol: 120,
} as const;

/** The name of an alert description this module knows, e.g. `"decryptError"`. */
export type AlertName = keyof typeof AlertDescription;

/** A known alert description number. */
export type AlertCode = (typeof AlertDescription)[AlertName];

/**
 * The name of an alert number, or `"alert<N>"` for numbers this module does not list.
 *
 * @param description The alert description byte.
 * @returns Its camel-case name, e.g. `"decodeError"` for 50.
 * @example
 * ```ts
 * alertName(120); // "noApplicationProtocol"
 * ```
 */
export function alertName(description: number): string {
  for (const [k, v] of Object.entries(AlertDescription)) if (v === description) return k;
  return `alert${description}`;
}

/**
 * A fatal handshake failure: the state machine throws it, the responder turns it into an
 * alert record. `code` is the alert name (a closed union), `description` its number.
 *
 * @example
 * ```ts
 * try {
 *   throw new TlsAlert("protocolVersion", "the client does not offer TLS 1.3");
 * } catch (e) {
 *   if (e instanceof TlsAlert) console.log(e.code, e.description); // "protocolVersion" 70
 * }
 * ```
 */
export class TlsAlert extends Error {
  /** The alert to send, by name. */
  readonly code: AlertName;
  /** The alert description byte. */
  readonly description: AlertCode;

  /**
   * @param code The alert to send.
   * @param reason Why, for logs (never sent on the wire).
   */
  constructor(code: AlertName, reason: string) {
    super(`TLS handshake failed (${code}): ${reason}`);
    this.name = "TlsAlert";
    this.code = code;
    this.description = AlertDescription[code];
  }
}

/**
 * The body of a fatal alert (`AlertLevel.fatal` = 2, description), or of close_notify
 * (level 1 = warning, as implementations send it).
 *
 * @param description The alert description.
 * @returns The two-byte Alert structure.
 * @example
 * ```ts
 * alertBody(0); // Uint8Array [1, 0] (close_notify)
 * alertBody(40); // Uint8Array [2, 40]
 * ```
 */
export function alertBody(description: number): Uint8Array<ArrayBuffer> {
  return Uint8Array.of(description === AlertDescription.closeNotify ? 1 : 2, description);
}

/**
 * A whole plaintext alert record (before any key is in use): type 21, version 0x0303, length 2.
 *
 * @param description The alert description.
 * @returns Seven bytes ready to write to the socket.
 * @example
 * ```ts
 * plaintextAlertRecord(AlertDescription.handshakeFailure); // 15 03 03 00 02 02 28
 * ```
 */
export function plaintextAlertRecord(description: number): Uint8Array<ArrayBuffer> {
  return Uint8Array.of(21, 3, 3, 0, 2, ...alertBody(description));
}
