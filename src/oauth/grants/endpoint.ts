/**
 * The token endpoint (RFC 6749 §3.2, §5): the phases every grant shares, around each grant's own rule. grant.ts
 * describes the contract and the order of the phases; each grant is one file beside this one.
 */
import type { Client } from '../../../storage/storage.js';
import { OAuthError } from '../../errors.js';
import { authenticateClient, presentedCredentials } from '../primitives/client-auth.js';
import { familyGrantRef } from '../primitives/grant-ref.js';
import { checkRequestedScopes, exchangeScopes, hasScope } from '../primitives/scopes.js';
import type { Provider } from '../provider.js';
import type { GrantFacts } from '../tokens/claims.js';
import { mintIdToken, mintTokens, tokenResponseBody, type MintedTokens } from '../tokens/mint.js';
import { authorizationCodeGrant } from './authorization-code.js';
import { clientCredentialsGrant } from './client-credentials.js';
import { deviceCodeGrant } from './device-code.js';
import type { Grant, GrantOutcome, IssuedTokenType, ScopeRequest, TokenRequest, TokenResponse } from './grant.js';
import { passwordGrant } from './password.js';
import { startFamilyFor, type StartedFamily } from './refresh-family.js';
import { refreshTokenGrant } from './refresh-token.js';
import { tokenExchangeGrant } from './token-exchange.js';

/** Every grant idport serves, by `grant_type`. A new grant is a file under grants/ and a line here. */
const GRANTS: ReadonlyMap<string, Grant> = new Map(
  [
    authorizationCodeGrant,
    refreshTokenGrant,
    passwordGrant,
    deviceCodeGrant,
    clientCredentialsGrant,
    tokenExchangeGrant,
  ].map((grant) => [grant.type, grant]),
);

const unsupported = (grantType: string): OAuthError =>
  new OAuthError('unsupported_grant_type', `grant_type "${grantType}" is not supported`);

/** The grant-type gate: registered, enabled in `oauth2.grantTypes`, and available with this configuration. */
const grantFor = (provider: Provider, grantType: string): Grant => {
  const grant = GRANTS.get(grantType);
  if (grant === undefined) throw unsupported(grantType);
  if (!provider.settings.grantTypes.includes(grantType)) {
    throw new OAuthError(grant.whenDisabled, `grant_type "${grantType}" is not supported`);
  }
  if (grant.isAvailable !== undefined && !grant.isAvailable(provider)) throw unsupported(grantType);
  return grant;
};

/**
 * The scope policy (Dex's ScopePolicy): the single place scope rules are enforced at /token. Scopes asked for at
 * /token follow the rules of an authorization request; scopes granted earlier may narrow and never widen (RFC 6749 §6).
 */
export const decideScopes = async (
  provider: Provider,
  client: Client,
  request: ScopeRequest,
): Promise<readonly string[]> => {
  const getClient = async (id: string) => provider.storage.clients.get(id);
  if ('requested' in request) {
    // Only the password grant asks for new scopes here; Dex refuses its bad scopes with invalid_request.
    await checkRequestedScopes(client, request.requested, getClient, 'invalid_request');
    return request.requested;
  }
  if ('exchanged' in request) return exchangeScopes(client, request.exchanged, getClient);
  const narrowTo = request.narrowTo ?? [];
  for (const scope of narrowTo) {
    if (!request.granted.includes(scope))
      throw new OAuthError('invalid_scope', `scope "${scope}" was not granted originally`);
  }
  return narrowTo.length > 0 ? narrowTo : request.granted;
};

/** The refresh family of the response, started or kept as the grant's outcome asks, and minted tokens naming it. */
const issue = async (
  provider: Provider,
  client: Client,
  outcome: GrantOutcome,
  facts: GrantFacts,
): Promise<{ tokens: MintedTokens; started?: StartedFamily | undefined }> => {
  const { refresh } = outcome;
  const mint = (grantRef: string | undefined): Promise<MintedTokens> =>
    mintTokens(provider, facts, {
      withIdToken: hasScope(facts.scopes, 'openid'),
      grantRef,
      includeNonce: outcome.includeNonce,
    });
  if (refresh.kind === 'none') return { tokens: await mint(outcome.grantRef) };
  if (refresh.kind === 'keep') return { tokens: await mint(outcome.grantRef ?? familyGrantRef(refresh.familyId)) };
  const start = startFamilyFor(provider, client, facts, refresh.connectorData);
  if (outcome.grantRef === undefined) {
    // The access tokens name the family, so revoking the refresh token revokes them too: the family comes first.
    const started = await start;
    try {
      return { tokens: await mint(started === undefined ? undefined : familyGrantRef(started.id)), started };
    } catch (err: unknown) {
      await started?.discard();
      throw err;
    }
  }
  // The refresh-token write and the signing (on libuv's thread pool) do not depend on each other: overlap them.
  const [familyResult, tokensResult] = await Promise.allSettled([start, mint(outcome.grantRef)]);
  if (tokensResult.status === 'rejected') {
    if (familyResult.status === 'fulfilled') await familyResult.value?.discard();
    throw tokensResult.reason;
  }
  if (familyResult.status === 'rejected') throw familyResult.reason;
  return { tokens: tokensResult.value, started: familyResult.value };
};

/** RFC 8693 §2.2.1: the one token a token exchange asked for, in `access_token`; no refresh token, no `scope`. */
const issueExchanged = async (
  provider: Provider,
  facts: GrantFacts,
  issuedTokenType: IssuedTokenType,
): Promise<TokenResponse> => {
  const exchanged = { issued_token_type: issuedTokenType, token_type: 'Bearer' } as const;
  if (issuedTokenType === 'urn:ietf:params:oauth:token-type:id_token') {
    // Only the ID token is signed; no access token goes out with it, so it carries no at_hash.
    const idToken = await mintIdToken(provider, facts, { includeNonce: false });
    return { access_token: idToken, ...exchanged, expires_in: Math.floor(provider.settings.idTokenTtlMs / 1000) };
  }
  const tokens = await mintTokens(provider, facts, { withIdToken: false, includeNonce: false });
  return { access_token: tokens.accessToken, ...exchanged, expires_in: tokens.expiresIn };
};

/** Runs one grant for an authenticated client: its rule, the scope policy, the refresh family, minting, the response. */
export const runGrant = async (
  provider: Provider,
  grant: Grant,
  client: Client,
  request: Pick<TokenRequest, 'form' | 'clientIp'>,
): Promise<TokenResponse> => {
  const { form, clientIp } = request;
  let scopes: readonly string[] | undefined;
  const outcome = await grant.redeem({
    provider,
    client,
    form,
    clientIp,
    scopes: async (request) => {
      if (scopes !== undefined) throw new Error(`grant ${grant.type} asked the scope policy twice`);
      scopes = await decideScopes(provider, client, request);
      return scopes;
    },
  });
  if (scopes === undefined) throw new Error(`grant ${grant.type} skipped the scope policy`);
  const facts: GrantFacts = { ...outcome.facts, scopes };
  if (outcome.issuedTokenType !== undefined) {
    if (outcome.refresh.kind !== 'none' || outcome.finish !== undefined)
      throw new Error(`grant ${grant.type} asked for a refresh token or a commit with a token exchange`);
    return issueExchanged(provider, facts, outcome.issuedTokenType);
  }
  const { tokens, started } = await issue(provider, client, outcome, facts);
  const { refresh } = outcome;
  const family = refresh.kind === 'keep' ? { id: refresh.familyId, token: refresh.token } : started;
  try {
    await outcome.finish?.({ familyId: family?.id });
  } catch (err: unknown) {
    await started?.discard();
    throw err;
  }
  return tokenResponseBody(tokens, family?.token, scopes);
};

/** POST /token: authenticates the client, passes the grant-type gate, and runs the grant. */
export const handleTokenRequest = async (provider: Provider, request: TokenRequest): Promise<TokenResponse> => {
  const { form } = request;
  const grantType = form.grant_type;
  if (grantType === undefined || grantType === '') throw new OAuthError('invalid_request', 'grant_type is required');
  const presented = presentedCredentials(request.authorization, {
    client_id: form.client_id,
    client_secret: form.client_secret,
  });
  const client = authenticateClient(await provider.storage.clients.get(presented.clientId), presented);
  const grant = grantFor(provider, grantType);
  // A grant reads the connector it uses through currentConnector, so one stored on another replica (or changed
  // there) is used at once (src/live-connectors.ts), and one from the config costs no storage read.
  return runGrant(provider, grant, client, request);
};
