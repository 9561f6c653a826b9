/**
 * alpnmux on Deno: `serve()` runs the router on `Deno.listen`/`Deno.connect` with read/write
 * loops (backpressure by awaiting each write, half-close by `closeWrite()`).
 *
 * @example
 * ```ts
 * import { loadConfig, DEFAULT_CONFIG_YAML } from "@alpnmux/core";
 * import { serve } from "@alpnmux/deno-listener";
 * const server = serve({ config: loadConfig(DEFAULT_CONFIG_YAML) });
 * Deno.addSignalListener("SIGTERM", () => server.stop());
 * ```
 * @module
 */
export type { ServeOptions, Server } from "@alpnmux/core";
export { serve } from "./listener.ts";
