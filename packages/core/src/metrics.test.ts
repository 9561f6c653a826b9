import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { Counter, Gauge, Histogram, MetricsError, PROMETHEUS_CONTENT_TYPE, Registry } from "./metrics.ts";

const code = (c: string) => (e: unknown) =>
  e instanceof MetricsError && e.code === c && e.message.startsWith("Cannot use metric: ");

describe("Counter", () => {
  test("Counter renders HELP, TYPE and labelled samples in sorted order", () => {
    const r = new Registry();
    const c = r.counter({
      name: "alpnmux_connections_total",
      help: "Accepted connections.",
      labelNames: ["route", "alpn"],
    });
    c.labels({ route: "web", alpn: "h2" }).inc();
    const acme = c.labels({ route: "acme", alpn: "acme-tls/1" });
    acme.inc();
    acme.inc(2);
    assert.equal(c.labels({ alpn: "acme-tls/1", route: "acme" }), acme, "the same child for the same labels");
    assert.equal(
      r.render(),
      "# HELP alpnmux_connections_total Accepted connections.\n" +
        "# TYPE alpnmux_connections_total counter\n" +
        'alpnmux_connections_total{route="acme",alpn="acme-tls/1"} 3\n' +
        'alpnmux_connections_total{route="web",alpn="h2"} 1\n',
    );
  });

  test("an unlabelled Counter shows 0 before its first increment", () => {
    const r = new Registry();
    const c = r.counter({ name: "x_total", help: "X." });
    assert.equal(r.render(), "# HELP x_total X.\n# TYPE x_total counter\nx_total 0\n");
    c.inc(0.5);
    assert.match(r.render(), /^x_total 0\.5$/m);
  });

  test("Counter rejects negative and NaN increments", () => {
    const c = new Counter({ name: "c", help: "" });
    assert.throws(() => c.inc(-1), code("bad-value"));
    assert.throws(() => c.inc(Number.NaN), code("bad-value"));
  });

  test("labels() requires exactly the declared label names", () => {
    const c = new Counter<"route">({ name: "c", help: "", labelNames: ["route"] });
    assert.throws(() => c.labels({} as { route: string }), code("bad-labels"));
    assert.throws(() => c.labels({ route: "a", extra: "b" } as { route: string }), code("bad-labels"));
    assert.throws(() => c.labels({ route: 1 } as unknown as { route: string }), code("bad-labels"));
    assert.throws(() => c.inc(), code("bad-labels"));
  });

  test("remove() drops a series", () => {
    const r = new Registry();
    const c = r.counter({ name: "c", help: "h", labelNames: ["route"] });
    c.labels({ route: "a" }).inc();
    c.labels({ route: "b" }).inc();
    assert.equal(c.remove({ route: "a" }), true);
    assert.equal(c.remove({ route: "a" }), false);
    assert.equal(r.render(), '# HELP c h\n# TYPE c counter\nc{route="b"} 1\n');
  });
});

describe("Gauge", () => {
  test("Gauge supports inc, dec and set", () => {
    const r = new Registry();
    const g = r.gauge({ name: "open", help: "Open.", labelNames: ["side"] });
    const up = g.labels({ side: "up" });
    up.inc();
    up.inc(5);
    up.dec(2);
    g.labels({ side: "down" }).set(-1.5);
    const plain = r.gauge({ name: "plain", help: "P." });
    plain.set(7);
    plain.inc();
    plain.dec(3);
    assert.equal(
      r.render(),
      '# HELP open Open.\n# TYPE open gauge\nopen{side="down"} -1.5\nopen{side="up"} 4\n' +
        "# HELP plain P.\n# TYPE plain gauge\nplain 5\n",
    );
  });

  test("Gauge renders special values", () => {
    const r = new Registry();
    const g = r.gauge({ name: "g", help: "", labelNames: ["k"] });
    g.labels({ k: "a" }).set(Number.POSITIVE_INFINITY);
    g.labels({ k: "b" }).set(Number.NEGATIVE_INFINITY);
    g.labels({ k: "c" }).set(Number.NaN);
    assert.match(r.render(), /g\{k="a"\} \+Inf\ng\{k="b"\} -Inf\ng\{k="c"\} NaN\n$/);
  });
});

describe("Histogram", () => {
  test("Histogram renders cumulative buckets, +Inf, _sum and _count", () => {
    const r = new Registry();
    const h = r.histogram({
      name: "hello_seconds",
      help: "Time to ClientHello.",
      labelNames: ["listener"],
      buckets: [0.01, 0.1, 1],
    });
    const c = h.labels({ listener: "v6" });
    for (const v of [0.0078125, 0.01, 0.0625, 0.5, 2, 3]) c.observe(v); // sums exactly: 5.5803125
    assert.equal(
      r.render(),
      "# HELP hello_seconds Time to ClientHello.\n" +
        "# TYPE hello_seconds histogram\n" +
        'hello_seconds_bucket{listener="v6",le="0.01"} 2\n' +
        'hello_seconds_bucket{listener="v6",le="0.1"} 3\n' +
        'hello_seconds_bucket{listener="v6",le="1"} 4\n' +
        'hello_seconds_bucket{listener="v6",le="+Inf"} 6\n' +
        'hello_seconds_sum{listener="v6"} 5.5803125\n' +
        'hello_seconds_count{listener="v6"} 6\n',
    );
  });

  test("an unlabelled Histogram uses the default buckets", () => {
    const r = new Registry();
    const h = r.histogram({ name: "h", help: "" });
    h.observe(0.3);
    const out = r.render();
    assert.match(out, /^h_bucket\{le="0.005"\} 0$/m);
    assert.match(out, /^h_bucket\{le="0.5"\} 1$/m);
    assert.match(out, /^h_bucket\{le="\+Inf"\} 1$/m);
    assert.match(out, /^h_sum 0.3$/m);
    assert.match(out, /^h_count 1$/m);
    assert.equal(out.split("\n").filter((l) => l.startsWith("h_bucket")).length, 12);
  });

  test("Histogram validates buckets and reserves the le label", () => {
    assert.throws(() => new Histogram({ name: "h", help: "", buckets: [1, 1] }), code("bad-buckets"));
    assert.throws(() => new Histogram({ name: "h", help: "", buckets: [2, 1] }), code("bad-buckets"));
    assert.throws(() => new Histogram({ name: "h", help: "", buckets: [Number.NaN] }), code("bad-buckets"));
    assert.throws(() => new Histogram({ name: "h", help: "", labelNames: ["le"] }), code("bad-name"));
    assert.deepEqual(
      new Histogram({ name: "h", help: "", buckets: [1, Number.POSITIVE_INFINITY] }).buckets,
      [1],
    );
  });

  test("bucket counts are cumulative and end at _count (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -10, max: 100, noNaN: true }), { maxLength: 50 }), (values) => {
        const r = new Registry();
        const h = r.histogram({ name: "p", help: "", buckets: [0, 1, 10] });
        for (const v of values) h.observe(v);
        const counts = [...r.render().matchAll(/^p_bucket\{le="[^"]+"\} (\d+)$/gm)].map((m) => Number(m[1]));
        assert.equal(counts.length, 4);
        for (let i = 1; i < counts.length; i++) assert.ok((counts[i] as number) >= (counts[i - 1] as number));
        assert.equal(counts[3], values.length);
        assert.equal(counts[1], values.filter((v) => v <= 1).length);
      }),
    );
  });
});

describe("Registry", () => {
  test("Registry escapes label values and help text", () => {
    const r = new Registry();
    r.counter({ name: "e", help: 'back\\slash "quoted"\nnewline', labelNames: ["v"] })
      .labels({ v: 'a\\b"c\nd' })
      .inc();
    assert.equal(
      r.render(),
      '# HELP e back\\\\slash "quoted"\\nnewline\n# TYPE e counter\ne{v="a\\\\b\\"c\\nd"} 1\n',
    );
  });

  test("Registry sorts families by name and rejects duplicates", () => {
    const r = new Registry();
    r.gauge({ name: "zeta", help: "" });
    r.counter({ name: "alpha", help: "" });
    assert.deepEqual(
      r
        .render()
        .split("\n")
        .filter((l) => l.startsWith("# TYPE")),
      ["# TYPE alpha counter", "# TYPE zeta gauge"],
    );
    assert.throws(() => r.gauge({ name: "alpha", help: "" }), code("duplicate"));
    assert.equal(r.register(new Gauge({ name: "beta", help: "" })).name, "beta");
    assert.equal(new Registry().render(), "");
  });

  test("Registry rejects bad metric and label names", () => {
    const r = new Registry();
    for (const name of ["", "1abc", "a-b", "a b", "é"])
      assert.throws(() => r.counter({ name, help: "" }), code("bad-name"));
    assert.doesNotThrow(() => r.counter({ name: "ns:sub_total", help: "" }));
    for (const l of ["", "1a", "a:b", "__reserved", "a-b"]) {
      assert.throws(() => r.counter({ name: "c", help: "", labelNames: [l] }), code("bad-name"));
    }
    assert.throws(() => r.counter({ name: "c", help: "", labelNames: ["a", "a"] }), code("bad-name"));
  });

  test("PROMETHEUS_CONTENT_TYPE is the 0.0.4 text format", () => {
    assert.equal(PROMETHEUS_CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
  });

  test("label values round-trip through escaping (property)", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (v) => {
        const r = new Registry();
        r.counter({ name: "c", help: "", labelNames: ["v"] })
          .labels({ v })
          .inc();
        const line = r.render().split("\n")[2] ?? "";
        const m = /^c\{v="((?:[^"\\\n]|\\.)*)"\} 1$/.exec(line);
        assert.ok(m, line);
        const back = (m[1] ?? "").replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
        assert.equal(back, v);
      }),
    );
  });
});

describe("snapshots", () => {
  test("mergeSnapshots sums counters and gauges by name and labels, and histograms bucket-wise", async () => {
    const { mergeSnapshots, renderSnapshot } = await import("./metrics.ts");
    const make = (n: number) => {
      const r = new Registry();
      const c = r.counter<"route">({ name: "c_total", help: "C.", labelNames: ["route"] });
      c.labels({ route: "a" }).inc(n);
      if (n === 2) c.labels({ route: "b" }).inc(5);
      r.gauge({ name: "g", help: "G." }).set(n);
      const h = r.histogram({ name: "h_seconds", help: "H.", buckets: [0.1, 1] });
      h.observe(n === 1 ? 0.05 : 0.5);
      h.observe(3);
      return r;
    };
    const a = make(1);
    const b = make(2);
    const merged = mergeSnapshots([a.snapshot(), b.snapshot()]);
    const expected = new Registry();
    const c = expected.counter<"route">({ name: "c_total", help: "C.", labelNames: ["route"] });
    c.labels({ route: "a" }).inc(3);
    c.labels({ route: "b" }).inc(5);
    expected.gauge({ name: "g", help: "G." }).set(3);
    const h = expected.histogram({ name: "h_seconds", help: "H.", buckets: [0.1, 1] });
    for (const v of [0.05, 3, 0.5, 3]) h.observe(v);
    assert.equal(renderSnapshot(merged), expected.render());
  });

  test("renderSnapshot of one registry's snapshot renders the same text, after a JSON round trip too", async () => {
    const { renderSnapshot } = await import("./metrics.ts");
    const r = new Registry();
    r.counter<"x">({ name: "a_total", help: 'quote " and \\ back', labelNames: ["x"] })
      .labels({ x: 'v"\n' })
      .inc(2);
    r.histogram({ name: "b", help: "B." }).observe(0.3);
    r.gauge({ name: "c", help: "C." });
    assert.equal(renderSnapshot(r.snapshot()), r.render());
    assert.equal(renderSnapshot(JSON.parse(JSON.stringify(r.snapshot()))), r.render());
  });

  test("a family whose type or buckets differ in a later snapshot is not mixed in", async () => {
    const { mergeSnapshots } = await import("./metrics.ts");
    const a = new Registry();
    a.counter({ name: "x", help: "X." }).inc(1);
    const b = new Registry();
    b.gauge({ name: "x", help: "X." }).set(9);
    assert.deepEqual(mergeSnapshots([a.snapshot(), b.snapshot()])[0]?.series, [{ labels: [], value: 1 }]);
  });
});
