/**
 * The one config schema (ARCHITECTURE.md decision 10): Dex's config.yaml keys and defaults, and `Config` inferred from
 * it. Keys are matched and unknown ones taken out before this runs (keys.ts), so the objects stay strict as a
 * safety net. The environment is an input of the schema because Dex resolves it while parsing: `*Env` fields
 * and `$VAR` expansion in plugin configs.
 */
import { z } from 'zod';
import { staticClientSchema, staticPasswordSchema } from './clients.js';
import { custom, schemaContext } from './context.js';
import type { Env } from './env.js';
import { grpcSchema } from './grpc.js';
import { evenWithOtherErrors, httpUrl, noDuplicates, notSupported, parsedCleanly } from './fields.js';
import { connectorSchema, signerSchema, storageSchema, type ConnectorSchemas } from './plugins.js';
import {
  expirySchema,
  frontendSchema,
  loggerSchema,
  oauth2Schema,
  sessionsSchema,
  bruteForceSchema,
  telemetrySchema,
  webSchema,
} from './sections.js';

/** What the schema needs from outside: the environment and the connector registry's config schemas. */
export interface ConfigSchemaOptions {
  /** Environment for `idEnv`/`secretEnv`/`hashFromEnv` and `$VAR` expansion; empty when omitted. */
  readonly env?: Env | undefined;
  /** Config schema per connector type; when given, each `connectors[].config` is validated by its type's. */
  readonly connectorSchemas?: ConnectorSchemas | undefined;
}

/** The connector id Dex gives the password database when `enablePasswordDB` is true. */
export const PASSWORD_DB_CONNECTOR_ID = 'local';

/** The fields the cross-section check reads (each only when it parsed cleanly). */
interface CrossCheckedConfig {
  readonly enablePasswordDB: boolean;
  readonly staticPasswords: readonly unknown[];
  readonly connectors: readonly { readonly id: string }[];
  readonly oauth2: { readonly passwordConnector?: string | undefined };
}

/** Static passwords need the password DB; connector ids must not take its id; passwordConnector must exist. */
function checkAcrossSections(config: CrossCheckedConfig, ctx: z.RefinementCtx<unknown>): void {
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
}

/** Builds the config schema for one environment and connector registry; `loadConfig` calls this. */
export function createConfigSchema(options: ConfigSchemaOptions = {}) {
  const context = schemaContext(options.env ?? {});
  const list = <T extends z.ZodType>(
    item: T,
    ...checks: ((items: z.output<T>[], ctx: z.RefinementCtx<z.output<T>[]>) => void)[]
  ) =>
    checks.reduce((schema, check) => schema.superRefine(check, evenWithOtherErrors('list')), z.array(item)).default([]);
  return z
    .strictObject({
      /** The canonical URL of this provider; its path prefixes every route. */
      issuer: httpUrl('https://idp.example.com/dex').refine((issuer) => !/[?#]/.test(issuer), {
        error: 'must not have a query or fragment (OpenID Connect Discovery 1.0 §3)',
      }),
      storage: storageSchema(context),
      web: webSchema,
      telemetry: telemetrySchema,
      expiry: expirySchema,
      oauth2: oauth2Schema,
      staticClients: list(
        staticClientSchema(context),
        noDuplicates({ list: 'staticClients', field: 'id', what: 'client id', keyOf: (client) => client.id }),
      ),
      connectors: list(
        connectorSchema(context, options.connectorSchemas),
        noDuplicates({ list: 'connectors', field: 'id', what: 'connector id', keyOf: (connector) => connector.id }),
      ),
      /** Adds the built-in "local" connector backed by the password store. */
      enablePasswordDB: z.boolean().default(false),
      staticPasswords: list(
        staticPasswordSchema(context),
        noDuplicates({
          list: 'staticPasswords',
          field: 'email',
          what: 'email',
          keyOf: (user) => user.email,
          normalize: (email) => email.toLowerCase(),
        }),
        noDuplicates({ list: 'staticPasswords', field: 'userID', what: 'userID', keyOf: (user) => user.userID }),
      ),
      frontend: frontendSchema,
      logger: loggerSchema,
      /** Signing keys (Dex master); when absent, a local RS256 signer rotating every expiry.signingKeys. */
      signer: signerSchema(context).optional(),
      sessions: sessionsSchema,
      bruteForce: bruteForceSchema,
      /** Dex's gRPC API (src/grpc/). */
      grpc: grpcSchema,
      mfa: notSupported(),
      deviceFlow: notSupported(),
    })
    .superRefine(checkAcrossSections, evenWithOtherErrors('mapping'))
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
