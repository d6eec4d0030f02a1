/** The UserInfo endpoint (OIDC Core §5.3) with bearer tokens (RFC 6750). */
import { OAuthError } from '../errors.js';
import { TokenVerificationError } from '../signer/signer.js';
import type { Provider } from './provider.js';

/** Claims copied from the access token into the userinfo response; the token already holds only what its scopes allow. */
const USER_CLAIMS = ['email', 'email_verified', 'name', 'preferred_username', 'groups', 'federated_claims'] as const;

/**
 * The bearer token from the Authorization header or the form body (RFC 6750 §2.1, §2.2). Sending it both
 * ways is invalid_request (§2).
 */
export const bearerToken = (authorization: string | undefined, formToken: string | undefined): string => {
  const fromHeader = authorization !== undefined && /^bearer /i.test(authorization) ? authorization.slice(7).trim() : undefined;
  if (fromHeader !== undefined && formToken !== undefined) throw new OAuthError('invalid_request', 'send the access token only once');
  const token = fromHeader ?? formToken;
  if (token === undefined || token === '') throw new OAuthError('invalid_token', 'an access token is required');
  return token;
};

/** Verifies an access token this provider issued and that its grant was not revoked; returns the userinfo claims. */
export const userinfo = async (provider: Provider, accessToken: string): Promise<Record<string, unknown>> => {
  let payload;
  try {
    payload = await provider.signer.verify(accessToken, { typ: 'at+jwt' });
  } catch (err: unknown) {
    // Only a bad token is invalid_token; a storage outage must not look like one.
    if (err instanceof TokenVerificationError) throw new OAuthError('invalid_token', 'the access token is invalid or expired');
    throw err;
  }
  if (typeof payload.sub !== 'string') throw new OAuthError('invalid_token', 'the access token is invalid or expired');
  await ensureGrantAlive(provider, payload.gid);
  const out: Record<string, unknown> = { sub: payload.sub };
  for (const name of USER_CLAIMS) if (payload[name] !== undefined) out[name] = payload[name];
  return out;
};

/** Revoking a grant (a replayed code, a reused refresh token) also revokes the access tokens it issued. */
const ensureGrantAlive = async (provider: Provider, gid: unknown): Promise<void> => {
  if (typeof gid !== 'string') return; // implicit-flow tokens belong to no grant
  const revoked = new OAuthError('invalid_token', 'the access token was revoked');
  if (gid.startsWith('c:')) {
    const code = await provider.storage.authCodes.get(gid.slice(2));
    if (code?.revokedAt !== undefined) throw revoked;
  } else if (gid.startsWith('r:')) {
    if ((await provider.storage.refreshTokens.get(gid.slice(2))) === undefined) throw revoked;
  }
};
