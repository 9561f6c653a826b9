// The engine's own cost per connection, without sockets: N connections through the Engine with a
// fake EngineIO (accept, an OpenSSL ClientHello, dial, PROXY v2 header, a request and a response,
// FIN both ways), logging configured at `warning` as the bench's alpnmux runs. Prints µs per
// connection; run under `bun --cpu-prof-md` or `deno run --cpu-prof` to see where it goes.
//   bun bench/engine-loop.ts [N]      deno run -A bench/engine-loop.ts [N]
import { readFileSync } from "node:fs";
import { configureLogging, createRouter, Engine, type EngineIO, parseConfig } from "@alpnmux/core";

const N = Number(globalThis.process?.argv?.[2] ?? 200_000);
const hello = new Uint8Array(
  readFileSync(new URL("../packages/core/src/_testdata/hellos/openssl-sni-h2.bin", import.meta.url)),
);
const request = new Uint8Array(200);
const response = new Uint8Array(1000);
await configureLogging({ level: "warning", format: "json", write: () => {} });

type S = { id: number };
const io: EngineIO<S> = {
  write: () => true,
  pause() {},
  resume() {},
  shutdown() {},
  close() {},
  dial() {},
  timer() {},
};
const router = createRouter({
  config: parseConfig({ default: { upstream: "127.0.0.1:9443", proxy: "v2" } }),
});
const engine = new Engine({ router, io });
const info = () => ({
  client: { address: "127.0.0.1", port: (40000 + Math.random() * 20000) | 0 },
  local: { address: "127.0.0.1", port: 8443 },
});
function one(i: number): void {
  const c = engine.open({ id: i }, info());
  engine.data(c, "client", hello);
  engine.dialed(c, { id: -i });
  engine.data(c, "client", request);
  engine.data(c, "upstream", response);
  engine.end(c, "client");
  engine.end(c, "upstream");
}
for (let i = 0; i < 20_000; i++) one(i);
const t0 = performance.now();
for (let i = 0; i < N; i++) one(i);
const us = ((performance.now() - t0) * 1000) / N;
console.log(`${us.toFixed(2)} µs per connection (${N}), open now ${engine.size}`);
const cpu = globalThis.process?.cpuUsage?.();
if (cpu)
  console.log(
    `process CPU ${((cpu.user + cpu.system) / (N + 20_000)).toFixed(2)} µs per connection (all threads, incl. warm-up)`,
  );
