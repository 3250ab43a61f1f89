/**
 * Prometheus metrics owned by one registry instance: registered when it is created (replacing those
 * of the instance it replaces) and removed when it closes, unless a newer instance registered its
 * own meanwhile. A replacement (a reload with other settings) therefore starts its counters again,
 * which Prometheus reads as a counter reset.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export class OwnedMetrics {
  private readonly mine: { name: string; metric: unknown }[] = [];

  constructor(private readonly registry: Registry) {}

  /** A gauge read at each scrape. */
  gauge(name: string, help: string, value: () => number): void {
    this.own(name, new Gauge({ name, help, registers: [], collect() {
      this.set(value());
    } }));
  }

  /** A counter whose value the instance keeps itself (a count in its status), read at each scrape. */
  countedBy(name: string, help: string, value: () => number): void {
    this.own(name, new Counter({ name, help, registers: [], collect() {
      const n = value();
      this.reset();
      this.inc(Number.isFinite(n) && n > 0 ? n : 0);
    } }));
  }

  /** A labelled counter the instance increments. */
  counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    return this.own(name, new Counter<L>({ name, help, labelNames, registers: [] }));
  }

  /** Unregisters these metrics (those a newer instance registered stay). */
  remove(): void {
    for (const { name, metric } of this.mine) if (this.registry.getSingleMetric(name) === metric) this.registry.removeSingleMetric(name);
  }

  private own<T extends Gauge | Counter<string>>(name: string, metric: T): T {
    this.registry.removeSingleMetric(name);
    this.registry.registerMetric(metric);
    this.mine.push({ name, metric });
    return metric;
  }
}
