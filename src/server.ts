/**
 * Turns a loaded Config into a running idport: storage with the config's static overlays, signer,
 * connectors, the fastify app, and the background timers. `src/cli.ts` calls it; tests may too.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ConnectorDeps } from '../connectors/connector.js';
import { openLocal } from '../connectors/local/local.js';
import { openConnector } from '../connectors/registry.js';
import { withStaticOverlay } from '../storage/static.js';
import type { Storage } from '../storage/storage.js';
import { addPlainServer, buildApp, type TlsOptions } from './app.js';
import { PASSWORD_DB_CONNECTOR_ID, type Config } from './config/schema.js';
import { configWarnings } from './config/warnings.js';
import { defaultDeps, type Deps } from './deps.js';
import { LiveConnectors } from './live-connectors.js';
import { staticEntries } from './static-entries.js';
import type { GrpcListener } from './grpc/server.js';
import { isFeatureEnabled, type Env } from './config/env.js';
import type { ConnectorEntry, Provider } from './oauth/provider.js';
import { normaliseResponseType, type ProviderSettings } from './oauth/settings.js';
import { createSigner, type Signer } from './signer/signer.js';
import { packageVersion } from './package-version.js';
import { boundAddress, listenOn, splitAddress } from './listen-address.js';

/** Authorization codes live 10 minutes (ARCHITECTURE.md decision 3). */
const AUTH_CODE_TTL_MS = 10 * 60_000;
/** How often expired auth requests, codes and device requests are deleted. */
const GC_INTERVAL_MS = 5 * 60_000;
/** How often the signer checks whether rotation is due (rotation itself follows `expiry.signingKeys`). */
const ROTATION_CHECK_MS = 60_000;

/** Grant types the token endpoint implements (Dex's `implicit` is a response type here, advertised by discovery). */
const IMPLEMENTED_GRANTS = [
  'authorization_code',
  'refresh_token',
  'password',
  'urn:ietf:params:oauth:grant-type:device_code',
  'urn:ietf:params:oauth:grant-type:token-exchange',
  'client_credentials',
];
/** Every response type combination OIDC defines (Core §3, Multiple Response Types §5). */
const RESPONSE_TYPE_COMBINATIONS = [
  'code',
  'id_token',
  'token',
  'id_token token',
  'code id_token',
  'code token',
  'code id_token token',
];

/** The issuer path without a trailing slash ('' when the issuer is at the host root). */
export const basePathOf = (issuer: string): string => new URL(issuer).pathname.replace(/\/+$/, '');

/**
 * Protocol settings from the config: each combination listed in `oauth2.responseTypes`, or whose words are each
 * listed (as Dex checks a request); discovery lists the configured values, sorted, as Dex does.
 */
export const settingsFromConfig = (config: Config, env: Env = {}): ProviderSettings => {
  // Dex master: with no oauth2.grantTypes, DEX_CLIENT_CREDENTIAL_GRANT_ENABLED_BY_DEFAULT adds client_credentials.
  const listed: readonly string[] =
    config.oauth2.grantTypesDefaulted && isFeatureEnabled(env, 'DEX_CLIENT_CREDENTIAL_GRANT_ENABLED_BY_DEFAULT', false)
      ? [...config.oauth2.grantTypes, 'client_credentials']
      : config.oauth2.grantTypes;
  const enabled = new Set<string>(config.oauth2.responseTypes);
  const refresh = config.expiry.refreshTokens;
  return {
    issuer: config.issuer.replace(/\/+$/, ''),
    basePath: basePathOf(config.issuer),
    responseTypes: RESPONSE_TYPE_COMBINATIONS.filter(
      (combo) => enabled.has(combo) || combo.split(' ').every((word) => enabled.has(word)),
    ).map(normaliseResponseType),
    advertisedResponseTypes: [...new Set(config.oauth2.responseTypes)].sort(),
    grantTypes: IMPLEMENTED_GRANTS.filter((grant) => listed.includes(grant))
      // As Dex: the password grant exists only when oauth2.passwordConnector names the connector it logs in with.
      .filter((grant) => grant !== 'password' || config.oauth2.passwordConnector !== undefined),
    passwordConnector: config.oauth2.passwordConnector,
    pkceEnforce: config.oauth2.pkce.enforce,
    codeChallengeMethods: config.oauth2.pkce.codeChallengeMethodsSupported,
    skipApprovalScreen: config.oauth2.skipApprovalScreen,
    alwaysShowLoginScreen: config.oauth2.alwaysShowLoginScreen,
    idTokenTtlMs: config.expiry.idTokens,
    // Dex gives access tokens the ID token lifetime.
    accessTokenTtlMs: config.expiry.idTokens,
    authRequestTtlMs: config.expiry.authRequests,
    authCodeTtlMs: AUTH_CODE_TTL_MS,
    deviceRequestTtlMs: config.expiry.deviceRequests,
    sessions: {
      cookieName: config.sessions.cookieName,
      absoluteLifetimeMs: config.sessions.absoluteLifetime,
      idleLifetimeMs: config.sessions.validIfNotUsedFor,
      rememberMeDefault: config.sessions.rememberMeCheckedByDefault,
      ssoSharedWithDefault: config.sessions.ssoSharedWithDefault,
      cookieEncryptionKey:
        config.sessions.cookieEncryptionKey === undefined
          ? undefined
          : Buffer.from(config.sessions.cookieEncryptionKey, 'utf8'),
    },
    bruteForce: {
      maxFailures: config.bruteForce.maxFailures,
      windowMs: config.bruteForce.window,
      lockoutMs: config.bruteForce.lockout,
      maxFailuresPerIP: config.bruteForce.maxFailuresPerIP,
    },
    refresh: {
      disableRotation: refresh.disableRotation,
      reuseIntervalMs: refresh.reuseInterval,
      validIfNotUsedForMs: refresh.validIfNotUsedFor,
      absoluteLifetimeMs: refresh.absoluteLifetime,
    },
  };
};

/**
 * Opens the configured storage backend; `log` hears what the operator should know (Kubernetes' RBAC fallback).
 * Each driver is imported here, when it is the one configured: the Kubernetes client alone is hundreds of
 * modules, and pg or better-sqlite3 are of no use to the others.
 */
export const openStorage = async (config: Config, log: Logger): Promise<Storage> => {
  switch (config.storage.type) {
    case 'memory':
      return (await import('../storage/memory/memory.js')).openMemory();
    case 'sqlite3':
      return (await import('../storage/sqlite/sqlite.js')).openSqlite({ file: config.storage.config.file });
    case 'postgres':
      return (await import('../storage/postgres/postgres.js')).openPostgres(config.storage.config);
    case 'kubernetes':
      return (await import('../storage/kubernetes/kubernetes.js')).openKubernetes(
        config.storage.config,
        log.child({ component: 'storage' }),
      );
  }
};

/** The addresses a server listens on, as host:port with the port actually bound. */
export interface ListenAddresses {
  /** `web.https` (TLS). */
  readonly https?: string;
  /** `web.http` (plain). */
  readonly http?: string;
  /** `telemetry.http`: /metrics and the health checks. */
  readonly telemetry?: string;
  /** `grpc.addr`: Dex's gRPC API. */
  readonly grpc?: string;
}

/** A running idport: the apps (not yet listening), what it owns, and how to stop it. */
export interface Server {
  /** The provider's routes; with TLS when `web.https` is set. */
  readonly app: FastifyInstance;
  /** The telemetry listener's app (/metrics, /healthz*), when `telemetry.http` is set. */
  readonly telemetry: FastifyInstance | undefined;
  readonly provider: Provider;
  readonly signer: Signer;
  /**
   * Listens where the config says: `web.https` with TLS and/or `web.http` in plain HTTP (both, as in Dex, when
   * both are set), and `telemetry.http`. A port of 0 binds a free one; the result tells which.
   */
  listen(): Promise<ListenAddresses>;
  /** Starts garbage collection and key rotation timers. */
  startTimers(): void;
  /** Stops accepting connections, finishes in-flight requests, stops timers, closes connectors and storage. */
  close(): Promise<void>;
}

export interface ServerOptions {
  readonly log: Logger;
  /** The environment, for Dex's feature flags (`DEX_API_CONNECTORS_CRUD`); process.env when omitted. */
  readonly env?: Env;
  readonly deps?: Deps;
  /** TLS for `web.https`; read from `web.tlsCert` and `web.tlsKey` when omitted. */
  readonly tls?: TlsOptions;
}

/** The configured connectors in configuration order, the password database first when enabled. */
const openConnectors = async (config: Config, provider: Pick<Provider, 'storage' | 'log' | 'deps'>) => {
  const { storage, log, deps } = provider;
  const connectors = new Map<string, ConnectorEntry>();
  const connectorDeps = (id: string): ConnectorDeps => ({
    log: log.child({ connector: id }),
    fetch: deps.fetch,
    now: () => deps.clock.now(),
  });
  if (config.enablePasswordDB || config.staticPasswords.length > 0) {
    connectors.set(PASSWORD_DB_CONNECTOR_ID, {
      id: PASSWORD_DB_CONNECTOR_ID,
      type: 'local',
      name: 'Email',
      connector: openLocal(storage.passwords, connectorDeps(PASSWORD_DB_CONNECTOR_ID)),
    });
  }
  for (const entry of config.connectors) {
    const connector = await openConnector(entry.type, entry.id, entry.config, connectorDeps(entry.id));
    connectors.set(entry.id, { id: entry.id, type: entry.type, name: entry.name, connector });
  }
  return connectors;
};

/** Storage (with the static overlay), the signer with its keys, and the connectors: what requests are served with. */
const openProvider = async (
  config: Config,
  options: ServerOptions,
): Promise<{ provider: Provider; signer: Signer; keysReady: Promise<boolean> }> => {
  const { log } = options;
  const base = options.deps ?? defaultDeps;
  const deps = { ...base, randomBytes: base.randomBytes ?? randomBytes };
  const settings = settingsFromConfig(config, options.env ?? process.env);
  const storage = withStaticOverlay(await openStorage(config, log), staticEntries(config));
  const signer = createSigner({
    storage,
    clock: deps.clock,
    issuer: settings.issuer,
    algorithm: config.signer?.config.algorithm ?? 'RS256',
    rotationPeriodMs: config.signer?.config.keysRotationPeriod ?? config.expiry.signingKeys,
    idTokenTtlMs: Math.max(settings.idTokenTtlMs, settings.accessTokenTtlMs),
    log: log.child({ component: 'signer' }),
  });
  // A first start waits for an RSA key (src/main.ts): connectors and apps are set up meanwhile, and createServer
  // awaits the keys before anything listens (the catch only keeps a failure from going unhandled until then).
  const keysReady = signer.ensureKeys();
  keysReady.catch(() => undefined);
  const connectors = new LiveConnectors(await openConnectors(config, { storage, log, deps }), storage, log, deps);
  // Connectors stored in the database (the gRPC API, a Dex database carried over) serve logins from the start.
  await connectors.sync();
  return { provider: { settings, storage, signer, connectors, deps, log }, signer, keysReady };
};

/** The web app and, when `telemetry.http` is set, the telemetry app with the metrics they share. */
const buildApps = async (
  config: Config,
  provider: Provider,
  tls: TlsOptions | undefined,
): Promise<{ app: FastifyInstance; telemetry: FastifyInstance | undefined; registry: Registry | undefined }> => {
  // Metrics are kept only when something can read them; prom-client and the telemetry app load only then.
  const observed =
    config.telemetry.http !== undefined
      ? await Promise.all([import('./http/metrics.js'), import('./telemetry.js')])
      : undefined;
  const metrics = observed?.[0].createHttpMetrics(packageVersion());
  const app = await buildApp({
    provider,
    branding: {
      issuerName: config.frontend.issuer,
      logoUrl: logoUrlOf(config, provider.settings.issuer),
      theme: config.frontend.theme,
    },
    headers: webHeaders(config),
    allowedOrigins: config.web.allowedOrigins,
    allowedHeaders: config.web.allowedHeaders,
    // Behind a proxy, client IPs (rate limits, logs) come from the header, but only when a trusted proxy sent it.
    clientIp: config.web.clientRemoteIP,
    ...(tls !== undefined ? { tls } : {}),
    ...(metrics !== undefined ? { metrics } : {}),
  });
  const telemetry =
    metrics !== undefined && observed !== undefined
      ? await observed[1].buildTelemetryApp({
          metrics,
          storage: provider.storage,
          log: provider.log.child({ component: 'telemetry' }),
        })
      : undefined;
  return { app, telemetry, registry: metrics?.registry };
};

/** The listeners of a server and where the config puts them. */
interface Listeners {
  readonly app: FastifyInstance;
  /** A plain listener beside the TLS one: the same app, so both share routes and rate-limit counters. */
  readonly plain: HttpServer | undefined;
  readonly telemetry: FastifyInstance | undefined;
  readonly tls: boolean;
}

const listenAll = async (config: Config, listeners: Listeners): Promise<ListenAddresses> => {
  const { app, plain, telemetry, tls } = listeners;
  const main = tls ? config.web.https : config.web.http;
  // The schema requires web.http or web.https, and tlsCert/tlsKey with https.
  if (main === undefined) throw new Error('web.https is set but no TLS certificate was given');
  const { host, port } = splitAddress(main);
  await app.listen({ host, port });
  const addresses: { -readonly [K in keyof ListenAddresses]: ListenAddresses[K] } = {
    [tls ? 'https' : 'http']: boundAddress(app.server),
  };
  if (plain !== undefined && config.web.http !== undefined) addresses.http = await listenOn(plain, config.web.http);
  if (telemetry !== undefined && config.telemetry.http !== undefined) {
    const { host: telemetryHost, port: telemetryPort } = splitAddress(config.telemetry.http);
    await telemetry.listen({ host: telemetryHost, port: telemetryPort });
    addresses.telemetry = boundAddress(telemetry.server);
  }
  return addresses;
};

/** One garbage-collection pass; failures are logged, never thrown (the next pass tries again). */
const collectGarbage = async (provider: Provider): Promise<void> => {
  try {
    const removed = await provider.storage.garbageCollect(provider.deps.clock.now());
    if (Object.values(removed).some((n) => n > 0)) provider.log.info({ removed }, 'garbage collection');
  } catch (err: unknown) {
    provider.log.error({ err }, 'garbage collection failed');
  }
};

export const createServer = async (config: Config, options: ServerOptions): Promise<Server> => {
  for (const { key, message } of configWarnings(config)) options.log.warn({ key }, `${key} ${message}`);
  const tls = options.tls ?? httpsOptions(config);
  const { provider, signer, keysReady } = await openProvider(config, options);
  const { app, telemetry, registry } = await buildApps(config, provider, tls);
  await keysReady;
  let api: GrpcListener | undefined;
  const plain = tls !== undefined && config.web.http !== undefined ? addPlainServer(app) : undefined;
  let gcTimer: NodeJS.Timeout | undefined;
  return {
    app,
    telemetry,
    provider,
    signer,
    listen: async () => {
      const addresses = await listenAll(config, { app, plain, telemetry, tls: tls !== undefined });
      const version = packageVersion();
      const log = options.log.child({ component: 'api' });
      const env = options.env ?? process.env;
      // Loaded only with a grpc block: gRPC and protobuf add to every start otherwise.
      if (config.grpc.addr !== undefined) {
        const { listenApi } = await import('./grpc/listen.js');
        api = await listenApi({ config: config.grpc, provider, version, env, log, registry });
      }
      return api === undefined ? addresses : { ...addresses, grpc: api.address };
    },
    startTimers: () => {
      signer.startRotation(ROTATION_CHECK_MS);
      gcTimer = setInterval(() => void collectGarbage(provider), GC_INTERVAL_MS);
      gcTimer.unref();
      void collectGarbage(provider);
    },
    close: async () => {
      if (gcTimer !== undefined) clearInterval(gcTimer);
      signer.stop();
      await Promise.all([app.close(), telemetry?.close(), api?.close()]);
      for (const { connector } of provider.connectors.values()) await connector.close?.();
      await provider.storage.close();
    },
  };
};

/** Dex's default `theme/logo.png` means the theme's own logo; other relative URLs resolve against the issuer. */
const logoUrlOf = (config: Config, issuer: string): string => {
  const logo = config.frontend.logoURL;
  if (logo === 'theme/logo.png') return '';
  return URL.canParse(logo) ? logo : `${issuer}/${logo.replace(/^\/+/, '')}`;
};

/** Dex's `web.headers` keys mapped to their HTTP header names. */
const webHeaders = (config: Config): Record<string, string> => {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(config.web.headers ?? {}))
    if (typeof value === 'string' && value !== '') headers[name] = value;
  return headers;
};

/** TLS options for `web.https`, read once at start. */
export const httpsOptions = (config: Config): TlsOptions | undefined => {
  if (config.web.https === undefined || config.web.tlsCert === undefined || config.web.tlsKey === undefined)
    return undefined;
  const version = (v: '1.2' | '1.3' | undefined) => (v === undefined ? undefined : (`TLSv${v}` as const));
  const minVersion = version(config.web.tlsMinVersion);
  const maxVersion = version(config.web.tlsMaxVersion);
  return {
    cert: readFileSync(config.web.tlsCert),
    key: readFileSync(config.web.tlsKey),
    ...(minVersion !== undefined ? { minVersion } : {}),
    ...(maxVersion !== undefined ? { maxVersion } : {}),
  };
};
