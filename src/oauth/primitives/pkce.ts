/** RFC 7636 PKCE verification. */
import { createHash } from 'node:crypto';
import type { CodeChallengeMethod } from '../../../storage/storage.js';
import { OAuthError } from '../../errors.js';
import { safeEqual } from './secrets.js';

/** RFC 7636 §4.1: 43–128 characters from the unreserved set. */
const VERIFIER_SYNTAX = /^[A-Za-z0-9\-._~]{43,128}$/;

/** Checks the `code_verifier` sent to /token against the challenge stored with the code (RFC 7636 §4.6). */
export const verifyPkce = (challenge: string, method: CodeChallengeMethod, verifier: string | undefined): void => {
  if (challenge === '') {
    // A verifier without a challenge means the request was altered in between (OAuth 2.1 §4.1.3).
    if (verifier !== undefined && verifier !== '')
      throw new OAuthError(
        'invalid_grant',
        'code_verifier sent but no code_challenge was in the authorization request',
      );
    return;
  }
  if (verifier === undefined || verifier === '') throw new OAuthError('invalid_grant', 'code_verifier required');
  if (!VERIFIER_SYNTAX.test(verifier)) throw new OAuthError('invalid_grant', 'code_verifier is malformed');
  const computed = method === 'S256' ? createHash('sha256').update(verifier, 'ascii').digest('base64url') : verifier;
  if (!safeEqual(computed, challenge))
    throw new OAuthError('invalid_grant', 'code_verifier does not match code_challenge');
};

/** RFC 7636 §4.2: the challenge has the same syntax as a verifier. */
export const isValidChallenge = (challenge: string): boolean => VERIFIER_SYNTAX.test(challenge);

/** A request's PKCE challenge as stored: both empty when the client sent none. */
export interface Challenge {
  readonly codeChallenge: string;
  readonly codeChallengeMethod: CodeChallengeMethod;
}

/**
 * Parses `code_challenge` and `code_challenge_method` of an authorization or device request (RFC 7636 §4.3): the
 * method defaults to plain, must be one the configuration enables, and needs a challenge; the one place these
 * rules live for /auth and /device/code.
 */
export const parseChallenge = (
  sent: { readonly challenge: string | undefined; readonly method: string | undefined },
  enabled: readonly ('S256' | 'plain')[],
): Challenge => {
  const codeChallenge = sent.challenge ?? '';
  if (codeChallenge === '') {
    if (sent.method !== undefined)
      throw new OAuthError('invalid_request', 'code_challenge_method sent without code_challenge');
    return { codeChallenge: '', codeChallengeMethod: '' };
  }
  const method = sent.method ?? 'plain'; // RFC 7636 §4.3: plain when absent
  if ((method !== 'S256' && method !== 'plain') || !enabled.includes(method)) {
    throw new OAuthError('invalid_request', `unsupported code_challenge_method "${method}"`);
  }
  if (!isValidChallenge(codeChallenge)) throw new OAuthError('invalid_request', 'code_challenge is malformed');
  return { codeChallenge, codeChallengeMethod: method };
};
