import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { planListeners } from "./listen-plan.ts";

describe("planListeners()", () => {
  const both = [
    { host: "::", port: 443 },
    { host: "0.0.0.0", port: 443 },
  ];
  test("[::] and 0.0.0.0 on one port: IPv6-only plus IPv4 where the runtime can", () => {
    assert.deepEqual(planListeners(both), [
      { host: "::", port: 443, ipv6Only: true },
      { host: "0.0.0.0", port: 443, ipv6Only: false },
    ]);
  });
  test("one dual-stack socket where it cannot (Deno)", () => {
    assert.deepEqual(planListeners(both, { ipv6Only: false }), [{ host: "::", port: 443, ipv6Only: false }]);
  });
  test("an empty host means [::]; duplicates are dropped", () => {
    assert.deepEqual(
      planListeners([
        { host: "", port: 8443 },
        { host: "::", port: 8443 },
        { host: "127.0.0.1", port: 8443 },
      ]),
      [
        { host: "::", port: 8443, ipv6Only: false },
        { host: "127.0.0.1", port: 8443, ipv6Only: false },
      ],
    );
  });
});
