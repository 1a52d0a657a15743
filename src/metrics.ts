import { Counter, collectDefaultMetrics, Gauge, Histogram, type Metric, Registry } from 'prom-client';

/**
 * The Prometheus metrics of one streamgate instance, served at GET /metrics. Any layer may add
 * its own: `services.metrics.counter({ name, help, labelNames })` returns the metric registered
 * under that name, creating it on first use, so two modules that count the same thing share it.
 * One registry per app (not prom-client's global one) so that tests can run several apps in
 * one process.
 */
export interface Metrics {
  readonly registry: Registry;
  counter<Label extends string = never>(options: MetricOptions<Label>): Counter<Label>;
  gauge<Label extends string = never>(options: MetricOptions<Label>): Gauge<Label>;
  histogram<Label extends string = never>(
    options: MetricOptions<Label> & { readonly buckets?: readonly number[] },
  ): Histogram<Label>;
}

export interface MetricOptions<Label extends string> {
  /** snake_case, with the unit as suffix (`_total`, `_seconds`, `_bytes`). */
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly Label[];
}

/** A registry with Node's process metrics (CPU, memory, event loop lag, handles) already in it. */
export function createMetrics(options: { processMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });

  function existing<T extends Metric>(name: string, kind: new (...args: never[]) => T): T | undefined {
    const found = registry.getSingleMetric(name);
    if (found === undefined) return undefined;
    if (!(found instanceof kind)) throw new Error(`metric ${name} is already registered as another type`);
    return found;
  }

  return {
    registry,
    counter: <Label extends string>(metric: MetricOptions<Label>) =>
      (existing(metric.name, Counter) as Counter<Label> | undefined) ??
      new Counter<Label>({ ...metric, labelNames: metric.labelNames ?? [], registers: [registry] }),
    gauge: <Label extends string>(metric: MetricOptions<Label>) =>
      (existing(metric.name, Gauge) as Gauge<Label> | undefined) ??
      new Gauge<Label>({ ...metric, labelNames: metric.labelNames ?? [], registers: [registry] }),
    histogram: <Label extends string>(
      metric: MetricOptions<Label> & { readonly buckets?: readonly number[] },
    ) =>
      (existing(metric.name, Histogram) as Histogram<Label> | undefined) ??
      new Histogram<Label>({
        name: metric.name,
        help: metric.help,
        labelNames: metric.labelNames ?? [],
        ...(metric.buckets ? { buckets: [...metric.buckets] } : {}),
        registers: [registry],
      }),
  };
}

/** Counts every refusal for a limit, labelled by which (docs/limits.md). */
export function limitRefusals(metrics: Metrics) {
  return metrics.counter({
    name: 'limit_refusals_total',
    help: 'Requests, messages and connections refused or closed for a limit, by limit.',
    labelNames: ['limit'],
  });
}
