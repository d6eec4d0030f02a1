/**
 * The sections Dex treats as plugin configs, where `$VAR` is expanded before parsing: `storage`, `signer` and
 * `connectors[]` (each connector's `config` validated by its type's schema from the connector registry).
 */
import { z } from 'zod';
import { custom, withExpansion, type SchemaContext } from './context.js';
import { duration, evenWithOtherErrors, nonEmptyText, notSupported, parsedCleanly, text } from './fields.js';
import { kubernetesConfigSchema } from './kubernetes-storage.js';
import { humanError } from './messages.js';
import { postgresConfigSchema, sqliteConfigSchema } from './sections.js';

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

function storageTypeMessage(input: unknown): string | undefined {
  const type = typeof input === 'object' && input !== null && 'type' in input ? input.type : undefined;
  const supported = `(supported: ${SUPPORTED_STORAGE.join(', ')})`;
  if (type === undefined || type === null) return `required ${supported}`;
  if (typeof type === 'string' && DEX_ONLY_STORAGE.includes(type))
    return `"${type}" is not supported by idport yet ${supported}`;
  return `unknown storage type ${JSON.stringify(type)} ${supported}`;
}

/** `storage`, discriminated on `type`. */
export const storageSchema = (context: SchemaContext) =>
  z.discriminatedUnion(
    'type',
    [
      z.strictObject({ type: z.literal('memory'), config: withExpansion(context, z.strictObject({})).prefault({}) }),
      z.strictObject({ type: z.literal('sqlite3'), config: withExpansion(context, sqliteConfigSchema) }),
      z.strictObject({ type: z.literal('postgres'), config: withExpansion(context, postgresConfigSchema) }),
      z.strictObject({ type: z.literal('kubernetes'), config: withExpansion(context, kubernetesConfigSchema) }),
    ],
    { error: (issue) => (issue.code === 'invalid_union' ? storageTypeMessage(issue.input) : undefined) },
  );

/** `signer` (Dex master): the local signer; Vault is not supported. */
export const signerSchema = (context: SchemaContext) =>
  z.strictObject({
    type: text(
      z.literal('local', {
        error: (issue) =>
          issue.input === 'vault' ? '"vault" is not supported by idport yet (supported: local)' : undefined,
      }),
    ),
    config: withExpansion(
      context,
      z.strictObject({
        keysRotationPeriod: duration({ positive: true }),
        algorithm: text(z.enum(['RS256', 'ES256', 'EdDSA'])).default('RS256'),
      }),
    ),
  });

/** Config schema per connector type (the registry's). */
export type ConnectorSchemas = Readonly<Record<string, z.ZodType>>;

/** Validates one connector's `config` with its type's schema; issues come back under `config`. */
function checkConnectorConfig(
  context: SchemaContext,
  schemas: ConnectorSchemas,
  connector: { readonly type: string; readonly config?: unknown },
  ctx: z.RefinementCtx<unknown>,
): void {
  const { type, config } = connector;
  const schema = Object.hasOwn(schemas, type) ? schemas[type] : undefined;
  if (schema === undefined) {
    const known = `(supported: ${Object.keys(schemas).sort().join(', ') || 'none'})`;
    const message = DEX_CONNECTOR_TYPES.includes(type)
      ? `connector type "${type}" is not supported by idport yet ${known}`
      : `unknown connector type ${JSON.stringify(type)} ${known}`;
    ctx.addIssue(custom(['type'], message, type));
    return;
  }
  const result = schema.safeParse(context.expanded(config ?? {}), { error: humanError });
  if (!result.success)
    for (const issue of result.error.issues) ctx.addIssue({ ...issue, path: ['config', ...issue.path] });
}

/** One `connectors[]` entry; without `schemas` (no registry) only the envelope is checked. */
export const connectorSchema = (context: SchemaContext, schemas: ConnectorSchemas | undefined) =>
  z
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
      if (schemas !== undefined && parsedCleanly(ctx.issues, 'type') && parsedCleanly(ctx.issues, 'config'))
        checkConnectorConfig(context, schemas, connector, ctx);
    }, evenWithOtherErrors('mapping'))
    // The validated YAML after `$VAR` expansion, not the schema's output: the registry parses it again when
    // it opens the connector, and a schema with transforms need not accept its own output.
    .transform((connector) => ({ ...connector, config: context.expanded(connector.config ?? {}) }));
