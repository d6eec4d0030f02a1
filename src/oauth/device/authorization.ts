/**
 * OAuth 2.0 Device Authorization Grant (RFC 8628), as Dex has it: POST /device/code hands a device a device code
 * and a user code; the user enters the user code at /device and logs in through the ordinary browser flow
 * (src/oauth/device/login.ts); the device polls /token with the device code until the grant is approved.
 *
 * What storage keeps: the DeviceRequest under the user code (without the dash), the DeviceToken under the SHA-256 of
 * the device code, so a database dump hands out no live device code. The wire device code is `<user code>.<secret>`:
 * the device shows the user code anyway, and naming it lets /token find the request, and so the client it was
 * issued to, without a second index.
 */
import { z } from 'zod';
import type { Client, CodeChallengeMethod, DeviceToken } from '../../../storage/storage.js';
import { AlreadyExistsError, NotFoundError } from '../../../storage/storage.js';
import { OAuthError } from '../../errors.js';
import type { GrantFacts } from '../tokens/claims.js';
import { mintTokens, tokenResponseBody } from '../tokens/mint.js';
import { authenticateClient, presentedCredentials } from '../primitives/client-auth.js';
import { isValidChallenge, verifyPkce } from '../primitives/pkce.js';
import type { Provider } from '../provider.js';
import { startRefreshFamily, type StartedFamily } from '../grants/refresh.js';
import { checkRequestedScopes, hasScope, parseScopes } from '../primitives/scopes.js';
import { bindRefreshFamily } from '../session/sessions.js';
import type { ProviderSettings } from '../settings.js';
import type { TokenRequest, TokenResponse } from '../grants/endpoint.js';
import { hashSecret, randomToken, safeEqual } from '../primitives/secrets.js';

/** The grant type of the device flow at /token (RFC 8628 §3.4). */
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** Where the internal authorization request of a device login returns (Dex's DeviceCallbackURI), under the issuer. */
export const DEVICE_CALLBACK_PATH = '/device/callback';

/** Seconds a device waits between polls (RFC 8628 §3.2 `interval`; Dex sends 5). */
export const POLL_INTERVAL_SECONDS = 5;

/** Dex's default `expiry.deviceRequests`. */
const DEFAULT_DEVICE_REQUEST_TTL_MS = 5 * 60_000;

/** Dex's user-code letters: consonants only, so no word (and no 0/O, 1/I) can appear. 20^8 ≈ 2.6·10^10 codes. */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
const USER_CODE_LENGTH = 8;
const USER_CODE_SYNTAX = new RegExp(`^[${USER_CODE_ALPHABET}]{${USER_CODE_LENGTH}}$`);

/** Whether the device flow is enabled (`oauth2.grantTypes`). */
export const isDeviceFlowEnabled = (settings: Pick<ProviderSettings, 'grantTypes'>): boolean =>
  settings.grantTypes.includes(DEVICE_CODE_GRANT);

/** How long a device authorization request lives. */
export const deviceRequestTtlMs = (settings: Pick<ProviderSettings, 'deviceRequestTtlMs'>): number =>
  settings.deviceRequestTtlMs ?? DEFAULT_DEVICE_REQUEST_TTL_MS;

/** The device callback as the internal authorization request names it. */
export const deviceCallbackUrl = (settings: Pick<ProviderSettings, 'issuer'>): string =>
  `${settings.issuer}${DEVICE_CALLBACK_PATH}`;

/**
 * Dex's rule for who may use the device flow: a client that registered the device callback as a redirect URI (Dex
 * configs write it as "/device/callback" or "<issuer path>/device/callback"; the absolute URL counts too), or a public
 * client with no redirect URIs at all. Otherwise anyone could start a device login for, say, a web app, and collect
 * tokens issued to that app's name on the approval page.
 */
export const mayUseDeviceFlow = (client: Client, settings: Pick<ProviderSettings, 'issuer' | 'basePath'>): boolean => {
  if (client.public && client.redirectURIs.length === 0) return true;
  const callbacks = [DEVICE_CALLBACK_PATH, `${settings.basePath}${DEVICE_CALLBACK_PATH}`, deviceCallbackUrl(settings)];
  return client.redirectURIs.some((uri) => callbacks.includes(uri));
};

/** A random user code (8 letters of USER_CODE_ALPHABET, no dash), each letter equally likely. */
export const newUserCode = (randomBytes: (size: number) => Buffer): string => {
  let code = '';
  while (code.length < USER_CODE_LENGTH) {
    for (const byte of randomBytes(16)) {
      // 240 = 12 × 20: bytes above it are dropped, so the modulo favours no letter.
      if (byte < 240 && code.length < USER_CODE_LENGTH) code += USER_CODE_ALPHABET[byte % USER_CODE_ALPHABET.length];
    }
  }
  return code;
};

/** A user code as typed (any case, with or without the dash or spaces) in its stored form; undefined when it cannot be one. */
export const normaliseUserCode = (typed: string): string | undefined => {
  const code = typed.toUpperCase().replace(/[\s-]/g, '');
  return USER_CODE_SYNTAX.test(code) ? code : undefined;
};

/** The user code as shown to people: `XXXX-XXXX`. */
export const formatUserCode = (code: string): string => `${code.slice(0, 4)}-${code.slice(4)}`;

/** The device authorization response (RFC 8628 §3.2). */
export interface DeviceAuthorizationResponse {
  readonly device_code: string;
  readonly user_code: string;
  readonly verification_uri: string;
  readonly verification_uri_complete: string;
  readonly expires_in: number;
  readonly interval: number;
}

/** PKCE on the device request (Dex accepts code_challenge at /device/code; RFC 7636 §4.3). */
const challengeOf = (
  form: TokenRequest['form'],
  settings: ProviderSettings,
): { codeChallenge: string; codeChallengeMethod: CodeChallengeMethod } => {
  const codeChallenge = form.code_challenge ?? '';
  const rawMethod = form.code_challenge_method;
  if (codeChallenge === '') {
    if (rawMethod !== undefined)
      throw new OAuthError('invalid_request', 'code_challenge_method sent without code_challenge');
    return { codeChallenge: '', codeChallengeMethod: '' };
  }
  const method = rawMethod ?? 'plain'; // RFC 7636 §4.3: plain when absent
  if ((method !== 'S256' && method !== 'plain') || !settings.codeChallengeMethods.includes(method)) {
    throw new OAuthError('invalid_request', `unsupported code_challenge_method "${method}"`);
  }
  if (!isValidChallenge(codeChallenge)) throw new OAuthError('invalid_request', 'code_challenge is malformed');
  return { codeChallenge, codeChallengeMethod: method };
};

/** POST /device/code (RFC 8628 §3.1, §3.2): authenticates the client and stores a pending device request. */
export const startDeviceFlow = async (
  provider: Provider,
  request: TokenRequest,
): Promise<DeviceAuthorizationResponse> => {
  const { storage, settings, deps } = provider;
  const { form } = request;
  const presented = presentedCredentials(request.authorization, {
    client_id: form.client_id,
    client_secret: form.client_secret,
  });
  const client = authenticateClient(await storage.clients.get(presented.clientId), presented);
  if (!mayUseDeviceFlow(client, settings))
    throw new OAuthError('unauthorized_client', 'the client is not registered for the device flow');
  const requested = parseScopes(form.scope);
  // RFC 8628 §3.1 makes scope optional; Dex then asks for openid, which every login here needs.
  const scopes = requested.length > 0 ? requested : ['openid'];
  await checkRequestedScopes(client, scopes, (id) => storage.clients.get(id));
  const challenge = challengeOf(form, settings);

  const now = deps.clock.now();
  const ttlMs = deviceRequestTtlMs(settings);
  const expiry = new Date(now.getTime() + ttlMs);
  for (let attempt = 0; ; attempt++) {
    const userCode = newUserCode(deps.randomBytes);
    const deviceCode = `${userCode}.${randomToken(deps.randomBytes)}`;
    const key = hashSecret(deviceCode);
    try {
      // The user code is the key: a clash with an outstanding request fails here and a new code is drawn. The client
      // authenticated just now, so its secret is not kept (Dex stores it to check at the callback).
      await storage.deviceRequests.create({
        userCode,
        deviceCode: key,
        clientId: client.id,
        clientSecret: '',
        scopes,
        expiry,
      });
    } catch (err: unknown) {
      if (err instanceof AlreadyExistsError && attempt < 3) continue;
      throw err;
    }
    // pollIntervalSeconds 0: the first poll may come at once (as in Dex); from then on `interval` applies.
    await storage.deviceTokens.create({
      deviceCode: key,
      status: 'pending',
      token: '',
      expiry,
      lastRequestTime: now,
      pollIntervalSeconds: 0,
      ...challenge,
    });
    const verificationUri = `${settings.issuer}/device`;
    return {
      device_code: deviceCode,
      user_code: formatUserCode(userCode),
      verification_uri: verificationUri,
      verification_uri_complete: `${verificationUri}?${new URLSearchParams({ user_code: formatUserCode(userCode) }).toString()}`,
      expires_in: Math.floor(ttlMs / 1000),
      interval: POLL_INTERVAL_SECONDS,
    };
  }
};

/**
 * The login a device token holds once the user approved it. Tokens are minted only when the device collects them,
 * so storage never holds a live access or refresh token, and their lifetimes start when the device receives them.
 */
const approvedGrantSchema = z.object({
  claims: z.object({
    userId: z.string(),
    username: z.string(),
    preferredUsername: z.string(),
    email: z.string(),
    emailVerified: z.boolean(),
    groups: z.array(z.string()),
  }),
  connectorId: z.string(),
  /** base64 of the connector's opaque data. */
  connectorData: z.string().optional(),
  scopes: z.array(z.string()),
  authTime: z.iso.datetime(),
  sessionId: z.string().optional(),
});
export type ApprovedGrant = z.infer<typeof approvedGrantSchema>;

/** The DeviceToken `token` of an approved request. */
export const encodeApprovedGrant = (grant: ApprovedGrant): string => JSON.stringify(grant);

/** The token request's device code → its request and token keys; every failure is the same invalid_grant. */
const findDeviceGrant = async (
  provider: Provider,
  client: Client,
  deviceCode: string,
): Promise<{ key: string; expiry: Date }> => {
  const invalid = new OAuthError('invalid_grant', 'invalid device code');
  const dot = deviceCode.indexOf('.');
  const userCode = dot > 0 ? normaliseUserCode(deviceCode.slice(0, dot)) : undefined;
  if (userCode === undefined || userCode !== deviceCode.slice(0, dot)) throw invalid;
  const request = await provider.storage.deviceRequests.get(userCode);
  const key = hashSecret(deviceCode);
  if (request === undefined || !safeEqual(key, request.deviceCode)) throw invalid;
  // RFC 6749 §4.1.3 applied to device codes: only the client the code was issued to may redeem it.
  if (request.clientId !== client.id) throw new OAuthError('invalid_grant', 'device code was issued to another client');
  return { key, expiry: request.expiry };
};

/** Thrown inside a compare-and-swap when the token is no longer pending. */
class NotPending extends Error {}

/**
 * One poll of a pending request (RFC 8628 §3.5): authorization_pending, or slow_down when it came sooner than the
 * interval after the previous poll, which adds 5 seconds to the interval for this and every later poll. Returns the
 * token instead when the user finished in the meantime.
 */
const pollPending = async (provider: Provider, key: string, now: Date): Promise<DeviceToken> => {
  let tooSoon = false;
  let interval = 0;
  try {
    await provider.storage.deviceTokens.update(key, (old) => {
      if (old.status !== 'pending') throw new NotPending();
      tooSoon = now.getTime() - old.lastRequestTime.getTime() < old.pollIntervalSeconds * 1000;
      interval = tooSoon
        ? old.pollIntervalSeconds + POLL_INTERVAL_SECONDS
        : Math.max(old.pollIntervalSeconds, POLL_INTERVAL_SECONDS);
      return { ...old, lastRequestTime: now, pollIntervalSeconds: interval };
    });
  } catch (err: unknown) {
    if (err instanceof NotFoundError) throw new OAuthError('invalid_grant', 'device code already used');
    if (!(err instanceof NotPending)) throw err;
    const current = await provider.storage.deviceTokens.get(key);
    if (current === undefined) throw new OAuthError('invalid_grant', 'device code already used');
    return current;
  }
  if (tooSoon) throw new OAuthError('slow_down', `poll at most every ${interval} seconds`);
  throw new OAuthError('authorization_pending', 'the user has not completed the authorization yet');
};

/** The device_code grant at /token (RFC 8628 §3.4, §3.5). The client is already authenticated. */
export const deviceCodeGrant = async (
  provider: Provider,
  client: Client,
  form: TokenRequest['form'],
): Promise<TokenResponse> => {
  const { storage, deps } = provider;
  const deviceCode = form.device_code;
  if (deviceCode === undefined || deviceCode === '') throw new OAuthError('invalid_request', 'device_code is required');
  const { key, expiry } = await findDeviceGrant(provider, client, deviceCode);
  const now = deps.clock.now();
  const expired = new OAuthError('expired_token', 'the device code has expired');
  if (expiry.getTime() <= now.getTime()) throw expired;
  let token = await storage.deviceTokens.get(key);
  // The request outlives its token only when the token was collected (deleted) already.
  if (token === undefined) throw new OAuthError('invalid_grant', 'device code already used');
  if (token.expiry.getTime() <= now.getTime()) throw expired;
  if (token.status === 'pending') token = await pollPending(provider, key, now);
  if (token.status === 'denied') throw new OAuthError('access_denied', 'the user denied the request');
  if (token.status !== 'complete') throw new OAuthError('invalid_grant', 'invalid device code');

  verifyPkce(token.codeChallenge, token.codeChallengeMethod, form.code_verifier);
  const grant = approvedGrantSchema.parse(JSON.parse(token.token));
  const facts: GrantFacts = {
    clientId: client.id,
    scopes: grant.scopes,
    claims: grant.claims,
    connectorId: grant.connectorId,
    nonce: '',
    authTime: new Date(grant.authTime),
    sessionId: grant.sessionId,
  };
  const connectorData =
    grant.connectorData === undefined ? undefined : new Uint8Array(Buffer.from(grant.connectorData, 'base64'));
  const family = await startSessionAwareFamily(provider, client, facts, connectorData);
  let tokens: Awaited<ReturnType<typeof mintTokens>>;
  try {
    // Access tokens name the refresh family in `gid`, so revoking the family revokes them too.
    tokens = await mintTokens(provider, facts, {
      withIdToken: hasScope(facts.scopes, 'openid'),
      includeNonce: false,
      grantRef: family === undefined ? undefined : `r:${family.id}`,
    });
    // Single use: of two polls racing here exactly one deletes the token and answers with tokens.
    await storage.deviceTokens.delete(key);
  } catch (err: unknown) {
    await family?.discard();
    if (err instanceof NotFoundError) throw new OAuthError('invalid_grant', 'device code already used');
    throw err;
  }
  return tokenResponseBody(tokens, family?.token, facts.scopes);
};

/**
 * The refresh-token family for a device login, as at the code grant: clients with `refreshTokenLifetime: session`
 * get one bound to the browser session that approved (revoked at its logout), and none when that session has ended.
 */
const startSessionAwareFamily = async (
  provider: Provider,
  client: Client,
  facts: GrantFacts,
  connectorData: Uint8Array | undefined,
): Promise<StartedFamily | undefined> => {
  const family = await startRefreshFamily(provider, facts, connectorData);
  if (family === undefined || client.refreshTokenLifetime !== 'session') return family;
  if (facts.sessionId !== undefined && (await bindRefreshFamily(provider, facts.sessionId, family.id))) return family;
  await family.discard();
  return undefined;
};
