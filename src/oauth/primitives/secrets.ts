/** Random values, hashes and comparisons for codes and tokens (ARCHITECTURE.md decision 9). */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** 256 bits from the CSPRNG, base64url: well above the 128 bits RFC 6749 §10.10 and the conformance suite ask for. */
export const randomToken = (randomBytes: (size: number) => Buffer): string => randomBytes(32).toString('base64url');

/** SHA-256 (base64url) of a secret: what storage keeps, so a database dump hands out no live code or token. */
export const hashSecret = (secret: string): string => createHash('sha256').update(secret).digest('base64url');

/**
 * The secret that replaces `secret` in a refresh-token rotation. Deterministic in (secret, nonce) so a
 * retry inside the reuse interval gets the same new token; needs both the client's old secret and the
 * nonce kept in storage, so neither a stolen old token nor a database dump alone can compute it.
 */
export const deriveNextSecret = (secret: string, rotationNonce: string): string =>
  createHmac('sha256', secret).update(`idport-refresh-rotation:${rotationNonce}`).digest('base64url');

/** Constant-time string comparison; unequal lengths compare a digest so length is not leaked either. */
export const safeEqual = (a: string, b: string): boolean => {
  const left = createHash('sha256').update(a).digest();
  const right = createHash('sha256').update(b).digest();
  return timingSafeEqual(left, right) && a.length === b.length;
};

/**
 * OIDC Core §3.1.3.6 `at_hash` / §3.3.2.11 `c_hash`: the left half of the hash of the ASCII value,
 * with the hash that matches the ID token's signing algorithm.
 */
export const halfHash = (value: string, alg: string): string => {
  // RS256/ES256 → SHA-256, *384 → SHA-384, *512 and EdDSA (Ed25519) → SHA-512.
  const hash = alg === 'EdDSA' || alg.endsWith('512') ? 'sha512' : alg.endsWith('384') ? 'sha384' : 'sha256';
  const digest = createHash(hash).update(value, 'ascii').digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
};
