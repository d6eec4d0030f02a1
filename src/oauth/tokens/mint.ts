/** Minting ID and access tokens (OIDC Core §2, §3.1.3.3; RFC 9068 for access tokens) and the token response body. */
import type { JWTPayload } from 'jose';
import { encodeSubject } from '../primitives/subject.js';
import type { Provider } from '../provider.js';
import { audienceOf } from '../primitives/scopes.js';
import { halfHash, randomToken } from '../primitives/secrets.js';
import { scopedUserClaims, type GrantFacts } from './claims.js';

/** The `typ` header of every ID token idport signs; an access token (`at+jwt`) or logout token (`logout+jwt`) has another. */
export const ID_TOKEN_TYP = 'JWT';

/**
 * Verifies an `id_token_hint` (OIDC Core §3.1.2.1, RP-Initiated Logout §2): an ID token idport issued, expired or
 * not. The `typ` check keeps idport's other JWTs out: an access token carries the same `sub` and `aud` but is held
 * by resource servers too, and a logout token by the client's back end, so neither proves the client asks.
 */
export const verifyIdTokenHint = async (provider: Pick<Provider, 'signer'>, hint: string): Promise<JWTPayload> =>
  provider.signer.verify(hint, { ignoreExpiry: true, typ: ID_TOKEN_TYP });

export interface MintedTokens {
  readonly accessToken: string;
  readonly idToken: string | undefined;
  /** Lifetime of the access token in seconds (RFC 6749 §5.1 `expires_in`). */
  readonly expiresIn: number;
}

export interface MintOptions {
  /** The authorization code in the same response, for `c_hash` (hybrid flow). */
  readonly code?: string | undefined;
  readonly withIdToken: boolean;
  /** The grant the access token belongs to (`c:<code hash>` or `r:<family id>`), checked at /userinfo so revoking a grant revokes its access tokens. */
  readonly grantRef?: string | undefined;
  /** `nonce` goes into the ID token only when the authorization request carried one. */
  readonly includeNonce: boolean;
}

export interface IdTokenOptions {
  /** The authorization code in the same response, for `c_hash` (hybrid flow). */
  readonly code?: string | undefined;
  /** `nonce` goes into the ID token only when the authorization request carried one. */
  readonly includeNonce: boolean;
  /**
   * The access token delivered with the ID token, which `at_hash` binds. None for an ID token from /auth without
   * `token` (`id_token`, `code id_token`: OIDC Core §3.2.2.10, §3.3.2.11) or from a token exchange.
   */
  readonly accessToken?: string | undefined;
}

/** What an ID token and an access token of one grant share: subject, audience, the user's claims, times. */
interface SharedClaims {
  readonly iat: number;
  readonly sub: string;
  readonly aud: JWTPayload['aud'];
  readonly azp: string;
  readonly authTime: number;
  readonly userClaims: ReturnType<typeof scopedUserClaims>;
}

const sharedClaims = (provider: Provider, facts: GrantFacts): SharedClaims => {
  const iat = Math.floor(provider.deps.clock.now().getTime() / 1000);
  const { aud, azp } = audienceOf(facts.clientId, facts.scopes);
  return {
    iat,
    sub: encodeSubject(facts.claims.userId, facts.connectorId),
    aud: aud.length === 1 ? aud[0] : aud,
    azp,
    authTime: Math.floor(facts.authTime.getTime() / 1000),
    userClaims: scopedUserClaims(facts),
  };
};

/**
 * Signs an ID token for a grant. Only what the response delivers is signed: an ID token that goes out without an
 * access token costs one signature, not two.
 */
export const mintIdToken = (provider: Provider, facts: GrantFacts, options: IdTokenOptions): Promise<string> =>
  signIdToken(provider, facts, sharedClaims(provider, facts), options);

const signIdToken = async (
  provider: Provider,
  facts: GrantFacts,
  shared: SharedClaims,
  options: IdTokenOptions,
): Promise<string> => {
  const { settings, signer } = provider;
  const { iat, sub, aud, azp, authTime, userClaims } = shared;
  const idPayload: JWTPayload = {
    iss: settings.issuer,
    sub,
    aud,
    azp,
    iat,
    exp: iat + Math.floor(settings.idTokenTtlMs / 1000),
    auth_time: authTime,
    ...userClaims,
  };
  if (options.includeNonce && facts.nonce !== '') idPayload.nonce = facts.nonce;
  if (facts.sessionId !== undefined) idPayload.sid = facts.sessionId;
  const { code, accessToken } = options;
  // The hashes follow the algorithm of the key that actually signs (it may differ from the config mid-rotation).
  return signer.sign(
    (alg) => ({
      ...idPayload,
      ...(accessToken !== undefined ? { at_hash: halfHash(accessToken, alg) } : {}),
      ...(code !== undefined ? { c_hash: halfHash(code, alg) } : {}),
    }),
    { typ: ID_TOKEN_TYP },
  );
};

/** Signs an access token and, when asked, an ID token for the same grant whose `at_hash` binds it. */
export const mintTokens = async (
  provider: Provider,
  facts: GrantFacts,
  options: MintOptions,
): Promise<MintedTokens> => {
  const { settings, signer, deps } = provider;
  const shared = sharedClaims(provider, facts);
  const { iat, sub, aud, authTime, userClaims } = shared;
  const accessTtl = Math.floor(settings.accessTokenTtlMs / 1000);

  // RFC 9068 §2.2: iss, exp, aud, sub, client_id, iat, jti; scope; the user's claims so /userinfo needs no lookup.
  const accessPayload: JWTPayload = {
    iss: settings.issuer,
    sub,
    aud,
    client_id: facts.clientId,
    scope: facts.scopes.join(' '),
    iat,
    exp: iat + accessTtl,
    auth_time: authTime,
    jti: randomToken(deps.randomBytes),
    ...userClaims,
  };
  if (options.grantRef !== undefined) accessPayload.gid = options.grantRef;
  if (facts.sessionId !== undefined) accessPayload.sid = facts.sessionId;
  const accessToken = await signer.sign(accessPayload, { typ: 'at+jwt' });
  const idToken = options.withIdToken
    ? await signIdToken(provider, facts, shared, {
        code: options.code,
        includeNonce: options.includeNonce,
        accessToken,
      })
    : undefined;
  return { accessToken, idToken, expiresIn: accessTtl };
};

/** The JSON body of a successful token response (RFC 6749 §5.1, OIDC Core §3.1.3.3) for minted tokens. */
export const tokenResponseBody = (
  tokens: MintedTokens,
  refreshToken: string | undefined,
  scopes: readonly string[],
): {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  id_token?: string;
  refresh_token?: string;
  scope: string;
} => ({
  access_token: tokens.accessToken,
  token_type: 'Bearer',
  expires_in: tokens.expiresIn,
  ...(tokens.idToken !== undefined ? { id_token: tokens.idToken } : {}),
  ...(refreshToken !== undefined ? { refresh_token: refreshToken } : {}),
  scope: scopes.join(' '),
});
