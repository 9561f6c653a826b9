/**
 * @module process-errors.test — the command's process-level safety net, on the runtime under
 * test (Deno when `ALPNMUX_CMD` names it, else Bun): a script installs the listener package's
 * `keepRunningOnUncaughtErrors()` (as both CLIs do), throws from a timer, leaves a promise
 * rejection unhandled, and must keep running, log both through LogTape, and exit 0. Deno runs
 * it with `alpnmux-deno`'s permissions, so the handlers need nothing more.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { repoRoot, runProc, workspace } from "../_harness/proc.ts";
import { parseJson, routerCommand } from "../_harness/router.ts";

const ws = workspace("process-errors", after);
const deno = routerCommand().some((a) => /deno/.test(a));
const pkg = deno ? "deno-listener" : "bun-listener";

const script = `
import { configureLogging } from "@alpnmux/core";
import { keepRunningOnUncaughtErrors } from ${JSON.stringify(path.join(repoRoot, "packages", pkg, "src", "process-errors.ts"))};
await configureLogging({ level: "info", format: "json", write: (l) => console.log(l.trimEnd()) });
keepRunningOnUncaughtErrors();
setTimeout(() => {
  throw new TypeError("boom in a timer");
}, 10);
Promise.reject(new Error("nobody catches me"));
setTimeout(() => console.log("still running"), 200);
`;

test(`${deno ? "Deno" : "Bun"}: an uncaught exception and an unhandled rejection are logged; the process goes on`, async () => {
  const file = path.join(ws.dir, "fixture.ts");
  fs.writeFileSync(file, script);
  const bin = (name: string) => path.join(repoRoot, "node_modules", ".bin", name);
  const argv = deno
    ? [
        bin("deno"),
        "run",
        "--quiet",
        "--no-check",
        "--no-prompt",
        `--config=${path.join(repoRoot, "deno.json")}`,
        "--allow-net",
        "--allow-read",
        "--allow-env=ALPNMUX_ADMIN,ALPNMUX_ADMIN_TOKEN,LOG_TOKENS,LOG_STREAM",
        file,
      ]
    : [bin("bun"), file];
  const r = await runProc(ws, "fixture", argv, { timeoutMs: 20_000 });
  assert.equal(r.code, 0, r.output);
  assert.match(r.stdout, /^still running$/m, r.output);
  const logs = r.stdout
    .split("\n")
    .map(parseJson)
    .filter((l) => l !== undefined);
  const messages = logs.map((l) => `${l["level"]} ${l["logger"]} ${l["message"]}`);
  assert.ok(
    messages.some((m) =>
      /^ERROR alpnmux\.main uncaught exception \(process kept running\): .*boom in a timer/.test(m),
    ),
    messages.join("\n"),
  );
  assert.ok(
    messages.some((m) =>
      /^ERROR alpnmux\.main unhandled rejection \(process kept running\): .*nobody catches me/.test(m),
    ),
    messages.join("\n"),
  );
});
