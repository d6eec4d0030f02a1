/**
 * Token introspection (RFC 7662) at /token/introspect, Dex's path and answer shape (`token_use` included), for
 * authenticated confidential clients only (§2.1; Dex asks for no authentication). A token that is not active for
 * the caller — malformed, forged, expired, revoked, or a refresh token of another client (§4) — is `{active: false}`,
 * never an error.
 */
import { encodeSubject } from '../primitives/subject.js';
import type { Client } from '../../../storage/storage.js';
import { OAuthError } from '../../errors.js';
import { authenticateClient, presentedCredentials } from '../primitives/client-auth.js';
import type { Provider } from '../provider.js';
import { familyEndsAt, findRefreshFamily, isFamilyExpired } from '../grants/refresh-family.js';
import { audienceOf, hasScope } from '../primitives/scopes.js';
import type { TokenRequest } from '../grants/grant.js';
import { hashSecret } from '../primitives/secrets.js';
import { tokenRequired } from '../primitives/shared-errors.js';
import { verifyAccessToken } from './userinfo.js';

/** An introspection answer (RFC 7662 §2.2). Inactive tokens reveal nothing else. */
export type Introspection =
  { readonly active: false } | ({ readonly active: true } & Readonly<Record<string, unknown>>);

const INACTIVE: Introspection = { active: false };

/** Access tokens are signed JWTs (three dot-separated parts); refresh tokens are `<handle>.<secret>` (two). */
export const looksLikeJwt = (token: string): boolean => token.split('.').length === 3;

/** The client calling /token/introspect or /token/revoke, authenticated as at /token (RFC 6749 §2.3). */
export const authenticatedClient = async (provider: Provider, request: TokenRequest): Promise<Client> => {
  const { form } = request;
  const presented = presentedCredentials(request.authorization, {
    client_id: form.client_id,
    client_secret: form.client_secret,
  });
  return authenticateClient(await provider.storage.clients.get(presented.clientId), presented);
};

const seconds = (date: Date): number => Math.floor(date.getTime() / 1000);

/**
 * Introspects `token`. `token_type_hint` is accepted and not needed: the two kinds of token have different shapes
 * (RFC 7662 §2.1 lets the server ignore the hint).
 */
export const introspect = async (provider: Provider, request: TokenRequest): Promise<Introspection> => {
  const client = await authenticatedClient(provider, request);
  // RFC 7662 §2.1: the endpoint must be protected; a public client proves nothing about who is asking.
  if (client.public) throw new OAuthError('invalid_client', 'public clients may not introspect tokens');
  const { token } = request.form;
  if (token === undefined || token === '') throw tokenRequired();
  return looksLikeJwt(token) ? introspectAccessToken(provider, token) : introspectRefreshToken(provider, client, token);
};

/**
 * Any authenticated client may introspect an access token: resource servers are the callers §1 has in mind, and
 * the token's claims are readable by whoever holds it anyway.
 */
const introspectAccessToken = async (provider: Provider, token: string): Promise<Introspection> => {
  let payload;
  try {
    payload = await verifyAccessToken(provider, token);
  } catch (err: unknown) {
    if (err instanceof OAuthError && err.code === 'invalid_token') return INACTIVE;
    throw err;
  }
  return {
    active: true,
    scope: payload.scope,
    client_id: payload.client_id,
    ...(typeof payload.preferred_username === 'string' ? { username: payload.preferred_username } : {}),
    token_type: 'Bearer',
    token_use: 'access_token',
    exp: payload.exp,
    iat: payload.iat,
    sub: payload.sub,
    aud: payload.aud,
    iss: payload.iss,
    jti: payload.jti,
  };
};

/**
 * A refresh token is active for the client it was issued to (RFC 7662 §4) while its family lives and it is the
 * family's current token: a superseded one can no longer be used, so it is not active, and asking has no side effect.
 */
const introspectRefreshToken = async (provider: Provider, client: Client, token: string): Promise<Introspection> => {
  const found = await findRefreshFamily(provider, token);
  if (found === undefined) return INACTIVE;
  const { family, secret } = found;
  const policy = provider.settings.refresh;
  const now = provider.deps.clock.now();
  if (
    family.clientId !== client.id ||
    isFamilyExpired(policy, family, now) ||
    family.currentHash !== hashSecret(secret)
  )
    return INACTIVE;
  const { aud } = audienceOf(family.clientId, family.scopes);
  const endsAt = familyEndsAt(policy, family);
  return {
    active: true,
    scope: family.scopes.join(' '),
    client_id: family.clientId,
    // As in its access tokens: the user's name only with the profile scope.
    ...(hasScope(family.scopes, 'profile') && family.claims.preferredUsername !== ''
      ? { username: family.claims.preferredUsername }
      : {}),
    token_use: 'refresh_token',
    ...(endsAt !== undefined ? { exp: seconds(endsAt) } : {}),
    iat: seconds(family.rotatedAt ?? family.createdAt),
    sub: encodeSubject(family.claims.userId, family.connectorId),
    aud: aud.length === 1 ? aud[0] : aud,
    iss: provider.settings.issuer,
  };
};
