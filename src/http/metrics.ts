/**
 * Prometheus metrics of the public app, served on the telemetry listener only (src/telemetry.ts): Dex's
 * `http_requests_total` and `request_duration_seconds` with Dex's labels and buckets (server/server.go),
 * idport's counters of issued tokens and rejected password logins, and Node's process metrics.
 * Label values come from route patterns and configured ids, never from a raw URL or other request input,
 * so the number of series stays bounded whatever clients send. prom-client is loaded only with `telemetry.http`:
 * this module is imported then, and the app's hooks (instrument.ts) need only its types.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { HttpMetrics } from './instrument.js';

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

/** `version` is idport's, reported in `dex_build_info`. */
export const createHttpMetrics = (version = 'unknown'): HttpMetrics => {
  const registry = new Registry();
  buildInfo(registry, version);
  return {
    registry,
    requests: new Counter({
      name: 'http_requests_total',
      help: 'Count of all HTTP requests.',
      labelNames: ['code', 'method', 'handler'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'request_duration_seconds',
      help: 'A histogram of latencies for requests.',
      labelNames: ['code', 'method', 'handler'],
      buckets: [0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    size: new Histogram({
      name: 'response_size_bytes',
      help: 'A histogram of response sizes for requests.',
      labelNames: ['code', 'method', 'handler'],
      buckets: [200, 500, 900, 1500],
      registers: [registry],
    }),
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
