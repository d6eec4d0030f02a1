/**
 * OAuth 2.0 Token Exchange (RFC 8693) as Dex v2.45.1 serves it (server/handlers.go handleTokenExchange): a token the
 * upstream behind a connector issued (`subject_token`) is verified by that connector (`connector_id`, Dex's own
 * parameter) and exchanged for one idport token about the same user, whose `sub` is Dex's encoding of (upstream user
 * id, connector id). Only connectors with `tokenIdentity` can exchange (`oidc`, `mockCallback`).
 *
 * Dex's order of checks: `subject_token_type` (id_token or access_token, else request_not_supported), a non-empty
 * `subject_token` (invalid_request), a connector that exists and can exchange (invalid_request), the subject token
 * itself (401 access_denied), then `requested_token_type` (access_token by default, or id_token; anything else,
 * refresh_token included, is request_not_supported) and the scopes (Dex mints with them last). The response carries
 * the one token in `access_token` with `issued_token_type`; never a refresh token. Unlike Dex, a public client is
 * refused: it proves nothing about itself, so anyone could trade tokens through it.
 */
import type { Identity, SubjectTokenType, TokenExchanging } from '../../../connectors/connector.js';
import { OAuthError, SubjectTokenRejectedError } from '../../errors.js';
import { parseScopes } from '../primitives/scopes.js';
import { currentConnector, type Provider } from '../provider.js';
import { claimsOf } from '../tokens/claims.js';
import { connectorFailure } from './connector-failure.js';
import type { Grant, GrantContext, GrantOutcome, IssuedTokenType } from './grant.js';

const ID_TOKEN: IssuedTokenType = 'urn:ietf:params:oauth:token-type:id_token';
const ACCESS_TOKEN: IssuedTokenType = 'urn:ietf:params:oauth:token-type:access_token';

/** The connector's name for the subject token's type; Dex accepts no other (jwt, saml, refresh_token, none). */
const subjectTokenTypeOf = (value: string | undefined): SubjectTokenType => {
  if (value === ID_TOKEN) return 'id_token';
  if (value === ACCESS_TOKEN) return 'access_token';
  throw new OAuthError('request_not_supported', 'Invalid subject_token_type.');
};

/** RFC 8693 §2.1: access_token when absent; Dex issues nothing else. */
const issuedTokenTypeOf = (value: string | undefined): IssuedTokenType => {
  if (value === undefined || value === '' || value === ACCESS_TOKEN) return ACCESS_TOKEN;
  if (value === ID_TOKEN) return ID_TOKEN;
  throw new OAuthError('request_not_supported', 'Invalid requested_token_type.');
};

/** The exchange of the named connector; an unknown one and one that cannot exchange get Dex's one answer. */
const exchangeOf = async (provider: Provider, connectorId: string): Promise<TokenExchanging['tokenIdentity']> => {
  const connector = connectorId === '' ? undefined : (await currentConnector(provider, connectorId))?.connector;
  if (connector?.tokenIdentity === undefined)
    throw new OAuthError('invalid_request', 'Requested connector does not exist.');
  return connector.tokenIdentity.bind(connector);
};

/** The subject token's user, or the refusal: 401 access_denied, or temporarily_unavailable when the upstream is down. */
const verifySubject = async (
  provider: Provider,
  connectorId: string,
  verify: () => Promise<Identity>,
): Promise<Identity> => {
  try {
    return await verify();
  } catch (err: unknown) {
    throw connectorFailure(provider, err, {
      connectorId,
      unavailable: 'connector unavailable during a token exchange',
      refused: 'connector refused the subject token of a token exchange',
      refusal: () => new SubjectTokenRejectedError('the subject token was not accepted'),
    });
  }
};

const redeem = async (context: GrantContext): Promise<GrantOutcome> => {
  const { provider, client, form } = context;
  if (client.public) throw new OAuthError('unauthorized_client', 'Public clients cannot use token exchange.');
  const tokenType = subjectTokenTypeOf(form.subject_token_type);
  const subjectToken = form.subject_token ?? '';
  if (subjectToken === '') throw new OAuthError('invalid_request', 'Missing subject_token');
  const connectorId = form.connector_id ?? '';
  const exchange = await exchangeOf(provider, connectorId);
  const identity = await verifySubject(provider, connectorId, () => exchange(tokenType, subjectToken));
  const issuedTokenType = issuedTokenTypeOf(form.requested_token_type);
  await context.scopes({ exchanged: parseScopes(form.scope) });
  provider.log.info(
    { connector: connectorId, client_id: client.id, user: identity.userId, issued_token_type: issuedTokenType },
    'token exchange successful',
  );
  return {
    facts: {
      clientId: client.id,
      claims: claimsOf(identity),
      connectorId,
      nonce: '',
      authTime: provider.deps.clock.now(),
    },
    includeNonce: false,
    refresh: { kind: 'none' },
    issuedTokenType,
  };
};

/** RFC 8693 §2.1, with Dex's `connector_id`, from the form of an authenticated confidential client. */
export const tokenExchangeGrant: Grant = {
  type: 'urn:ietf:params:oauth:grant-type:token-exchange',
  whenDisabled: 'unsupported_grant_type',
  redeem,
};
