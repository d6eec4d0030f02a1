/**
 * `staticClients[]` and `staticPasswords[]`: Dex's keys, with `idEnv`/`secretEnv`/`hashFromEnv` resolved while
 * parsing as Dex does, so consumers see only resolved values.
 */
import { z } from 'zod';
import { custom, type SchemaContext } from './context.js';
import {
  evenWithOtherErrors,
  httpUrl,
  nonEmptyText,
  notSupported,
  parseBcryptHash,
  parsedCleanly,
  redirectUriList,
  text,
} from './fields.js';

const staticClientFields = {
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
  /**
   * Clients this client's login serves without a new login (Dex master): ids, or "*" for all; an explicit empty list
   * for none. Unset: `sessions.ssoSharedWithDefault`.
   */
  ssoSharedWith: z.array(nonEmptyText()).optional(),
  /** Dex master: claims of the tokens the client_credentials grant issues to this client. */
  clientCredentialsClaims: z.strictObject({ groups: z.array(nonEmptyText()).default([]) }).optional(),
};

interface ClientEnvFields {
  readonly id?: string | undefined;
  readonly idEnv?: string | undefined;
  readonly secret?: string | undefined;
  readonly secretEnv?: string | undefined;
  readonly public: boolean;
}

/** `id` xor `idEnv`, and `secret` xor `secretEnv` unless the client is public; the variables must hold values. */
function checkClientEnv(context: SchemaContext, client: ClientEnvFields, ctx: z.RefinementCtx<unknown>): void {
  const clean = (key: string): boolean => parsedCleanly(ctx.issues, key);
  if (clean('id') && clean('idEnv')) {
    if (client.id !== undefined && client.idEnv !== undefined)
      ctx.addIssue(custom(['idEnv'], 'set either id or idEnv, not both', client.idEnv));
    else if (client.id === undefined && client.idEnv === undefined) ctx.addIssue(custom(['id'], 'required (or idEnv)'));
    else if (client.idEnv !== undefined) {
      const problem = context.envProblem(client.idEnv);
      if (problem !== undefined) ctx.addIssue(custom(['idEnv'], problem, client.idEnv));
    }
  }
  if (clean('secret') && clean('secretEnv') && clean('public')) {
    if (client.secret !== undefined && client.secretEnv !== undefined)
      ctx.addIssue(custom(['secretEnv'], 'set either secret or secretEnv, not both', client.secretEnv));
    else if (client.secretEnv !== undefined) {
      const problem = context.envProblem(client.secretEnv);
      if (problem !== undefined) ctx.addIssue(custom(['secretEnv'], problem, client.secretEnv));
    } else if (client.secret === undefined && !client.public)
      ctx.addIssue(custom(['secret'], 'required unless the client is public (or set secretEnv)'));
  }
}

/** One `staticClients[]` entry. */
export const staticClientSchema = (context: SchemaContext) =>
  z
    .strictObject(staticClientFields)
    .superRefine((client, ctx) => checkClientEnv(context, client, ctx), evenWithOtherErrors('mapping'))
    // Consumers see the resolved id and secret, never the *Env indirection. '' is a public client's secret.
    .transform(({ idEnv, secretEnv, ...client }) => ({
      ...client,
      id: client.id ?? context.env[idEnv ?? ''] ?? '',
      secret: client.secret ?? context.env[secretEnv ?? ''] ?? '',
    }));

// Dex needs only a hash (cmd/dex/config.go): every other field may be missing, and Go's zero value is ''.
const staticPasswordFields = {
  /** The login name; compared case-insensitively. */
  email: text().default(''),
  /** bcrypt hash (or Dex's base64 of one), cost 10 to 16. */
  hash: nonEmptyText().optional(),
  /** Read the hash from this environment variable instead (exclusive with `hash`). */
  hashFromEnv: nonEmptyText().optional(),
  username: text().default(''),
  /**
   * Stable user id; becomes `sub` together with the connector id, so never change it. Without one the user has
   * Dex's `sub` for an empty id (`EgVsb2NhbA`), shared by every entry that lacks one (a startup warning).
   */
  userID: text().default(''),
  /** The `name` claim; Dex defaults it to the username. */
  name: nonEmptyText().optional(),
  preferredUsername: nonEmptyText().optional(),
  emailVerified: z.boolean().default(true),
  groups: z.array(nonEmptyText()).default([]),
};

interface PasswordHashFields {
  readonly hash?: string | undefined;
  readonly hashFromEnv?: string | undefined;
}

/** `hash` xor `hashFromEnv`, naming a bcrypt hash Dex would accept. */
function checkHash(context: SchemaContext, user: PasswordHashFields, ctx: z.RefinementCtx<unknown>): void {
  if (!parsedCleanly(ctx.issues, 'hash') || !parsedCleanly(ctx.issues, 'hashFromEnv')) return;
  if (user.hash !== undefined && user.hashFromEnv !== undefined)
    ctx.addIssue(custom(['hashFromEnv'], 'set either hash or hashFromEnv, not both', user.hashFromEnv));
  else if (user.hash !== undefined) {
    const parsed = parseBcryptHash(user.hash);
    if ('error' in parsed) ctx.addIssue(custom(['hash'], parsed.error, user.hash));
  } else if (user.hashFromEnv !== undefined) {
    const problem = context.envProblem(user.hashFromEnv);
    const parsed = problem === undefined ? parseBcryptHash(context.env[user.hashFromEnv] ?? '') : undefined;
    if (problem !== undefined) ctx.addIssue(custom(['hashFromEnv'], problem, user.hashFromEnv));
    else if (parsed !== undefined && 'error' in parsed)
      ctx.addIssue(
        custom(['hashFromEnv'], `environment variable ${user.hashFromEnv}: ${parsed.error}`, user.hashFromEnv),
      );
  } else ctx.addIssue(custom(['hash'], 'required (or hashFromEnv)'));
}

/** One `staticPasswords[]` entry. */
export const staticPasswordSchema = (context: SchemaContext) =>
  z
    .strictObject(staticPasswordFields)
    .superRefine((user, ctx) => checkHash(context, user, ctx), evenWithOtherErrors('mapping'))
    .transform(({ hashFromEnv, ...user }) => {
      const parsed = parseBcryptHash(user.hash ?? context.env[hashFromEnv ?? ''] ?? '');
      return { ...user, hash: 'hash' in parsed ? parsed.hash : '', name: user.name ?? user.username };
    });
