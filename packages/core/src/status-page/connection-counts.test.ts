import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { mergeSnapshots, renderSnapshot } from "../metrics.ts";
import { createRouterMetrics } from "../router-metrics.ts";
import { connectionCounts } from "./connection-counts.ts";

describe("connectionCounts()", () => {
  test("reads the router's own registry", () => {
    const m = createRouterMetrics();
    m.active.set(4);
    m.helloPhase.set(1);
    m.connections.labels({ route: "web", outcome: "spliced" }).inc(5);
    m.connections.labels({ route: "acme", outcome: "spliced" }).inc(2);
    m.connections.labels({ route: "none", outcome: "hello-timeout" }).inc(1);
    m.bytes.labels({ route: "web", direction: "upstream" }).inc(999);
    assert.deepEqual(connectionCounts(m.registry.render()), {
      active: 4,
      inHello: 1,
      closed: [
        {
          outcome: "spliced",
          count: 7,
          byRoute: [
            { route: "web", count: 5 },
            { route: "acme", count: 2 },
          ],
        },
        { outcome: "hello-timeout", count: 1, byRoute: [{ route: "none", count: 1 }] },
      ],
    });
  });

  test("reads the primary's sum over workers", () => {
    const a = createRouterMetrics();
    const b = createRouterMetrics();
    a.active.set(2);
    b.active.set(3);
    a.connections.labels({ route: "web", outcome: "spliced" }).inc(1);
    b.connections.labels({ route: "web", outcome: "spliced" }).inc(4);
    const text = renderSnapshot(mergeSnapshots([a.registry.snapshot(), b.registry.snapshot()]));
    const k = connectionCounts(text);
    assert.equal(k.active, 5);
    assert.deepEqual(k.closed, [{ outcome: "spliced", count: 5, byRoute: [{ route: "web", count: 5 }] }]);
  });

  test("escaped label values, timestamps, comments and junk lines", () => {
    const text = [
      "# HELP alpnmux_connections_total x",
      'alpnmux_connections_total{route="a\\"b\\\\c",outcome="spliced"} 3 1700000000000',
      'alpnmux_connections_total{route="x",outcome="spliced",} 1',
      "alpnmux_connections_total{broken 9",
      "alpnmux_connections_active NaN",
      "garbage",
    ].join("\n");
    const k = connectionCounts(text);
    assert.equal(k.active, 0);
    assert.deepEqual(k.closed, [
      {
        outcome: "spliced",
        count: 4,
        byRoute: [
          { route: 'a"b\\c', count: 3 },
          { route: "x", count: 1 },
        ],
      },
    ]);
  });
});
