/**
 * Ending sessions: OpenID Connect RP-Initiated Logout 1.0 (request validation) and Back-Channel Logout 1.0
 * (signed logout tokens POSTed to clients, in the background so the user's logout never waits on them).
 */
import { PageError } from '../primitives/page-error.js';
import type { JWTPayload } from 'jose';
import { encodeSubject } from '../primitives/subject.js';
import type { Client, Session } from '../../../storage/storage.js';
import { verifyIdTokenHint } from '../tokens/mint.js';
import type { Provider } from '../provider.js';
import { revokeFamily } from '../grants/refresh-family.js';
import { hashSecret, randomToken, safeEqual } from '../primitives/secrets.js';
import { loadSession } from './sessions.js';

/** OIDC Back-Channel Logout §2.4: the event a logout token carries. */
export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/** A logout token is short-lived: the receiver checks it at once. */
const LOGOUT_TOKEN_TTL_S = 120;
/** Each delivery attempt is bounded; a slow client never holds anything up. */
const DELIVERY_TIMEOUT_MS = 5_000;
/** Waits before the second, third and fourth attempt. */
const RETRY_DELAYS_MS = [500, 2_000, 8_000];

/** A validated logout request: who asks (when provable), and where to send the browser afterwards. */
export interface LogoutRequest {
  /** The client, when an id_token_hint or client_id names one. */
  readonly client: Client | undefined;
  /** Proven by a valid id_token_hint: the request comes from this client for this subject. */
  readonly hintSubject: string | undefined;
  /** Verified against the client's postLogoutRedirectURIs; undefined: show the logged-out page. */
  readonly postLogoutRedirectUri: string | undefined;
  readonly state: string | undefined;
}

const audiences = (payload: JWTPayload): string[] =>
  Array.isArray(payload.aud) ? payload.aud : typeof payload.aud === 'string' ? [payload.aud] : [];

/** Validates /logout parameters (RP-Initiated Logout §2, §3); anything wrong is an error page, never a redirect. */
export const validateLogout = async (provider: Provider, params: URLSearchParams): Promise<LogoutRequest> => {
  const hint = params.get('id_token_hint') ?? '';
  let hintPayload: JWTPayload | undefined;
  if (hint !== '') {
    try {
      // An expired ID token is still a fine hint (§2: the OP should accept it).
      hintPayload = await verifyIdTokenHint(provider, hint);
    } catch {
      throw new PageError('logout_hint_invalid');
    }
  }
  // The client the ID token was issued to: its azp (OIDC Core §2), which idport always sets; other audiences are
  // only trusted peers the token may be shown to, and cannot stand in for it.
  const hintClientId =
    hintPayload === undefined
      ? undefined
      : typeof hintPayload.azp === 'string'
        ? hintPayload.azp
        : audiences(hintPayload)[0];
  const clientIdParam = params.get('client_id') ?? undefined;
  // §2: with both, the OP must verify that client_id is the one used when issuing the ID token.
  if (clientIdParam !== undefined && hintPayload !== undefined && clientIdParam !== hintClientId) {
    throw new PageError('logout_client_mismatch');
  }
  const clientId = clientIdParam ?? hintClientId;
  const client = clientId === undefined ? undefined : await provider.storage.clients.get(clientId);
  if (clientId !== undefined && client === undefined) throw new PageError('unknown_client', { clientId });

  const redirect = params.get('post_logout_redirect_uri') ?? undefined;
  if (redirect !== undefined && redirect !== '') {
    // §3: only to a URI registered for the client the request identifies; exact match.
    if (client === undefined) throw new PageError('logout_redirect_without_client');
    if (!(client.postLogoutRedirectURIs ?? []).includes(redirect)) throw new PageError('logout_redirect_unregistered');
  }
  return {
    client,
    hintSubject: typeof hintPayload?.sub === 'string' ? hintPayload.sub : undefined,
    postLogoutRedirectUri: redirect === '' ? undefined : redirect,
    state: params.get('state') ?? undefined,
  };
};

/** The confirmation form's CSRF token: derived from the session cookie, so only this browser can confirm. */
const csrfFor = (cookie: string): string => hashSecret(`idport-logout:${cookie}`);

/** Parameters a confirmation form carries on to its POST (in its action URL). */
const CARRIED_PARAMETERS = ['post_logout_redirect_uri', 'state', 'client_id', 'id_token_hint'];

/** What /logout does next: ask the user to confirm, or (the session ended) finish. */
export type LogoutStep =
  | { readonly kind: 'confirm'; readonly postUrl: string; readonly csrfToken: string; readonly signedInAs: string }
  | { readonly kind: 'done'; readonly request: LogoutRequest };

/** A /logout request as parsed: its parameters (query and form), the session cookie, and whether it was a POST. */
export interface LogoutInput {
  readonly params: URLSearchParams;
  readonly cookie: string | undefined;
  readonly posted: boolean;
}

/**
 * The "proven or confirm" rule (RP-Initiated Logout §2): a valid id_token_hint for this session's user proves the
 * client asks on the user's behalf, and the session ends at once; otherwise the user confirms with a form only this
 * browser can submit. Ending the session notifies clients in the background.
 */
export const decideLogout = async (provider: Provider, input: LogoutInput): Promise<LogoutStep> => {
  const { params, cookie } = input;
  const request = await validateLogout(provider, params);
  const session = await loadSession(provider, cookie);
  const confirmed = input.posted && params.has('csrf');
  if (confirmed && (cookie === undefined || !safeEqual(params.get('csrf') ?? '', csrfFor(cookie)))) {
    throw new PageError('logout_form_csrf');
  }
  const proven =
    request.hintSubject !== undefined && (session === undefined || request.hintSubject === subjectOf(session));
  if (session !== undefined && cookie !== undefined && !proven && !confirmed) {
    const carried = new URLSearchParams();
    for (const name of CARRIED_PARAMETERS) {
      const value = params.get(name);
      if (value !== null) carried.set(name, value);
    }
    const postUrl = `${provider.settings.basePath}/logout?${carried.toString()}`;
    const signedInAs = session.claims.email || session.claims.username;
    return { kind: 'confirm', postUrl, csrfToken: csrfFor(cookie), signedInAs };
  }
  if (session !== undefined) {
    const { deliveries } = await endSession(provider, session);
    void deliveries; // back-channel notifications finish in the background
  }
  return { kind: 'done', request };
};

/** The `sub` idport issued for this session's user. */
export const subjectOf = (session: Session): string => encodeSubject(session.claims.userId, session.connectorId);

/**
 * Ends a session: deletes it, revokes refresh tokens bound to it, and notifies every client that got tokens in
 * it and registered a backchannelLogoutURI. Notifications run in the background; the returned promise of them
 * is for tests and shutdown, never awaited on the user's request.
 */
export const endSession = async (provider: Provider, session: Session): Promise<{ deliveries: Promise<void> }> => {
  const { storage, log } = provider;
  // Another request that ended it first has notified.
  if (!(await storage.sessions.delete(session.id))) return { deliveries: Promise.resolve() };
  for (const familyId of session.refreshTokenIds) await revokeFamily(provider, familyId);
  const clients = (await Promise.all(session.clients.map((id) => storage.clients.get(id)))).filter(
    (c): c is Client => c?.backchannelLogoutURI !== undefined && c.backchannelLogoutURI !== '',
  );
  log.info({ sid: session.id, notified: clients.map((c) => c.id) }, 'session ended');
  const deliveries = Promise.all(clients.map((client) => deliverLogoutToken(provider, client, session))).then(
    () => undefined,
  );
  return { deliveries };
};

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** POSTs a logout token (Back-Channel Logout §2.5), retrying a few times; failures are logged, never thrown. */
const deliverLogoutToken = async (provider: Provider, client: Client, session: Session): Promise<void> => {
  const { signer, settings, deps, log } = provider;
  const uri = client.backchannelLogoutURI ?? '';
  for (let attempt = 0; attempt <= RETRY_DELAYS_MS.length; attempt++) {
    try {
      const iat = Math.floor(deps.clock.now().getTime() / 1000);
      // A fresh token per attempt: a receiver may reject a jti it has seen, and each needs a current iat.
      const token = await signer.sign(
        {
          iss: settings.issuer,
          aud: client.id,
          iat,
          exp: iat + LOGOUT_TOKEN_TTL_S,
          jti: randomToken(deps.randomBytes),
          sub: subjectOf(session),
          sid: session.id,
          events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
        },
        { typ: 'logout+jwt' },
      );
      const response = await deps.fetch(uri, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ logout_token: token }).toString(),
        signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
        redirect: 'manual', // §2.8: the RP answers 200 or 204; a redirect is not followed
      });
      await response.body?.cancel();
      if (response.ok) return;
      log.warn({ client: client.id, status: response.status, attempt }, 'back-channel logout refused');
    } catch (err: unknown) {
      log.warn(
        { client: client.id, err: err instanceof Error ? err.message : String(err), attempt },
        'back-channel logout failed',
      );
    }
    const delay = RETRY_DELAYS_MS[attempt];
    if (delay !== undefined) await sleep(delay);
  }
  log.error({ client: client.id }, 'back-channel logout gave up');
};
