/** `buildApp()`: the fastify app with every route under the issuer path. It never listens (src/main.ts does). */
import { randomUUID } from 'node:crypto';
import type { RequestListener, Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import fastifyCookie from '@fastify/cookie';
import fastifyRateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import { authRoutes } from './http/auth-routes.js';
import { deviceRoutes } from './http/device-routes.js';
import { discoveryRoutes } from './http/discovery-routes.js';
import { registerFormParser } from './http/form.js';
import { healthRoutes } from './http/health-routes.js';
import { logoutRoutes } from './http/logout-routes.js';
import type { PageContext } from './http/pages.js';
import { staticRoutes } from './http/static-routes.js';
import { tokenRoutes, userinfoRoutes } from './http/token-routes.js';
import type { Provider } from './oauth/provider.js';
import { staticDir, themeDir } from '../web/assets.js';

/** Branding shown on every page (Dex's `frontend`). */
export interface Branding {
  readonly issuerName: string;
  readonly logoUrl: string;
  readonly theme: string;
}

export interface AppOptions {
  readonly provider: Provider;
  readonly branding: Branding;
  /** Extra response headers for pages (Dex's `web.headers`). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Origins allowed to call discovery, keys, token and userinfo from a browser (Dex's `web.allowedOrigins`). */
  readonly allowedOrigins?: readonly string[];
  /** Trust X-Forwarded-* from a proxy in front (for client IPs in logs). */
  readonly trustProxy?: boolean | string | string[];
  /** Password attempts per client IP per minute; tests that log in many times raise it. */
  readonly passwordAttemptsPerMinute?: number;
  /** Serve HTTPS with this certificate and key (Dex's `web.https`, `tlsCert`, `tlsKey`). */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer; readonly minVersion?: 'TLSv1.2' | 'TLSv1.3'; readonly maxVersion?: 'TLSv1.2' | 'TLSv1.3' };
}

const REQUEST_ID_HEADER = 'x-request-id';

/**
 * Query parameters whose values never reach the log: an upstream provider's authorization code at /callback, ID
 * tokens sent as id_token_hint to /auth and /logout, the user's email as login_hint, and credentials a client
 * misplaces in a query string. The logger's redact paths cover log objects, not the URL of "incoming request".
 */
const SECRET_QUERY_PARAMS = ['code', 'id_token_hint', 'login_hint', 'access_token', 'refresh_token', 'id_token', 'client_secret', 'password'];

/** The request URL for logs, with the values of SECRET_QUERY_PARAMS replaced. */
const loggableUrl = (url: string): string => {
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

/** Fastify's request serializer, with the URL made loggable. */
const serializeRequest = (request: FastifyRequest): Record<string, unknown> => ({
  method: request.method,
  url: loggableUrl(request.url),
  host: request.host,
  remoteAddress: request.ip,
  remotePort: request.socket.remotePort,
});

export const buildApp = async (options: AppOptions): Promise<FastifyInstance> => {
  const { provider, branding } = options;
  const app = Fastify({
    loggerInstance: provider.log.child({}, { serializers: { req: serializeRequest } }) as FastifyBaseLogger,
    // A caller-supplied request id is kept (so logs line up across a proxy) only when it looks like one.
    genReqId: (request) => {
      const given = request.headers[REQUEST_ID_HEADER];
      return typeof given === 'string' && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID();
    },
    requestIdHeader: false,
    trustProxy: options.trustProxy ?? false,
    routerOptions: { ignoreTrailingSlash: true },
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // An https.Server is an http.Server subclass for fastify's purposes; the factory keeps one app type for both.
    ...(options.tls !== undefined
      ? { serverFactory: (handler: RequestListener) => createHttpsServer({ ...options.tls }, handler) as unknown as HttpServer }
      : {}),
  });
  app.addHook('onSend', async (request, reply) => {
    void reply.header(REQUEST_ID_HEADER, request.id);
  });
  registerFormParser(app);
  await app.register(fastifyCookie);
  // Only routes that opt in are limited (password logins); see src/http/rate-limit.ts.
  await app.register(fastifyRateLimit, { global: false });
  if (options.allowedOrigins !== undefined && options.allowedOrigins.length > 0) registerCors(app, options.allowedOrigins);

  const page: PageContext = {
    base: { issuerName: branding.issuerName, logoUrl: branding.logoUrl, theme: branding.theme, basePath: provider.settings.basePath },
    extraHeaders: options.headers ?? {},
  };
  const prefix = provider.settings.basePath;
  await app.register(async (scope) => {
    await scope.register(discoveryRoutes, { provider });
    await scope.register(tokenRoutes, { provider });
    await scope.register(userinfoRoutes, { provider });
    await scope.register(authRoutes, { provider, page, passwordAttemptsPerMinute: options.passwordAttemptsPerMinute });
    await scope.register(logoutRoutes, { provider, page });
    await scope.register(deviceRoutes, { provider, page, passwordAttemptsPerMinute: options.passwordAttemptsPerMinute });
    await scope.register(healthRoutes, { storage: provider.storage });
    await scope.register(staticRoutes, { staticDir, themeDir: themeDir(branding.theme) });
  }, { prefix });
  // Probes also answer at the root, so a container HEALTHCHECK works whatever the issuer path is.
  if (prefix !== '') await app.register(healthRoutes, { storage: provider.storage });
  app.setNotFoundHandler((_request, reply) => {
    void reply.code(404).header('Cache-Control', 'no-store').send({ error: 'not_found' });
  });
  return app;
};

/** CORS for the endpoints a browser app calls directly (Dex's `web.allowedOrigins`; `*` allows any). */
const registerCors = (app: FastifyInstance, allowedOrigins: readonly string[]): void => {
  const anyOrigin = allowedOrigins.includes('*');
  app.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin;
    if (origin === undefined || (!anyOrigin && !allowedOrigins.includes(origin))) return;
    void reply.header('Access-Control-Allow-Origin', anyOrigin ? '*' : origin).header('Vary', 'Origin');
    if (request.method === 'OPTIONS') {
      void reply
        .header('Access-Control-Allow-Methods', 'GET, POST, OPTIONS')
        .header('Access-Control-Allow-Headers', 'Authorization, Content-Type')
        .header('Access-Control-Max-Age', '600')
        .code(204)
        .send();
    }
  });
};
