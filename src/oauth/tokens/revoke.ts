/**
 * Token revocation (RFC 7009) at /token/revoke (Dex has none). A client revokes only its own tokens; anything else —
 * unknown, malformed, expired, another client's — is answered as a success with no effect (§2.2), so the endpoint
 * tells nobody whether a token exists.
 */
import type { JWTPayload } from 'jose';
import type { Client } from '../../../storage/storage.js';
import { authenticatedClient, looksLikeJwt } from './introspect.js';
import { parseGrantRef } from '../primitives/grant-ref.js';
import type { Provider } from '../provider.js';
import { findRefreshFamily, revokeFamily } from '../grants/refresh-family.js';
import { revokeAuthCodeGrant } from '../grants/authorization-code.js';
import type { TokenRequest } from '../grants/grant.js';
import { hashSecret } from '../primitives/secrets.js';
import { tokenRequired } from '../primitives/shared-errors.js';
import { TokenVerificationError } from '../../signer/signer.js';
import { denyAccessToken } from './deny-list.js';

/**
 * Revokes `token` for the authenticated client. Public clients may revoke their own tokens (§2.1: they identify
 * themselves with client_id). `token_type_hint` is accepted and not needed: access and refresh tokens differ in shape.
 */
export const revokeToken = async (provider: Provider, request: TokenRequest): Promise<void> => {
  const client = await authenticatedClient(provider, request);
  const { token } = request.form;
  if (token === undefined || token === '') throw tokenRequired();
  if (looksLikeJwt(token)) await revokeAccessToken(provider, client, token);
  else await revokeRefreshToken(provider, client.id, token);
};

/**
 * A refresh token ends its whole family, and with it every access token minted from it (their `gid`), including
 * the one from the code exchange (§2.1). The secret must be the family's current or just-superseded one: the
 * handle alone of a family stored before handles were hashed is readable from its access tokens.
 */
const revokeRefreshToken = async (provider: Provider, clientId: string, token: string): Promise<void> => {
  const found = await findRefreshFamily(provider, token);
  if (found === undefined || found.family.clientId !== clientId) return;
  const hash = hashSecret(found.secret);
  if (hash !== found.family.currentHash && hash !== found.family.previousHash) return;
  await revokeFamily(provider, found.family.id);
  provider.log.info({ clientId }, 'refresh token revoked by its client');
};

/**
 * An access token is revoked by its `jti` (the deny-list, checked at /userinfo and introspection), whatever grant
 * issued it: the implicit flow, a password grant without a refresh token, client credentials, a code or a refresh.
 *
 * A confidential client's access token also ends the grant it names in `gid` (the code exchange with the refresh
 * token it started, or the refresh-token family), which §2.1 allows ("MAY revoke the respective refresh token"):
 * only the client can authenticate so, and a client revoking at logout means the whole login. A public client
 * authenticates with its client_id alone, and every resource server sees its access tokens, so from one of them
 * only that token is revoked; its refresh token, which only the client holds, ends the family.
 *
 * Clients revoke on logout and treat an error as a failed logout, so every case answers 200. An expired token needs
 * no entry; from a confidential client it still names its grant, so it revokes it.
 */
const revokeAccessToken = async (provider: Provider, client: Client, token: string): Promise<void> => {
  let payload;
  try {
    payload = await provider.signer.verify(token, { typ: 'at+jwt', ignoreExpiry: true });
  } catch (err: unknown) {
    if (err instanceof TokenVerificationError) return;
    throw err;
  }
  if (payload.client_id !== client.id) return;
  await denyAccessToken(provider, payload);
  if (client.public) {
    provider.log.info({ clientId: client.id }, 'access token revoked by its client');
    return;
  }
  await revokeGrantOf(provider, client.id, payload);
};

/** Ends the grant an access token names in `gid`, if it belongs to `clientId`; a token with none was only denied. */
const revokeGrantOf = async (provider: Provider, clientId: string, payload: JWTPayload): Promise<void> => {
  const ref = parseGrantRef(payload.gid);
  if (ref === undefined) {
    provider.log.info({ clientId }, 'access token revoked by its client');
    return;
  }
  const { storage } = provider;
  if (ref.kind === 'code') {
    const code = await storage.authCodes.get(ref.codeId);
    if (code === undefined || code.clientId !== clientId) return;
    await revokeAuthCodeGrant(provider, code);
  } else {
    const family = await storage.refreshTokens.get(ref.familyId);
    if (family === undefined || family.clientId !== clientId) return;
    await revokeFamily(provider, family.id);
  }
  provider.log.info({ clientId }, 'grant revoked by its client through an access token');
};
