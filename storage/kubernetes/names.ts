/**
 * Object names as Dex derives them (storage/kubernetes/client.go), so idport finds the objects a Dex
 * installation wrote. Kubernetes names are DNS subdomains; ids that are not valid names are hashed.
 */
import { createHash } from 'node:crypto';

const BASE32_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/** Go's base32 with Dex's lower-case alphabet, padding removed. */
export const base32 = (bytes: Uint8Array): string => {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32_ALPHABET[(value << (5 - bits)) & 31];
  return out;
};

const FNV64_OFFSET = 0xcbf29ce484222325n;
const FNV64_PRIME = 0x100000001b3n;
const MASK64 = 0xffffffffffffffffn;

/** FNV-1 (not 1a) 64-bit, Go's hash/fnv.New64, as 8 big-endian bytes. */
export const fnv64 = (data: Uint8Array): Uint8Array => {
  let hash = FNV64_OFFSET;
  for (const byte of data) hash = ((hash * FNV64_PRIME) & MASK64) ^ BigInt(byte);
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE(hash);
  return out;
};

/**
 * Dex's idToName: Go's `hash.Sum(b)` appends the hash of nothing to `b`, so the name is base32 of the id's
 * bytes followed by fnv64(""), not a hash of the id. Kept byte for byte because Dex's objects are named so.
 */
export const idToName = (id: string): string => {
  const bytes = Buffer.from(id, 'utf8');
  return base32(Buffer.concat([bytes, fnv64(new Uint8Array(0))]));
};

/** Dex's offlineTokenName: base32 of fnv64(userID ‖ connID). Ids that concatenate alike share a name, as in Dex. */
export const offlineTokenName = (userId: string, connectorId: string): string =>
  base32(fnv64(Buffer.from(userId + connectorId, 'utf8')));

const MAX_NAME_LENGTH = 253;
const NAME_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Whether `name` is a valid Kubernetes object name (a DNS-1123 subdomain). */
export const isObjectName = (name: string): boolean => name.length <= MAX_NAME_LENGTH && NAME_PATTERN.test(name);

/**
 * The name for an id Dex uses as the object name directly (auth requests, codes, refresh tokens, connectors).
 * Dex's ids are always valid names; idport's (base64url, mixed case) often are not, and get Dex's idToName;
 * ids too long even for that get a SHA-256. The object keeps the id, and reads check it, so a clash is absence.
 */
export const nameForId = (id: string): string => {
  if (isObjectName(id)) return id;
  const derived = idToName(id);
  if (derived.length <= MAX_NAME_LENGTH) return derived;
  return base32(createHash('sha256').update(id, 'utf8').digest());
};
