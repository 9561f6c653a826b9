/** @jsxRuntime automatic @jsxImportSource hono/jsx */
/**
 * The HTML shell every status page response uses: the doctype, `<head>` with the stylesheet
 * at `/status.css` (no inline style or script, so the strict CSP holds) and the body.
 *
 * @example
 * ```ts
 * import { htmlDocument } from "@alpnmux/core/status-page";
 * htmlDocument("alpnmux", null).startsWith("<!DOCTYPE html>"); // true
 * ```
 *
 * @module status-page/layout
 */

import type { Child } from "hono/jsx";

/** Where the stylesheet is served. */
export const STYLESHEET_PATH = "/status.css";

/**
 * Renders a whole page.
 *
 * @param title The `<title>`.
 * @param body What goes in `<body>`.
 * @returns The HTML text, doctype first.
 * @example
 * ```ts
 * import { htmlDocument } from "@alpnmux/core/status-page";
 * htmlDocument("<x>", "y").includes("<title>&lt;x&gt;</title>"); // true
 * ```
 */
export function htmlDocument(title: string, body: Child): string {
  const page = (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>{title}</title>
        <link rel="stylesheet" href={STYLESHEET_PATH} />
      </head>
      <body>{body}</body>
    </html>
  );
  return `<!DOCTYPE html>${page.toString()}`;
}
