/**
 * Refresh-token families (ARCHITECTURE.md decision 4): one per login with offline_access, rotated on every use by the
 * refresh grant (refresh-token.ts). This module starts, finds, ends and revokes them; the token endpoint starts one
 * through `startFamilyFor`, the one place the session-bound rule lives.
 */
import type { Client, RefreshToken } from '../../../storage/storage.js';
import { currentConnector, type Provider } from '../provider.js';
import type { RefreshPolicy } from '../settings.js';
import { hasScope } from '../primitives/scopes.js';
import { hashSecret, randomToken } from '../primitives/secrets.js';
import { decodeSubject } from '../primitives/subject.js';
import { bindRefreshFamily } from '../session/sessions.js';
import type { GrantFacts } from '../tokens/claims.js';

/** A newly started family: the token to hand out, and a way to undo it if the grant fails afterwards. */
export interface StartedFamily {
  readonly id: string;
  readonly token: string;
  discard(): Promise<void>;
}

/** Whether a refresh token may be issued: asked for, allowed, and the connector can re-check the user (decision 8). */
const mayRefresh = async (provider: Provider, facts: GrantFacts): Promise<boolean> =>
  hasScope(facts.scopes, 'offline_access') &&
  provider.settings.grantTypes.includes('refresh_token') &&
  (await currentConnector(provider, facts.connectorId))?.connector.refresh !== undefined;

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
  familyIdOfHandle(refreshToken.slice(0, Math.max(0, refreshToken.indexOf('.'))));

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
  const dot = presented.indexOf('.');
  // Dex's own fallback: a token that does not decode is a raw refresh id with an empty token. Only a family
  // imported from Dex with an empty token (storage/dex-import.ts) has the hash of '' as its current secret.
  const rawDexId = dot < 0 && DEX_REFRESH_ID.test(presented);
  const dex =
    dot < 0 ? (dexRefreshToken(presented) ?? (rawDexId ? { refreshId: presented, token: '' } : undefined)) : undefined;
  const handle = dex?.refreshId ?? (dot > 0 ? presented.slice(0, dot) : '');
  const secret = dex?.token ?? (dot > 0 ? presented.slice(dot + 1) : '');
  if (handle === '' || (secret === '' && !rawDexId)) return undefined;
  const { refreshTokens } = provider.storage;
  const family =
    (dex === undefined ? await refreshTokens.get(familyIdOfHandle(handle)) : undefined) ??
    (handle.length === LEGACY_HANDLE_LENGTH || DEX_REFRESH_ID.test(handle)
      ? await refreshTokens.get(handle)
      : undefined);
  return family === undefined ? undefined : { family, handle, secret };
};

/**
 * Dex's refresh ids (storage.NewID: 16 random bytes, base32 in lower case, unpadded). A family Dex started is
 * stored under that id, and once idport has rotated it, its tokens are `<dex id>.<secret>`.
 */
const DEX_REFRESH_ID = /^[a-z2-7]{26}$/;

/**
 * A refresh token Dex issued: base64url of the protobuf `RefreshToken { string refresh_id = 1; string token = 2; }`,
 * the same two-string-field message as a subject, so the subject decoder reads it. Dex stored `token` in the clear
 * and the storage hands it over hashed, so it is then checked like any of idport's secrets.
 */
const dexRefreshToken = (presented: string): { refreshId: string; token: string } | undefined => {
  const fields = decodeSubject(presented);
  return fields === undefined || !DEX_REFRESH_ID.test(fields.userId)
    ? undefined
    : { refreshId: fields.userId, token: fields.connectorId };
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
  if (!(await mayRefresh(provider, facts))) return undefined;
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
  await provider.storage.refreshTokens.delete(familyId);
};

/**
 * The family a grant's response may carry, started by the token endpoint. Clients with `refreshTokenLifetime: session`
 * get one bound to the browser session of the login (revoked at its logout), and none when the login had no session
 * (the password grant) or that session has already ended.
 */
export const startFamilyFor = async (
  provider: Provider,
  client: Client,
  facts: GrantFacts,
  connectorData: Uint8Array | undefined,
): Promise<StartedFamily | undefined> => {
  const sessionBound = client.refreshTokenLifetime === 'session';
  if (sessionBound && facts.sessionId === undefined) return undefined;
  const family = await startRefreshFamily(provider, facts, connectorData);
  if (family === undefined || !sessionBound) return family;
  if (facts.sessionId !== undefined && (await bindRefreshFamily(provider, facts.sessionId, family.id))) return family;
  await family.discard();
  return undefined;
};
