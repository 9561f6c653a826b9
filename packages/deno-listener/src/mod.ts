/**
 * alpnmux on Deno (roadmap): the same core session driven by `Deno.listen`/`Deno.connect`
 * read/write loops. Until it lands, this entry point re-exports the runtime-agnostic core so
 * Deno programs can already sniff hellos and make routing decisions.
 *
 * @example
 * ```ts
 * import { sniffHello } from "@alpnmux/deno-listener";
 * sniffHello(new Uint8Array([0x16, 0x03, 0x01])).kind; // "need-more"
 * ```
 * @module
 */
export * from "@alpnmux/core";
