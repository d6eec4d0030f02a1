/**
 * Prometheus metrics of the public app, served on the telemetry listener only (src/telemetry.ts): Dex's
 * `http_requests_total` and `request_duration_seconds` with Dex's labels and buckets (server/server.go),
 * idport's counters of issued tokens and rejected password logins, and Node's process metrics.
 * Label values come from route patterns and configured ids, never from a raw URL or other request input,
 * so the number of series stays bounded whatever clients send.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Labels of Dex's HTTP metrics: status code, method, and the route under the issuer path. */
type HttpLabel = 'code' | 'method' | 'handler';

/** One server's metrics. */
export interface HttpMetrics {
  /** The registry holding the metrics below (process metrics are added at exposition). */
  readonly registry: Registry;
  readonly requests: Counter<HttpLabel>;
  readonly duration: Histogram<HttpLabel>;
  /** Dex's `response_size_bytes`: sizes of responses that declare a Content-Length. */
  readonly size: Histogram<HttpLabel>;
  /** Token endpoint responses that issued tokens, by grant type. */
  readonly tokensIssued: Counter<'grant_type'>;
  /** Password logins rejected for a wrong username or password, by connector id. */
  readonly passwordLoginFailures: Counter<'connector'>;
}

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

/** What the instrumentation needs to know about the app. */
export interface InstrumentOptions {
  /** The issuer path, taken off route patterns so handler labels read as Dex's ("/token"). */
  readonly basePath: string;
  /** Grant types the token endpoint accepts; a response to any other is counted as "other". */
  readonly grantTypes: readonly string[];
  /** Whether a connector id is configured; others never become a label. */
  readonly isConnector: (id: string) => boolean;
}

/** Dex's handler label: the route pattern under the issuer path, parameters written `{name}` ("/auth/{connector}"). */
export const handlerLabel = (route: string, basePath: string): string => {
  const underIssuer =
    basePath !== '' && (route === basePath || route.startsWith(`${basePath}/`))
      ? route.slice(basePath.length) || '/'
      : route;
  return underIssuer.replace(/:(\w+)/g, '{$1}');
};

const grantTypeOf = (request: FastifyRequest, grantTypes: readonly string[]): string => {
  const grant = request.body instanceof URLSearchParams ? request.body.get('grant_type') : null;
  return grant !== null && grantTypes.includes(grant) ? grant : 'other';
};

/** Counts every routed response of `app`; call before its routes are registered. */
export const instrument = (app: FastifyInstance, metrics: HttpMetrics, options: InstrumentOptions): void => {
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url;
    // Requests that matched no route (404s) have no bounded name; Dex does not count them either.
    if (route === undefined) return;
    const labels = {
      code: String(reply.statusCode),
      method: request.method,
      handler: handlerLabel(route, options.basePath),
    };
    metrics.requests.inc(labels);
    metrics.duration.observe(labels, reply.elapsedTime / 1000);
    const length = Number(reply.getHeader('content-length'));
    if (Number.isFinite(length)) metrics.size.observe(labels, length);
    if (request.method !== 'POST') return;
    if (labels.handler === '/token' && reply.statusCode === 200)
      metrics.tokensIssued.inc({ grant_type: grantTypeOf(request, options.grantTypes) });
    if (labels.handler === '/auth/{connector}/login' && reply.statusCode === 401) {
      const { connector } = request.params as { connector?: unknown };
      if (typeof connector === 'string' && options.isConnector(connector))
        metrics.passwordLoginFailures.inc({ connector });
    }
  });
};
