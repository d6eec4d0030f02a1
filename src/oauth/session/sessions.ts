/**
 * Browser login sessions: single sign-on across clients. The cookie carries `${id}.${secret}`; storage keeps
 * only the secret's hash, so sessions work across replicas and a database dump hands out no live session.
 */
import type { Claims, Client, Session } from '../../../storage/storage.js';
import { NotFoundError } from '../../../storage/storage.js';
import type { Provider } from '../provider.js';
import { hashSecret, randomToken, safeEqual } from '../primitives/secrets.js';
import { COOKIE_NONCE_BYTES, openCookie, sealCookie } from './cookie-seal.js';

/** `lastUsed` is written at most this often, so an active user does not cost a write per request. */
const TOUCH_INTERVAL_MS = 60_000;

/** Splits a cookie value into id and secret; undefined when it is not one of ours. */
const parseCookie = (value: string | undefined): { id: string; secret: string } | undefined => {
  if (value === undefined) return undefined;
  const dot = value.indexOf('.');
  if (dot <= 0 || dot === value.length - 1) return undefined;
  return { id: value.slice(0, dot), secret: value.slice(dot + 1) };
};

/** The cookie value: sealed when `sessions.cookieEncryptionKey` is set (cookie-seal.ts). */
const sealed = (provider: Provider, value: string): string => {
  const key = provider.settings.sessions.cookieEncryptionKey;
  return key === undefined ? value : sealCookie(key, provider.deps.randomBytes(COOKIE_NONCE_BYTES), value);
};

/** Whether a stored session is still alive at `now`. */
const isLive = (provider: Provider, session: Session, now: Date): boolean =>
  session.expiry.getTime() > now.getTime() &&
  session.lastUsed.getTime() + provider.settings.sessions.idleLifetimeMs > now.getTime() &&
  provider.connectors.has(session.connectorId);

/** The live session the cookie names, touching its idle timer; undefined for no, a forged or an ended session. */
export const loadSession = async (provider: Provider, cookie: string | undefined): Promise<Session | undefined> => {
  const key = provider.settings.sessions.cookieEncryptionKey;
  const parsed = parseCookie(key === undefined || cookie === undefined ? cookie : openCookie(key, cookie));
  if (parsed === undefined) return undefined;
  const session = await provider.storage.sessions.get(parsed.id);
  if (session === undefined || !safeEqual(hashSecret(parsed.secret), session.secretHash)) return undefined;
  const now = provider.deps.clock.now();
  if (!isLive(provider, session, now)) return undefined;
  if (now.getTime() - session.lastUsed.getTime() < TOUCH_INTERVAL_MS) return session;
  try {
    return await provider.storage.sessions.update(session.id, (old) => ({ ...old, lastUsed: now }));
  } catch (err: unknown) {
    if (err instanceof NotFoundError) return undefined; // logged out in between
    throw err;
  }
};

/** Whether the session a pending authorization request was logged in with is still alive (not logged out, not expired). */
export const isSessionLive = async (provider: Provider, sessionId: string): Promise<boolean> => {
  const session = await provider.storage.sessions.get(sessionId);
  return session !== undefined && isLive(provider, session, provider.deps.clock.now());
};

/** What a new session is made of: the login that just happened. */
export interface NewSession {
  readonly connectorId: string;
  readonly claims: Claims;
  readonly connectorData?: Uint8Array | undefined;
  readonly authTime: Date;
  readonly rememberMe: boolean;
  /** The client the user logged in for: the session serves it, and whom its `ssoSharedWith` names. */
  readonly clientId: string;
}

/** A session cookie to set: its value and, for remembered sessions, how long the browser keeps it. */
export interface SessionCookie {
  readonly value: string;
  /** Seconds until the session's absolute end; undefined for a browser-session cookie. */
  readonly maxAgeSeconds: number | undefined;
}

/**
 * Starts a session after a successful login. Always a new id (an attacker who planted a cookie gains nothing:
 * session fixation); the previous session of this browser ends, and its consents carry over for the same user.
 */
export const startSession = async (
  provider: Provider,
  login: NewSession,
  previous: Session | undefined,
): Promise<{ session: Session; cookie: SessionCookie }> => {
  const { storage, deps, settings } = provider;
  const now = deps.clock.now();
  const secret = randomToken(deps.randomBytes);
  const sameUser =
    previous !== undefined &&
    previous.connectorId === login.connectorId &&
    previous.claims.userId === login.claims.userId;
  const session: Session = {
    id: deps.randomBytes(16).toString('base64url'),
    secretHash: hashSecret(secret),
    connectorId: login.connectorId,
    claims: login.claims,
    connectorData: login.connectorData,
    authTime: login.authTime,
    createdAt: now,
    lastUsed: now,
    expiry: new Date(now.getTime() + settings.sessions.absoluteLifetimeMs),
    rememberMe: login.rememberMe,
    consents: sameUser ? previous.consents : {},
    directClients: [...new Set([...(sameUser ? (previous.directClients ?? []) : []), login.clientId])],
    clients: sameUser ? previous.clients : [],
    refreshTokenIds: sameUser ? previous.refreshTokenIds : [],
  };
  await storage.sessions.create(session);
  if (previous !== undefined) await storage.sessions.delete(previous.id);
  // Session-bound refresh tokens carried over to the new session follow it (they end with it, and its sid).
  for (const familyId of session.refreshTokenIds) {
    await storage.refreshTokens
      .update(familyId, (old) => ({ ...old, sessionId: session.id }))
      .catch((err: unknown) => {
        if (!(err instanceof NotFoundError)) throw err;
      });
  }
  return {
    session,
    cookie: {
      value: sealed(provider, `${session.id}.${secret}`),
      maxAgeSeconds: login.rememberMe ? Math.floor(settings.sessions.absoluteLifetimeMs / 1000) : undefined,
    },
  };
};

/** Whether the user already approved every one of these scopes for this client in this session. */
export const hasConsent = (session: Session | undefined, clientId: string, scopes: readonly string[]): boolean => {
  const granted = session?.consents[clientId];
  if (granted === undefined) return false;
  // A set, so the check stays linear however many scopes a session recorded (silent renewals run it every time).
  const approved = new Set(granted);
  return scopes.every((scope) => approved.has(scope));
};

/** Remembers that the client got tokens in this session with these scopes (consent, and back-channel logout). */
export const recordGrant = async (
  provider: Provider,
  sessionId: string,
  clientId: string,
  scopes: readonly string[],
): Promise<void> => {
  // Silent renewals (prompt=none) repeat a grant the session already records: a read instead of a write.
  const current = await provider.storage.sessions.get(sessionId);
  if (current === undefined || (current.clients.includes(clientId) && hasConsent(current, clientId, scopes))) return;
  await provider.storage.sessions
    .update(sessionId, (old) => ({
      ...old,
      consents: { ...old.consents, [clientId]: [...new Set([...(old.consents[clientId] ?? []), ...scopes])] },
      clients: old.clients.includes(clientId) ? old.clients : [...old.clients, clientId],
    }))
    .catch((err: unknown) => {
      if (!(err instanceof NotFoundError)) throw err;
    });
};

/** Binds a refresh-token family to the session, so logout revokes it (clients with `refreshTokenLifetime: session`). */
export const bindRefreshFamily = async (provider: Provider, sessionId: string, familyId: string): Promise<boolean> => {
  try {
    await provider.storage.sessions.update(sessionId, (old) => ({
      ...old,
      refreshTokenIds: [...old.refreshTokenIds, familyId],
    }));
    return true;
  } catch (err: unknown) {
    if (err instanceof NotFoundError) return false; // the session already ended
    throw err;
  }
};

/**
 * Whether `source`'s policy lets a login made for it serve `targetClientId` (Dex master's ClientSharesWith): its
 * `ssoSharedWith` (ids, or "*"; an explicit empty list shares with no one), else `sessions.ssoSharedWithDefault`.
 */
const sharesWith = (provider: Provider, source: Client | undefined, targetClientId: string): boolean => {
  const policy = source?.ssoSharedWith;
  if (policy === undefined) return provider.settings.sessions.ssoSharedWithDefault === 'all';
  return policy.some((peer) => peer === '*' || peer === targetClientId);
};

/**
 * Whether the session may log the user in to `clientId` without a new login: the user logged in to that client
 * directly in this session, or a client they logged in to directly shares with it. Logins obtained through single
 * sign-on are never a source, so sharing is one-way and not transitive (server/session/session.go in Dex master).
 */
export const sessionServes = async (provider: Provider, session: Session, clientId: string): Promise<boolean> => {
  const direct = session.directClients ?? [];
  if (direct.includes(clientId)) return true;
  for (const sourceId of direct) {
    if (sharesWith(provider, await provider.storage.clients.get(sourceId), clientId)) return true;
  }
  return false;
};
