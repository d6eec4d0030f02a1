/**
 * The client credentials grant (RFC 6749 §4.4) as Dex master serves it (server/grants/clientcredentials.go): a
 * confidential client obtains tokens for itself, with no user and no connector. Its scope policy is Dex's: openid,
 * email, profile and groups; offline_access and federated:id are refused; audience scopes need a trusting peer;
 * anything else is an unrecognized scope. `sub` is Dex's encoding of (client id, ""); no refresh token is issued.
 * No connector is read and the client secret is compared in constant time, not hashed, so a request costs one
 * client lookup and the signing.
 */
import type { Client } from '../../../storage/storage.js';
import { OAuthError } from '../../errors.js';
import { audienceScopes, AUDIENCE_SCOPE_PREFIX, hasScope, parseScopes } from '../primitives/scopes.js';
import type { Provider } from '../provider.js';
import type { Grant, GrantContext, GrantOutcome } from './grant.js';

const STANDARD = new Set(['openid', 'email', 'profile', 'groups']);
const REJECTED: Readonly<Record<string, string>> = {
  offline_access: 'client_credentials grant does not support offline_access scope.',
  'federated:id': 'client_credentials grant does not support federated:id scope.',
};

/** Go's %q of a []string: ["a" "b"]. */
const goQuoted = (values: readonly string[]): string => `[${values.map((v) => JSON.stringify(v)).join(' ')}]`;

/** Dex's validateScopes with the client_credentials policy; the error type is invalid_scope throughout. */
const checkScopes = async (provider: Provider, client: Client, scopes: readonly string[]): Promise<void> => {
  const unrecognized: string[] = [];
  const untrusted: string[] = [];
  for (const scope of scopes) {
    const rejected = Object.hasOwn(REJECTED, scope) ? REJECTED[scope] : undefined;
    if (rejected !== undefined) throw new OAuthError('invalid_scope', rejected);
    if (STANDARD.has(scope)) continue;
    const [peerId] = audienceScopes([scope]);
    if (peerId === undefined || !scope.startsWith(AUDIENCE_SCOPE_PREFIX)) {
      unrecognized.push(scope);
      continue;
    }
    if (peerId === client.id) continue;
    const peer = await provider.storage.clients.get(peerId);
    if (peer === undefined || !peer.trustedPeers.includes(client.id)) untrusted.push(scope);
  }
  if (unrecognized.length > 0) throw new OAuthError('invalid_scope', `Unrecognized scope(s) ${goQuoted(unrecognized)}`);
  if (untrusted.length > 0)
    throw new OAuthError('invalid_scope', `Client can't request scope(s) ${goQuoted(untrusted)}`);
};

const redeem = async (context: GrantContext): Promise<GrantOutcome> => {
  const { provider, client, form } = context;
  const requested = parseScopes(form.scope);
  await checkScopes(provider, client, requested);
  if (client.public) throw new OAuthError('unauthorized_client', 'Public clients cannot use client_credentials grant.');
  // The policy above is the whole check; the endpoint's scope policy is handed the result to issue as it is.
  const scopes = await context.scopes({ granted: requested });
  const profile = hasScope(scopes, 'profile');
  return {
    facts: {
      clientId: client.id,
      claims: {
        userId: client.id,
        username: profile ? client.name : '',
        preferredUsername: profile ? client.name : '',
        email: '',
        emailVerified: false,
        groups: hasScope(scopes, 'groups') ? [...(client.clientCredentialsGroups ?? [])] : [],
      },
      // Dex: an empty connector id is unique to this grant; config and API refuse connectors without an id.
      connectorId: '',
      nonce: form.nonce ?? '',
      authTime: provider.deps.clock.now(),
    },
    includeNonce: true,
    refresh: { kind: 'none' },
  };
};

/** RFC 6749 §4.4.2: `scope` from the form of an authenticated confidential client. */
export const clientCredentialsGrant: Grant = {
  type: 'client_credentials',
  whenDisabled: 'unsupported_grant_type',
  redeem,
};
