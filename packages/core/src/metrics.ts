/**
 * A tiny Prometheus registry with no dependencies: counters, gauges and fixed-bucket histograms
 * with labels, rendered in the text exposition format 0.0.4.
 *
 * The hot path resolves a child once (`metric.labels({...})`) and then only adds numbers.
 * Output is stable: families sorted by name, series sorted by label values.
 *
 * @example
 * ```ts
 * import { Registry } from "@alpnmux/core";
 * const registry = new Registry();
 * const conns = registry.counter({ name: "alpnmux_connections_total", help: "Accepted connections.", labelNames: ["route"] });
 * const acme = conns.labels({ route: "acme" }); // resolve once
 * acme.inc();
 * registry.render(); // "# HELP alpnmux_connections_total Accepted connections.\n# TYPE … counter\n…{route=\"acme\"} 1\n"
 * ```
 *
 * @module metrics
 */

/** Why a metric definition or update is rejected. */
export type MetricsErrorCode = "bad-name" | "duplicate" | "bad-labels" | "bad-value" | "bad-buckets";

/**
 * A misuse of the metrics API (bad names, labels, buckets, or a negative counter increment).
 *
 * @example
 * ```ts
 * import { MetricsError, Registry } from "@alpnmux/core";
 * try {
 *   new Registry().counter({ name: "bad name", help: "" });
 * } catch (e) {
 *   if (e instanceof MetricsError) console.log(e.code); // "bad-name"
 * }
 * ```
 */
export class MetricsError extends TypeError {
  /** What is wrong, as a stable machine-readable code. */
  readonly code: MetricsErrorCode;
  /**
   * @param code The stable error code.
   * @param reason Why, without the "Cannot use metric" prefix.
   */
  constructor(code: MetricsErrorCode, reason: string) {
    super(`Cannot use metric: ${reason}`);
    this.name = "MetricsError";
    this.code = code;
  }
}

/** The `Content-Type` of {@linkcode Registry.render}'s output. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Prometheus client libraries' default histogram buckets (seconds). */
export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Label values keyed by label name. */
export type Labels<L extends string> = { readonly [K in L]: string };

/** Options shared by all metric kinds. */
export interface MetricOptions<L extends string> {
  /** Metric name, `[a-zA-Z_:][a-zA-Z0-9_:]*`. */
  readonly name: string;
  /** Help text (one line; `\` and newlines are escaped). */
  readonly help: string;
  /** Label names in output order. If absent, the metric has no labels. */
  readonly labelNames?: readonly L[];
}

/** Histogram options. */
export interface HistogramOptions<L extends string> extends MetricOptions<L> {
  /** Strictly increasing finite upper bounds; `+Inf` is added. If absent, {@linkcode DEFAULT_BUCKETS}. */
  readonly buckets?: readonly number[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function escapeLabel(v: string): string {
  return v.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

function escapeHelp(v: string): string {
  return v.replace(/[\\\n]/g, (c) => (c === "\n" ? "\\n" : "\\\\"));
}

function formatValue(v: number): string {
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  return Number.isNaN(v) ? "NaN" : String(v);
}

/** A counter's or gauge's value, or a histogram's per-bucket (non-cumulative) counts, sum and count. */
export type SeriesValue =
  | number
  | { readonly counts: readonly number[]; readonly sum: number; readonly count: number };

/** One metric family's numbers, as {@linkcode Registry.snapshot} gives them. */
export interface FamilySnapshot {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  readonly labelNames: readonly string[];
  /** Finite upper bounds of a histogram. */
  readonly buckets?: readonly number[];
  /** One entry per label set: the label values in `labelNames` order. */
  readonly series: readonly { readonly labels: readonly string[]; readonly value: SeriesValue }[];
}

interface Series<C> {
  /** Rendered `name="value",…` pairs (no braces), used for sorting and output. */
  readonly labelText: string;
  readonly child: C;
}

/** Common parts of counters, gauges and histograms: label resolution and child storage. */
abstract class Metric<L extends string, C> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  #series = new Map<string, Series<C>>();
  abstract readonly type: "counter" | "gauge" | "histogram";

  constructor(opts: MetricOptions<L>, reserved: readonly string[] = []) {
    if (!METRIC_NAME.test(opts.name))
      throw new MetricsError("bad-name", `${JSON.stringify(opts.name)} is not a metric name`);
    const names = opts.labelNames ?? [];
    for (const l of names) {
      if (!LABEL_NAME.test(l) || l.startsWith("__") || reserved.includes(l)) {
        throw new MetricsError("bad-name", `${JSON.stringify(l)} is not a label name for ${opts.name}`);
      }
    }
    if (new Set(names).size !== names.length)
      throw new MetricsError("bad-name", `duplicate label name in ${opts.name}`);
    this.name = opts.name;
    this.help = opts.help;
    this.labelNames = [...names];
  }

  protected abstract create(): C;

  /**
   * The hot path's lookup: label values in `labelNames` order down nested maps to the child, no
   * key string built (the router updates a few series on every connection). Filled by
   * `#resolve`, cleared by `remove`.
   */
  #fast = new Map<string, unknown>();
  /** The child of an unlabelled metric, once made. */
  #only: C | undefined;

  #resolve(values: readonly string[]): C {
    const key = values.length === 0 ? "" : JSON.stringify(values);
    let s = this.#series.get(key);
    if (s === undefined) {
      const labelText = this.labelNames.map((n, i) => `${n}="${escapeLabel(values[i] as string)}"`).join(",");
      s = { labelText, child: this.create() };
      this.#series.set(key, s);
    }
    return s.child;
  }

  #values(labels: Labels<L>): string[] {
    const given = Object.keys(labels);
    const values = this.labelNames.map((n) => labels[n]);
    if (given.length !== this.labelNames.length || values.some((v) => typeof v !== "string")) {
      throw new MetricsError(
        "bad-labels",
        `${this.name} takes labels [${this.labelNames.join(", ")}], got [${given.join(", ")}]`,
      );
    }
    return values as string[];
  }

  /**
   * Returns the child for a label set, creating it on first use. Keep the child to update it
   * without lookups on the hot path.
   * @param labels One string value per label name.
   * @returns The child handle.
   * @throws {MetricsError} `bad-labels` when the names differ from `labelNames`.
   */
  labels(labels: Labels<L>): C {
    const names = this.labelNames;
    let given = 0;
    for (const _ in labels) given++;
    if (given === names.length && names.length > 0) {
      let node: unknown = this.#fast;
      for (let i = 0; i < names.length && node !== undefined; i++)
        node = (node as Map<string, unknown>).get(labels[names[i] as L]);
      if (node !== undefined) return node as C;
    }
    const values = this.#values(labels);
    const child = this.#resolve(values);
    let map = this.#fast;
    for (let i = 0; i < values.length - 1; i++) {
      const v = values[i] as string;
      let next = map.get(v) as Map<string, unknown> | undefined;
      if (next === undefined) {
        next = new Map();
        map.set(v, next);
      }
      map = next;
    }
    if (values.length > 0) map.set(values[values.length - 1] as string, child);
    return child;
  }

  /**
   * Removes one labelled series (e.g. a route dropped by a reload).
   * @param labels The series' labels.
   * @returns `true` if it existed.
   */
  remove(labels: Labels<L>): boolean {
    const values = this.#values(labels);
    this.#fast.clear();
    return this.labelNames.length > 0 && this.#series.delete(JSON.stringify(values));
  }

  /** The child of an unlabelled metric. */
  protected get unlabelled(): C {
    if (this.labelNames.length > 0)
      throw new MetricsError("bad-labels", `${this.name} needs labels; use .labels({...})`);
    this.#only ??= this.#resolve([]);
    return this.#only;
  }

  /** One child's numbers, for {@linkcode Metric.snapshot}. */
  protected abstract childValue(child: C): SeriesValue;

  /**
   * This family's numbers as plain data (JSON-safe but for NaN and infinities, which
   * {@linkcode mergeSnapshots} and {@linkcode renderSnapshot} keep as numbers).
   * @returns The family snapshot.
   */
  snapshot(): FamilySnapshot {
    if (this.labelNames.length === 0) this.#resolve([]);
    const series = [...this.#series.entries()].map(([key, s]) => ({
      labels: key === "" ? [] : (JSON.parse(key) as string[]),
      value: this.childValue(s.child),
    }));
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      labelNames: [...this.labelNames],
      ...(this instanceof Histogram ? { buckets: [...this.buckets] } : {}),
      series,
    };
  }

  /** Renders this family's sample lines (without HELP/TYPE). */
  protected abstract samples(labelText: string, child: C, out: string[]): void;

  /**
   * Renders HELP, TYPE and samples in the text format.
   * @returns The family's lines, newline-terminated.
   */
  render(): string {
    if (this.labelNames.length === 0) this.#resolve([]); // an unlabelled metric always shows
    const out = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
    const series = [...this.#series.values()].sort((a, b) =>
      a.labelText < b.labelText ? -1 : a.labelText > b.labelText ? 1 : 0,
    );
    for (const s of series) this.samples(s.labelText, s.child, out);
    return `${out.join("\n")}\n`;
  }
}

function sample(name: string, labelText: string, value: number): string {
  return labelText === "" ? `${name} ${formatValue(value)}` : `${name}{${labelText}} ${formatValue(value)}`;
}

/** One counter series.
 *
 * @example
 * ```ts
 * import { Registry } from "@alpnmux/core";
 * const registry = new Registry();
 * registry.counter<"route">({ name: "c_total", help: "h", labelNames: ["route"] }).labels({ route: "a" }).inc();
 * ```
 */
export class CounterChild {
  /** Current value. */
  value = 0;
  /**
   * Adds `amount` (default 1).
   * @param amount Non-negative amount.
   * @throws {MetricsError} `bad-value` for a negative or NaN amount.
   */
  inc(amount = 1): void {
    if (!(amount >= 0)) throw new MetricsError("bad-value", `counter increment ${amount} is negative or NaN`);
    this.value += amount;
  }
}

/**
 * A monotonically increasing counter.
 *
 * @example
 * ```ts
 * import { Registry } from "@alpnmux/core";
 * const c = new Registry().counter({ name: "bytes_total", help: "Bytes.", labelNames: ["dir"] });
 * c.labels({ dir: "up" }).inc(1500);
 * ```
 */
export class Counter<L extends string = never> extends Metric<L, CounterChild> {
  readonly type = "counter";
  protected create(): CounterChild {
    return new CounterChild();
  }
  /**
   * Increments an unlabelled counter.
   * @param amount Non-negative amount, default 1.
   * @throws {MetricsError} `bad-labels` if the counter has labels; `bad-value` if negative.
   */
  inc(amount = 1): void {
    this.unlabelled.inc(amount);
  }
  protected childValue(child: CounterChild): SeriesValue {
    return child.value;
  }
  protected samples(labelText: string, child: CounterChild, out: string[]): void {
    out.push(sample(this.name, labelText, child.value));
  }
}

/** One gauge series.
 *
 * @example
 * ```ts
 * import { Registry } from "@alpnmux/core";
 * const registry = new Registry();
 * registry.gauge<"pool">({ name: "g", help: "h", labelNames: ["pool"] }).labels({ pool: "a" }).set(3);
 * ```
 */
export class GaugeChild {
  /** Current value. */
  value = 0;
  /** Adds `amount` (default 1). @param amount Amount. */
  inc(amount = 1): void {
    this.value += amount;
  }
  /** Subtracts `amount` (default 1). @param amount Amount. */
  dec(amount = 1): void {
    this.value -= amount;
  }
  /** Sets the value. @param value New value. */
  set(value: number): void {
    this.value = value;
  }
}

/**
 * A value that goes up and down.
 *
 * @example
 * ```ts
 * import { Registry } from "@alpnmux/core";
 * const open = new Registry().gauge({ name: "open_connections", help: "Open connections." });
 * open.inc(); open.dec();
 * ```
 */
export class Gauge<L extends string = never> extends Metric<L, GaugeChild> {
  readonly type = "gauge";
  protected create(): GaugeChild {
    return new GaugeChild();
  }
  /** Increments an unlabelled gauge. @param amount Default 1. @throws {MetricsError} If labelled. */
  inc(amount = 1): void {
    this.unlabelled.inc(amount);
  }
  /** Decrements an unlabelled gauge. @param amount Default 1. @throws {MetricsError} If labelled. */
  dec(amount = 1): void {
    this.unlabelled.dec(amount);
  }
  /** Sets an unlabelled gauge. @param value New value. @throws {MetricsError} If labelled. */
  set(value: number): void {
    this.unlabelled.set(value);
  }
  protected childValue(child: GaugeChild): SeriesValue {
    return child.value;
  }
  protected samples(labelText: string, child: GaugeChild, out: string[]): void {
    out.push(sample(this.name, labelText, child.value));
  }
}

/** One histogram series: per-bucket (non-cumulative) counts, sum and count.
 *
 * @example
 * ```ts
 * import { Registry } from "@alpnmux/core";
 * const registry = new Registry();
 * registry.histogram<"route">({ name: "h_seconds", help: "h", labelNames: ["route"] }).labels({ route: "a" }).observe(0.2);
 * ```
 */
export class HistogramChild {
  readonly #bounds: readonly number[];
  /** Observations per bucket; the last entry is the `+Inf` bucket. */
  readonly counts: Float64Array;
  /** Sum of observations. */
  sum = 0;
  /** Number of observations. */
  count = 0;
  /** @param bounds Finite upper bounds, strictly increasing. */
  constructor(bounds: readonly number[]) {
    this.#bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }
  /**
   * Records one observation (a NaN lands in `+Inf` and makes the sum NaN, like client_golang).
   * @param value The observed value.
   */
  observe(value: number): void {
    const b = this.#bounds;
    let i = 0;
    while (i < b.length && !(value <= (b[i] as number))) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += value;
    this.count++;
  }
}

/**
 * A histogram with fixed buckets.
 *
 * @example
 * ```ts
 * import { Registry } from "@alpnmux/core";
 * const h = new Registry().histogram({ name: "hello_seconds", help: "Time to ClientHello.", buckets: [0.01, 0.1, 1] });
 * h.observe(0.05);
 * ```
 */
export class Histogram<L extends string = never> extends Metric<L, HistogramChild> {
  readonly type = "histogram";
  /** Finite upper bounds (`+Inf` is implicit). */
  readonly buckets: readonly number[];
  /**
   * @param opts Name, help, labels and buckets.
   * @throws {MetricsError} `bad-buckets` unless the buckets are finite and strictly increasing.
   */
  constructor(opts: HistogramOptions<L>) {
    const raw = opts.buckets ?? DEFAULT_BUCKETS;
    const bounds = raw.at(-1) === Number.POSITIVE_INFINITY ? raw.slice(0, -1) : [...raw];
    if (bounds.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= (bounds[i - 1] as number)))) {
      throw new MetricsError("bad-buckets", `${opts.name} buckets must be finite and strictly increasing`);
    }
    super(opts, ["le"]);
    this.buckets = bounds;
  }
  protected create(): HistogramChild {
    return new HistogramChild(this.buckets);
  }
  /** Observes on an unlabelled histogram. @param value Value. @throws {MetricsError} If labelled. */
  observe(value: number): void {
    this.unlabelled.observe(value);
  }
  protected childValue(child: HistogramChild): SeriesValue {
    return { counts: [...child.counts], sum: child.sum, count: child.count };
  }
  protected samples(labelText: string, child: HistogramChild, out: string[]): void {
    const sep = labelText === "" ? "" : ",";
    let cum = 0;
    for (let i = 0; i <= this.buckets.length; i++) {
      cum += child.counts[i] as number;
      const le = i < this.buckets.length ? formatValue(this.buckets[i] as number) : "+Inf";
      out.push(`${this.name}_bucket{${labelText}${sep}le="${le}"} ${formatValue(cum)}`);
    }
    out.push(sample(`${this.name}_sum`, labelText, child.sum));
    out.push(sample(`${this.name}_count`, labelText, child.count));
  }
}

/**
 * A set of metric families with unique names, rendered together.
 *
 * @example
 * ```ts
 * import { PROMETHEUS_CONTENT_TYPE, Registry } from "@alpnmux/core";
 * const registry = new Registry();
 * registry.gauge({ name: "up", help: "1 when running." }).set(1);
 * new Response(registry.render(), { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } });
 * ```
 */
export class Registry {
  #metrics = new Map<string, { name: string; render(): string; snapshot?: () => FamilySnapshot }>();

  /**
   * Adds a metric created elsewhere.
   * @param metric A counter, gauge or histogram.
   * @returns The same metric.
   * @throws {MetricsError} `duplicate` when a metric with that name exists.
   */
  register<M extends { name: string; render(): string }>(metric: M): M {
    if (this.#metrics.has(metric.name))
      throw new MetricsError("duplicate", `${metric.name} is already registered`);
    this.#metrics.set(metric.name, metric);
    return metric;
  }

  /**
   * Creates and registers a counter.
   * @param opts Name, help and label names.
   * @returns The counter.
   * @throws {MetricsError} For a bad or duplicate name.
   */
  counter<L extends string = never>(opts: MetricOptions<L>): Counter<L> {
    return this.register(new Counter<L>(opts));
  }

  /**
   * Creates and registers a gauge.
   * @param opts Name, help and label names.
   * @returns The gauge.
   * @throws {MetricsError} For a bad or duplicate name.
   */
  gauge<L extends string = never>(opts: MetricOptions<L>): Gauge<L> {
    return this.register(new Gauge<L>(opts));
  }

  /**
   * Creates and registers a histogram.
   * @param opts Name, help, label names and buckets.
   * @returns The histogram.
   * @throws {MetricsError} For a bad or duplicate name or bad buckets.
   */
  histogram<L extends string = never>(opts: HistogramOptions<L>): Histogram<L> {
    return this.register(new Histogram<L>(opts));
  }

  /**
   * Every family's numbers as plain data, sorted by name (to send to another process and
   * {@linkcode mergeSnapshots} there).
   * @returns One snapshot per family.
   */
  snapshot(): FamilySnapshot[] {
    const names = [...this.#metrics.keys()].sort();
    return names.flatMap((n) => {
      const m = this.#metrics.get(n) as { snapshot?: () => FamilySnapshot };
      return m.snapshot ? [m.snapshot()] : [];
    });
  }

  /**
   * Renders every family in the text exposition format 0.0.4, sorted by name.
   * @returns The exposition text (empty string when nothing is registered).
   */
  render(): string {
    const names = [...this.#metrics.keys()].sort();
    return names.map((n) => (this.#metrics.get(n) as { render(): string }).render()).join("");
  }
}

/**
 * Sums several processes' snapshots: counters and gauges by name and label values, histograms
 * bucket by bucket (with sum and count). A family's help, type, labels and buckets come from
 * its first snapshot; a later one that disagrees (another version of alpnmux) is left out of
 * that family rather than mixed in.
 *
 * @param snapshots Each process's {@linkcode Registry.snapshot}.
 * @returns The merged families, sorted by name.
 * @example
 * ```ts
 * import { mergeSnapshots, Registry, renderSnapshot } from "@alpnmux/core";
 * const a = new Registry(), b = new Registry();
 * a.counter({ name: "c_total", help: "h" }).inc(2);
 * b.counter({ name: "c_total", help: "h" }).inc(3);
 * renderSnapshot(mergeSnapshots([a.snapshot(), b.snapshot()])); // "…c_total 5\n"
 * ```
 */
export function mergeSnapshots(snapshots: readonly (readonly FamilySnapshot[])[]): FamilySnapshot[] {
  const families = new Map<
    string,
    { first: FamilySnapshot; series: Map<string, { labels: readonly string[]; value: SeriesValue }> }
  >();
  for (const snap of snapshots) {
    for (const f of snap) {
      let fam = families.get(f.name);
      if (fam === undefined) {
        fam = { first: f, series: new Map() };
        families.set(f.name, fam);
      } else if (!sameShape(fam.first, f)) continue;
      for (const s of f.series) {
        const key = JSON.stringify(s.labels);
        const prev = fam.series.get(key);
        fam.series.set(key, {
          labels: s.labels,
          value: prev === undefined ? s.value : addValues(prev.value, s.value),
        });
      }
    }
  }
  return [...families.keys()].sort().map((name) => {
    const { first, series } = families.get(name) as {
      first: FamilySnapshot;
      series: Map<string, { labels: readonly string[]; value: SeriesValue }>;
    };
    return { ...first, series: [...series.values()] };
  });
}

function sameShape(a: FamilySnapshot, b: FamilySnapshot): boolean {
  return (
    a.type === b.type &&
    JSON.stringify(a.labelNames) === JSON.stringify(b.labelNames) &&
    JSON.stringify(a.buckets ?? null) === JSON.stringify(b.buckets ?? null)
  );
}

function addValues(a: SeriesValue, b: SeriesValue): SeriesValue {
  if (typeof a === "number" && typeof b === "number") return a + b;
  if (typeof a === "number" || typeof b === "number") return a;
  return {
    counts: a.counts.map((c, i) => c + (b.counts[i] ?? 0)),
    sum: a.sum + b.sum,
    count: a.count + b.count,
  };
}

/**
 * Renders snapshots (e.g. from {@linkcode mergeSnapshots}) exactly as a {@linkcode Registry}
 * holding those numbers would.
 *
 * @param families Family snapshots.
 * @returns The exposition text.
 * @throws {MetricsError} For a snapshot no registry could hold (bad names, buckets or labels).
 * @example
 * ```ts
 * import { Registry, renderSnapshot } from "@alpnmux/core";
 * const r = new Registry();
 * r.gauge({ name: "up", help: "1 when running." }).set(1);
 * renderSnapshot(r.snapshot()) === r.render(); // true
 * ```
 */
export function renderSnapshot(families: readonly FamilySnapshot[]): string {
  const registry = new Registry();
  for (const f of families) {
    const opts = { name: f.name, help: f.help, labelNames: f.labelNames };
    const labelsOf = (values: readonly string[]) =>
      Object.fromEntries(f.labelNames.map((n, i) => [n, values[i] ?? ""])) as Labels<string>;
    if (f.type === "histogram") {
      const h = registry.histogram<string>({ ...opts, buckets: f.buckets ?? [] });
      for (const s of f.series) {
        if (typeof s.value === "number") continue;
        const child = h.labels(labelsOf(s.labels));
        s.value.counts.forEach((c, i) => {
          if (i < child.counts.length) child.counts[i] = c;
        });
        child.sum = s.value.sum;
        child.count = s.value.count;
      }
    } else {
      const m = f.type === "counter" ? registry.counter<string>(opts) : registry.gauge<string>(opts);
      for (const s of f.series) {
        if (typeof s.value === "number") m.labels(labelsOf(s.labels)).value = s.value;
      }
    }
  }
  return registry.render();
}
