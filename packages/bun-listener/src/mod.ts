/**
 * alpnmux on Bun: `serve()` runs the core connection engine on `Bun.listen`/`Bun.connect`.
 *
 * @example
 * ```ts
 * import { loadConfig, DEFAULT_CONFIG_YAML } from "@alpnmux/core";
 * import { serve } from "@alpnmux/bun-listener";
 * const server = serve({ config: loadConfig(DEFAULT_CONFIG_YAML) });
 * process.on("SIGTERM", () => server.stop());
 * ```
 * @module
 */
export type { ServeOptions, Server } from "@alpnmux/core";
export { serve } from "./listener.ts";
