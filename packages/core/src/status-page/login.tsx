/** @jsxRuntime automatic @jsxImportSource hono/jsx */
/**
 * The login form: one password field for the admin token, POSTed to `/login` (the only form
 * that works without a session; see `status-page/routes`).
 *
 * @example
 * ```ts
 * import { loginPageHtml } from "@alpnmux/core/status-page";
 * loginPageHtml({ error: "The token is not valid" }).includes('action="/login"'); // true
 * ```
 *
 * @module status-page/login
 */

import { htmlDocument } from "./layout.tsx";

/** What the login page says above the form. */
export interface LoginPageOptions {
  /** Shown in red: the last attempt failed. */
  readonly error?: string;
  /** Shown in grey: e.g. the session ended. */
  readonly notice?: string;
  /** Shown in the heading, if given. */
  readonly version?: string;
}

/**
 * Renders the login page.
 *
 * @param options Error or notice to show.
 * @returns The HTML text.
 * @example
 * ```ts
 * import { loginPageHtml } from "@alpnmux/core/status-page";
 * loginPageHtml().includes('type="password"'); // true
 * ```
 */
export function loginPageHtml(options: LoginPageOptions = {}): string {
  return htmlDocument(
    "alpnmux: log in",
    <main class="login">
      <section>
        <h2>alpnmux status{options.version !== undefined ? ` ${options.version}` : ""}</h2>
        {options.error !== undefined ? (
          <p class="error" role="alert">
            {options.error}
          </p>
        ) : null}
        {options.notice !== undefined ? <p class="note">{options.notice}</p> : null}
        <form method="post" action="/login">
          <label for="token">Admin token</label>
          <input
            id="token"
            name="token"
            type="password"
            autocomplete="current-password"
            required
            autofocus
            spellcheck={false}
          />
          <button type="submit" class="primary">
            Log in
          </button>
        </form>
        <p class="note">
          The token of the admin API (<code>ALPNMUX_ADMIN_TOKEN</code> or <code>admin.tokenFile</code>).
        </p>
      </section>
    </main>,
  );
}
