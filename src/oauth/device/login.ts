/**
 * The browser side of the device flow (RFC 8628 §3.3): the user enters the user code, then logs in and approves
 * through the ordinary authorization flow (connector pages, browser session, approval page). The device login is an
 * authorization request like any other, except that idport makes it itself, for the device's client and scopes, and
 * its response goes to `<issuer>/device/callback`, which hands the approved login to the polling device.
 */
import { PageError } from '../primitives/page-error.js';
import type { AuthRequest, DeviceRequest, DeviceToken } from '../../../storage/storage.js';
import { NotFoundError } from '../../../storage/storage.js';
import type { AuthStart } from '../authorize/flow.js';
import { deviceCallbackUrl, encodeApprovedGrant, normaliseUserCode } from './authorization.js';
import type { Provider } from '../provider.js';
import { loadSession, sessionServes } from '../session/sessions.js';
import { hashSecret, randomToken, safeEqual } from '../primitives/secrets.js';

/** The CSRF token of the code-entry form: derived from the browser cookie, so only this browser can submit it. */
export const deviceFormCsrf = (browserId: string): string => hashSecret(`idport-device-form:${browserId}`);

/** The code-entry form must come from this browser's own page. */
export function checkDeviceCsrf(browserId: string | undefined, csrf: string | undefined): asserts browserId is string {
  if (browserId === undefined || csrf === undefined || !safeEqual(csrf, deviceFormCsrf(browserId))) {
    throw new PageError('device_form_csrf');
  }
}

/** The outstanding request a typed user code names; undefined for a malformed, unknown, expired or finished one. */
export const findPendingDeviceRequest = async (
  provider: Provider,
  typed: string,
): Promise<DeviceRequest | undefined> => {
  const { storage, deps } = provider;
  const userCode = normaliseUserCode(typed);
  if (userCode === undefined) return undefined;
  const now = deps.clock.now().getTime();
  const request = await storage.deviceRequests.get(userCode);
  if (request === undefined || request.expiry.getTime() <= now) return undefined;
  const token = await storage.deviceTokens.get(request.deviceCode);
  if (token === undefined || token.status !== 'pending' || token.expiry.getTime() <= now) return undefined;
  return request;
};

/**
 * The `state` of a device login: the user code and a value only this browser can compute, so the callback accepts a
 * response only in the browser that entered the code — a login (or a denial) cannot be planted from elsewhere.
 */
const stateMac = (browserId: string, userCode: string): string =>
  hashSecret(`idport-device-state:${browserId}:${userCode}`);

/** Where the browser goes after entering a valid code: the connector chooser, a connector, or (logged in) approval. */
export type DeviceLoginStart = Exclude<AuthStart, { readonly kind: 'respond' }>;

/**
 * Stores the internal authorization request of a device login, bound to this browser. A live browser session stands
 * in for the login. Approval is always asked for (RFC 8628 §5.4): the approval page names the client, the user's one
 * chance to notice a code that someone else's device showed them.
 */
export const startDeviceLogin = async (
  provider: Provider,
  device: DeviceRequest,
  browserId: string,
  sessionCookie: string | undefined,
): Promise<DeviceLoginStart> => {
  const { storage, deps, settings } = provider;
  const live = await loadSession(provider, sessionCookie);
  // As at /auth: the session stands in only for clients its logins share with (sessionServes).
  const session = live !== undefined && (await sessionServes(provider, live, device.clientId)) ? live : undefined;
  const now = deps.clock.now();
  const base: AuthRequest = {
    id: randomToken(deps.randomBytes),
    clientId: device.clientId,
    responseTypes: ['code'],
    scopes: device.scopes,
    redirectUri: deviceCallbackUrl(settings),
    redirectUriSent: true,
    state: `${device.userCode}.${stateMac(browserId, device.userCode)}`,
    nonce: '',
    responseMode: 'query',
    codeChallenge: '',
    codeChallengeMethod: '',
    prompt: [],
    maxAge: undefined,
    loginHint: '',
    forceApproval: true,
    connectorId: '',
    csrfToken: randomToken(deps.randomBytes),
    browserHash: hashSecret(browserId),
    loggedIn: false,
    // No use in a login that outlives the device request.
    expiry: new Date(Math.min(now.getTime() + settings.authRequestTtlMs, device.expiry.getTime())),
  };
  const request: AuthRequest =
    session === undefined
      ? base
      : {
          ...base,
          loggedIn: true,
          connectorId: session.connectorId,
          claims: session.claims,
          connectorData: session.connectorData,
          authTime: session.authTime,
          sessionId: session.id,
        };
  await storage.authRequests.create(request);
  if (request.loggedIn) return { kind: 'loggedIn', request };
  const [only] = provider.connectors.keys();
  if (provider.connectors.size === 1 && only !== undefined && !settings.alwaysShowLoginScreen)
    return { kind: 'connector', request, connectorId: only };
  return { kind: 'choose', request };
};

/** How a device login ended, for the page that tells the user to go back to the device. */
export interface DeviceLoginResult {
  readonly approved: boolean;
  /** The client's display name (client-supplied text). */
  readonly clientName: string;
}

const finishedDevice = (): PageError => new PageError('device_code_finished');

class NotPending extends Error {}

/** Settles a pending device token; one settlement wins, later ones (a double submit, another browser) fail. */
const settle = async (
  provider: Provider,
  device: DeviceRequest,
  outcome: Pick<DeviceToken, 'status' | 'token'>,
): Promise<void> => {
  const now = provider.deps.clock.now().getTime();
  try {
    await provider.storage.deviceTokens.update(device.deviceCode, (old) => {
      if (old.status !== 'pending' || old.expiry.getTime() <= now) throw new NotPending();
      return { ...old, ...outcome };
    });
  } catch (err: unknown) {
    if (err instanceof NotPending || err instanceof NotFoundError) throw finishedDevice();
    throw err;
  }
};

/**
 * GET /device/callback: the authorization response of a device login. An approved login's code is consumed here (it
 * never reaches a client) and the login it stands for is stored on the device token; a denial marks it denied.
 */
export const finishDeviceLogin = async (
  provider: Provider,
  query: URLSearchParams,
  browserId: string | undefined,
): Promise<DeviceLoginResult> => {
  const { storage, deps, settings } = provider;
  const state = query.get('state') ?? '';
  const dot = state.indexOf('.');
  const userCode = state.slice(0, Math.max(0, dot));
  if (dot <= 0 || browserId === undefined || !safeEqual(state.slice(dot + 1), stateMac(browserId, userCode))) {
    throw new PageError('device_login_other_browser');
  }
  const now = deps.clock.now().getTime();
  const device = await storage.deviceRequests.get(userCode);
  if (device === undefined || device.expiry.getTime() <= now) throw finishedDevice();
  const client = await storage.clients.get(device.clientId);
  const clientName = client !== undefined && client.name !== '' ? client.name : device.clientId;

  const error = query.get('error');
  if (error !== null) {
    if (error !== 'access_denied') throw new PageError('device_login_failed');
    await settle(provider, device, { status: 'denied', token: '' });
    return { approved: false, clientName };
  }
  const code = query.get('code') ?? '';
  const stored = code === '' ? undefined : await storage.authCodes.get(hashSecret(code));
  if (
    stored === undefined ||
    stored.expiry.getTime() <= now ||
    stored.redeemedAt !== undefined ||
    stored.clientId !== device.clientId ||
    stored.redirectUri !== deviceCallbackUrl(settings)
  ) {
    throw finishedDevice();
  }
  // Single use: a reload of this page cannot settle twice.
  if (!(await storage.authCodes.delete(stored.id))) throw finishedDevice();
  await settle(provider, device, {
    status: 'complete',
    token: encodeApprovedGrant({
      claims: { ...stored.claims, groups: [...stored.claims.groups] },
      connectorId: stored.connectorId,
      ...(stored.connectorData !== undefined
        ? { connectorData: Buffer.from(stored.connectorData).toString('base64') }
        : {}),
      scopes: [...stored.scopes],
      authTime: stored.authTime.toISOString(),
      ...(stored.sessionId !== undefined ? { sessionId: stored.sessionId } : {}),
    }),
  });
  return { approved: true, clientName };
};
