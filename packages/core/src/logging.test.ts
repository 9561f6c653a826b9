import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { getLogger, reset } from "@logtape/logtape";
import { configureLogging, type LogFormat, resolveLogFormat } from "./logging.ts";

describe("resolveLogFormat()", () => {
  const table: [LogFormat, boolean, "json" | "pretty"][] = [
    ["auto", true, "pretty"],
    ["auto", false, "json"],
    ["json", true, "json"],
    ["json", false, "json"],
    ["pretty", true, "pretty"],
    ["pretty", false, "pretty"],
  ];
  for (const [format, isTty, want] of table) {
    test(`resolveLogFormat("${format}", ${isTty}) is "${want}"`, () => {
      assert.equal(resolveLogFormat(format, isTty), want);
    });
  }
});

describe("configureLogging()", () => {
  after(() => reset());

  async function lineFor(options: { format: LogFormat; isTty?: boolean }): Promise<string> {
    const lines: string[] = [];
    await configureLogging({ level: "info", ...options, write: (l) => lines.push(l) });
    getLogger(["alpnmux", "test"]).info("hello {sni}", { sni: 'a"b' });
    assert.equal(lines.length, 1);
    return lines[0] as string;
  }

  test("auto writes JSON lines when the output is not a terminal (and when isTty is omitted)", async () => {
    for (const line of [await lineFor({ format: "auto", isTty: false }), await lineFor({ format: "auto" })]) {
      const rec = JSON.parse(line) as { level: string; properties: { sni: string } };
      assert.equal(rec.level, "INFO");
      assert.equal(rec.properties.sni, 'a"b');
    }
  });

  test("auto writes pretty text on a terminal, client values quoted as JSON", async () => {
    const line = await lineFor({ format: "auto", isTty: true });
    assert.throws(() => JSON.parse(line));
    assert.match(line, /hello "a\\"b"/);
    assert.ok(line.endsWith("\n"));
  });

  test("an explicit format wins over the terminal check", async () => {
    const json = await lineFor({ format: "json", isTty: true });
    assert.equal((JSON.parse(json) as { level: string }).level, "INFO");
    const pretty = await lineFor({ format: "pretty", isTty: false });
    assert.throws(() => JSON.parse(pretty));
  });
});
