/**
 * The authorization code grant (RFC 6749 §4.1.3; ARCHITECTURE.md decision 3): single use under concurrency (a
 * compare-and-swap on `redeemedAt`), and a replayed code revokes what it issued (§4.1.2).
 */
import type { AuthCode } from '../../../storage/storage.js';
import { NotFoundError } from '../../../storage/storage.js';
import { OAuthError } from '../../errors.js';
import { codeGrantRef } from '../primitives/grant-ref.js';
import { verifyPkce } from '../primitives/pkce.js';
import { hashSecret } from '../primitives/secrets.js';
import type { Provider } from '../provider.js';
import { loginOf } from '../tokens/claims.js';
import type { Grant, GrantContext, GrantOutcome, IssuedTokens } from './grant.js';
import { revokeFamily } from './refresh-family.js';

const invalidCode = (): OAuthError => new OAuthError('invalid_grant', 'invalid or expired authorization code');
const codeAlreadyUsed = (): OAuthError => new OAuthError('invalid_grant', 'authorization code already used');

/** Marks a code redeemed; throws ReplayedCode when another request got there first. */
class ReplayedCode extends Error {}

/** Revokes what a code issued: its refresh-token family and (via `gid`) its access tokens. Also used by /token/revoke. */
export const revokeAuthCodeGrant = async (provider: Provider, code: AuthCode): Promise<void> => {
  const { storage, deps } = provider;
  if (code.refreshTokenId !== undefined) await revokeFamily(provider, code.refreshTokenId);
  await storage.authCodes
    .update(code.id, (old) => ({ ...old, revokedAt: old.revokedAt ?? deps.clock.now() }))
    .catch((err: unknown) => {
      if (!(err instanceof NotFoundError)) throw err;
    });
};

/** A replayed code revokes what it issued (RFC 6749 §4.1.2). */
const revokeCodeGrant = async (provider: Provider, code: AuthCode): Promise<void> => {
  provider.log.warn({ clientId: code.clientId }, 'authorization code replayed; revoking the tokens it issued');
  await revokeAuthCodeGrant(provider, code);
};

/** The stored code the request presents, checked against the client, redirect URI and PKCE verifier. */
const presentedCode = async (context: GrantContext, now: Date): Promise<AuthCode> => {
  const { provider, client, form } = context;
  const code = form.code;
  if (code === undefined || code === '') throw new OAuthError('invalid_request', 'code is required');
  const stored = await provider.storage.authCodes.get(hashSecret(code));
  if (stored === undefined) throw invalidCode();
  if (stored.redeemedAt !== undefined) {
    await revokeCodeGrant(provider, stored);
    throw codeAlreadyUsed();
  }
  if (stored.expiry.getTime() <= now.getTime()) throw invalidCode();
  // RFC 6749 §4.1.3: the code must have been issued to this client, for this redirect URI.
  if (stored.clientId !== client.id)
    throw new OAuthError('invalid_grant', 'authorization code was issued to another client');
  // RFC 6749 §4.1.3: redirect_uri is required, and must match, exactly when the authorization request had it
  // (a client with one registered URI may leave it out there). Codes from before the field existed
  // (redirectUriSent undefined) keep the old rule: an omitted value stands for the client's only registered URI.
  const mustRepeat = stored.redirectUriSent ?? client.redirectURIs.length !== 1;
  const presented = form.redirect_uri ?? (mustRepeat ? undefined : stored.redirectUri);
  if (presented !== stored.redirectUri) {
    throw new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request');
  }
  verifyPkce(stored.codeChallenge, stored.codeChallengeMethod, form.code_verifier);
  return stored;
};

/**
 * Redeems atomically: of two concurrent redemptions exactly one wins (compare-and-swap on redeemedAt). The record is
 * kept until its access tokens expire, so a replay can still revoke them (RFC 6749 §4.1.2).
 */
const redeemCode = async (provider: Provider, stored: AuthCode, issued: IssuedTokens, now: Date): Promise<void> => {
  const { storage, settings } = provider;
  const keepUntil = new Date(Math.max(stored.expiry.getTime(), now.getTime() + settings.accessTokenTtlMs));
  try {
    await storage.authCodes.update(stored.id, (old) => {
      if (old.redeemedAt !== undefined) throw new ReplayedCode();
      return {
        ...old,
        redeemedAt: now,
        expiry: keepUntil,
        refreshTokenId: issued.familyId,
      };
    });
  } catch (err: unknown) {
    if (err instanceof ReplayedCode || err instanceof NotFoundError) {
      const current = await storage.authCodes.get(stored.id);
      if (current !== undefined) await revokeCodeGrant(provider, current);
      throw codeAlreadyUsed();
    }
    throw err;
  }
};

const redeem = async (context: GrantContext): Promise<GrantOutcome> => {
  const { provider } = context;
  const now = provider.deps.clock.now();
  const stored = await presentedCode(context, now);
  // The scopes were checked at /authorize; the code exchange takes no `scope` (RFC 6749 §4.1.3).
  await context.scopes({ granted: stored.scopes });
  return {
    facts: loginOf(stored),
    includeNonce: true,
    refresh: { kind: 'start', connectorData: stored.connectorData },
    grantRef: codeGrantRef(stored.id),
    finish: async (issued) => redeemCode(provider, stored, issued, now),
  };
};

/** RFC 6749 §4.1.3: exchanges an authorization code for tokens. */
export const authorizationCodeGrant: Grant = {
  type: 'authorization_code',
  whenDisabled: 'unauthorized_client',
  redeem,
};
