/**
 * `sessions.cookieEncryptionKey` (Dex master): the session cookie's value sealed with AES-GCM under the configured
 * 16, 24 or 32 byte key, so the cookie reveals nothing (not even the public session id) and a cookie altered or
 * made without the key is never read. Sealed form: base64url(12-byte nonce ‖ ciphertext ‖ 16-byte tag).
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

const algorithmFor = (key: Uint8Array): 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm' => {
  if (key.length === 16) return 'aes-128-gcm';
  if (key.length === 24) return 'aes-192-gcm';
  if (key.length === 32) return 'aes-256-gcm';
  throw new RangeError(`cookieEncryptionKey must be 16, 24 or 32 bytes, got ${key.length}`);
};

/** Seals `plain` with `key`; `nonce` must be 12 fresh random bytes. */
export const sealCookie = (key: Uint8Array, nonce: Uint8Array, plain: string): string => {
  const cipher = createCipheriv(algorithmFor(key), key, nonce);
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64url');
};

/** The plain value of a sealed cookie, or undefined when it was not sealed with `key` or was altered. */
export const openCookie = (key: Uint8Array, sealed: string): string | undefined => {
  if (!/^[A-Za-z0-9_-]+$/.test(sealed)) return undefined;
  const bytes = Buffer.from(sealed, 'base64url');
  if (bytes.length <= NONCE_BYTES + TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv(algorithmFor(key), key, bytes.subarray(0, NONCE_BYTES));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    const body = bytes.subarray(NONCE_BYTES, bytes.length - TAG_BYTES);
    return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
  } catch {
    return undefined; // a wrong key or an altered cookie fails authentication
  }
};

/** The nonce size sealCookie needs. */
export const COOKIE_NONCE_BYTES = NONCE_BYTES;
