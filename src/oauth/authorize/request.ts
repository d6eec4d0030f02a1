/**
 * Validation of the authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1) into a stored AuthRequest.
 * Errors before the client and redirect URI are verified are shown as a page; after, they are redirected
 * to the client (RFC 6749 §4.1.2.1, ARCHITECTURE.md decision 3).
 */
import { PageError } from '../primitives/page-error.js';
import type { AuthRequest, Client, ResponseMode } from '../../../storage/storage.js';
import { OAuthError } from '../../errors.js';
import { isRedirectUriAllowed, OOB_REDIRECT_URI } from '../primitives/redirect-uri.js';
import { parseChallenge } from '../primitives/pkce.js';
import { checkRequestedScopes, parseScopes } from '../primitives/scopes.js';
import {
  firstOverLimit,
  LIMITED_PARAMETERS,
  overLimitDescription,
  type LimitedParameter,
} from '../primitives/parameter-limits.js';
import { normaliseResponseType, type ProviderSettings } from '../settings.js';

/** Where an error about a verified request goes: back to the client, never anywhere unverified. */
export interface RedirectTarget {
  readonly redirectUri: string;
  readonly responseMode: ResponseMode;
  readonly state: string;
}

/** An OAuthError that may be redirected to the client because its redirect URI was verified. */
export class RedirectableError extends OAuthError {
  readonly target: RedirectTarget;
  constructor(error: OAuthError, target: RedirectTarget) {
    super(error.code, error.description, { cause: error });
    this.name = 'RedirectableError';
    this.target = target;
  }
}

/** Validated request values, ready to be stored; the caller adds id, csrf token and expiry. */
export type ValidatedAuthorization = Omit<AuthRequest, 'id' | 'csrfToken' | 'browserHash' | 'expiry' | 'loggedIn'>;

const PROMPTS = new Set(['none', 'login', 'consent', 'select_account']);

/**
 * The default response mode (OAuth 2.0 Multiple Response Types §2.1): fragment whenever a token is in the front
 * channel, else query — also for a missing or unknown response_type, whose error goes where RFC 6749 puts it.
 */
const defaultResponseMode = (responseType: string): ResponseMode => {
  const types = responseType.split(' ');
  return types.includes('token') || types.includes('id_token') ? 'fragment' : 'query';
};

const single = (params: URLSearchParams, name: string): string | undefined => {
  const values = params.getAll(name);
  // RFC 6749 §3.1: request and response parameters must not be included more than once.
  if (values.length > 1) throw new OAuthError('invalid_request', `the ${name} parameter was sent more than once`);
  return values[0];
};

export interface AuthorizeContext {
  readonly settings: ProviderSettings;
  readonly getClient: (id: string) => Promise<Client | undefined>;
  /** Connector ids that exist, to check `connector_id`. */
  readonly connectorIds: readonly string[];
}

/** The client and redirect URI of a request, verified, with what an error redirected to them needs. */
interface VerifiedRedirect {
  readonly client: Client;
  readonly redirectUri: string;
  readonly responseType: string;
  readonly rawResponseType: string | null;
  readonly requestedMode: string | null;
  /** The response mode asked for or defaulted; `target` carries the one errors use (query for the OOB URI). */
  readonly responseMode: ResponseMode;
  readonly target: RedirectTarget;
}

/**
 * Parameters whose excess is a page: the client and redirect URI are not verified yet, and a state too long to store
 * is too long to send back (a client would then refuse the answer for its missing state).
 */
const PAGE_LIMITED: readonly LimitedParameter[] = ['client_id', 'redirect_uri', 'state'];

/** The client and the redirect URI; anything wrong here is a page, since there is nowhere safe to redirect. */
const verifyRedirect = async (params: URLSearchParams, ctx: AuthorizeContext): Promise<VerifiedRedirect> => {
  const overLimit = firstOverLimit((name) => params.getAll(name), PAGE_LIMITED);
  if (overLimit !== undefined)
    throw new PageError('parameter_too_long', { name: overLimit.name, limit: String(overLimit.limit) });
  let clientId: string | undefined;
  let redirectParam: string | undefined;
  try {
    clientId = single(params, 'client_id');
    redirectParam = single(params, 'redirect_uri');
  } catch {
    throw new PageError('repeated_client_parameters');
  }
  if (clientId === undefined || clientId === '') throw new PageError('missing_client_id');
  const client = await ctx.getClient(clientId);
  if (client === undefined) throw new PageError('unknown_client', { clientId });

  let redirectUri: string;
  if (redirectParam === undefined || redirectParam === '') {
    // RFC 6749 §3.1.2.3: optional only when exactly one URI is registered.
    if (client.redirectURIs.length !== 1 || client.redirectURIs[0] === undefined) {
      throw new PageError('missing_redirect_uri');
    }
    redirectUri = client.redirectURIs[0];
  } else {
    if (!isRedirectUriAllowed(client, redirectParam))
      throw new PageError('unregistered_redirect_uri', { clientId, redirectUri: redirectParam });
    redirectUri = redirectParam;
  }

  const rawResponseType = params.get('response_type');
  const responseType = normaliseResponseType(rawResponseType ?? '');
  const requestedMode = params.get('response_mode');
  let responseMode: ResponseMode = defaultResponseMode(responseType);
  if (requestedMode === 'query' || requestedMode === 'fragment' || requestedMode === 'form_post')
    responseMode = requestedMode;
  const target: RedirectTarget = {
    redirectUri,
    responseMode: redirectUri === OOB_REDIRECT_URI ? 'query' : responseMode,
    state: params.get('state') ?? '',
  };
  return { client, redirectUri, responseType, rawResponseType, requestedMode, responseMode, target };
};

/** Validates the parameters of a GET or POST to /auth. */
export const validateAuthorization = async (
  params: URLSearchParams,
  ctx: AuthorizeContext,
): Promise<ValidatedAuthorization> => {
  const verified = await verifyRedirect(params, ctx);
  try {
    return await validateVerified(params, ctx, verified);
  } catch (err: unknown) {
    if (err instanceof OAuthError && !(err instanceof RedirectableError))
      throw new RedirectableError(err, verified.target);
    throw err;
  }
};

const SINGLE_PARAMETERS = [
  'response_type',
  'scope',
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'prompt',
  'max_age',
  'response_mode',
];

/** Parameters idport refuses rather than ignores, and the response type and mode. */
const checkResponseShape = (params: URLSearchParams, ctx: AuthorizeContext, verified: VerifiedRedirect): string[] => {
  for (const name of SINGLE_PARAMETERS) single(params, name);
  const overLimit = firstOverLimit((name) => params.getAll(name), LIMITED_PARAMETERS);
  if (overLimit !== undefined) throw new OAuthError('invalid_request', overLimitDescription(overLimit));
  // OIDC Core §6: request objects are not supported, and must be refused rather than ignored.
  if (params.has('request')) throw new OAuthError('request_not_supported', 'request objects are not supported');
  if (params.has('request_uri')) throw new OAuthError('request_uri_not_supported', 'request_uri is not supported');
  if (params.has('registration'))
    throw new OAuthError('registration_not_supported', 'the registration parameter is not supported');
  const { responseType, requestedMode } = verified;
  if (verified.rawResponseType === null || responseType === '')
    throw new OAuthError('invalid_request', 'response_type is required');
  if (!ctx.settings.responseTypes.includes(responseType)) {
    throw new OAuthError('unsupported_response_type', `response_type "${responseType}" is not enabled`);
  }
  if (
    requestedMode !== null &&
    requestedMode !== 'query' &&
    requestedMode !== 'fragment' &&
    requestedMode !== 'form_post'
  ) {
    throw new OAuthError('invalid_request', `unsupported response_mode "${requestedMode}"`);
  }
  const types = responseType.split(' ');
  // OAuth 2.0 Multiple Response Types §3.0: tokens must not be sent in the query string.
  if (verified.responseMode === 'query' && (types.includes('token') || types.includes('id_token'))) {
    throw new OAuthError('invalid_request', 'response_mode query is not allowed for this response_type');
  }
  if (verified.redirectUri === OOB_REDIRECT_URI && responseType !== 'code') {
    throw new OAuthError('invalid_request', 'the out-of-band redirect URI only supports response_type code');
  }
  return types;
};

/** `prompt` (OIDC Core §3.1.2.1): known values, and `none` alone. */
const parsePrompt = (params: URLSearchParams): string[] => {
  const prompt = (params.get('prompt') ?? '').split(' ').filter((p) => p !== '');
  for (const p of prompt)
    if (!PROMPTS.has(p)) throw new OAuthError('invalid_request', `unsupported prompt value "${p}"`);
  if (prompt.includes('none') && prompt.length > 1)
    throw new OAuthError('invalid_request', 'prompt=none cannot be combined with other values');
  return prompt;
};

/** `max_age` in seconds, when sent. */
const parseMaxAge = (params: URLSearchParams): number | undefined => {
  const rawMaxAge = params.get('max_age');
  if (rawMaxAge === null || rawMaxAge === '') return undefined;
  if (!/^\d{1,10}$/.test(rawMaxAge)) throw new OAuthError('invalid_request', 'max_age must be a non-negative integer');
  return Number(rawMaxAge);
};

const validateVerified = async (
  params: URLSearchParams,
  ctx: AuthorizeContext,
  verified: VerifiedRedirect,
): Promise<ValidatedAuthorization> => {
  const { client, redirectUri } = verified;
  const types = checkResponseShape(params, ctx, verified);
  const scopes = parseScopes(params.get('scope') ?? undefined);
  await checkRequestedScopes(client, scopes, ctx.getClient);

  const nonce = params.get('nonce') ?? '';
  // OIDC Core §3.2.2.1 and §3.3.2.11: nonce is required whenever an ID token comes from the authorization endpoint.
  if (nonce === '' && types.includes('id_token'))
    throw new OAuthError('invalid_request', 'nonce is required for this response_type');

  const sent = {
    challenge: params.get('code_challenge') ?? undefined,
    method: params.get('code_challenge_method') ?? undefined,
  };
  const challenge = parseChallenge(sent, ctx.settings.codeChallengeMethods);
  if (challenge.codeChallenge === '' && types.includes('code') && (client.public || ctx.settings.pkceEnforce)) {
    throw new OAuthError('invalid_request', 'PKCE code_challenge is required');
  }
  const prompt = parsePrompt(params);
  const maxAge = parseMaxAge(params);
  const connectorId = params.get('connector_id') ?? '';
  if (connectorId !== '' && !ctx.connectorIds.includes(connectorId))
    throw new OAuthError('invalid_request', `unknown connector_id "${connectorId}"`);

  return {
    clientId: client.id,
    responseTypes: types,
    scopes,
    redirectUri,
    redirectUriSent: params.get('redirect_uri') !== null && params.get('redirect_uri') !== '',
    state: verified.target.state,
    nonce,
    responseMode: verified.responseMode,
    ...challenge,
    prompt,
    maxAge,
    loginHint: params.get('login_hint') ?? '',
    forceApproval: params.get('approval_prompt') === 'force' || prompt.includes('consent'),
    connectorId,
    claims: undefined,
    connectorData: undefined,
    connectorState: undefined,
    authTime: undefined,
    sessionId: undefined,
  };
};
