/**
 * Parser micro-benchmark (mitata) on real captured hellos. Runs unchanged on Bun, Node (tsx)
 * and Deno: `npm run bench` runs it on all three.
 *
 * @module parse.bench
 */
import { readFileSync } from "node:fs";
import { bench, do_not_optimize, run, summary } from "mitata";
import { parseClientHello } from "../src/clienthello.ts";
import { createSniffer, sniffHello } from "../src/sniff.ts";

const dir = new URL("../src/_testdata/hellos/", import.meta.url);
const load = (name: string) => new Uint8Array(readFileSync(new URL(`${name}.bin`, dir)));
const chromium = load("chromium");
const pebble = load("go-pebble-va");
const multi = load("chromium-multirecord");
const chromiumMsg = chromium.subarray(5);

summary(() => {
  bench(`parseClientHello: chromium PQ+ECH ${chromium.length} B (no copy)`, () =>
    do_not_optimize(parseClientHello(chromiumMsg)),
  );
  bench(`sniff (copy + frame + parse): chromium ${chromium.length} B`, () =>
    do_not_optimize(sniffHello(chromium)),
  );
  bench(`sniff: pebble validator ${pebble.length} B`, () => do_not_optimize(sniffHello(pebble)));
  bench(`sniff: chromium in 3 records ${multi.length} B`, () => do_not_optimize(sniffHello(multi)));
  bench("sniff: chromium in 2 TCP segments", () => {
    const s = createSniffer();
    s.push(chromium.subarray(0, 1400));
    return do_not_optimize(s.push(chromium.subarray(1400)));
  });
});

const runtime =
  "Bun" in globalThis
    ? "bun"
    : "Deno" in globalThis
      ? "deno"
      : `node ${(globalThis as { process?: { version: string } }).process?.version}`;
const res = await run({ format: "quiet" } as Parameters<typeof run>[0]);
for (const b of res.benchmarks) {
  const stats = b.runs[0]?.stats;
  if (!stats) continue;
  console.log(
    `BENCH ${runtime} | ${b.alias} | median ${(stats.p50 / 1000).toFixed(3)} us | avg ${(stats.avg / 1000).toFixed(3)} us | p99 ${(stats.p99 / 1000).toFixed(3)} us`,
  );
}
