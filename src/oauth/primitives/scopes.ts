/** Scope rules: what idport understands, and the cross-client audience scopes (Dex's trustedPeers). */
import type { Client } from '../../../storage/storage.js';
import { OAuthError } from '../../errors.js';
import { MAX_SCOPES } from './parameter-limits.js';

export const AUDIENCE_SCOPE_PREFIX = 'audience:server:client_id:';

/** Scopes idport advertises in discovery; with audience scopes, the only ones a request may name (as Dex). */
export const SUPPORTED_SCOPES = ['openid', 'email', 'profile', 'groups', 'offline_access', 'federated:id'] as const;
const SUPPORTED = new Set<string>(SUPPORTED_SCOPES);

/** Splits a `scope` parameter; repeated scopes collapse, order is kept (RFC 6749 §3.3: order does not matter). */
export const parseScopes = (scope: string | undefined): string[] => [
  ...new Set((scope ?? '').split(' ').filter((s) => s !== '')),
];

export const hasScope = (scopes: readonly string[], scope: string): boolean => scopes.includes(scope);

/** Client ids named by `audience:server:client_id:X` scopes. */
export const audienceScopes = (scopes: readonly string[]): string[] =>
  scopes.filter((s) => s.startsWith(AUDIENCE_SCOPE_PREFIX)).map((s) => s.slice(AUDIENCE_SCOPE_PREFIX.length));

/** Scopes quoted as Dex's `%q` prints a list: `["a" "b"]`. */
const quoted = (scopes: readonly string[]): string => `[${scopes.map((s) => JSON.stringify(s)).join(' ')}]`;

/**
 * Validates the scopes of an authorization, device or password-grant request, as Dex does: at most MAX_SCOPES,
 * `openid` required, every other scope one Dex knows, and each audience scope naming a client that lists the
 * requester in its trustedPeers (or the requester itself). `/auth` answers `invalid_scope`; Dex's password grant
 * answers `invalid_request`, so its caller passes that code.
 */
export const checkRequestedScopes = async (
  client: Client,
  scopes: readonly string[],
  getClient: (id: string) => Promise<Client | undefined>,
  code: 'invalid_scope' | 'invalid_request' = 'invalid_scope',
): Promise<void> => {
  if (scopes.length > MAX_SCOPES) throw new OAuthError(code, `a request may name at most ${MAX_SCOPES} scopes`);
  if (!hasScope(scopes, 'openid')) throw new OAuthError(code, 'the openid scope is required');
  const unrecognized = scopes.filter((s) => !SUPPORTED.has(s) && !s.startsWith(AUDIENCE_SCOPE_PREFIX));
  if (unrecognized.length > 0) throw new OAuthError(code, `Unrecognized scope(s) ${quoted(unrecognized)}`);
  for (const peerId of audienceScopes(scopes)) {
    if (peerId === client.id) continue;
    const peer = await getClient(peerId);
    if (peer === undefined || !peer.trustedPeers.includes(client.id)) {
      throw new OAuthError(code, `client ${client.id} is not a trusted peer of ${peerId}`);
    }
  }
};

/**
 * The scopes a token exchange issues, as Dex treats them (it passes them through to the token): at most MAX_SCOPES;
 * scopes idport does not know are dropped, as Dex ignores them; an audience scope must name a client that trusts the
 * requester (or the requester itself), else the request is refused with `invalid_scope` (Dex fails it with a 500).
 */
export const exchangeScopes = async (
  client: Client,
  scopes: readonly string[],
  getClient: (id: string) => Promise<Client | undefined>,
): Promise<string[]> => {
  if (scopes.length > MAX_SCOPES)
    throw new OAuthError('invalid_scope', `a request may name at most ${MAX_SCOPES} scopes`);
  const known = scopes.filter((s) => SUPPORTED.has(s) || s.startsWith(AUDIENCE_SCOPE_PREFIX));
  const untrusted: string[] = [];
  for (const scope of known) {
    if (!scope.startsWith(AUDIENCE_SCOPE_PREFIX)) continue;
    const peerId = scope.slice(AUDIENCE_SCOPE_PREFIX.length);
    if (peerId === client.id) continue;
    const peer = await getClient(peerId);
    if (peer === undefined || !peer.trustedPeers.includes(client.id)) untrusted.push(scope);
  }
  if (untrusted.length > 0) throw new OAuthError('invalid_scope', `Client can't request scope(s) ${quoted(untrusted)}`);
  return known;
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
