/** `buildApp()`: the fastify app with every route under the issuer path. It never listens (src/server.ts does). */
import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type RequestListener, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import fastifyCookie from '@fastify/cookie';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import { BCRYPT_MAX_QUEUE_WAIT_MS } from '../connectors/local/bcrypt.js';
import { authRoutes } from './http/auth-routes.js';
import { samlRoutes } from './http/saml-routes.js';
import { clientIpReader, type ClientIpOptions } from './http/client-ip.js';
import { deviceRoutes } from './http/device-routes.js';
import { discoveryRoutes } from './http/discovery-routes.js';
import { FORM_BODY_LIMIT, registerFormParser, UNREAD_BODY_ERRORS } from './http/form.js';
import { healthRoutes } from './http/health-routes.js';
import { logoutRoutes } from './http/logout-routes.js';
import { landingRoutes, notFoundHandler } from './http/landing-routes.js';
import { instrument, type HttpMetrics } from './http/instrument.js';
import type { PageContext } from './http/pages.js';
import { WITHOUT_SCHEMA_COMPILERS } from './http/no-schemas.js';
import { logRequests } from './http/request-log.js';
import { DeferredChildLogger } from './log.js';
import { staticRoutes } from './http/static-routes.js';
import { tokenRoutes, userinfoRoutes } from './http/token-routes.js';
import type { Provider } from './oauth/provider.js';
import type { Logger } from 'pino';
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
  /** Headers set on every response, over a page's own header of the same name (Dex's `web.headers`). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Origins allowed to call discovery, keys, token and userinfo from a browser (Dex's `web.allowedOrigins`). */
  readonly allowedOrigins?: readonly string[];
  /** Request headers such a browser may send besides Authorization and Content-Type (Dex's `web.allowedHeaders`). */
  readonly allowedHeaders?: readonly string[];
  /** Where client IPs (brute-force budgets, logs) come from behind a proxy (Dex's `web.clientRemoteIP`); the peer's address without it. */
  readonly clientIp?: ClientIpOptions;
  /** Serve HTTPS with this certificate and key (Dex's `web.https`, `tlsCert`, `tlsKey`). */
  readonly tls?: TlsOptions;
  /** Timeouts and the open-connection cap; the defaults suit production (README "Connections"). */
  readonly connectionLimits?: Partial<ConnectionLimits>;
  /** Count requests, issued tokens and failed logins here (served by the telemetry listener). */
  readonly metrics?: HttpMetrics;
}

/** Certificate, key and protocol bounds of an HTTPS listener. */
export interface TlsOptions {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly minVersion?: 'TLSv1.2' | 'TLSv1.3';
  readonly maxVersion?: 'TLSv1.2' | 'TLSv1.3';
}

const REQUEST_ID_HEADER = 'x-request-id';

/** Idle keep-alive (fastify's default). */
const KEEP_ALIVE_TIMEOUT_MS = 72_000;
/**
 * An idle socket (no bytes either way) is closed after this. A login waiting for its password check sends nothing,
 * so the check's longest wait for a slot (BCRYPT_MAX_QUEUE_WAIT_MS, 10 s) plus the comparison itself must end well
 * inside it, or the client is cut off with no answer; checked below.
 */
const CONNECTION_TIMEOUT_MS = 30_000;
/** What the slowest comparison (cost 16, on a loaded machine) may take after its wait. */
const SLOWEST_PASSWORD_CHECK_MS = 10_000;
if (BCRYPT_MAX_QUEUE_WAIT_MS + SLOWEST_PASSWORD_CHECK_MS >= CONNECTION_TIMEOUT_MS) {
  throw new Error('BCRYPT_MAX_QUEUE_WAIT_MS leaves a waiting login no time to answer before the socket times out');
}
/**
 * A request, headers and body, must arrive within this; headers within HEADERS_TIMEOUT_MS. Node enforces
 * max(headersTimeout, requestTimeout) and only checks every connectionsCheckingInterval, so all three are set:
 * an unfinished upload is closed within REQUEST_TIMEOUT_MS + CONNECTIONS_CHECK_MS (README "Connections").
 */
const REQUEST_TIMEOUT_MS = 30_000;
const HEADERS_TIMEOUT_MS = 20_000;
const CONNECTIONS_CHECK_MS = 1_000;
/** Open connections per listener; more are refused at once (README "Connections"). */
export const DEFAULT_MAX_CONNECTIONS = 4_096;

/** Bounds on slow or numerous clients; tests shorten them. */
export interface ConnectionLimits {
  readonly requestTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly maxConnections: number;
}

const DEFAULT_LIMITS: ConnectionLimits = {
  requestTimeoutMs: REQUEST_TIMEOUT_MS,
  headersTimeoutMs: HEADERS_TIMEOUT_MS,
  maxConnections: DEFAULT_MAX_CONNECTIONS,
};

/** Options only a server's constructor takes. */
const SERVER_OPTIONS = { connectionsCheckingInterval: CONNECTIONS_CHECK_MS } as const;

/** Applies the timeouts and the connection cap (fastify sets timeouts only on servers it creates itself). */
const withTimeouts = <T extends HttpServer>(server: T, limits: ConnectionLimits): T => {
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.requestTimeout = limits.requestTimeoutMs;
  server.headersTimeout = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  server.maxConnections = limits.maxConnections;
  server.setTimeout(CONNECTION_TIMEOUT_MS);
  return server;
};

/** Each app's request handler and the extra servers feeding it (see `addPlainServer`). */
const appServers = new WeakMap<
  FastifyInstance,
  { readonly handler: RequestListener; readonly extra: Set<HttpServer>; readonly limits: ConnectionLimits }
>();

/**
 * A plain-HTTP server for an app that also listens elsewhere with TLS (Dex serves `web.http` and `web.https`
 * together). It feeds the same app, so both listeners share routes, hooks and rate-limit counters (two apps
 * would give a password guesser a fresh budget per listener). It stops accepting when the app closes, and the
 * app's close waits for it. The caller listens.
 */
export const addPlainServer = (app: FastifyInstance): HttpServer => {
  const entry = appServers.get(app);
  if (entry === undefined) throw new Error('addPlainServer: not an app from buildApp');
  const server = withTimeouts(createHttpServer(SERVER_OPTIONS, entry.handler), entry.limits);
  entry.extra.add(server);
  return server;
};

/** Reads the client's IP from a raw request (behind trusted proxies, from their header). */
type ClientIpReader = ReturnType<typeof clientIpReader>;

/** The fastify instance with idport's server options; always through a factory, so a plain server can share it. */
const createFastify = (options: AppOptions, clientIp: ClientIpReader | undefined): FastifyInstance => {
  const clientIpOf = (request: FastifyRequest): string | undefined =>
    clientIp !== undefined ? clientIp(request.raw) : request.ip;
  let handler: RequestListener | undefined;
  const limits = { ...DEFAULT_LIMITS, ...options.connectionLimits };
  const app = Fastify({
    loggerInstance: options.provider.log as FastifyBaseLogger,
    // One line per request instead of fastify's two (src/http/request-log.ts).
    logController: new LogController({ disableRequestLogging: true }),
    // Each request's child logger is created only if the request logs more than its request line (src/log.ts).
    childLoggerFactory: (logger, bindings, childOptions) =>
      new DeferredChildLogger(logger as Logger, bindings, childOptions),
    // A caller-supplied request id is kept (so logs line up across a proxy) only when it looks like one.
    genReqId: (request) => {
      const given = request.headers[REQUEST_ID_HEADER];
      return typeof given === 'string' && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID();
    },
    requestIdHeader: false,
    routerOptions: { ignoreTrailingSlash: true },
    schemaController: WITHOUT_SCHEMA_COMPILERS,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    requestTimeout: limits.requestTimeoutMs,
    bodyLimit: FORM_BODY_LIMIT,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // Always a factory, so the handler can feed a second (plain) server too. An https.Server is an http.Server
    // subclass for fastify's purposes; the factory keeps one app type for both.
    serverFactory: (routing: RequestListener) => {
      handler = routing;
      return withTimeouts(
        options.tls !== undefined
          ? (createHttpsServer({ ...options.tls, ...SERVER_OPTIONS }, routing) as unknown as HttpServer)
          : createHttpServer(SERVER_OPTIONS, routing),
        limits,
      );
    },
  });
  if (handler === undefined) throw new Error('fastify did not call the server factory');
  logRequests(app, clientIpOf);
  const extraServers = new Set<HttpServer>();
  appServers.set(app, { handler, extra: extraServers, limits });
  const extraClosed: Promise<void>[] = [];
  app.addHook('preClose', async () => {
    // Node ≥ 19 closes idle keep-alive connections on close(); in-flight requests finish (fastify answers 503 to new ones).
    for (const server of extraServers)
      if (server.listening) extraClosed.push(new Promise((resolve) => server.close(() => resolve())));
  });
  app.addHook('onClose', async () => {
    await Promise.all(extraClosed);
  });
  return app;
};

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Hooks and plugins every route relies on: client IP, metrics, response headers, forms, cookies, rate limits, CORS. */
const registerCommon = async (
  app: FastifyInstance,
  options: AppOptions,
  clientIp: ClientIpReader | undefined,
): Promise<void> => {
  const { provider } = options;
  if (clientIp !== undefined) {
    // First hook of all, so the rate limiter (and everything after) sees the client, not the proxy.
    app.addHook('onRequest', async (request) => {
      Object.defineProperty(request, 'ip', { value: clientIp(request.raw), enumerable: true });
    });
  }
  if (clientIp === undefined || (options.clientIp?.trustedProxies.length ?? 0) === 0) warnOfProxy(app, provider);
  if (options.metrics !== undefined) {
    const { connectors } = provider;
    instrument(app, options.metrics, {
      basePath: provider.settings.basePath,
      grantTypes: provider.settings.grantTypes,
      isConnector: (id) => connectors.has(id),
    });
  }
  const { sync } = provider.connectors;
  if (sync !== undefined) {
    // Logins read the connector set: bring it in step with the stored connectors first (src/live-connectors.ts).
    // /token syncs in the token endpoint, for the grants that use connectors.
    const loginPaths = new RegExp(
      `^${escapeRegExp(provider.settings.basePath)}/(auth|callback|device|approval)(/|\\?|$)`,
    );
    app.addHook('onRequest', async (request) => {
      if (loginPaths.test(request.url)) await sync.call(provider.connectors);
    });
  }
  const headers = options.headers ?? {};
  app.addHook('onSend', async (request, reply) => {
    void reply.header(REQUEST_ID_HEADER, request.id);
    // Last, so a configured header replaces a page's default of the same name (Dex applies them to every response).
    void reply.headers(headers);
  });
  registerFormParser(app);
  app.addHook('onError', async (_request, reply, error) => {
    // A body idport refused to read may still be arriving: close the connection rather than drain it.
    if (UNREAD_BODY_ERRORS.has(error.code)) void reply.header('Connection', 'close');
  });
  await app.register(fastifyCookie);
  if (options.allowedOrigins !== undefined && options.allowedOrigins.length > 0)
    registerCors(app, options.allowedOrigins, options.allowedHeaders ?? []);
};

/**
 * Behind a proxy without `web.clientRemoteIP.trustedProxies`, every client has the proxy's address and so shares
 * one per-IP failure budget (bruteForce.maxFailuresPerIP): said once, at the first request that shows a proxy.
 */
const warnOfProxy = (app: FastifyInstance, provider: AppOptions['provider']): void => {
  let warned = false;
  app.addHook('onRequest', async (request) => {
    if (warned || request.headers['x-forwarded-for'] === undefined) return;
    warned = true;
    provider.log.warn(
      'requests arrive with X-Forwarded-For but web.clientRemoteIP.trustedProxies is not set: every client may share one address, and so one bruteForce.maxFailuresPerIP budget',
    );
  });
};

/** Every route module, under the issuer's path; the landing page and the 404 answer. */
const registerRoutes = async (app: FastifyInstance, options: AppOptions): Promise<void> => {
  const { provider, branding } = options;
  const page: PageContext = {
    base: {
      issuerName: branding.issuerName,
      logoUrl: branding.logoUrl,
      theme: branding.theme,
      basePath: provider.settings.basePath,
    },
  };
  const prefix = provider.settings.basePath;
  await app.register(
    async (scope) => {
      await scope.register(discoveryRoutes, { provider });
      await scope.register(tokenRoutes, { provider });
      await scope.register(userinfoRoutes, { provider });
      await scope.register(authRoutes, { provider, page });
      // SAML's ACS: POST /callback and /callback/:connector (Dex's paths), continued same-site (see saml-routes.ts).
      await scope.register(samlRoutes, { provider, page });
      await scope.register(logoutRoutes, { provider, page });
      await scope.register(deviceRoutes, { provider, page });
      await scope.register(healthRoutes, { storage: provider.storage, dexText: true });
      await scope.register(staticRoutes, { staticDir, themeDir: themeDir(branding.theme) });
      await scope.register(landingRoutes, { provider, page });
    },
    { prefix },
  );
  // Probes also answer at the root, so a container HEALTHCHECK works whatever the issuer path is.
  if (prefix !== '') await app.register(healthRoutes, { storage: provider.storage, dexText: true });
  // Someone opening the host root finds the provider too.
  if (prefix !== '') await app.register(landingRoutes, { provider, page });
  app.setNotFoundHandler(notFoundHandler({ provider, page }));
};

export const buildApp = async (options: AppOptions): Promise<FastifyInstance> => {
  const clientIp =
    options.clientIp !== undefined && options.clientIp.trustedProxies.length > 0
      ? clientIpReader(options.clientIp)
      : undefined;
  const app = createFastify(options, clientIp);
  await registerCommon(app, options, clientIp);
  await registerRoutes(app, options);
  return app;
};

/** Request headers every CORS preflight allows: what token and userinfo calls need. */
const CORS_ALLOWED_HEADERS = ['Authorization', 'Content-Type'];

/** CORS for the endpoints a browser app calls directly (Dex's `web.allowedOrigins`; `*` allows any). */
const registerCors = (
  app: FastifyInstance,
  allowedOrigins: readonly string[],
  extraHeaders: readonly string[],
): void => {
  const anyOrigin = allowedOrigins.includes('*');
  const allowedHeaders = [...CORS_ALLOWED_HEADERS];
  for (const name of extraHeaders)
    if (!allowedHeaders.some((known) => known.toLowerCase() === name.toLowerCase())) allowedHeaders.push(name);
  const allowHeaders = allowedHeaders.join(', ');
  app.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin;
    if (origin === undefined || (!anyOrigin && !allowedOrigins.includes(origin))) return;
    void reply.header('Access-Control-Allow-Origin', anyOrigin ? '*' : origin).header('Vary', 'Origin');
    if (request.method === 'OPTIONS') {
      void reply
        .header('Access-Control-Allow-Methods', 'GET, POST, OPTIONS')
        .header('Access-Control-Allow-Headers', allowHeaders)
        .header('Access-Control-Max-Age', '600')
        .code(204)
        .send();
    }
  });
};
