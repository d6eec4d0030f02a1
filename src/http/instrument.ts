/**
 * The hooks that count the public app's responses into its HttpMetrics (created in metrics.ts, which loads
 * prom-client and is imported only when `telemetry.http` is set). Label values come from route patterns and
 * configured ids, never from a raw URL or other request input, so the number of series stays bounded.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Counter, Registry } from 'prom-client';

/** Labels of Dex's HTTP metrics: status code, method, and the route under the issuer path. */
export interface HttpLabels {
  readonly code: string;
  readonly method: string;
  readonly handler: string;
}

/** One server's metrics. */
export interface HttpMetrics {
  /** The registry holding the metrics below (process metrics are added at exposition). */
  readonly registry: Registry;
  /**
   * Counts one response into Dex's `http_requests_total` and `request_duration_seconds`, and, when it declares a
   * Content-Length (`size`), `response_size_bytes`.
   */
  observeResponse(labels: HttpLabels, seconds: number, size: number | undefined): void;
  /** Token endpoint responses that issued tokens, by grant type. */
  readonly tokensIssued: Counter<'grant_type'>;
  /** Password logins rejected for a wrong username or password, by connector id. */
  readonly passwordLoginFailures: Counter<'connector'>;
}

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
  // Route patterns are fixed once the app is built, so each one's label is computed once.
  const handlers = new Map<string, string>();
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url;
    // Requests that matched no route (404s) have no bounded name; Dex does not count them either.
    if (route === undefined) return;
    let handler = handlers.get(route);
    if (handler === undefined) handlers.set(route, (handler = handlerLabel(route, options.basePath)));
    const labels = { code: String(reply.statusCode), method: request.method, handler };
    const length = Number(reply.getHeader('content-length'));
    metrics.observeResponse(labels, reply.elapsedTime / 1000, Number.isFinite(length) ? length : undefined);
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
