/** The UserInfo endpoint (OIDC Core §5.3) with bearer tokens (RFC 6750), and the access-token check it shares. */
import type { JWTPayload } from 'jose';
import { OAuthError } from '../../errors.js';
import { TokenVerificationError } from '../../signer/signer.js';
import { parseGrantRef } from '../primitives/grant-ref.js';
import type { Provider } from '../provider.js';
import { isAccessTokenDenied } from './deny-list.js';

const invalidAccessToken = (): OAuthError => new OAuthError('invalid_token', 'the access token is invalid or expired');

/** Claims copied from the access token into the userinfo response; the token already holds only what its scopes allow. */
const USER_CLAIMS = ['email', 'email_verified', 'name', 'preferred_username', 'groups', 'federated_claims'] as const;

/**
 * The bearer token from the Authorization header or the form body (RFC 6750 §2.1, §2.2). Sending it both
 * ways is invalid_request (§2).
 */
export const bearerToken = (authorization: string | undefined, formToken: string | undefined): string => {
  const fromHeader =
    authorization !== undefined && /^bearer /i.test(authorization) ? authorization.slice(7).trim() : undefined;
  if (fromHeader !== undefined && formToken !== undefined)
    throw new OAuthError('invalid_request', 'send the access token only once');
  const token = fromHeader ?? formToken;
  if (token === undefined || token === '') throw new OAuthError('invalid_token', 'an access token is required');
  return token;
};

/**
 * Verifies an access token this provider issued (signature, issuer, expiry, `typ` at+jwt), that it was not revoked
 * itself (the deny-list) and that its grant is still alive: the one check behind /userinfo and token introspection. A bad or revoked token is invalid_token;
 * anything else (a storage outage) propagates, so it never looks like a bad token.
 */
export const verifyAccessToken = async (
  provider: Provider,
  accessToken: string,
): Promise<JWTPayload & { sub: string }> => {
  let payload;
  try {
    payload = await provider.signer.verify(accessToken, { typ: 'at+jwt' });
  } catch (err: unknown) {
    if (err instanceof TokenVerificationError) throw invalidAccessToken();
    throw err;
  }
  const { sub } = payload;
  if (typeof sub !== 'string') throw invalidAccessToken();
  if ((await isAccessTokenDenied(provider, payload.jti)) || !(await isGrantAlive(provider, payload.gid)))
    throw new OAuthError('invalid_token', 'the access token was revoked');
  return { ...payload, sub };
};

/** Verifies an access token (verifyAccessToken) and returns the userinfo claims. */
export const userinfo = async (provider: Provider, accessToken: string): Promise<Record<string, unknown>> => {
  const payload = await verifyAccessToken(provider, accessToken);
  const out: Record<string, unknown> = { sub: payload.sub };
  for (const name of USER_CLAIMS) if (payload[name] !== undefined) out[name] = payload[name];
  return out;
};

/**
 * Whether the grant an access token names in `gid` is alive. Revoking a grant (a replayed code, a reused or revoked
 * refresh token, a logout) also revokes the access tokens it issued. A code's grant ends with the refresh-token family
 * it started, so revoking the refresh token also ends the access token from the code exchange (RFC 7009 §2.1).
 */
export const isGrantAlive = async (provider: Pick<Provider, 'storage'>, gid: unknown): Promise<boolean> => {
  const ref = parseGrantRef(gid);
  if (ref === undefined) return true; // implicit-flow tokens belong to no grant
  const { storage } = provider;
  if (ref.kind === 'code') {
    const code = await storage.authCodes.get(ref.codeId);
    if (code === undefined) return true; // kept until its access tokens expire, so only gone once they are
    if (code.revokedAt !== undefined) return false;
    return code.refreshTokenId === undefined || (await storage.refreshTokens.get(code.refreshTokenId)) !== undefined;
  }
  return (await storage.refreshTokens.get(ref.familyId)) !== undefined;
};
