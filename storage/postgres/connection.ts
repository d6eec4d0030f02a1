/**
 * Turns Dex's `storage.config` for postgres (plus idport's `url` and `schema`) into node-postgres pool
 * settings: TLS modes with libpq's meaning, Dex's pool keys, and timeouts on every step, so that no
 * request waits on the database longer than a bounded time.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { ClientConfig, PoolConfig } from 'pg';

/** libpq's `sslmode` values that Dex accepts; `prefer` and `allow` would silently fall back to plaintext. */
export type PostgresSslMode = 'disable' | 'require' | 'verify-ca' | 'verify-full';

/** `ssl` block of the postgres config (Dex's keys). */
export interface PostgresSslOptions {
  /** Defaults to verify-full, as Dex does. */
  readonly mode?: PostgresSslMode | undefined;
  /** PEM file with the CA that signed the server certificate; without it, the system CAs (verify-full only). */
  readonly caFile?: string | undefined;
  /** Client certificate (PEM) for certificate authentication. */
  readonly certFile?: string | undefined;
  /** Client private key (PEM). Read at open, never logged. */
  readonly keyFile?: string | undefined;
}

/** Settings for `openPostgres`: Dex's keys as `src/config` loads them, plus `url` and `schema`. */
export interface PostgresOptions {
  /** A postgres:// URL instead of host/port/database/user/password. Its `sslmode`, `sslrootcert`, `sslcert` and `sslkey` override `ssl`. */
  readonly url?: string | undefined;
  /** Host name, socket directory, or (Dex's backwards compatibility) "host:port". */
  readonly host?: string | undefined;
  readonly port?: number | undefined;
  readonly database?: string | undefined;
  readonly user?: string | undefined;
  /** Never logged; node-postgres keeps it out of enumerable properties. */
  readonly password?: string | undefined;
  /** Seconds to wait for a connection (connecting, or a free pool slot). 0 or unset means 5 s, not Dex's "forever": a request must not hang. */
  readonly connectionTimeout?: number | undefined;
  /** Most connections this process opens (Dex's default 5). */
  readonly maxOpenConns?: number | undefined;
  /** Idle connections kept open; idle ones beyond this are closed after 30 s. */
  readonly maxIdleConns?: number | undefined;
  /** Seconds after which a connection is closed and replaced; unset or 0 means no limit. */
  readonly connMaxLifetime?: number | undefined;
  readonly ssl?: PostgresSslOptions | undefined;
  /** Schema holding idport's tables (created if missing); it becomes the connection's `search_path`. */
  readonly schema?: string | undefined;
  /** Longest a single statement may run, enforced by the server and, as a backstop, by the client. Default 5000. */
  readonly statementTimeoutMs?: number | undefined;
}

/** Everything `openPostgres` needs to connect: the pool's settings and a description without secrets. */
export interface ConnectionSettings {
  readonly pool: PoolConfig;
  /** Settings for the one connection that runs migrations: the pool's, with room for slow DDL. */
  readonly migration: ClientConfig;
  /** `host:port/database` for error messages; never includes the password. */
  readonly target: string;
  readonly schema: string | undefined;
}

/** Thrown for settings that cannot work (unknown sslmode, unreadable certificate file): a startup error, not an outage. */
export class PostgresConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PostgresConfigError';
  }
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_STATEMENT_TIMEOUT_MS = 5_000;
// The client-side timer only matters when the server cannot answer (network gone); it is a little
// longer than statement_timeout so that normally the server cancels and the connection stays usable.
const CLIENT_TIMEOUT_MARGIN_MS = 1_000;
// A transaction left open (a frozen process) holds its row locks; the server ends it after this.
const IDLE_IN_TRANSACTION_TIMEOUT_MS = 10_000;
const IDLE_TIMEOUT_MS = 30_000;
// Migrations may rewrite tables; replicas waiting for the migration lock wait as long.
const MIGRATION_TIMEOUT_MS = 10 * 60_000;
// Dead peers behind a NAT or a cut link are noticed by TCP keepalive, not only by the next query.
const KEEPALIVE_DELAY_MS = 10_000;

const SSL_MODES: readonly PostgresSslMode[] = ['disable', 'require', 'verify-ca', 'verify-full'];
const isSslMode = (mode: string): mode is PostgresSslMode => (SSL_MODES as readonly string[]).includes(mode);
// URL parameters idport reads itself: node-postgres gives `sslmode=require` verify-full's meaning, unlike libpq and Dex.
const URL_SSL_PARAMS = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'ssl', 'uselibpqcompat'];
/** Unquoted identifiers only: the name goes into `search_path` and DDL, and must mean the same in both. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

const readPem = (file: string, key: string): string => {
  try {
    return readFileSync(file, 'utf8');
  } catch (err: unknown) {
    throw new PostgresConfigError(`postgres: cannot read ssl.${key} ${file}`, { cause: err });
  }
};

/** node `tls` options for a libpq sslmode (as lib/pq, which Dex uses, implements them). */
export function tlsOptionsOf(ssl: PostgresSslOptions): false | ConnectionOptions {
  const mode: string = ssl.mode ?? 'verify-full';
  if (!isSslMode(mode))
    throw new PostgresConfigError(`postgres: unsupported ssl mode "${mode}" (use ${SSL_MODES.join(', ')})`);
  if (mode === 'disable') return false;
  const files: ConnectionOptions = {
    ...(ssl.caFile !== undefined ? { ca: readPem(ssl.caFile, 'caFile') } : {}),
    ...(ssl.certFile !== undefined ? { cert: readPem(ssl.certFile, 'certFile') } : {}),
    ...(ssl.keyFile !== undefined ? { key: readPem(ssl.keyFile, 'keyFile') } : {}),
  };
  const skipHostname = { checkServerIdentity: () => undefined };
  switch (mode) {
    case 'require':
      // libpq: with a root certificate, require behaves as verify-ca (kept for backwards compatibility).
      return ssl.caFile !== undefined
        ? { ...files, rejectUnauthorized: true, ...skipHostname }
        : { ...files, rejectUnauthorized: false };
    case 'verify-ca':
      // Checking only the chain against public CAs would accept any certificate any CA ever issued.
      if (ssl.caFile === undefined)
        throw new PostgresConfigError('postgres: ssl mode verify-ca needs ssl.caFile (or use verify-full)');
      return { ...files, rejectUnauthorized: true, ...skipHostname };
    default:
      return { ...files, rejectUnauthorized: true };
  }
}

/**
 * Splits Dex's backwards-compatible "host:port" (and "[v6]:port"); as in Dex, a port written there wins
 * over `port`. A socket directory or a plain host name stays whole.
 */
function splitHost(host: string | undefined, port: number | undefined): { host?: string; port?: number } {
  const withPort = port === undefined ? {} : { port };
  if (host === undefined) return withPort;
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(host) ?? /^([^:/]+):(\d+)$/.exec(host);
  if (match?.[1] === undefined) return { host: host.replace(/^\[(.+)\]$/, '$1'), ...withPort };
  return { host: match[1], port: Number(match[2]) };
}

/** The connection target before pool and timeout settings. */
interface Endpoint {
  readonly endpoint: ClientConfig;
  /** host:port/database, for messages (never the password). */
  readonly target: string;
  readonly ssl: PostgresSslOptions;
  readonly startupOptions: string[];
}

/** Where to connect, from Dex's `url` form: the URL's TLS parameters join `ssl`, `options` joins the startup options. */
function endpointFromUrl(options: PostgresOptions & { url: string }): Endpoint {
  const schema = options.schema;
  const endpoint: ClientConfig = {};
  const startupOptions: string[] = [];
  let url: URL;
  try {
    url = new URL(options.url);
  } catch (err: unknown) {
    // The URL may carry a password, so it is not repeated here.
    throw new PostgresConfigError('postgres: url is not a valid URL', { cause: err });
  }
  const param = (name: string): string | undefined => url.searchParams.get(name) ?? undefined;
  const mode = param('sslmode');
  if (mode !== undefined && !isSslMode(mode))
    throw new PostgresConfigError(`postgres: unsupported sslmode "${mode}" in url (use ${SSL_MODES.join(', ')})`);
  const ssl: PostgresSslOptions = {
    ...options.ssl,
    ...(mode !== undefined ? { mode } : {}),
    ...(param('sslrootcert') !== undefined ? { caFile: param('sslrootcert') } : {}),
    ...(param('sslcert') !== undefined ? { certFile: param('sslcert') } : {}),
    ...(param('sslkey') !== undefined ? { keyFile: param('sslkey') } : {}),
  };
  const extra = param('options');
  if (extra !== undefined && schema !== undefined) startupOptions.push(extra);
  for (const name of [...URL_SSL_PARAMS, ...(schema !== undefined ? ['options'] : [])]) url.searchParams.delete(name);
  endpoint.connectionString = url.href;
  const target = `${url.hostname}${url.port !== '' ? `:${url.port}` : ''}${url.pathname}`;
  return { endpoint, target, ssl, startupOptions };
}

/** Where to connect, from Dex's separate `host`, `port`, `database`, `user` and `password` keys. */
function endpointFromKeys(options: PostgresOptions): Endpoint {
  const endpoint: ClientConfig = {};
  Object.assign(endpoint, splitHost(options.host, options.port));
  if (options.database !== undefined) endpoint.database = options.database;
  if (options.user !== undefined) endpoint.user = options.user;
  if (options.password !== undefined) endpoint.password = options.password;
  const target = `${endpoint.host ?? 'localhost'}:${endpoint.port ?? 5432}/${endpoint.database ?? ''}`;
  return { endpoint, target, ssl: options.ssl ?? {}, startupOptions: [] };
}

/** Builds pool settings from the options; throws PostgresConfigError for settings that cannot work. */
export function connectionSettings(options: PostgresOptions): ConnectionSettings {
  const schema = options.schema;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new PostgresConfigError(`postgres: schema must be a lower-case unquoted identifier, got "${schema}"`);
  }
  const { endpoint, target, ssl, startupOptions } =
    options.url !== undefined ? endpointFromUrl({ ...options, url: options.url }) : endpointFromKeys(options);
  if (schema !== undefined) startupOptions.push(`-c search_path=${schema}`);
  const statementTimeoutMs = options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  const connectTimeoutSeconds = options.connectionTimeout ?? 0;
  const connection: ClientConfig = {
    ...endpoint,
    ssl: tlsOptionsOf(ssl),
    application_name: 'idport',
    ...(startupOptions.length > 0 ? { options: startupOptions.join(' ') } : {}),
    connectionTimeoutMillis: connectTimeoutSeconds > 0 ? connectTimeoutSeconds * 1000 : DEFAULT_CONNECT_TIMEOUT_MS,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_DELAY_MS,
    idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_TIMEOUT_MS,
  };
  const max = options.maxOpenConns !== undefined && options.maxOpenConns > 0 ? options.maxOpenConns : 5;
  const pool: PoolConfig = {
    ...connection,
    statement_timeout: statementTimeoutMs,
    query_timeout: statementTimeoutMs + CLIENT_TIMEOUT_MARGIN_MS,
    max,
    // pg-pool closes idle connections only above `min`, which is database/sql's MaxIdleConns.
    min: Math.min(options.maxIdleConns ?? max, max),
    idleTimeoutMillis: IDLE_TIMEOUT_MS,
    maxLifetimeSeconds: options.connMaxLifetime ?? 0,
  };
  const migration: ClientConfig = {
    ...connection,
    statement_timeout: MIGRATION_TIMEOUT_MS,
    query_timeout: MIGRATION_TIMEOUT_MS + CLIENT_TIMEOUT_MARGIN_MS,
  };
  return { pool, migration, target, schema };
}
