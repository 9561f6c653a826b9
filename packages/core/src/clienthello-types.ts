/**
 * The shape of a parsed ClientHello.
 *
 * @module clienthello-types
 */

/** One entry of the key_share extension (RFC 8446, Section 4.2.8). */
export interface KeyShareEntry {
  /** Named group code point, e.g. 0x001d (x25519), 0x11ec (X25519MLKEM768). */
  readonly group: number;
  /** The key_exchange bytes (a view into the sniffer's buffer). */
  readonly keyExchange: Uint8Array;
}

/**
 * A parsed ClientHello. GREASE values (RFC 8701) are left out of every list.
 * Byte fields are views into the buffer the hello was parsed from: they stay valid as long as
 * that buffer is not reused (the sniffer never reuses its buffer).
 */
export interface ClientHello {
  /** legacy_version, e.g. 0x0303. */
  readonly legacyVersion: number;
  /** The 32-byte client random. */
  readonly random: Uint8Array;
  /** legacy_session_id (0-32 bytes). Non-empty means a middlebox-compatible TLS 1.3 client. */
  readonly sessionId: Uint8Array;
  /** cipher_suites in the client's order. */
  readonly cipherSuites: readonly number[];
  /** legacy_compression_methods. */
  readonly compressionMethods: readonly number[];
  /** Extension types in the order sent. */
  readonly extensions: readonly number[];
  /** The host_name of server_name (RFC 6066), lower-cased; null when absent. */
  readonly serverName: string | null;
  /** ALPN protocol names in order (RFC 7301); null when the extension is absent. */
  readonly alpn: readonly string[] | null;
  /** supported_versions (RFC 8446, Section 4.2.1); null when absent. */
  readonly supportedVersions: readonly number[] | null;
  /** supported_groups; null when absent. */
  readonly supportedGroups: readonly number[] | null;
  /** signature_algorithms; null when absent. */
  readonly signatureAlgorithms: readonly number[] | null;
  /** key_share client_shares; null when absent. */
  readonly keyShares: readonly KeyShareEntry[] | null;
  /** psk_key_exchange_modes; null when absent. */
  readonly pskKeyExchangeModes: readonly number[] | null;
  /** Whether encrypted_client_hello (0xfe0d) is present (real ECH or ECH GREASE). */
  readonly ech: boolean;
  /** Whether the client offered 0-RTT early_data. */
  readonly earlyData: boolean;
  /**
   * The whole handshake message (4-byte header + body), reassembled when it spanned records.
   * This is what a TLS server hashes into its transcript.
   */
  readonly message: Uint8Array;
}

/** A {@linkcode ClientHello} while a parser fills it in (internal to the parsers). */
export type MutableClientHello = { -readonly [K in keyof ClientHello]: ClientHello[K] };

/**
 * The hello both parsers start from: the fixed fields read, no extension seen yet (positional
 * parameters: it runs once per connection and allocates only the result).
 */
export function newClientHello(
  legacyVersion: number,
  random: Uint8Array,
  sessionId: Uint8Array,
  cipherSuites: number[],
  compressionMethods: number[],
  message: Uint8Array,
): MutableClientHello {
  return {
    legacyVersion,
    random,
    sessionId,
    cipherSuites,
    compressionMethods,
    extensions: [],
    serverName: null,
    alpn: null,
    supportedVersions: null,
    supportedGroups: null,
    signatureAlgorithms: null,
    keyShares: null,
    pskKeyExchangeModes: null,
    ech: false,
    earlyData: false,
    message,
  };
}
