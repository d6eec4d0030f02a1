/**
 * The device_code grant at /token (RFC 8628 §3.4, §3.5): the device polls with its device code until the user
 * approved or denied the request at /device (src/oauth/device/). Tokens are minted when the device collects them, and
 * the device token is deleted then, so each approval is collected once.
 */
import type { Client, DeviceToken } from '../../../storage/storage.js';
import { NotFoundError } from '../../../storage/storage.js';
import { OAuthError } from '../../errors.js';
import {
  decodeApprovedGrant,
  DEVICE_CODE_GRANT,
  normaliseUserCode,
  POLL_INTERVAL_SECONDS,
} from '../device/authorization.js';
import { verifyPkce } from '../primitives/pkce.js';
import { hashSecret, safeEqual } from '../primitives/secrets.js';
import { userDenied } from '../primitives/shared-errors.js';
import type { Provider } from '../provider.js';
import type { Grant, GrantContext, GrantOutcome } from './grant.js';

const invalidDeviceCode = (): OAuthError => new OAuthError('invalid_grant', 'invalid device code');
/** A device code whose tokens were collected already (or whose token was collected by a racing poll). */
const deviceCodeUsed = (): OAuthError => new OAuthError('invalid_grant', 'device code already used');

/** The token request's device code → its request and token keys; every failure is the same invalid_grant. */
const findDeviceGrant = async (
  provider: Provider,
  client: Client,
  deviceCode: string,
): Promise<{ key: string; expiry: Date }> => {
  const dot = deviceCode.indexOf('.');
  const userCode = dot > 0 ? normaliseUserCode(deviceCode.slice(0, dot)) : undefined;
  if (userCode === undefined || userCode !== deviceCode.slice(0, dot)) throw invalidDeviceCode();
  const request = await provider.storage.deviceRequests.get(userCode);
  const key = hashSecret(deviceCode);
  if (request === undefined || !safeEqual(key, request.deviceCode)) throw invalidDeviceCode();
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
    if (err instanceof NotFoundError) throw deviceCodeUsed();
    if (!(err instanceof NotPending)) throw err;
    const current = await provider.storage.deviceTokens.get(key);
    if (current === undefined) throw deviceCodeUsed();
    return current;
  }
  if (tooSoon) throw new OAuthError('slow_down', `poll at most every ${interval} seconds`);
  throw new OAuthError('authorization_pending', 'the user has not completed the authorization yet');
};

/** The device token the request's device code names, once the user approved it; otherwise the poll's answer. */
const approvedToken = async (
  context: GrantContext,
  deviceCode: string,
): Promise<{ key: string; token: DeviceToken }> => {
  const { provider, client } = context;
  const { key, expiry } = await findDeviceGrant(provider, client, deviceCode);
  const now = provider.deps.clock.now();
  const expired = new OAuthError('expired_token', 'the device code has expired');
  if (expiry.getTime() <= now.getTime()) throw expired;
  let token = await provider.storage.deviceTokens.get(key);
  // The request outlives its token only when the token was collected (deleted) already.
  if (token === undefined) throw deviceCodeUsed();
  if (token.expiry.getTime() <= now.getTime()) throw expired;
  if (token.status === 'pending') token = await pollPending(provider, key, now);
  if (token.status === 'denied') throw userDenied();
  if (token.status !== 'complete') throw invalidDeviceCode();
  return { key, token };
};

const redeem = async (context: GrantContext): Promise<GrantOutcome> => {
  const { provider, client, form } = context;
  const deviceCode = form.device_code;
  if (deviceCode === undefined || deviceCode === '') throw new OAuthError('invalid_request', 'device_code is required');
  const { key, token } = await approvedToken(context, deviceCode);
  verifyPkce(token.codeChallenge, token.codeChallengeMethod, form.code_verifier);
  const grant = decodeApprovedGrant(token.token);
  await context.scopes({ granted: grant.scopes });
  const connectorData =
    grant.connectorData === undefined ? undefined : new Uint8Array(Buffer.from(grant.connectorData, 'base64'));
  return {
    facts: {
      clientId: client.id,
      claims: grant.claims,
      connectorId: grant.connectorId,
      nonce: '',
      authTime: new Date(grant.authTime),
      sessionId: grant.sessionId,
    },
    includeNonce: false,
    refresh: { kind: 'start', connectorData },
    // Single use: of two polls racing here exactly one deletes the token and answers with tokens.
    finish: async () => {
      if (!(await provider.storage.deviceTokens.delete(key))) throw deviceCodeUsed();
    },
  };
};

/** The device_code grant at /token (RFC 8628 §3.4, §3.5). */
export const deviceCodeGrant: Grant = { type: DEVICE_CODE_GRANT, whenDisabled: 'unsupported_grant_type', redeem };
