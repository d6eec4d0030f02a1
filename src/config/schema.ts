/**
 * The one config schema (STYLE.md "Config"): Dex's config.yaml keys and defaults, strict everywhere so
 * a typo is an error, and `Config` inferred from it. The environment is an input of the schema because
 * Dex resolves it while parsing: `*Env` fields and `$VAR` expansion in plugin configs.
 */
import { z } from 'zod';
import { expandEnvInMapping, isEnvExpansionEnabled, type Env } from './env.js';
import {
  duration,
  evenWithOtherErrors,
  httpUrl,
  nonEmptyText,
  notSupported,
  parseBcryptHash,
  parsedCleanly,
  redirectUriList,
  text,
} from './fields.js';
import { kubernetesConfigSchema } from './kubernetes-storage.js';
import { humanError } from './messages.js';
import {
  expirySchema,
  loggerSchema,
  oauth2Schema,
  postgresConfigSchema,
  sessionsSchema,
  sqliteConfigSchema,
  telemetrySchema,
  webSchema,
} from './sections.js';

/** What the schema needs from outside: the environment and the connector registry's config schemas. */
export interface ConfigSchemaOptions {
  /** Environment for `idEnv`/`secretEnv`/`hashFromEnv` and `$VAR` expansion; empty when omitted. */
  readonly env?: Env | undefined;
  /** Config schema per connector type; when given, each `connectors[].config` is validated by its type's. */
  readonly connectorSchemas?: Readonly<Record<string, z.ZodType>> | undefined;
}

const SUPPORTED_STORAGE = ['memory', 'sqlite3', 'postgres', 'kubernetes'];
const DEX_ONLY_STORAGE = ['etcd', 'mysql'];
// Connector types Dex has (server/connector.go), to say "not supported yet" rather than "unknown".
const DEX_CONNECTOR_TYPES = [
  'keystone',
  'mockCallback',
  'mockPassword',
  'ldap',
  'gitea',
  'github',
  'gitlab',
  'google',
  'oidc',
  'oauth',
  'saml',
  'authproxy',
  'linkedin',
  'microsoft',
  'bitbucket-cloud',
  'openshift',
  'atlassian-crowd',
  'samlExperimental',
];
/** The connector id Dex gives the password database when `enablePasswordDB` is true. */
export const PASSWORD_DB_CONNECTOR_ID = 'local';

const custom = (path: PropertyKey[], message: string, input?: unknown) =>
  ({ code: 'custom', path, message, input }) as const;

function storageTypeMessage(input: unknown): string | undefined {
  const type = typeof input === 'object' && input !== null && 'type' in input ? input.type : undefined;
  const supported = `(supported: ${SUPPORTED_STORAGE.join(', ')})`;
  if (type === undefined || type === null) return `required ${supported}`;
  if (typeof type === 'string' && DEX_ONLY_STORAGE.includes(type))
    return `"${type}" is not supported by idport yet ${supported}`;
  return `unknown storage type ${JSON.stringify(type)} ${supported}`;
}

/** Builds the config schema for one environment and connector registry; `loadConfig` calls this. */
export function createConfigSchema(options: ConfigSchemaOptions = {}) {
  const env: Env = options.env ?? {};
  const connectorSchemas = options.connectorSchemas;
  const expansionEnabled = isEnvExpansionEnabled(env);
  /** Dex expands `$VAR` inside these plugin configs (and nowhere else) before parsing them. */
  const expanded = (value: unknown): unknown => (expansionEnabled ? expandEnvInMapping(value, env) : value);
  const withExpansion = <T extends z.ZodType>(schema: T) => z.preprocess(expanded, schema);

  /** Why an `*Env` reference cannot be used, or undefined when the variable holds a value. */
  const envProblem = (name: string): string | undefined => {
    const value = env[name];
    if (value === undefined) return `environment variable ${name} is not set`;
    if (value === '') return `environment variable ${name} is empty`;
    return undefined;
  };

  const storageSchema = z.discriminatedUnion(
    'type',
    [
      z.strictObject({ type: z.literal('memory'), config: withExpansion(z.strictObject({})).prefault({}) }),
      z.strictObject({ type: z.literal('sqlite3'), config: withExpansion(sqliteConfigSchema) }),
      z.strictObject({ type: z.literal('postgres'), config: withExpansion(postgresConfigSchema) }),
      z.strictObject({ type: z.literal('kubernetes'), config: withExpansion(kubernetesConfigSchema) }),
    ],
    { error: (issue) => (issue.code === 'invalid_union' ? storageTypeMessage(issue.input) : undefined) },
  );

  const signerSchema = z.strictObject({
    type: text(
      z.literal('local', {
        error: (issue) =>
          issue.input === 'vault' ? '"vault" is not supported by idport yet (supported: local)' : undefined,
      }),
    ),
    config: withExpansion(
      z.strictObject({
        keysRotationPeriod: duration({ positive: true }),
        algorithm: text(z.enum(['RS256', 'ES256', 'EdDSA'])).default('RS256'),
      }),
    ),
  });

  const staticClientSchema = z
    .strictObject({
      id: nonEmptyText().optional(),
      /** Read the id from this environment variable instead (exclusive with `id`). */
      idEnv: nonEmptyText().optional(),
      secret: nonEmptyText().optional(),
      /** Read the secret from this environment variable instead (exclusive with `secret`). */
      secretEnv: nonEmptyText().optional(),
      redirectURIs: redirectUriList().default([]),
      /** idport addition (OIDC RP-Initiated Logout §2): allowed post_logout_redirect_uri values. */
      postLogoutRedirectURIs: redirectUriList().default([]),
      /** idport addition (OIDC Back-Channel Logout 1.0): where logout tokens are POSTed. */
      backchannelLogoutURI: httpUrl('https://app.example.com/backchannel-logout').optional(),
      /** Clients that may mint tokens for this one (`audience:server:client_id:…`). */
      trustedPeers: z.array(nonEmptyText()).default([]),
      /** Public clients (CLIs, SPAs) have no secret and may use loopback redirect URIs. */
      public: z.boolean().default(false),
      /** Shown on the approval page; Dex requires it. */
      name: nonEmptyText(),
      logoURL: text().default(''),
      /** idport addition: `session` makes refresh tokens end with the browser session that issued them (revoked at logout). */
      refreshTokenLifetime: text(
        z.literal('session', { error: 'expected "session" (refresh tokens end at logout)' }),
      ).optional(),
      allowedConnectors: notSupported(),
      mfaChain: notSupported(),
      ssoSharedWith: notSupported(),
      clientCredentialsClaims: notSupported(),
    })
    .superRefine((client, ctx) => {
      const clean = (key: string): boolean => parsedCleanly(ctx.issues, key);
      if (clean('id') && clean('idEnv')) {
        if (client.id !== undefined && client.idEnv !== undefined)
          ctx.addIssue(custom(['idEnv'], 'set either id or idEnv, not both', client.idEnv));
        else if (client.id === undefined && client.idEnv === undefined)
          ctx.addIssue(custom(['id'], 'required (or idEnv)'));
        else if (client.idEnv !== undefined) {
          const problem = envProblem(client.idEnv);
          if (problem !== undefined) ctx.addIssue(custom(['idEnv'], problem, client.idEnv));
        }
      }
      if (clean('secret') && clean('secretEnv') && clean('public')) {
        if (client.secret !== undefined && client.secretEnv !== undefined)
          ctx.addIssue(custom(['secretEnv'], 'set either secret or secretEnv, not both', client.secretEnv));
        else if (client.secretEnv !== undefined) {
          const problem = envProblem(client.secretEnv);
          if (problem !== undefined) ctx.addIssue(custom(['secretEnv'], problem, client.secretEnv));
        } else if (client.secret === undefined && !client.public)
          ctx.addIssue(custom(['secret'], 'required unless the client is public (or set secretEnv)'));
      }
    }, evenWithOtherErrors('mapping'))
    // Consumers see the resolved id and secret, never the *Env indirection. '' is a public client's secret.
    .transform(({ idEnv, secretEnv, ...client }) => ({
      ...client,
      id: client.id ?? env[idEnv ?? ''] ?? '',
      secret: client.secret ?? env[secretEnv ?? ''] ?? '',
    }));

  const staticPasswordSchema = z
    .strictObject({
      /** The login name; compared case-insensitively. */
      email: nonEmptyText(),
      /** bcrypt hash (or Dex's base64 of one), cost 10 to 16. */
      hash: nonEmptyText().optional(),
      /** Read the hash from this environment variable instead (exclusive with `hash`). */
      hashFromEnv: nonEmptyText().optional(),
      username: nonEmptyText(),
      /** Stable user id; becomes `sub` together with the connector id, so never change it. */
      userID: nonEmptyText(),
      /** The `name` claim; Dex defaults it to the username. */
      name: nonEmptyText().optional(),
      preferredUsername: nonEmptyText().optional(),
      emailVerified: z.boolean().default(true),
      groups: z.array(nonEmptyText()).default([]),
    })
    .superRefine((user, ctx) => {
      if (!parsedCleanly(ctx.issues, 'hash') || !parsedCleanly(ctx.issues, 'hashFromEnv')) return;
      if (user.hash !== undefined && user.hashFromEnv !== undefined)
        ctx.addIssue(custom(['hashFromEnv'], 'set either hash or hashFromEnv, not both', user.hashFromEnv));
      else if (user.hash !== undefined) {
        const parsed = parseBcryptHash(user.hash);
        if ('error' in parsed) ctx.addIssue(custom(['hash'], parsed.error, user.hash));
      } else if (user.hashFromEnv !== undefined) {
        const problem = envProblem(user.hashFromEnv);
        const parsed = problem === undefined ? parseBcryptHash(env[user.hashFromEnv] ?? '') : undefined;
        if (problem !== undefined) ctx.addIssue(custom(['hashFromEnv'], problem, user.hashFromEnv));
        else if (parsed !== undefined && 'error' in parsed)
          ctx.addIssue(
            custom(['hashFromEnv'], `environment variable ${user.hashFromEnv}: ${parsed.error}`, user.hashFromEnv),
          );
      } else ctx.addIssue(custom(['hash'], 'required (or hashFromEnv)'));
    }, evenWithOtherErrors('mapping'))
    .transform(({ hashFromEnv, ...user }) => {
      const parsed = parseBcryptHash(user.hash ?? env[hashFromEnv ?? ''] ?? '');
      return { ...user, hash: 'hash' in parsed ? parsed.hash : '', name: user.name ?? user.username };
    });

  /** Validates one connector's `config` with its type's schema; issues come back under `config`. */
  const checkConnectorConfig = (type: string, config: unknown, ctx: z.RefinementCtx<unknown>): void => {
    if (connectorSchemas === undefined) return;
    const schema = Object.hasOwn(connectorSchemas, type) ? connectorSchemas[type] : undefined;
    if (schema === undefined) {
      const known = `(supported: ${Object.keys(connectorSchemas).sort().join(', ') || 'none'})`;
      const message = DEX_CONNECTOR_TYPES.includes(type)
        ? `connector type "${type}" is not supported by idport yet ${known}`
        : `unknown connector type ${JSON.stringify(type)} ${known}`;
      ctx.addIssue(custom(['type'], message, type));
      return;
    }
    const result = schema.safeParse(expanded(config ?? {}), { error: humanError });
    if (!result.success)
      for (const issue of result.error.issues) ctx.addIssue({ ...issue, path: ['config', ...issue.path] });
  };

  const connectorSchema = z
    .strictObject({
      /** Connector type, a key of the connector registry ("ldap", "oidc", "mockCallback", …). */
      type: nonEmptyText(),
      /** Stable id: part of `sub` and of the callback URL. */
      id: nonEmptyText(),
      /** Shown on the login page. */
      name: nonEmptyText(),
      /** Type-specific settings; `$VAR` is expanded here (unless DEX_EXPAND_ENV=false). */
      config: z.unknown().optional(),
      grantTypes: notSupported(),
    })
    .superRefine((connector, ctx) => {
      if (parsedCleanly(ctx.issues, 'type') && parsedCleanly(ctx.issues, 'config'))
        checkConnectorConfig(connector.type, connector.config, ctx);
    }, evenWithOtherErrors('mapping'))
    // The validated YAML after `$VAR` expansion, not the schema's output: the registry parses it again when
    // it opens the connector, and a schema with transforms need not accept its own output.
    .transform((connector) => ({ ...connector, config: expanded(connector.config ?? {}) }));

  /** Reports a repeated key (after `keyOf`) at the later item, naming the earlier one. */
  const noDuplicates =
    <T>(list: string, field: string, what: string, keyOf: (item: T) => unknown, normalize = (key: string) => key) =>
    (items: T[], ctx: z.RefinementCtx<T[]>): void => {
      const seen = new Map<string, number>();
      items.forEach((item, index) => {
        const key = parsedCleanly(ctx.issues, index, field) ? keyOf(item) : undefined;
        if (typeof key !== 'string' || key === '') return;
        const first = seen.get(normalize(key));
        if (first === undefined) seen.set(normalize(key), index);
        else
          ctx.addIssue(
            custom([index, field], `duplicate ${what} ${JSON.stringify(key)} (also ${list}[${first}])`, key),
          );
      });
    };

  const frontendSchema = z
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

  return z
    .strictObject({
      /** The canonical URL of this provider; its path prefixes every route. */
      issuer: httpUrl('https://idp.example.com/dex').refine((issuer) => !/[?#]/.test(issuer), {
        error: 'must not have a query or fragment (OpenID Connect Discovery 1.0 §3)',
      }),
      storage: storageSchema,
      web: webSchema,
      telemetry: telemetrySchema,
      expiry: expirySchema,
      oauth2: oauth2Schema,
      staticClients: z
        .array(staticClientSchema)
        .superRefine(
          noDuplicates('staticClients', 'id', 'client id', (client) => client.id),
          evenWithOtherErrors('list'),
        )
        .default([]),
      connectors: z
        .array(connectorSchema)
        .superRefine(
          noDuplicates('connectors', 'id', 'connector id', (connector) => connector.id),
          evenWithOtherErrors('list'),
        )
        .default([]),
      /** Adds the built-in "local" connector backed by the password store. */
      enablePasswordDB: z.boolean().default(false),
      staticPasswords: z
        .array(staticPasswordSchema)
        .superRefine(
          noDuplicates(
            'staticPasswords',
            'email',
            'email',
            (user) => user.email,
            (email) => email.toLowerCase(),
          ),
          evenWithOtherErrors('list'),
        )
        .superRefine(
          noDuplicates('staticPasswords', 'userID', 'userID', (user) => user.userID),
          evenWithOtherErrors('list'),
        )
        .default([]),
      frontend: frontendSchema,
      logger: loggerSchema,
      /** Signing keys (Dex master); when absent, a local RS256 signer rotating every expiry.signingKeys. */
      signer: signerSchema.optional(),
      sessions: sessionsSchema,
      grpc: notSupported(),
      mfa: notSupported(),
      deviceFlow: notSupported(),
    })
    .superRefine((config, ctx) => {
      const clean = (...path: PropertyKey[]): boolean => parsedCleanly(ctx.issues, ...path);
      if (!clean('enablePasswordDB')) return;
      if (clean('staticPasswords') && config.staticPasswords.length > 0 && !config.enablePasswordDB)
        ctx.addIssue(custom(['staticPasswords'], 'requires enablePasswordDB: true'));
      if (!Array.isArray(config.connectors)) return;
      // Connector ids that parsed, even when another part of that connector did not.
      const ids = config.connectors.flatMap((connector, index) =>
        clean('connectors', index, 'id') ? [{ id: connector.id, index }] : [],
      );
      const known = ids.map(({ id }) => id);
      if (config.enablePasswordDB) {
        for (const { id, index } of ids)
          if (id === PASSWORD_DB_CONNECTOR_ID)
            ctx.addIssue(
              custom(['connectors', index, 'id'], `"${id}" is the password database's id (enablePasswordDB: true)`, id),
            );
        known.unshift(PASSWORD_DB_CONNECTOR_ID);
      }
      const wanted = clean('oauth2') ? config.oauth2.passwordConnector : undefined;
      if (wanted !== undefined && ids.length === config.connectors.length && !known.includes(wanted))
        ctx.addIssue(
          custom(
            ['oauth2', 'passwordConnector'],
            `no connector with id ${JSON.stringify(wanted)} (connectors: ${[...new Set(known)].join(', ') || 'none'})`,
            wanted,
          ),
        );
    }, evenWithOtherErrors('mapping'))
    .transform(({ signer, ...config }) => ({
      ...config,
      // One place for the rotation period and algorithm: Dex uses expiry.signingKeys only without `signer`.
      signer: signer ?? {
        type: 'local' as const,
        config: { keysRotationPeriod: config.expiry.signingKeys, algorithm: 'RS256' as const },
      },
    }));
}

/** The config schema with an empty environment and no connector registry (envelopes only). */
export const configSchema = createConfigSchema();

/** The parsed config: defaults applied, durations in milliseconds, `*Env` fields resolved. */
export type Config = z.infer<typeof configSchema>;
/** A static client after load: `id` and `secret` resolved ('' for a public client without one). */
export type StaticClient = Config['staticClients'][number];
/** A static password after load: `hash` is a bcrypt string, `name` defaults to `username`. */
export type StaticPassword = Config['staticPasswords'][number];
/** A connector entry after load: `config` is the `$VAR`-expanded YAML, validated against its type's schema. */
export type ConnectorEntry = Config['connectors'][number];
/** The storage section, discriminated on `type`. */
export type StorageConfig = Config['storage'];
