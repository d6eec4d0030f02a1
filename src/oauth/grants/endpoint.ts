/** The token endpoint's grants (RFC 6749 §4.1.3, §6; DESIGN.md decisions 3 and 4). */
import type { AuthCode, Client } from '../../../storage/storage.js';
import { NotFoundError } from '../../../storage/storage.js';
import { OAuthError } from '../../errors.js';
import type { GrantFacts } from '../tokens/claims.js';
import { mintTokens, tokenResponseBody } from '../tokens/mint.js';
import { authenticateClient, presentedCredentials } from '../primitives/client-auth.js';
import { DEVICE_CODE_GRANT, deviceCodeGrant } from '../device/authorization.js';
import { passwordGrant } from './password.js';
import { verifyPkce } from '../primitives/pkce.js';
import type { Provider } from '../provider.js';
import { refreshGrant, revokeFamily, startRefreshFamily, type StartedFamily } from './refresh.js';
import { bindRefreshFamily } from '../session/sessions.js';
import { hashSecret } from '../primitives/secrets.js';

/** The JSON body of a successful token response (RFC 6749 §5.1, OIDC Core §3.1.3.3). */
export interface TokenResponse {
  readonly access_token: string;
  readonly token_type: 'Bearer';
  readonly expires_in: number;
  readonly id_token?: string;
  readonly refresh_token?: string;
  readonly scope?: string;
}

/** A POST to /token (or /token/introspect, /token/revoke) as parsed form values plus the Authorization header. */
export interface TokenRequest {
  readonly authorization: string | undefined;
  readonly form: Readonly<Record<string, string | undefined>>;
}

/** Authenticates the client, then dispatches on grant_type. */
export const handleTokenRequest = async (provider: Provider, request: TokenRequest): Promise<TokenResponse> => {
  const { form } = request;
  const grantType = form.grant_type;
  if (grantType === undefined || grantType === '') throw new OAuthError('invalid_request', 'grant_type is required');
  const presented = presentedCredentials(request.authorization, {
    client_id: form.client_id,
    client_secret: form.client_secret,
  });
  const client = authenticateClient(await provider.storage.clients.get(presented.clientId), presented);
  if (!provider.settings.grantTypes.includes(grantType)) {
    const known = grantType === 'authorization_code' || grantType === 'refresh_token';
    throw new OAuthError(
      known ? 'unauthorized_client' : 'unsupported_grant_type',
      `grant_type "${grantType}" is not supported`,
    );
  }
  switch (grantType) {
    case 'authorization_code':
      return authorizationCodeGrant(provider, client, form);
    case 'refresh_token':
      return refreshGrant(provider, client, form);
    case 'password':
      return passwordGrant(provider, client, form);
    case DEVICE_CODE_GRANT:
      return deviceCodeGrant(provider, client, form);
    default:
      throw new OAuthError('unsupported_grant_type', `grant_type "${grantType}" is not supported`);
  }
};

/** Marks a code redeemed; throws ReplayedCode when another request got there first. */
class ReplayedCode extends Error {}

const authorizationCodeGrant = async (
  provider: Provider,
  client: Client,
  form: Readonly<Record<string, string | undefined>>,
): Promise<TokenResponse> => {
  const { storage, deps, settings } = provider;
  const code = form.code;
  if (code === undefined || code === '') throw new OAuthError('invalid_request', 'code is required');
  const codeId = hashSecret(code);
  const stored = await storage.authCodes.get(codeId);
  const now = deps.clock.now();
  if (stored === undefined) throw new OAuthError('invalid_grant', 'invalid or expired authorization code');
  if (stored.redeemedAt !== undefined) {
    await revokeCodeGrant(provider, stored);
    throw new OAuthError('invalid_grant', 'authorization code already used');
  }
  if (stored.expiry.getTime() <= now.getTime())
    throw new OAuthError('invalid_grant', 'invalid or expired authorization code');
  // RFC 6749 §4.1.3: the code must have been issued to this client, for this redirect URI.
  if (stored.clientId !== client.id)
    throw new OAuthError('invalid_grant', 'authorization code was issued to another client');
  // RFC 6749 §4.1.3: redirect_uri is required, and must match, exactly when the authorization request had it
  // (a client with one registered URI may leave it out there). Codes from before the field existed
  // (redirectUriSent undefined) keep the old rule: an omitted value stands for the client's only registered URI.
  const mustRepeat = stored.redirectUriSent ?? client.redirectURIs.length !== 1;
  const presented = form.redirect_uri ?? (mustRepeat ? undefined : stored.redirectUri);
  if (presented !== stored.redirectUri) {
    throw new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request');
  }
  verifyPkce(stored.codeChallenge, stored.codeChallengeMethod, form.code_verifier);

  const facts: GrantFacts = {
    clientId: stored.clientId,
    scopes: stored.scopes,
    claims: stored.claims,
    connectorId: stored.connectorId,
    nonce: stored.nonce,
    authTime: stored.authTime,
    sessionId: stored.sessionId,
  };
  // The refresh-token write and the signing (on libuv's thread pool) do not depend on each other: overlap them.
  const [familyResult, tokensResult] = await Promise.allSettled([
    startSessionAwareFamily(provider, client, facts, stored),
    mintTokens(provider, facts, {
      withIdToken: stored.scopes.includes('openid'),
      grantRef: `c:${codeId}`,
      includeNonce: true,
    }),
  ]);
  if (tokensResult.status === 'rejected') {
    if (familyResult.status === 'fulfilled') await familyResult.value?.discard();
    throw tokensResult.reason;
  }
  if (familyResult.status === 'rejected') throw familyResult.reason;
  const family = familyResult.value;
  const tokens = tokensResult.value;
  // Redeem atomically: of two concurrent redemptions exactly one wins (compare-and-swap on redeemedAt).
  // The record is kept until its access tokens expire, so a replay can still revoke them (RFC 6749 §4.1.2).
  const keepUntil = new Date(Math.max(stored.expiry.getTime(), now.getTime() + settings.accessTokenTtlMs));
  try {
    await storage.authCodes.update(codeId, (old) => {
      if (old.redeemedAt !== undefined) throw new ReplayedCode();
      return {
        ...old,
        redeemedAt: now,
        expiry: keepUntil,
        refreshTokenId: family?.id,
        accessTokenId: tokens.accessTokenId,
      };
    });
  } catch (err: unknown) {
    if (family !== undefined) await family.discard();
    if (err instanceof ReplayedCode || err instanceof NotFoundError) {
      const current = await storage.authCodes.get(codeId);
      if (current !== undefined) await revokeCodeGrant(provider, current);
      throw new OAuthError('invalid_grant', 'authorization code already used');
    }
    throw err;
  }
  return tokenResponseBody(tokens, family?.token, stored.scopes);
};

/**
 * The code's refresh-token family, if one may be issued. Clients with `refreshTokenLifetime: session` get one bound
 * to the browser session (revoked at logout), and none when that session has already ended.
 */
const startSessionAwareFamily = async (
  provider: Provider,
  client: Client,
  facts: GrantFacts,
  code: AuthCode,
): Promise<StartedFamily | undefined> => {
  const family = await startRefreshFamily(provider, facts, code.connectorData);
  if (family === undefined || client.refreshTokenLifetime !== 'session') return family;
  if (code.sessionId !== undefined && (await bindRefreshFamily(provider, code.sessionId, family.id))) return family;
  await family.discard();
  return undefined;
};

/** A replayed code revokes what it issued (RFC 6749 §4.1.2). */
const revokeCodeGrant = async (provider: Provider, code: AuthCode): Promise<void> => {
  provider.log.warn({ clientId: code.clientId }, 'authorization code replayed; revoking the tokens it issued');
  await revokeAuthCodeGrant(provider, code);
};

/** Revokes what a code issued: its refresh-token family and (via `gid`) its access tokens. Also used by /token/revoke. */
export const revokeAuthCodeGrant = async (provider: Provider, code: AuthCode): Promise<void> => {
  const { storage, deps } = provider;
  if (code.refreshTokenId !== undefined) await revokeFamily(provider, code.refreshTokenId);
  await storage.authCodes
    .update(code.id, (old) => ({ ...old, revokedAt: old.revokedAt ?? deps.clock.now() }))
    .catch((err: unknown) => {
      if (!(err instanceof NotFoundError)) throw err;
    });
};
