/**
 * Key material for the signer: generation and the public projection of a JWK. Nothing outside
 * src/signer/ may import this module (ARCHITECTURE.md decision 9: only the signer touches private keys).
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';

/** JWS algorithms idport signs with (ARCHITECTURE.md decision 5): RS256 by default, ES256 and EdDSA if configured. */
export type SigningAlgorithm = 'RS256' | 'ES256' | 'EdDSA';

/** Every supported signing algorithm, for config validation and discovery. */
export const signingAlgorithms: readonly SigningAlgorithm[] = ['RS256', 'ES256', 'EdDSA'];

/** True when `value` names an algorithm idport can sign and verify with. */
export const isSigningAlgorithm = (value: unknown): value is SigningAlgorithm =>
  typeof value === 'string' && (signingAlgorithms as readonly string[]).includes(value);

/** A freshly generated key pair as JWKs, both carrying `kid` and `alg`. */
export interface GeneratedKey {
  /** RFC 7638 SHA-256 thumbprint of the public key. */
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  /** Private JWK; goes to storage and nowhere else. */
  readonly privateJwk: JWK;
  /** Public JWK with `use: 'sig'`, as published at /keys. */
  readonly publicJwk: JWK;
}

// Key-generation parameters per algorithm: 2048-bit RSA is what every client accepts and is the
// NIST minimum through 2030; P-256 is fixed by ES256; Ed25519 is the curve every EdDSA verifier has.
const GENERATE_OPTIONS: Record<SigningAlgorithm, { modulusLength?: number; crv?: string }> = {
  RS256: { modulusLength: 2048 },
  ES256: {},
  EdDSA: { crv: 'Ed25519' },
};

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

// Extractable only so the private key can be stored; the signer later imports it non-extractable.
const newKeyPair = (alg: SigningAlgorithm): Promise<KeyPair> =>
  generateKeyPair(alg, { ...GENERATE_OPTIONS[alg], extractable: true });

/** A key pair being generated ahead of need (`pregenerateSigningKey`), for the next `generateSigningKey` of its alg. */
let pregenerated: { readonly alg: SigningAlgorithm; readonly pair: Promise<KeyPair> } | undefined;

/**
 * Starts generating a key pair for `alg` now, on the thread pool, for the next `generateSigningKey(alg)` to take.
 * A 2048-bit RSA key takes 60-350 ms to find (random primes), which a first start would otherwise spend waiting
 * once everything else is ready (src/main.ts). A pair is handed out at most once. One a start does not take (the
 * store already had a key) serves the first rotation instead; a later call replaces it. Its failure surfaces where
 * the pair is taken, as any generation failure would, and nowhere if it never is.
 */
export function pregenerateSigningKey(alg: SigningAlgorithm): void {
  const pair = newKeyPair(alg);
  pair.catch(() => undefined);
  pregenerated = { alg, pair };
}

/** Generates a signing key pair for `alg`, with `kid` = RFC 7638 thumbprint of the public key. */
export async function generateSigningKey(alg: SigningAlgorithm): Promise<GeneratedKey> {
  const early = pregenerated?.alg === alg ? pregenerated.pair : undefined;
  if (early !== undefined) pregenerated = undefined;
  const { privateKey, publicKey } = await (early ?? newKeyPair(alg));
  const [privateJwk, publicJwk] = await Promise.all([exportJWK(privateKey), exportJWK(publicKey)]);
  const kid = await calculateJwkThumbprint(publicJwk, 'sha256');
  return {
    kid,
    alg,
    privateJwk: { ...privateJwk, kid, alg, use: 'sig' },
    publicJwk: publicProjection({ ...publicJwk, kid, alg, use: 'sig' }),
  };
}

// Public members per key type (RFC 7518 §6.2.1, §6.3.1; RFC 8037 §2). Anything else, including
// `d`, `p`, `q`, `dp`, `dq`, `qi` and `oth`, is private or unknown and never published.
const PUBLIC_MEMBERS: Readonly<Record<string, readonly (keyof JWK)[]>> = {
  RSA: ['kty', 'n', 'e'],
  EC: ['kty', 'crv', 'x', 'y'],
  OKP: ['kty', 'crv', 'x'],
};
const METADATA_MEMBERS: readonly (keyof JWK)[] = ['kid', 'alg', 'use'];

/**
 * Copies only the public members of `jwk` (plus `kid`, `alg`, `use`). An allow-list rather than
 * deleting private fields, so a field we did not think of can never leak into /keys.
 */
export function publicProjection(jwk: JWK): JWK {
  const members = PUBLIC_MEMBERS[jwk.kty ?? ''];
  if (members === undefined) throw new TypeError(`unsupported key type ${String(jwk.kty)}`);
  const out: Record<string, unknown> = {};
  for (const name of [...members, ...METADATA_MEMBERS]) {
    if (jwk[name] !== undefined) out[name] = jwk[name];
  }
  return out as JWK;
}

/** The signing algorithm a stored JWK declares, or undefined when it declares none idport supports. */
export const algorithmOf = (jwk: JWK): SigningAlgorithm | undefined =>
  isSigningAlgorithm(jwk.alg) ? jwk.alg : undefined;
