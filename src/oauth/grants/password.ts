/**
 * The resource owner password credentials grant (RFC 6749 §4.3), as Dex serves it: on only when
 * `oauth2.passwordConnector` names a password connector and `password` is in `oauth2.grantTypes`; `openid` is
 * required; a refresh token comes with `offline_access` when the connector can refresh. Where Dex differs from the
 * RFC, the RFC wins: wrong credentials are invalid_grant (§5.2, not Dex's 401 access_denied), and only confidential
 * clients may use the grant (§4.3.2 has them authenticate; Dex also lets a public client without a secret in).
 */
import type { Identity, PasswordConnector } from '../../../connectors/connector.js';
import { OAuthError } from '../../errors.js';
import { guardPasswordLogin } from '../brute-force.js';
import { hasScope, parseScopes } from '../primitives/scopes.js';
import type { Provider } from '../provider.js';
import { claimsOf } from '../tokens/claims.js';
import { connectorFailure } from './connector-failure.js';
import type { Grant, GrantContext, GrantOutcome } from './grant.js';

const passwordUnsupported = (): OAuthError =>
  new OAuthError('unsupported_grant_type', 'grant_type "password" is not supported');

/**
 * The connector the password grant logs users in with, or undefined when `oauth2.passwordConnector` names none or
 * one that takes no password (a configuration mistake: the grant is then off, as if not configured).
 */
const passwordConnectorOf = (provider: Provider): PasswordConnector | undefined => {
  const id = provider.settings.passwordConnector;
  const connector = id === undefined ? undefined : provider.connectors.get(id)?.connector;
  if (connector?.kind === 'password') return connector;
  provider.log.error(
    { connector: id },
    'oauth2.passwordConnector names no password connector; the password grant is off',
  );
  return undefined;
};

/** Checks the user's credentials with the connector; every refusal is the same invalid_grant (no hint which part was wrong). */
const login = async (
  provider: Provider,
  connector: PasswordConnector,
  scopes: readonly string[],
  credentials: { readonly username: string; readonly password: string; readonly clientIp: string | undefined },
): Promise<Identity> => {
  const { username, password, clientIp } = credentials;
  const invalid = (): OAuthError => new OAuthError('invalid_grant', 'invalid username or password');
  let identity: Identity | undefined;
  try {
    const connectorScopes = { offlineAccess: hasScope(scopes, 'offline_access'), groups: hasScope(scopes, 'groups') };
    const attempt = { connectorId: provider.settings.passwordConnector, username, clientIp };
    identity = await guardPasswordLogin(provider, attempt, () => connector.login(connectorScopes, username, password));
  } catch (err: unknown) {
    throw connectorFailure(provider, err, {
      connectorId: provider.settings.passwordConnector,
      unavailable: 'connector unavailable during a password grant',
      refused: 'connector refused a password grant login',
      refusal: invalid,
    });
  }
  if (identity === undefined) throw invalid();
  return identity;
};

const redeem = async (context: GrantContext): Promise<GrantOutcome> => {
  const { provider, client, form } = context;
  const connectorId = provider.settings.passwordConnector;
  if (connectorId !== undefined) await provider.connectors.syncFor?.(connectorId);
  const connector = passwordConnectorOf(provider);
  // isAvailable gated both; checked again so the types know.
  if (connectorId === undefined || connector === undefined) throw passwordUnsupported();
  // A public client proves nothing about itself, so anyone could guess passwords through it.
  if (client.public) throw new OAuthError('unauthorized_client', 'public clients may not use the password grant');
  const scopes = await context.scopes({ requested: parseScopes(form.scope) });
  const { username, password } = form;
  if (username === undefined || username === '') throw new OAuthError('invalid_request', 'username is required');
  if (password === undefined || password === '') throw new OAuthError('invalid_request', 'password is required');
  const identity = await login(provider, connector, scopes, { username, password, clientIp: context.clientIp });
  return {
    facts: {
      clientId: client.id,
      claims: claimsOf(identity),
      connectorId,
      nonce: form.nonce ?? '',
      authTime: provider.deps.clock.now(),
    },
    includeNonce: true,
    // No browser session is involved, so a client whose refresh tokens end with the session gets none.
    refresh: { kind: 'start', connectorData: identity.connectorData },
  };
};

/** RFC 6749 §4.3.2: `username`, `password` and `scope` from the form of an authenticated client. */
export const passwordGrant: Grant = {
  type: 'password',
  whenDisabled: 'unsupported_grant_type',
  isAvailable: (provider) => passwordConnectorOf(provider) !== undefined,
  redeem,
};
