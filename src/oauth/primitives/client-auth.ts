/** Client authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3). */
import type { Client } from '../../../storage/storage.js';
import { OAuthError } from '../../errors.js';
import { safeEqual } from './secrets.js';

/** Credentials a client presented at /token, before they are checked. */
export interface PresentedCredentials {
  readonly method: 'client_secret_basic' | 'client_secret_post' | 'none';
  readonly clientId: string;
  readonly clientSecret: string;
}

const malformedBasic = (): OAuthError => new OAuthError('invalid_client', 'malformed Basic credentials');
// One answer for an unknown client and a wrong secret, so the answer does not tell which client ids exist.
const badCredentials = (): OAuthError => new OAuthError('invalid_client', 'invalid client credentials');

/** RFC 6749 §2.3.1: Basic credentials are form-urlencoded before base64. */
const formDecode = (value: string): string => decodeURIComponent(value.replace(/\+/g, ' '));

/**
 * Reads client credentials from the Authorization header or the form body. Using both methods at once is
 * invalid_request (RFC 6749 §2.3); no client id at all is invalid_client.
 */
export const presentedCredentials = (
  authorization: string | undefined,
  form: { client_id?: string | undefined; client_secret?: string | undefined },
): PresentedCredentials => {
  if (authorization !== undefined && /^basic /i.test(authorization)) {
    if (form.client_secret !== undefined)
      throw new OAuthError('invalid_request', 'use only one client authentication method');
    const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw malformedBasic();
    let clientId: string;
    let clientSecret: string;
    try {
      clientId = formDecode(decoded.slice(0, colon));
      clientSecret = formDecode(decoded.slice(colon + 1));
    } catch {
      throw malformedBasic();
    }
    if (form.client_id !== undefined && form.client_id !== clientId)
      throw new OAuthError('invalid_request', 'client_id does not match the Authorization header');
    return { method: 'client_secret_basic', clientId, clientSecret };
  }
  if (form.client_id === undefined || form.client_id === '')
    throw new OAuthError('invalid_client', 'client authentication required');
  if (form.client_secret !== undefined)
    return { method: 'client_secret_post', clientId: form.client_id, clientSecret: form.client_secret };
  return { method: 'none', clientId: form.client_id, clientSecret: '' };
};

/** Checks presented credentials against the client; every failure is the same invalid_client (no oracle). */
export const authenticateClient = (client: Client | undefined, presented: PresentedCredentials): Client => {
  if (client === undefined) throw badCredentials();
  if (client.public) return client;
  // Compare even when no secret was sent, so a missing and a wrong secret take the same time.
  const matches = safeEqual(presented.clientSecret, client.secret);
  if (presented.method === 'none' || !matches) throw badCredentials();
  return client;
};
