/**
 * LogTape set-up for the `alpnmux` command: JSON lines or a readable text format, written by a
 * function the runtime adapter provides. With `format: "auto"` (the config default), the
 * adapter says whether its output is a terminal: pretty text for a person at a terminal, JSON
 * lines for journald and files. The core never looks at the runtime itself.
 *
 * @module logging
 */

import {
  configure,
  getTextFormatter,
  jsonLinesFormatter,
  type LogLevel,
  type LogRecord,
} from "@logtape/logtape";

/** The log formats a config may name: `auto` picks one of the others. */
export type LogFormat = "auto" | "json" | "pretty";

/**
 * Chooses the line format: `json` and `pretty` as given; `auto` is `pretty` when the output is
 * a terminal, else `json`.
 *
 * @param format The configured format (`log.format`).
 * @param isTty Whether the log output (stderr) is a terminal, as the runtime tells.
 * @returns `json` or `pretty`.
 * @example
 * ```ts
 * import { resolveLogFormat } from "@alpnmux/core";
 * resolveLogFormat("auto", true); // "pretty"
 * resolveLogFormat("auto", false); // "json" (journald, files, pipes)
 * resolveLogFormat("json", true); // "json"
 * ```
 */
export function resolveLogFormat(format: LogFormat, isTty: boolean): "json" | "pretty" {
  if (format === "auto") return isTty ? "pretty" : "json";
  return format;
}

/** Options of {@linkcode configureLogging}. */
export interface LoggingOptions {
  /** Lowest level written. */
  readonly level: LogLevel;
  /** `json`, `pretty`, or `auto` (see {@linkcode resolveLogFormat}). */
  readonly format: LogFormat;
  /** Whether the output is a terminal, for `auto`; if omitted, `false` (so `auto` is JSON). */
  readonly isTty?: boolean;
  /** Writes one formatted line, newline included. */
  readonly write: (line: string) => void;
}

/**
 * Configures LogTape for the `alpnmux` category. Values that come from clients (SNI, ALPN) are
 * escaped: JSON lines escape them by construction, and the text format quotes values as JSON.
 *
 * @param options `level`, `format`, `isTty` and `write`.
 * @returns Resolves once configured.
 * @example
 * ```ts
 * import { configureLogging } from "@alpnmux/core";
 * const isTty = false; // the runtime's answer, e.g. whether stderr is a terminal
 * await configureLogging({ level: "info", format: "auto", isTty, write: (line) => console.log(line.trimEnd()) });
 * ```
 */
export async function configureLogging(options: LoggingOptions): Promise<void> {
  const format =
    resolveLogFormat(options.format, options.isTty ?? false) === "json"
      ? jsonLinesFormatter
      : getTextFormatter({
          value: (v: unknown) =>
            typeof v === "string" ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v)),
        });
  await configure({
    reset: true,
    sinks: { out: (record: LogRecord) => options.write(format(record)) },
    loggers: [
      { category: ["alpnmux"], lowestLevel: options.level, sinks: ["out"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["out"] },
    ],
  });
}
