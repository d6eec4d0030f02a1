/**
 * One log line per request, written when the response is sent: `GET /dex/auth 302` with the request id (from the
 * request's child logger), duration and client address. Health probes log at debug, so Kubernetes probing every few
 * seconds does not bury everything else at info. Why a request failed is logged where that is known, on its own line.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { logRequestLine } from '../log.js';

/**
 * Query parameters whose values never reach the log: an upstream provider's authorization code at /callback, ID
 * tokens sent as id_token_hint to /auth and /logout, the user's email as login_hint, and credentials a client
 * misplaces in a query string.
 */
const SECRET_QUERY_PARAMS = [
  'code',
  'id_token_hint',
  'login_hint',
  'access_token',
  'refresh_token',
  'id_token',
  'client_secret',
  'password',
];

/** The request URL for logs, with the values of SECRET_QUERY_PARAMS replaced. */
export const loggableUrl = (url: string): string => {
  const query = url.indexOf('?');
  if (query < 0) return url;
  const params = new URLSearchParams(url.slice(query + 1));
  let redacted = false;
  for (const name of SECRET_QUERY_PARAMS) {
    if (!params.has(name)) continue;
    params.set(name, '[Redacted]');
    redacted = true;
  }
  return redacted ? `${url.slice(0, query)}?${params.toString()}` : url;
};

/** /healthz, /healthz/live, /healthz/ready, at the root or under the issuer path. */
const isProbe = (url: string): boolean => /(^|\/)healthz(\/(live|ready))?\/?(\?|$)/.test(url);

/** The level of a request's line: probes at debug, server errors at error, the rest at info. */
const levelOf = (request: FastifyRequest, reply: FastifyReply): 'debug' | 'info' | 'error' => {
  if (reply.statusCode >= 500) return 'error';
  return isProbe(request.url) ? 'debug' : 'info';
};

/**
 * Logs each request once, after its response. `clientIpOf` gives the address the rate limits see (behind trusted
 * proxies, the forwarded client). Fastify's own two lines per request must be off (`disableRequestLogging`).
 */
export const logRequests = (
  app: FastifyInstance,
  clientIpOf: (request: FastifyRequest) => string | undefined,
): void => {
  app.addHook('onResponse', async (request, reply) => {
    const level = levelOf(request, reply);
    const url = loggableUrl(request.url);
    logRequestLine(
      request.log,
      level,
      {
        reqId: request.id,
        method: request.method,
        url,
        status: reply.statusCode,
        durationMs: Math.round(reply.elapsedTime),
        remoteAddress: clientIpOf(request),
      },
      `${request.method} ${url} ${reply.statusCode}`,
    );
  });
};
