/**
 * The refresh grant (RFC 6749 §6; ARCHITECTURE.md decision 4): rotation on every use, a retry of the just-rotated token
 * inside the reuse interval gets the same new token, a later reuse revokes the family (OAuth 2.0 Security BCP
 * §4.14.2), idle and absolute lifetimes, scope narrowing. Rotation is a compare-and-swap, so two replicas cannot both
 * win.
 */
import type { RefreshToken } from '../../../storage/storage.js';
import { NotFoundError } from '../../../storage/storage.js';
import type { Identity } from '../../../connectors/connector.js';
import { OAuthError } from '../../errors.js';
import { hasScope, parseScopes } from '../primitives/scopes.js';
import { deriveNextSecret, hashSecret, randomToken } from '../primitives/secrets.js';
import { currentConnector, type Provider } from '../provider.js';
import { isSessionLive } from '../session/sessions.js';
import { claimsOf, loginOf } from '../tokens/claims.js';
import { connectorFailure } from './connector-failure.js';
import type { Grant, GrantContext, GrantOutcome } from './grant.js';
import { findRefreshFamily, isFamilyExpired, revokeFamily, type PresentedRefreshToken } from './refresh-family.js';

/** Every unknown, foreign, superseded or raced refresh token gets this one answer (no oracle). */
const invalidRefreshToken = (): OAuthError => new OAuthError('invalid_grant', 'invalid refresh token');

class ReusedToken extends Error {}

/** A presented token that names a live family of this client, with the hash of its secret. */
interface LiveToken extends PresentedRefreshToken {
  readonly presentedHash: string;
  /** Whether a family still accepts the presented secret as the just-superseded one (the reuse interval). */
  withinReuse(family: RefreshToken): boolean;
}

/**
 * Finds the family the presented token names and checks it is still usable: not expired, its login session alive for
 * session-bound clients, and the secret current or inside the reuse interval. Each failure but a malformed or foreign
 * token revokes the family.
 */
const liveToken = async (context: GrantContext, presented: string, now: Date): Promise<LiveToken> => {
  const { provider, client } = context;
  const found = await findRefreshFamily(provider, presented);
  if (found === undefined || found.family.clientId !== client.id) throw invalidRefreshToken();
  const { family } = found;
  const policy = provider.settings.refresh;
  if (isFamilyExpired(policy, family, now)) {
    await revokeFamily(provider, family.id);
    throw new OAuthError('invalid_grant', 'refresh token expired');
  }
  // `refreshTokenLifetime: session`: the tokens end with the browser session, whether it was logged out or ran out.
  if (
    client.refreshTokenLifetime === 'session' &&
    (family.sessionId === undefined || !(await isSessionLive(provider, family.sessionId)))
  ) {
    await revokeFamily(provider, family.id);
    throw new OAuthError('invalid_grant', 'the login session of this refresh token has ended');
  }
  const presentedHash = hashSecret(found.secret);
  // A reuse interval of 0 means no reuse at all (as Dex's AllowedToReuse): `<= 0` would otherwise still admit a
  // concurrent request whose clock read came before the winner's rotation.
  const withinReuse = (f: RefreshToken): boolean =>
    policy.reuseIntervalMs > 0 &&
    f.previousHash === presentedHash &&
    f.rotatedAt !== undefined &&
    now.getTime() - f.rotatedAt.getTime() <= policy.reuseIntervalMs;
  if (family.currentHash !== presentedHash && !withinReuse(family)) {
    // The handle is known only from the family's own tokens, so this is a superseded token presented again —
    // of any generation, not just the last — and the family has leaked (OAuth 2.0 Security BCP §4.14.2).
    provider.log.warn(
      { clientId: client.id },
      'superseded refresh token reused after the reuse interval; revoking its family',
    );
    await revokeFamily(provider, family.id);
    throw invalidRefreshToken();
  }
  return { ...found, presentedHash, withinReuse };
};

/**
 * Rotates the family with a compare-and-swap (or only touches it when rotation is off, or when a racer already
 * rotated inside the reuse interval) and returns the stored family with the refresh token to hand out.
 */
const rotate = async (
  provider: Provider,
  token: LiveToken & { readonly presented: string; readonly now: Date },
  refreshed: { claims: RefreshToken['claims']; connectorData: Uint8Array | undefined },
): Promise<{ updated: RefreshToken; nextToken: string }> => {
  const { presented, presentedHash, secret, handle, now } = token;
  const policy = provider.settings.refresh;
  const rotationNonce = randomToken(provider.deps.randomBytes);
  let updated: RefreshToken;
  try {
    updated = await provider.storage.refreshTokens.update(token.family.id, (old) => {
      if (old.currentHash === presentedHash) {
        const base = { ...old, lastUsed: now, claims: refreshed.claims, connectorData: refreshed.connectorData };
        if (policy.disableRotation) return base;
        return {
          ...base,
          previousHash: old.currentHash,
          currentHash: hashSecret(deriveNextSecret(secret, rotationNonce)),
          rotationNonce,
          rotatedAt: now,
        };
      }
      if (token.withinReuse(old)) return { ...old, lastUsed: now };
      throw new ReusedToken();
    });
  } catch (err: unknown) {
    if (err instanceof ReusedToken || err instanceof NotFoundError) throw invalidRefreshToken();
    throw err;
  }
  const nextToken =
    updated.currentHash === presentedHash ? presented : `${handle}.${deriveNextSecret(secret, updated.rotationNonce)}`;
  return { updated, nextToken };
};

const redeem = async (context: GrantContext): Promise<GrantOutcome> => {
  const { provider, form } = context;
  const presented = form.refresh_token;
  if (presented === undefined || presented === '') throw new OAuthError('invalid_request', 'refresh_token is required');
  const now = provider.deps.clock.now();
  const token = await liveToken(context, presented, now);
  // RFC 6749 §6: the scope may narrow, never widen.
  const scopes = await context.scopes({ granted: token.family.scopes, narrowTo: parseScopes(form.scope) });
  const refreshed = await refreshIdentity(provider, token.family, scopes);
  const { updated, nextToken } = await rotate(provider, { ...token, presented, now }, refreshed);
  return {
    facts: loginOf(updated),
    includeNonce: false,
    refresh: { kind: 'keep', familyId: updated.id, token: nextToken },
  };
};

/** RFC 6749 §6 refresh grant with rotation, reuse interval, idle and absolute lifetimes, and scope narrowing. */
export const refreshTokenGrant: Grant = { type: 'refresh_token', whenDisabled: 'unauthorized_client', redeem };

/**
 * The connector data to refresh with. Dex (v2.45) moves it from the refresh token to the user's offline session, so
 * a family carried over from a Dex database has none of its own and reads it there, as Dex does.
 */
const connectorDataOf = async (provider: Provider, family: RefreshToken): Promise<Uint8Array | undefined> => {
  if (family.connectorData !== undefined && family.connectorData.length > 0) return family.connectorData;
  const key = { userId: family.claims.userId, connectorId: family.connectorId };
  return (await provider.storage.offlineSessions.get(key))?.connectorData ?? family.connectorData;
};

/** Asks the connector to re-check the user (ARCHITECTURE.md decision 8); a refusal ends the family's usefulness. */
const refreshIdentity = async (
  provider: Provider,
  family: RefreshToken,
  scopes: readonly string[],
): Promise<{ claims: RefreshToken['claims']; connectorData: Uint8Array | undefined }> => {
  const entry = await currentConnector(provider, family.connectorId);
  if (entry?.connector.refresh === undefined)
    throw new OAuthError('invalid_grant', 'the login connector no longer supports refresh');
  const current: Identity = {
    userId: family.claims.userId,
    username: family.claims.username,
    preferredUsername: family.claims.preferredUsername,
    email: family.claims.email,
    emailVerified: family.claims.emailVerified,
    groups: family.claims.groups,
    connectorData: await connectorDataOf(provider, family),
  };
  let identity: Identity;
  try {
    identity = await entry.connector.refresh(
      { offlineAccess: true, groups: hasScope(scopes, 'groups') || hasScope(family.scopes, 'groups') },
      current,
    );
  } catch (err: unknown) {
    throw connectorFailure(provider, err, {
      connectorId: family.connectorId,
      unavailable: 'connector unavailable during refresh',
      refused: 'connector refused to refresh the user',
      refusal: () => new OAuthError('invalid_grant', 'the user could not be re-authenticated'),
    });
  }
  return {
    // `sub` must not change across a refresh (OIDC Core §12.2), so the stored user id stays.
    claims: { ...claimsOf(identity), userId: family.claims.userId },
    connectorData: identity.connectorData ?? current.connectorData,
  };
};
