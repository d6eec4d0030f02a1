/**
 * The config sections that do not depend on the environment, with Dex's keys and Dex's defaults
 * (cmd/dex/config.go, cmd/dex/serve.go, storage/sql/config.go). schema.ts assembles them.
 */
import { z } from 'zod';
import {
  cidr,
  duration,
  evenWithOtherErrors,
  headerName,
  limitDuration,
  listenAddress,
  nonEmptyText,
  notSupported,
  parsedCleanly,
  text,
  wholeNumber,
} from './fields.js';

/** `storage.config` for `type: sqlite3` (Dex's sql.SQLite3). */
export const sqliteConfigSchema = z.strictObject({
  /** Database file; ":memory:" for a throwaway database. */
  file: nonEmptyText(),
});

const POSTGRES_SSL_MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;

/** `storage.config` for `type: postgres`: Dex's sql.Postgres keys plus idport's `url`. */
export const postgresConfigSchema = z
  .strictObject({
    /** idport addition: a postgres:// connection URL, instead of host/port/database/user/password. */
    url: text(
      z.string().refine((value) => /^postgres(ql)?:\/\//.test(value) && URL.canParse(value), {
        error: 'expected a URL like "postgres://user:password@host:5432/database"',
      }),
    ).optional(),
    /** Host name, socket directory, or (Dex's backwards compatibility) "host:port". */
    host: nonEmptyText().optional(),
    port: wholeNumber({ min: 1, max: 65535 }).optional(),
    database: nonEmptyText().optional(),
    user: nonEmptyText().optional(),
    password: text().optional(),
    /** Seconds to wait for a connection; 0 waits forever (Dex's default). */
    connectionTimeout: wholeNumber().default(0),
    // Dex treats 0 as "use the default of 5".
    maxOpenConns: wholeNumber()
      .transform((n) => (n === 0 ? 5 : n))
      .default(5),
    maxIdleConns: wholeNumber()
      .transform((n) => (n === 0 ? 5 : n))
      .default(5),
    /** Seconds a connection may be reused; unset (or 0) means no limit. */
    connMaxLifetime: wholeNumber()
      .transform((n) => (n === 0 ? undefined : n))
      .optional(),
    ssl: z
      .strictObject({
        /** Dex assumes the strictest mode when unset. */
        mode: text(z.enum(POSTGRES_SSL_MODES)).default('verify-full'),
        caFile: nonEmptyText().optional(),
        keyFile: nonEmptyText().optional(),
        certFile: nonEmptyText().optional(),
      })
      .prefault({}),
  })
  .superRefine((pg, ctx) => {
    if (!parsedCleanly(ctx.issues, 'url') || pg.url === undefined) return;
    const discrete = (['host', 'port', 'database', 'user', 'password'] as const).filter((key) => pg[key] !== undefined);
    if (discrete.length > 0)
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        input: pg.url,
        message: `set either url or ${discrete.join('/')}, not both`,
      });
  }, evenWithOtherErrors('mapping'));

const TLS_VERSIONS = ['1.2', '1.3'] as const;

/** `web`: the HTTP(S) listener, security headers and CORS (Dex's Web). */
export const webSchema = z
  .strictObject({
    http: listenAddress().optional(),
    https: listenAddress().optional(),
    tlsCert: nonEmptyText().optional(),
    tlsKey: nonEmptyText().optional(),
    tlsMinVersion: text(z.enum(TLS_VERSIONS)).optional(),
    tlsMaxVersion: text(z.enum(TLS_VERSIONS)).optional(),
    /** Headers added to every response; unset ones are not sent (Dex's Headers). */
    headers: z
      .strictObject({
        'Content-Security-Policy': nonEmptyText().optional(),
        'X-Frame-Options': nonEmptyText().optional(),
        'X-Content-Type-Options': nonEmptyText().optional(),
        'X-XSS-Protection': nonEmptyText().optional(),
        'Strict-Transport-Security': nonEmptyText().optional(),
      })
      .prefault({}),
    /** CORS origins allowed on discovery, keys, token and userinfo; "*" allows any. */
    allowedOrigins: z.array(nonEmptyText()).default([]),
    /** Request headers a browser may send cross-origin, besides Authorization and Content-Type (CORS preflight). */
    allowedHeaders: z.array(headerName()).default([]),
    /**
     * Where the client IP (rate limits, logs) comes from behind a proxy: `header`, read only when the peer is in
     * `trustedProxies`. Dex trusts a header from any peer when trustedProxies is empty; a client could then pick
     * its own IP and dodge the per-IP login limit, so idport asks for the proxies (0.0.0.0/0 and ::/0 trust all).
     */
    clientRemoteIP: z
      .strictObject({
        header: headerName().optional(),
        trustedProxies: z.array(cidr()).default([]),
      })
      .superRefine((remote, ctx) => {
        if (!parsedCleanly(ctx.issues, 'header') || !parsedCleanly(ctx.issues, 'trustedProxies')) return;
        if (remote.header !== undefined && remote.trustedProxies.length === 0)
          ctx.addIssue({
            code: 'custom',
            path: ['header'],
            input: remote.header,
            message:
              "is read only from clientRemoteIP.trustedProxies, which is empty: list your proxies' CIDR ranges (0.0.0.0/0 and ::/0 trust every peer, as Dex does)",
          });
      }, evenWithOtherErrors('mapping'))
      // X-Forwarded-For unless told otherwise: what proxies set, and what idport read before `header` was honoured.
      .transform(({ header, trustedProxies }) => ({ header: header ?? 'X-Forwarded-For', trustedProxies }))
      .prefault({}),
  })
  .superRefine((web, ctx) => {
    const clean = (key: string): boolean => parsedCleanly(ctx.issues, key);
    if (clean('http') && clean('https') && web.http === undefined && web.https === undefined)
      ctx.addIssue({ code: 'custom', input: web, message: 'set http or https (the address to listen on)' });
    if (web.https !== undefined && clean('https')) {
      if (web.tlsCert === undefined && clean('tlsCert'))
        ctx.addIssue({ code: 'custom', path: ['tlsCert'], input: undefined, message: 'required when https is set' });
      if (web.tlsKey === undefined && clean('tlsKey'))
        ctx.addIssue({ code: 'custom', path: ['tlsKey'], input: undefined, message: 'required when https is set' });
    }
    if (
      clean('tlsMinVersion') &&
      clean('tlsMaxVersion') &&
      web.tlsMinVersion !== undefined &&
      web.tlsMaxVersion !== undefined &&
      web.tlsMinVersion > web.tlsMaxVersion
    )
      ctx.addIssue({
        code: 'custom',
        path: ['tlsMinVersion'],
        input: web.tlsMinVersion,
        message: 'must not be greater than tlsMaxVersion',
      });
  }, evenWithOtherErrors('mapping'));

/** `telemetry`: the separate listener for /metrics and health checks. */
export const telemetrySchema = z
  .strictObject({
    /** Address of the second listener serving /metrics (Prometheus) and the health checks. */
    http: listenAddress().optional(),
    /** Dex serves Go's pprof here; Node has no equivalent, so only false is accepted. */
    enableProfiling: z
      .boolean()
      .refine((enabled) => !enabled, { error: 'not supported by idport yet' })
      .default(false),
  })
  .prefault({});

/** `expiry`: lifetimes in milliseconds, with Dex's defaults. */
export const expirySchema = z
  .strictObject({
    deviceRequests: duration({ positive: true }).prefault('5m'),
    /** Dex's older spelling of signer.config.keysRotationPeriod, used when `signer` is absent. */
    signingKeys: duration({ positive: true }).prefault('6h'),
    idTokens: duration({ positive: true }).prefault('24h'),
    authRequests: duration({ positive: true }).prefault('24h'),
    refreshTokens: z
      .strictObject({
        disableRotation: z.boolean().default(false),
        /** A retry of a just-rotated token within this window gets the same new token (ARCHITECTURE.md decision 4). */
        reuseInterval: duration().prefault('3s'),
        /** Unset means no idle limit. */
        validIfNotUsedFor: limitDuration(),
        /** Unset means no absolute limit. */
        absoluteLifetime: limitDuration(),
      })
      .prefault({}),
  })
  .prefault({});

const GRANT_TYPES = [
  'authorization_code',
  'implicit',
  'password',
  'refresh_token',
  'urn:ietf:params:oauth:grant-type:device_code',
  'urn:ietf:params:oauth:grant-type:token-exchange',
  'client_credentials',
] as const;
type GrantType = (typeof GRANT_TYPES)[number];
/** Dex's default grant types (client_credentials only behind a Dex feature flag). */
const DEFAULT_GRANT_TYPES: GrantType[] = GRANT_TYPES.filter((grant) => grant !== 'client_credentials');

/** Dex's accepted values (server/server.go): the three words and the combinations it names. */
const RESPONSE_TYPES = [
  'code',
  'token',
  'id_token',
  'code id_token',
  'code token',
  'id_token token',
  'code id_token token',
] as const;
type ResponseType = (typeof RESPONSE_TYPES)[number];
const CHALLENGE_METHODS = ['S256', 'plain'] as const;
type ChallengeMethod = (typeof CHALLENGE_METHODS)[number];

/** A list where, as in Dex, an empty list means the default. */
function listOr<T extends string>(values: readonly [T, ...T[]], fallback: readonly T[]) {
  return z
    .array(text(z.enum(values)))
    .transform((list): T[] => (list.length === 0 ? [...fallback] : list))
    .default([...fallback]);
}

/** `oauth2`: enabled flows and screens. */
export const oauth2Schema = z
  .strictObject({
    grantTypes: z.array(text(z.enum(GRANT_TYPES))).default([]),
    responseTypes: listOr<ResponseType>(RESPONSE_TYPES, ['code']),
    skipApprovalScreen: z.boolean().default(false),
    alwaysShowLoginScreen: z.boolean().default(false),
    /** Connector used for the password grant; "local" is the password database. */
    passwordConnector: nonEmptyText().optional(),
    pkce: z
      .strictObject({
        /** Require PKCE on every authorization code flow (OAuth 2.1). */
        enforce: z.boolean().default(false),
        codeChallengeMethodsSupported: listOr<ChallengeMethod>(CHALLENGE_METHODS, ['S256', 'plain']),
      })
      .prefault({}),
  })
  // Dex fills in its defaults when the list is empty (cmd/dex/serve.go); whether it did decides client_credentials.
  .transform(({ grantTypes, ...oauth2 }) => ({
    ...oauth2,
    grantTypes: grantTypes.length === 0 ? [...DEFAULT_GRANT_TYPES] : grantTypes,
    /** True when `grantTypes` was empty or absent: DEX_CLIENT_CREDENTIAL_GRANT_ENABLED_BY_DEFAULT may then add it. */
    grantTypesDefaulted: grantTypes.length === 0,
  }))
  .prefault({});

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** `logger`: level (case-insensitive, as Go's slog reads it) and format. */
export const loggerSchema = z
  .strictObject({
    level: text(
      z
        .string()
        .transform((level) => level.toLowerCase())
        .pipe(z.enum(LOG_LEVELS)),
    ).default('info'),
    format: text(z.enum(['text', 'json'])).default('text'),
    excludeFields: notSupported(),
  })
  .prefault({});

// RFC 6265 §4.1.1 cookie-name token characters.
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** `sessions` (Dex master): the browser login session, with Dex's defaults. */
export const sessionsSchema = z
  .strictObject({
    cookieName: text(
      z.string().regex(COOKIE_NAME, { error: 'expected a cookie name (letters, digits, "_" or "-")' }),
    ).default('dex_session'),
    absoluteLifetime: duration({ positive: true }).prefault('24h'),
    validIfNotUsedFor: duration({ positive: true }).prefault('1h'),
    rememberMeCheckedByDefault: z.boolean().default(true),
    /** Dex master: the session cookie is sealed with AES-GCM under this key (its UTF-8 bytes: 16, 24 or 32). */
    cookieEncryptionKey: text()
      .refine((key) => [16, 24, 32].includes(Buffer.byteLength(key, 'utf8')), {
        error: (issue) =>
          `must be 16, 24 or 32 bytes (AES-128/192/256), got ${Buffer.byteLength(String(issue.input), 'utf8')}`,
      })
      .optional(),
    /** Whom a client's login serves without a new login, when the client names no ssoSharedWith (Dex master). */
    ssoSharedWithDefault: text(z.enum(['none', 'all'])).default('none'),
  })
  .superRefine((sessions, ctx) => {
    if (!parsedCleanly(ctx.issues, 'absoluteLifetime') || !parsedCleanly(ctx.issues, 'validIfNotUsedFor')) return;
    if (sessions.validIfNotUsedFor > sessions.absoluteLifetime)
      ctx.addIssue({
        code: 'custom',
        path: ['validIfNotUsedFor'],
        input: sessions.validIfNotUsedFor,
        message: 'must not exceed absoluteLifetime',
      });
  }, evenWithOtherErrors('mapping'))
  .prefault({});

/** `bruteForce` (idport): failed password attempts per account and per client IP, shared through storage. */
export const bruteForceSchema = z
  .strictObject({
    /** Failed attempts per account within `window` before it is locked; 0 turns the account lockout off. */
    maxFailures: z.number().int().min(0).default(5),
    window: duration({ positive: true }).prefault('5m'),
    lockout: duration({ positive: true }).prefault('5m'),
    /** Failed attempts per client IP within `window`, across accounts and routes. */
    maxFailuresPerIP: z.number().int().min(1).default(100),
  })
  .prefault({});

/** `frontend`: the login pages' look (Dex's WebConfig). */
export const frontendSchema = z
  .strictObject({
    /**
     * Dex's directory of Go templates, static files and themes. idport renders its own pages, so a value here
     * only earns a startup warning (config/warnings.ts). Dex's fallback to $DEX_FRONTEND_DIR is not taken:
     * Dex's container image sets that variable for every deployment, so it says nothing about this config.
     */
    dir: nonEmptyText().optional(),
    theme: text(z.string().regex(/^[A-Za-z0-9_-]+$/, { error: 'expected a theme name like "light" or "dark"' }))
      // Dex maps its retired theme names to the default one.
      .transform((theme) => (theme === 'coreos' || theme === 'tectonic' ? 'light' : theme))
      .default('light'),
    /** Name shown on the login page (Dex's default: "dex"). */
    issuer: nonEmptyText().default('dex'),
    /** Logo URL; relative URLs are resolved against the issuer. */
    logoURL: nonEmptyText().default('theme/logo.png'),
    /** Extra values for Dex's templates; idport's pages do not read them (a startup warning when set). */
    extra: z.record(z.string(), text()).default({}),
  })
  .prefault({});
