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
import type { Client } from '../../../storage/storage.js';
import { AlreadyExistsError } from '../../../storage/storage.js';
import { OAuthError } from '../../errors.js';
import { authenticateClient, presentedCredentials } from '../primitives/client-auth.js';
import { parseChallenge, type Challenge } from '../primitives/pkce.js';
import { firstOverLimit, overLimitDescription, type LimitedParameter } from '../primitives/parameter-limits.js';
import type { Provider } from '../provider.js';
import { checkRequestedScopes, parseScopes } from '../primitives/scopes.js';
import type { ProviderSettings } from '../settings.js';
import type { TokenRequest } from '../grants/grant.js';
import { hashSecret, randomToken } from '../primitives/secrets.js';

/** The grant type of the device flow at /token (RFC 8628 §3.4). */
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** Where the internal authorization request of a device login returns (Dex's DeviceCallbackURI), under the issuer. */
export const DEVICE_CALLBACK_PATH = '/device/callback';

/** Seconds a device waits between polls (RFC 8628 §3.2 `interval`; Dex sends 5). */
export const POLL_INTERVAL_SECONDS = 5;

/** Dex's user-code letters: consonants only, so no word (and no 0/O, 1/I) can appear. 20^8 ≈ 2.6·10^10 codes. */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
const USER_CODE_LENGTH = 8;
const USER_CODE_SYNTAX = new RegExp(`^[${USER_CODE_ALPHABET}]{${USER_CODE_LENGTH}}$`);

/** Whether the device flow is enabled (`oauth2.grantTypes`). */
export const isDeviceFlowEnabled = (settings: Pick<ProviderSettings, 'grantTypes'>): boolean =>
  settings.grantTypes.includes(DEVICE_CODE_GRANT);

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

/** What a new device request stores: whose, for which scopes, with which PKCE challenge, for how long. */
interface NewDeviceRequest {
  readonly clientId: string;
  readonly scopes: readonly string[];
  readonly challenge: Challenge;
  readonly ttlMs: number;
}

/** Stores a pending request under a fresh user code and its pending token; returns the codes handed out. */
const storePendingRequest = async (
  provider: Provider,
  request: NewDeviceRequest,
): Promise<{ userCode: string; deviceCode: string }> => {
  const { storage, deps } = provider;
  const now = deps.clock.now();
  const expiry = new Date(now.getTime() + request.ttlMs);
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
        clientId: request.clientId,
        scopes: [...request.scopes],
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
      ...request.challenge,
    });
    return { userCode, deviceCode };
  }
};

/** The parameters of a device authorization request, each bounded (RFC 8628 §3.1). */
const DEVICE_PARAMETERS: readonly LimitedParameter[] = [
  'client_id',
  'client_secret',
  'scope',
  'code_challenge',
  'code_challenge_method',
];

/** POST /device/code (RFC 8628 §3.1, §3.2): authenticates the client and stores a pending device request. */
export const startDeviceFlow = async (
  provider: Provider,
  request: TokenRequest,
): Promise<DeviceAuthorizationResponse> => {
  const { storage, settings } = provider;
  const { form } = request;
  const overLimit = firstOverLimit((name) => (form[name] === undefined ? [] : [form[name]]), DEVICE_PARAMETERS);
  if (overLimit !== undefined) throw new OAuthError('invalid_request', overLimitDescription(overLimit));
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
  // PKCE on the device request (Dex accepts code_challenge at /device/code; RFC 7636 §4.3).
  const challenge = parseChallenge(
    { challenge: form.code_challenge, method: form.code_challenge_method },
    settings.codeChallengeMethods,
  );

  const ttlMs = settings.deviceRequestTtlMs;
  const { userCode, deviceCode } = await storePendingRequest(provider, {
    clientId: client.id,
    scopes,
    challenge,
    ttlMs,
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

/** The login an approved device token holds (its `token`), checked on the way out of storage. */
export const decodeApprovedGrant = (token: string): ApprovedGrant => approvedGrantSchema.parse(JSON.parse(token));
