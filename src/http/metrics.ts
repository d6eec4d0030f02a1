/**
 * Prometheus metrics of the public app, served on the telemetry listener only (src/telemetry.ts): Dex's
 * `http_requests_total` and `request_duration_seconds` with Dex's labels and buckets (server/server.go),
 * idport's counters of issued tokens and rejected password logins, and Node's process metrics.
 * Label values come from route patterns and configured ids, never from a raw URL or other request input,
 * so the number of series stays bounded whatever clients send. prom-client is loaded only with `telemetry.http`:
 * this module is imported then, and the app's hooks (instrument.ts) need only its types.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry, type Histogram } from 'prom-client';
import type { HttpLabels, HttpMetrics } from './instrument.js';

export type { HttpMetrics } from './instrument.js';

let processRegistry: Registry | undefined;

/**
 * CPU, memory, event loop and GC metrics. They describe the process, so one set serves every server in it:
 * each collection starts an event-loop monitor and a GC observer that are never stopped.
 */
const processMetrics = (): Registry => {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
};

/** Go's GOARCH names for Node's architectures, so Dex's `platform` label reads the same ("linux/amd64"). */
const GO_ARCH: Readonly<Record<string, string>> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm' };

/** Dex's `dex_build_info` (cmd/dex/serve.go): constant 1, labelled with the version and platform. */
const buildInfo = (registry: Registry, version: string): void => {
  new Gauge({
    name: 'dex_build_info',
    help: "A metric with a constant '1' value labeled by version from which Dex was built.",
    labelNames: ['version', 'go_version', 'platform'],
    registers: [registry],
  }).set(
    // go_version carries the runtime's version: Node's here, for dashboards written for Dex.
    {
      version,
      go_version: `node${process.versions.node}`,
      platform: `${process.platform}/${GO_ARCH[process.arch] ?? process.arch}`,
    },
    1,
  );
};

/** One line of the exposition, as prom-client's registry reads it from a metric's get(). */
interface Sample {
  readonly metricName?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Dex's buckets (server/server.go). */
const DURATION_BUCKETS: readonly number[] = [0.25, 0.5, 1, 2.5, 5, 10];
const SIZE_BUCKETS: readonly number[] = [200, 500, 900, 1500];

/** Observations of one histogram series: a count per bucket (the last for values above every bound), and the sum. */
class Buckets {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }
  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > (this.bounds[i] ?? Number.POSITIVE_INFINITY)) i += 1;
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.sum += value;
    this.count += 1;
  }
  /** Prometheus's samples: cumulative `_bucket` per bound and `+Inf`, then `_sum` and `_count`. */
  samples(name: string, labels: HttpLabels): Sample[] {
    const samples: Sample[] = [];
    let cumulative = 0;
    this.bounds.forEach((bound, i) => {
      cumulative += this.counts[i] ?? 0;
      samples.push({ metricName: `${name}_bucket`, labels: { le: String(bound), ...labels }, value: cumulative });
    });
    samples.push(
      { metricName: `${name}_bucket`, labels: { le: '+Inf', ...labels }, value: this.count },
      { metricName: `${name}_sum`, labels: { ...labels }, value: this.sum },
      { metricName: `${name}_count`, labels: { ...labels }, value: this.count },
    );
    return samples;
  }
}

/** Everything counted for one (code, method, handler). */
interface ResponseSeries {
  readonly labels: HttpLabels;
  requests: number;
  readonly duration: Buckets;
  readonly size: Buckets;
}

/**
 * Dex's per-response metrics, kept in plain numbers per series and handed to the registry as metric objects of
 * prom-client's shape, so prom-client still writes the exposition. Why not prom-client's Counter and Histogram:
 * they check and hash the labels on every call, three calls per response, which took a sixth of the requests per
 * second /keys can serve (issue 15); here a response costs one map lookup and a few additions.
 */
const responseMetrics = (
  registry: Registry,
): { observe: (labels: HttpLabels, seconds: number, size: number | undefined) => void } => {
  const series = new Map<string, ResponseSeries>();
  const expose = (name: string, help: string, type: 'counter' | 'histogram', values: () => Sample[]): void => {
    const metric = {
      name,
      help,
      type,
      aggregator: 'sum',
      get: async () => ({ name, help, type, aggregator: 'sum', values: values() }),
    };
    // The registry reads a metric through name, help, type, aggregator and get(), all given above; its type
    // names only prom-client's own classes.
    registry.registerMetric(metric as unknown as Histogram);
  };
  const all = (): ResponseSeries[] => [...series.values()];
  expose('http_requests_total', 'Count of all HTTP requests.', 'counter', () =>
    all().map((s) => ({ labels: { ...s.labels }, value: s.requests })),
  );
  expose('request_duration_seconds', 'A histogram of latencies for requests.', 'histogram', () =>
    all().flatMap((s) => s.duration.samples('request_duration_seconds', s.labels)),
  );
  expose('response_size_bytes', 'A histogram of response sizes for requests.', 'histogram', () =>
    all()
      .filter((s) => s.size.count > 0)
      .flatMap((s) => s.size.samples('response_size_bytes', s.labels)),
  );
  return {
    observe: (labels, seconds, size) => {
      const key = `${labels.code} ${labels.method} ${labels.handler}`;
      let entry = series.get(key);
      if (entry === undefined) {
        entry = {
          labels: { code: labels.code, method: labels.method, handler: labels.handler },
          requests: 0,
          duration: new Buckets(DURATION_BUCKETS),
          size: new Buckets(SIZE_BUCKETS),
        };
        series.set(key, entry);
      }
      entry.requests += 1;
      entry.duration.observe(seconds);
      if (size !== undefined) entry.size.observe(size);
    },
  };
};

/** `version` is idport's, reported in `dex_build_info`. */
export const createHttpMetrics = (version = 'unknown'): HttpMetrics => {
  const registry = new Registry();
  buildInfo(registry, version);
  const responses = responseMetrics(registry);
  return {
    registry,
    observeResponse: responses.observe,
    tokensIssued: new Counter({
      name: 'idport_tokens_issued_total',
      help: 'Token endpoint responses that issued tokens, by grant type.',
      labelNames: ['grant_type'],
      registers: [registry],
    }),
    passwordLoginFailures: new Counter({
      name: 'idport_password_login_failures_total',
      help: 'Password logins rejected for a wrong username or password, by connector.',
      labelNames: ['connector'],
      registers: [registry],
    }),
  };
};

/** The Prometheus text exposition of a server's metrics and the process metrics, with its content type. */
export const exposition = async (metrics: HttpMetrics): Promise<{ contentType: string; body: string }> => {
  const merged = Registry.merge([processMetrics(), metrics.registry]);
  return { contentType: merged.contentType, body: await merged.metrics() };
};
