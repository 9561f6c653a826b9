/**
 * LogTape set-up for the `alpnmux` command: JSON lines or a readable text format, written by a
 * function the runtime adapter provides.
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

/**
 * Configures LogTape for the `alpnmux` category. Values that come from clients (SNI, ALPN) are
 * escaped: JSON lines escape them by construction, and the text format quotes values as JSON.
 *
 * @param options `level`, `format` (`json` or `pretty`), and `write` (one formatted line, newline included).
 * @returns Resolves once configured.
 * @example
 * ```ts
 * import { configureLogging } from "@alpnmux/core";
 * await configureLogging({ level: "info", format: "json", write: (line) => console.log(line.trimEnd()) });
 * ```
 */
export async function configureLogging(options: {
  level: LogLevel;
  format: "json" | "pretty";
  write: (line: string) => void;
}): Promise<void> {
  const format =
    options.format === "json"
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
