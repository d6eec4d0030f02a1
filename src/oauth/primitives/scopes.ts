/** Scope rules: what idport understands, and the cross-client audience scopes (Dex's trustedPeers). */
import type { Client } from '../../../storage/storage.js';
import { OAuthError } from '../../errors.js';
import { MAX_SCOPES } from './parameter-limits.js';

export const AUDIENCE_SCOPE_PREFIX = 'audience:server:client_id:';

/** Scopes idport advertises in discovery. Others are accepted and ignored (OIDC Core §5.4 / RFC 6749 §3.3). */
export const SUPPORTED_SCOPES = ['openid', 'email', 'profile', 'groups', 'offline_access', 'federated:id'] as const;

/** Splits a `scope` parameter; repeated scopes collapse, order is kept (RFC 6749 §3.3: order does not matter). */
export const parseScopes = (scope: string | undefined): string[] => [
  ...new Set((scope ?? '').split(' ').filter((s) => s !== '')),
];

export const hasScope = (scopes: readonly string[], scope: string): boolean => scopes.includes(scope);

/** Client ids named by `audience:server:client_id:X` scopes. */
export const audienceScopes = (scopes: readonly string[]): string[] =>
  scopes.filter((s) => s.startsWith(AUDIENCE_SCOPE_PREFIX)).map((s) => s.slice(AUDIENCE_SCOPE_PREFIX.length));

/**
 * Validates the scopes of an authorization request. `openid` is required; each audience scope must name a
 * client that lists the requester in its trustedPeers (or the requester itself). Unknown scopes pass.
 */
export const checkRequestedScopes = async (
  client: Client,
  scopes: readonly string[],
  getClient: (id: string) => Promise<Client | undefined>,
): Promise<void> => {
  if (scopes.length > MAX_SCOPES)
    throw new OAuthError('invalid_scope', `a request may name at most ${MAX_SCOPES} scopes`);
  if (!hasScope(scopes, 'openid')) throw new OAuthError('invalid_scope', 'the openid scope is required');
  for (const peerId of audienceScopes(scopes)) {
    if (peerId === client.id) continue;
    const peer = await getClient(peerId);
    if (peer === undefined || !peer.trustedPeers.includes(client.id)) {
      throw new OAuthError('invalid_scope', `client ${client.id} is not a trusted peer of ${peerId}`);
    }
  }
};

/**
 * The `aud` and `azp` of tokens issued to `clientId` for `scopes` (Dex's behaviour): without audience scopes the
 * client alone; with them, the named clients plus the requester, which becomes the authorized party.
 */
export const audienceOf = (clientId: string, scopes: readonly string[]): { aud: string[]; azp: string } => {
  const peers = audienceScopes(scopes);
  if (peers.length === 0) return { aud: [clientId], azp: clientId };
  return { aud: peers.includes(clientId) ? peers : [...peers, clientId], azp: clientId };
};
