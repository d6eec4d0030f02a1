/**
 * Refresh-token families (DESIGN.md decision 4): one per login with offline_access, rotated on every use;
 * a retry of the just-rotated token inside the reuse interval gets the same new token; a later reuse
 * revokes the family. Rotation is a compare-and-swap, so two replicas cannot both win.
 */
import type { Client, RefreshToken } from '../../../storage/storage.js';
import { NotFoundError } from '../../../storage/storage.js';
import { ConnectorError, type Identity } from '../../../connectors/connector.js';
import { OAuthError } from '../../errors.js';
import { claimsOf, type GrantFacts } from '../tokens/claims.js';
import { mintTokens, tokenResponseBody } from '../tokens/mint.js';
import type { Provider } from '../provider.js';
import type { RefreshPolicy } from '../settings.js';
import { hasScope, parseScopes } from '../primitives/scopes.js';
import { isSessionLive } from '../session/sessions.js';
import type { TokenResponse } from './endpoint.js';
import { deriveNextSecret, hashSecret, randomToken } from '../primitives/secrets.js';
import { decodeStringPair } from '../primitives/subject.js';

/** A newly started family: the token to hand out, and a way to undo it if the grant fails afterwards. */
export interface StartedFamily {
  readonly id: string;
  readonly token: string;
  discard(): Promise<void>;
}

/** Whether a refresh token may be issued: asked for, allowed, and the connector can re-check the user (decision 8). */
const mayRefresh = (provider: Provider, facts: GrantFacts): boolean =>
  hasScope(facts.scopes, 'offline_access') &&
  provider.settings.grantTypes.includes('refresh_token') &&
  provider.connectors.get(facts.connectorId)?.connector.refresh !== undefined;

/**
 * A refresh token is `<handle>.<secret>`, and its family is stored under the hash of the handle. Access tokens name
 * their family in `gid` (checked at /userinfo), and every API a client calls reads them; were the handle the stored
 * id, anyone holding an access token could present `<handle>.<anything>` and, with only a public client's id, get
 * the family revoked as leaked. The hash cannot be turned back into a handle.
 */
const familyIdOfHandle = (handle: string): string => hashSecret(handle);

/** Families started before handles were hashed are stored under the handle itself: 16 random bytes, base64url. */
const LEGACY_HANDLE_LENGTH = 22;

/** The storage id of the family a refresh token belongs to. */
export const refreshFamilyIdOf = (refreshToken: string): string =>
  familyIdOfHandle(splitRefreshToken(refreshToken).handle);

/**
 * A presented token's handle and secret. idport's tokens are `<handle>.<secret>`. A token without a dot is one
 * Dex handed out before the move (families imported from a Dex database keep Dex's refresh id as handle and
 * Dex's token as secret): base64url of protobuf `{refresh_id, token}`, or, when it does not decode, a raw refresh
 * id with an empty token (Dex's own fallback). An empty secret matches only such an imported family, whose
 * stored hash is of ''; idport's own secrets are random and never empty.
 */
function splitRefreshToken(presented: string): { handle: string; secret: string } {
  const dot = presented.indexOf('.');
  if (dot > 0) {
    const secret = presented.slice(dot + 1);
    return secret === '' ? { handle: '', secret } : { handle: presented.slice(0, dot), secret };
  }
  if (dot === 0) return { handle: '', secret: '' };
  const dex = decodeStringPair(presented);
  if (dex?.first !== undefined && dex.first !== '') return { handle: dex.first, secret: dex.second ?? '' };
  return { handle: presented, secret: '' };
}

/** A presented refresh token split into its parts, with the family its handle names. */
export interface PresentedRefreshToken {
  readonly family: RefreshToken;
  readonly handle: string;
  readonly secret: string;
}

/**
 * Finds the family a presented `<handle>.<secret>` names, or undefined when the token is malformed or no family has
 * that handle (never issued, revoked, collected). The secret is not checked here; the one lookup for the refresh
 * grant, introspection and revocation.
 */
export const findRefreshFamily = async (
  provider: Pick<Provider, 'storage'>,
  presented: string,
): Promise<PresentedRefreshToken | undefined> => {
  const { handle, secret } = splitRefreshToken(presented);
  if (handle === '') return undefined;
  const { refreshTokens } = provider.storage;
  const family =
    (await refreshTokens.get(familyIdOfHandle(handle))) ??
    (handle.length === LEGACY_HANDLE_LENGTH ? await refreshTokens.get(handle) : undefined);
  return family === undefined ? undefined : { family, handle, secret };
};

/** When a family stops being usable: the earliest of its stored expiry, absolute lifetime and idle lifetime; undefined: never. */
export const familyEndsAt = (policy: RefreshPolicy, family: RefreshToken): Date | undefined => {
  const ends = [
    family.expiry?.getTime(),
    policy.absoluteLifetimeMs === undefined ? undefined : family.createdAt.getTime() + policy.absoluteLifetimeMs,
    policy.validIfNotUsedForMs === undefined ? undefined : family.lastUsed.getTime() + policy.validIfNotUsedForMs,
  ].filter((t): t is number => t !== undefined);
  return ends.length === 0 ? undefined : new Date(Math.min(...ends));
};

/** Whether a family has ended by `now` (see familyEndsAt). */
export const isFamilyExpired = (policy: RefreshPolicy, family: RefreshToken, now: Date): boolean => {
  const endsAt = familyEndsAt(policy, family);
  return endsAt !== undefined && endsAt.getTime() <= now.getTime();
};

/** Starts a refresh-token family for a login, or returns undefined when none may be issued. */
export const startRefreshFamily = async (
  provider: Provider,
  facts: GrantFacts,
  connectorData: Uint8Array | undefined,
): Promise<StartedFamily | undefined> => {
  if (!mayRefresh(provider, facts)) return undefined;
  const { storage, deps, settings } = provider;
  const now = deps.clock.now();
  const handle = deps.randomBytes(16).toString('base64url');
  const id = familyIdOfHandle(handle);
  const secret = randomToken(deps.randomBytes);
  const family: RefreshToken = {
    id,
    clientId: facts.clientId,
    connectorId: facts.connectorId,
    claims: facts.claims,
    connectorData,
    scopes: facts.scopes,
    nonce: facts.nonce,
    authTime: facts.authTime,
    sessionId: facts.sessionId,
    currentHash: hashSecret(secret),
    previousHash: '',
    rotationNonce: '',
    generation: 0,
    createdAt: now,
    lastUsed: now,
    expiry:
      settings.refresh.absoluteLifetimeMs === undefined
        ? undefined
        : new Date(now.getTime() + settings.refresh.absoluteLifetimeMs),
  };
  // One write: Dex also maintains an OfflineSessions index here, but every family already carries its user
  // and connector, and nothing reads that index, so the token endpoint skips the extra (fsync'd) writes.
  await storage.refreshTokens.create(family);
  return {
    id,
    token: `${handle}.${secret}`,
    discard: async () => revokeFamily(provider, family.id),
  };
};

/** Deletes a family; absent is fine (already revoked). */
export const revokeFamily = async (provider: Provider, familyId: string): Promise<void> => {
  await provider.storage.refreshTokens.delete(familyId).catch((err: unknown) => {
    if (!(err instanceof NotFoundError)) throw err;
  });
};

class ReusedToken extends Error {}

/** RFC 6749 §6 refresh grant with rotation, reuse interval, idle and absolute lifetimes, and scope narrowing. */
export const refreshGrant = async (
  provider: Provider,
  client: Client,
  form: Readonly<Record<string, string | undefined>>,
): Promise<TokenResponse> => {
  const { storage, deps, settings, log } = provider;
  const presented = form.refresh_token;
  if (presented === undefined || presented === '') throw new OAuthError('invalid_request', 'refresh_token is required');
  const invalid = new OAuthError('invalid_grant', 'invalid refresh token');
  const found = await findRefreshFamily(provider, presented);
  if (found === undefined || found.family.clientId !== client.id) throw invalid;
  const { family, handle, secret } = found;
  const familyId = family.id;

  const now = deps.clock.now();
  const policy = settings.refresh;
  if (isFamilyExpired(policy, family, now)) {
    await revokeFamily(provider, familyId);
    throw new OAuthError('invalid_grant', 'refresh token expired');
  }
  // `refreshTokenLifetime: session`: the tokens end with the browser session, whether it was logged out or ran out.
  if (
    client.refreshTokenLifetime === 'session' &&
    (family.sessionId === undefined || !(await isSessionLive(provider, family.sessionId)))
  ) {
    await revokeFamily(provider, familyId);
    throw new OAuthError('invalid_grant', 'the login session of this refresh token has ended');
  }

  const presentedHash = hashSecret(secret);
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
    log.warn({ clientId: client.id }, 'superseded refresh token reused after the reuse interval; revoking its family');
    await revokeFamily(provider, familyId);
    throw invalid;
  }

  // RFC 6749 §6: the scope may narrow, never widen.
  const requested = parseScopes(form.scope);
  for (const scope of requested) {
    if (!family.scopes.includes(scope))
      throw new OAuthError('invalid_scope', `scope "${scope}" was not granted originally`);
  }
  const scopes = requested.length > 0 ? requested : family.scopes;

  const refreshed = await refreshIdentity(provider, family, scopes);
  const rotationNonce = randomToken(deps.randomBytes);
  let updated: RefreshToken;
  try {
    updated = await storage.refreshTokens.update(familyId, (old) => {
      if (old.currentHash === presentedHash) {
        const base = { ...old, lastUsed: now, claims: refreshed.claims, connectorData: refreshed.connectorData };
        if (policy.disableRotation) return base;
        return {
          ...base,
          previousHash: old.currentHash,
          currentHash: hashSecret(deriveNextSecret(secret, rotationNonce)),
          rotationNonce,
          generation: old.generation + 1,
          rotatedAt: now,
        };
      }
      if (withinReuse(old)) return { ...old, lastUsed: now };
      throw new ReusedToken();
    });
  } catch (err: unknown) {
    if (err instanceof ReusedToken || err instanceof NotFoundError) throw invalid;
    throw err;
  }
  const nextToken =
    updated.currentHash === presentedHash ? presented : `${handle}.${deriveNextSecret(secret, updated.rotationNonce)}`;

  const facts: GrantFacts = {
    clientId: updated.clientId,
    scopes,
    claims: updated.claims,
    connectorId: updated.connectorId,
    nonce: updated.nonce,
    authTime: updated.authTime,
    sessionId: updated.sessionId,
  };
  const tokens = await mintTokens(provider, facts, {
    withIdToken: hasScope(scopes, 'openid'),
    grantRef: `r:${familyId}`,
    includeNonce: false,
  });
  return tokenResponseBody(tokens, nextToken, scopes);
};

/** Asks the connector to re-check the user (DESIGN.md decision 8); a refusal ends the family's usefulness. */
const refreshIdentity = async (
  provider: Provider,
  family: RefreshToken,
  scopes: readonly string[],
): Promise<{ claims: RefreshToken['claims']; connectorData: Uint8Array | undefined }> => {
  const entry = provider.connectors.get(family.connectorId);
  if (entry?.connector.refresh === undefined)
    throw new OAuthError('invalid_grant', 'the login connector no longer supports refresh');
  const current: Identity = {
    userId: family.claims.userId,
    username: family.claims.username,
    preferredUsername: family.claims.preferredUsername,
    email: family.claims.email,
    emailVerified: family.claims.emailVerified,
    groups: family.claims.groups,
    connectorData: family.connectorData,
  };
  let identity: Identity;
  try {
    identity = await entry.connector.refresh(
      { offlineAccess: true, groups: hasScope(scopes, 'groups') || hasScope(family.scopes, 'groups') },
      current,
    );
  } catch (err: unknown) {
    if (err instanceof ConnectorError && err.temporary) {
      provider.log.warn({ connector: family.connectorId, err: err.message }, 'connector unavailable during refresh');
      throw new OAuthError('temporarily_unavailable', 'the login service is unavailable; try again later');
    }
    if (err instanceof ConnectorError) {
      provider.log.info({ connector: family.connectorId, err: err.message }, 'connector refused to refresh the user');
      throw new OAuthError('invalid_grant', 'the user could not be re-authenticated');
    }
    throw err;
  }
  return {
    // `sub` must not change across a refresh (OIDC Core §12.2), so the stored user id stays.
    claims: { ...claimsOf(identity), userId: family.claims.userId },
    connectorData: identity.connectorData ?? family.connectorData,
  };
};
