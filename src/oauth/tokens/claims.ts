/** The claims idport stores for a login and releases by scope (OIDC Core §2, §5.1, §5.4). */
import type { Identity } from '../../../connectors/connector.js';
import type { Claims } from '../../../storage/storage.js';
import { hasScope } from '../primitives/scopes.js';

/** The identity a connector reported, as the claims idport stores and issues. */
export const claimsOf = (identity: Identity): Claims => ({
  userId: identity.userId,
  username: identity.username,
  preferredUsername: identity.preferredUsername ?? '',
  email: identity.email ?? '',
  emailVerified: identity.emailVerified,
  groups: [...identity.groups],
});

/** Everything a token is minted from: one user's login, for one client and set of scopes. */
export interface GrantFacts {
  readonly clientId: string;
  readonly scopes: readonly string[];
  readonly claims: Claims;
  readonly connectorId: string;
  readonly nonce: string;
  readonly authTime: Date;
  readonly sessionId?: string | undefined;
}

/** The login a stored grant record (an authorization request, a code, a refresh family) carries. */
export type GrantLogin = Omit<GrantFacts, 'scopes'>;

/** Copies the login fields out of a stored record, so the facts carry nothing else of it. */
export const loginOf = (record: GrantLogin): GrantLogin => ({
  clientId: record.clientId,
  claims: record.claims,
  connectorId: record.connectorId,
  nonce: record.nonce,
  authTime: record.authTime,
  sessionId: record.sessionId,
});

/** Claims released by scope (OIDC Core §5.4), plus Dex's `groups` and `federated_claims`. */
export const scopedUserClaims = (
  facts: Pick<GrantFacts, 'scopes' | 'claims' | 'connectorId'>,
): Record<string, unknown> => {
  const out: Record<string, unknown> = {};
  const { scopes, claims } = facts;
  if (hasScope(scopes, 'email') && claims.email !== '') {
    out.email = claims.email;
    out.email_verified = claims.emailVerified;
  }
  if (hasScope(scopes, 'profile')) {
    if (claims.username !== '') out.name = claims.username;
    if (claims.preferredUsername !== '') out.preferred_username = claims.preferredUsername;
  }
  if (hasScope(scopes, 'groups')) out.groups = [...claims.groups];
  if (hasScope(scopes, 'federated:id'))
    out.federated_claims = { connector_id: facts.connectorId, user_id: claims.userId };
  return out;
};

/** Claim names idport can release, for discovery's `claims_supported`. */
export const SUPPORTED_CLAIMS = [
  'iss',
  'sub',
  'aud',
  'exp',
  'iat',
  'auth_time',
  'nonce',
  'azp',
  'at_hash',
  'c_hash',
  'email',
  'email_verified',
  'name',
  'preferred_username',
  'groups',
  'federated_claims',
  'sid',
] as const;
