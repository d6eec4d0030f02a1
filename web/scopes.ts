/**
 * Human descriptions of scopes for the consent page. Pure presentation: which scopes a client may
 * request is decided in src/oauth, not here.
 */

const DESCRIPTIONS: Readonly<Record<string, string>> = {
  openid: 'Verify your identity',
  email: 'View your email address',
  profile: 'View basic profile information',
  // Not a standard OIDC scope, but group names can be sensitive, so users should see it (as Dex shows it).
  groups: 'View your groups',
  offline_access: 'Have offline access',
  'federated:id': 'View your account ID at the identity provider you log in with',
};

/** Dex's cross-client scope: the requesting client wants tokens whose audience is this peer client (Dex "trusted peers"). */
const CROSS_CLIENT_PREFIX = 'audience:server:client_id:';

/** One line of the consent list: a description when the scope is known, otherwise the raw scope name. */
export type ScopeDescription =
  | { readonly kind: 'known'; readonly scope: string; readonly description: string }
  | { readonly kind: 'unknown'; readonly scope: string };

/**
 * Describes one scope. `clientNames` maps peer client ids to display names for cross-client scopes;
 * without an entry the client id itself is shown.
 */
export function describeScope(scope: string, clientNames: Readonly<Record<string, string>> = {}): ScopeDescription {
  if (Object.hasOwn(DESCRIPTIONS, scope)) return { kind: 'known', scope, description: DESCRIPTIONS[scope] ?? scope };
  if (scope.startsWith(CROSS_CLIENT_PREFIX) && scope.length > CROSS_CLIENT_PREFIX.length) {
    const peerId = scope.slice(CROSS_CLIENT_PREFIX.length);
    const peerName = Object.hasOwn(clientNames, peerId) ? clientNames[peerId] : undefined;
    return { kind: 'known', scope, description: `Issue tokens for ${peerName ?? peerId}` };
  }
  return { kind: 'unknown', scope };
}

/** Describes the requested scopes in request order, once each (a client may repeat a scope). */
export function describeScopes(
  scopes: readonly string[],
  clientNames: Readonly<Record<string, string>> = {},
): ScopeDescription[] {
  return [...new Set(scopes)].map((scope) => describeScope(scope, clientNames));
}
