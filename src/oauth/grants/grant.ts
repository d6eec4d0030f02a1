/**
 * The contract every grant at /token implements (RFC 6749 §4, §6; CONTRIBUTING.md "Adding a grant").
 *
 * The token endpoint (endpoint.ts) owns every phase grants share, in this order:
 *   1. client authentication (client-auth.ts), before anything else is read from the form;
 *   2. the grant-type gate: the grant is registered, listed in `oauth2.grantTypes` and `isAvailable`;
 *   3. `redeem`: the grant's own rule — it checks the credential it is given (a code, a refresh token, a device code,
 *      a password) and calls `context.scopes` exactly once, where its protocol orders the scope check;
 *   4. the refresh family its outcome asks for: started (bound to the browser session for clients whose refresh
 *      tokens end with it), or kept when the grant rotated an existing one;
 *   5. minting the access token (and the ID token when `openid` was granted), naming the grant in `gid`;
 *   6. `finish`, the grant's commit (redeeming a code, deleting a device token); when anything after step 4 fails,
 *      a family started for the request is discarded;
 *   7. the RFC 6749 §5.1 response, or for a token exchange the RFC 8693 §2.2.1 one (the one token asked for).
 *
 * A new grant is one file under grants/ exporting a `Grant`, plus its entry in the endpoint's list. It never starts
 * refresh families, mints, or checks scopes itself, so those rules keep one home each.
 */
import type { Client } from '../../../storage/storage.js';
import type { Provider } from '../provider.js';
import type { GrantFacts } from '../tokens/claims.js';

/** The form values of a POST to /token, /token/introspect or /token/revoke. */
export type TokenForm = Readonly<Record<string, string | undefined>>;

/** A POST to /token (or /token/introspect, /token/revoke) as parsed form values plus the Authorization header. */
export interface TokenRequest {
  readonly authorization: string | undefined;
  readonly form: TokenForm;
  /** The client's IP (web.clientRemoteIP), for the password grant's brute-force budget. */
  readonly clientIp?: string | undefined;
}

/** RFC 8693 §3 token type identifiers idport issues from a token exchange. */
export type IssuedTokenType =
  'urn:ietf:params:oauth:token-type:access_token' | 'urn:ietf:params:oauth:token-type:id_token';

/** The JSON body of a successful token response (RFC 6749 §5.1, OIDC Core §3.1.3.3, RFC 8693 §2.2.1). */
export interface TokenResponse {
  readonly access_token: string;
  /** Token exchange only: what `access_token` holds (RFC 8693 names the member `access_token` whatever it holds). */
  readonly issued_token_type?: IssuedTokenType;
  readonly token_type: 'Bearer';
  readonly expires_in: number;
  readonly id_token?: string;
  readonly refresh_token?: string;
  readonly scope?: string;
}

/**
 * What a grant asks the scope policy to decide. `requested`: scopes asked for at /token itself (the password grant),
 * held to the rules of an authorization request (`openid` required, audience scopes only for trusted peers).
 * `granted`: scopes an earlier step granted (a code, a device approval, a refresh family); `narrowTo`, when not
 * empty, may narrow them and never widen them (RFC 6749 §6). `exchanged`: scopes of a token exchange, which Dex
 * passes through: unknown ones are dropped rather than refused, audience scopes still need a trusting peer.
 */
export type ScopeRequest =
  | { readonly requested: readonly string[] }
  | { readonly granted: readonly string[]; readonly narrowTo?: readonly string[] }
  | { readonly exchanged: readonly string[] };

/** What the endpoint hands a grant: an authenticated client, the form, and the scope policy. */
export interface GrantContext {
  readonly provider: Provider;
  readonly client: Client;
  readonly form: TokenForm;
  readonly clientIp?: string | undefined;
  /** The scope policy, the single place scope rules are enforced; the scopes it returns are the ones issued. */
  scopes(request: ScopeRequest): Promise<readonly string[]>;
}

/**
 * The refresh token a grant's response carries. `start`: a new family for this login (the endpoint decides whether
 * one may be issued at all: `offline_access`, the refresh grant enabled, a connector that can refresh, a live
 * session for session-bound clients). `keep`: the family the grant already rotated, and the token to return.
 */
export type RefreshPlan =
  | { readonly kind: 'none' }
  | { readonly kind: 'start'; readonly connectorData: Uint8Array | undefined }
  | { readonly kind: 'keep'; readonly familyId: string; readonly token: string };

/** What the endpoint issued, for a grant's `finish`. */
export interface IssuedTokens {
  /** The family the response's refresh token belongs to, if any. */
  readonly familyId: string | undefined;
}

/** A grant's decision: whose login the tokens are for, and how to issue them. */
export interface GrantOutcome {
  /** The login the tokens carry; the scopes are the ones the scope policy returned. */
  readonly facts: Omit<GrantFacts, 'scopes'>;
  /** Whether the ID token carries the login's `nonce` (OIDC Core §3.1.3.6: the code exchange does, a refresh not). */
  readonly includeNonce: boolean;
  readonly refresh: RefreshPlan;
  /** The access tokens' `gid` when the grant is not the refresh family (the code exchange names its code). */
  readonly grantRef?: string | undefined;
  /**
   * Token exchange (RFC 8693 §2.2.1): issue only this token, in `access_token` with `issued_token_type` and no
   * `scope`; the refresh plan must be `none`, and there is no `finish`.
   */
  readonly issuedTokenType?: IssuedTokenType;
  /** The grant's commit once tokens are minted; its failure discards a family the endpoint started for it. */
  finish?(issued: IssuedTokens): Promise<void>;
}

export interface Grant {
  /** The `grant_type` value this grant answers. */
  readonly type: string;
  /**
   * The error for a registered grant that `oauth2.grantTypes` leaves out: `unauthorized_client` for the grants every
   * client may use in principle (Dex's answer for the code and refresh grants), `unsupported_grant_type` otherwise.
   */
  readonly whenDisabled: 'unauthorized_client' | 'unsupported_grant_type';
  /** An extra condition for serving the grant at all (the password grant needs a password connector). */
  isAvailable?(provider: Provider): boolean;
  /** The grant's own rule; throws an OAuthError for a refused request. */
  redeem(context: GrantContext): Promise<GrantOutcome>;
}
