type Labels = Readonly<Record<string, string>>;

function labelKey(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((name) => `${name}="${labels[name].replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');
}

function line(name: string, key: string, value: number): string {
  return `${name}${key ? `{${key}}` : ''} ${Number.isFinite(value) ? value : 0}`;
}

export class Counter {
  private readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const key = labelKey(labels);
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }

  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }

  render(): string[] {
    return [
      `# HELP ${this.name} ${this.help}`,
      `# TYPE ${this.name} counter`,
      ...[...this.values].map(([k, v]) => line(this.name, k, v)),
    ];
  }
}

export class Histogram {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: readonly number[],
  ) {}

  observe(value: number, labels: Labels = {}): void {
    const key = labelKey(labels);
    const entry = this.series.get(key) ?? { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
    this.buckets.forEach((bound, i) => {
      if (value <= bound) entry.counts[i]++;
    });
    entry.sum += value;
    entry.count++;
    this.series.set(key, entry);
  }

  render(): string[] {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [key, entry] of this.series) {
      const join = (le: string) => (key ? `${key},le="${le}"` : `le="${le}"`);
      this.buckets.forEach((bound, i) => out.push(line(`${this.name}_bucket`, join(String(bound)), entry.counts[i])));
      out.push(line(`${this.name}_bucket`, join('+Inf'), entry.count));
      out.push(line(`${this.name}_sum`, key, entry.sum), line(`${this.name}_count`, key, entry.count));
    }
    return out;
  }
}

/** A gauge read when scraped (queue depth), so it is never stale. */
export interface GaugeSource {
  name: string;
  help: string;
  collect(): Promise<Array<{ labels: Labels; value: number }>>;
}

/** Prometheus text exposition (format 0.0.4), hand-written: a handful of series needs no client library. */
export class MetricsRegistry {
  readonly httpRequests = new Counter(
    'step1x_http_requests_total',
    'HTTP requests answered, by method, route and status.',
  );
  readonly httpDuration = new Histogram(
    'step1x_http_request_duration_seconds',
    'Time to answer HTTP requests, by route.',
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  );
  readonly editsCreated = new Counter('step1x_edits_created_total', 'Edits accepted (202), by priority.');
  readonly editsCanceled = new Counter(
    'step1x_edits_canceled_total',
    'Cancel requests accepted, by the state they hit.',
  );
  readonly idempotentReplays = new Counter(
    'step1x_idempotent_replays_total',
    'Requests answered from an Idempotency-Key.',
  );
  readonly errors = new Counter('step1x_api_errors_total', 'Error answers, by code.');
  private readonly gauges: GaugeSource[] = [];

  addGauge(source: GaugeSource): void {
    this.gauges.push(source);
  }

  async render(): Promise<string> {
    const lines = [
      ...this.httpRequests.render(),
      ...this.httpDuration.render(),
      ...this.editsCreated.render(),
      ...this.editsCanceled.render(),
      ...this.idempotentReplays.render(),
      ...this.errors.render(),
    ];
    for (const gauge of this.gauges) {
      lines.push(`# HELP ${gauge.name} ${gauge.help}`, `# TYPE ${gauge.name} gauge`);
      try {
        for (const { labels, value } of await gauge.collect()) lines.push(line(gauge.name, labelKey(labels), value));
      } catch {
        // A dependency being down must not break the scrape; the series is simply absent this time.
      }
    }
    return `${lines.join('\n')}\n`;
  }
}
