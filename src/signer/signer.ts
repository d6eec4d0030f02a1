/**
 * The signer (ARCHITECTURE.md decision 5): owns the signing keys kept in storage, rotates them by
 * compare-and-swap so exactly one replica rotates, mints JWTs and verifies the ones idport issued.
 * It is the only module that touches private keys.
 */
import {
  CompactSign,
  decodeJwt,
  decodeProtectedHeader,
  importJWK,
  jwtVerify,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Keys, Storage } from '../../storage/storage.js';
import type { Clock } from '../deps.js';
import { TokenVerificationError, verificationErrorOf } from './errors.js';
import { algorithmOf, generateSigningKey, publicProjection, type SigningAlgorithm } from './keys.js';
import { isRotationDue, nextKeys, type RotationPolicy, type RotationTrigger } from './rotation.js';

export { TokenVerificationError, type TokenErrorReason } from './errors.js';
export { isSigningAlgorithm, pregenerateSigningKey, signingAlgorithms, type SigningAlgorithm } from './keys.js';

/** How the signer is built; durations are milliseconds. */
export interface SignerOptions {
  readonly storage: Storage;
  /** Decides rotation, key expiry and token `exp` checks; injected so tests need no sleeps. */
  readonly clock: Clock;
  /** Expected `iss` of every token passed to `verify`. */
  readonly issuer: string;
  /** Algorithm of newly generated keys; a change takes effect at the next start (`ensureKeys`). */
  readonly algorithm: SigningAlgorithm;
  /** Time between rotations (Dex `expiry.signingKeys`, default 6 h). */
  readonly rotationPeriodMs: number;
  /** Longest lifetime of a token this signer signs (ID and access tokens); `sign` refuses longer. */
  readonly idTokenTtlMs: number;
  /**
   * How long keys read from storage are used before being read again, so a rotation by another
   * replica is noticed without a storage read per token. Default 30 s.
   */
  readonly keyCacheTtlMs?: number;
  readonly log?: Logger;
}

/** Checks `verify` makes beyond signature, issuer and expiry. */
export interface VerifyOptions {
  /** Required `aud` value (the client ID). */
  readonly audience?: string;
  /** Required `typ` header, e.g. `at+jwt` (RFC 9068). */
  readonly typ?: string;
  /** Accept an expired token whose signature and other claims are valid (OIDC `id_token_hint`). */
  readonly ignoreExpiry?: boolean;
}

/** The JWKS as served: the bytes of `{"keys": [...]}` and an ETag derived from them. */
export interface JwksDocument {
  readonly body: Buffer;
  /** A strong entity tag (quoted): the same key set gives the same tag on every replica. */
  readonly etag: string;
}

/** Signs and verifies idport's JWTs with the keys kept in storage. */
export interface Signer {
  /** Algorithm from the config, used for every newly generated key. */
  readonly algorithm: SigningAlgorithm;
  /**
   * Run at start: creates the first key if none exists, rotates if rotation is overdue or the
   * configured algorithm differs from the current key's. Resolves true when this call wrote a new key.
   */
  ensureKeys(): Promise<boolean>;
  /** Rotates when `nextRotation` has come; resolves true only when this call (not another replica) rotated. */
  rotateIfDue(): Promise<boolean>;
  /** The published key set: current public key first, then retired keys still in use. Never private members. */
  jwks(): Promise<{ keys: JWK[] }>;
  /** `jwks()` as JSON bytes with a strong ETag, serialized again only when the published keys change. */
  jwksDocument(): Promise<JwksDocument>;
  /**
   * Signs `payload` with the current key (`kid` and `alg` in the header). `payload.exp` is required
   * and may be at most `idTokenTtlMs` from now, because retired keys are published only that long.
   * Pass a function to build claims that depend on the algorithm actually used (`at_hash`, `c_hash`:
   * OIDC Core §3.1.3.6); it can differ from `algorithm` while replicas with another config still run.
   */
  sign(
    payload: JWTPayload | ((alg: SigningAlgorithm) => JWTPayload),
    header?: { readonly typ?: string },
  ): Promise<string>;
  /** Verifies a token idport issued against the published keys; throws TokenVerificationError. */
  verify(jwt: string, options?: VerifyOptions): Promise<JWTPayload>;
  /** When the current key is due to be replaced. */
  nextRotation(): Promise<Date>;
  /** Algorithms ID tokens may be signed with, for discovery (`id_token_signing_alg_values_supported`). */
  signingAlgorithms(): SigningAlgorithm[];
  /** Calls `rotateIfDue` every `intervalMs` on an unref'd timer; errors are logged, never thrown. */
  startRotation(intervalMs: number): void;
  /** Stops the rotation timer. */
  stop(): void;
}

const DEFAULT_KEY_CACHE_TTL_MS = 30_000;
// An unknown `kid` may mean another replica has just rotated, so it triggers a storage read; this
// bounds how often forged `kid`s can make us do that.
const UNKNOWN_KID_RELOAD_INTERVAL_MS = 1_000;

/** Creates a signer; keys are created or loaded on `ensureKeys()` or, failing that, on first use. */
export function createSigner(options: SignerOptions): Signer {
  return new StoredKeySigner(options);
}

interface Snapshot {
  readonly keys: Keys;
  /** Clock time (ms) the keys were read or written. */
  readonly loadedAt: number;
}

class StoredKeySigner implements Signer {
  readonly algorithm: SigningAlgorithm;
  private readonly storage: Storage;
  private readonly clock: Clock;
  private readonly issuer: string;
  private readonly idTokenTtlMs: number;
  private readonly keyCacheTtlMs: number;
  private readonly policy: RotationPolicy;
  private readonly log: Logger | undefined;
  private snapshot: Snapshot | undefined;
  private loading: Promise<Keys> | undefined;
  private lastUnknownKidReload = Number.NEGATIVE_INFINITY;
  // Imported keys by kid: importing a JWK costs far more than signing, and sign() is on the hot path.
  private readonly privateKeys = new Map<string, CryptoKey>();
  private readonly publicKeys = new Map<string, CryptoKey>();
  private timer: NodeJS.Timeout | undefined;
  private isTimerRotating = false;
  /**
   * The JWKS as last served, for the keys it was built from, until `validUntil` (ms): the moment the first of its
   * retired keys stops being published. /keys answers from it without rebuilding the key set at every request.
   */
  private document: { keys: Keys; validUntil: number; value: JwksDocument } | undefined;

  constructor(options: SignerOptions) {
    const keyCacheTtlMs = options.keyCacheTtlMs ?? DEFAULT_KEY_CACHE_TTL_MS;
    for (const [name, value] of Object.entries({
      rotationPeriodMs: options.rotationPeriodMs,
      idTokenTtlMs: options.idTokenTtlMs,
      keyCacheTtlMs,
    })) {
      if (!Number.isFinite(value) || value <= 0)
        throw new RangeError(`${name} must be a positive number, got ${value}`);
    }
    if (keyCacheTtlMs >= options.rotationPeriodMs)
      throw new RangeError('keyCacheTtlMs must be shorter than rotationPeriodMs');
    this.algorithm = options.algorithm;
    this.storage = options.storage;
    this.clock = options.clock;
    this.issuer = options.issuer;
    this.idTokenTtlMs = options.idTokenTtlMs;
    this.keyCacheTtlMs = keyCacheTtlMs;
    this.log = options.log;
    this.policy = {
      algorithm: options.algorithm,
      rotationPeriodMs: options.rotationPeriodMs,
      // A replica that has not yet noticed a rotation keeps signing with the old key for up to
      // keyCacheTtlMs, and those tokens live idTokenTtlMs: the retired key must outlive both.
      retentionMs: options.idTokenTtlMs + keyCacheTtlMs,
    };
  }

  async ensureKeys(): Promise<boolean> {
    return (await this.rotate('startup')).rotated;
  }

  async rotateIfDue(): Promise<boolean> {
    return (await this.rotate('timer')).rotated;
  }

  async jwks(): Promise<{ keys: JWK[] }> {
    const keys = await this.currentKeys();
    return { keys: [...publishedKeys(keys, this.clock.now()).values()].map(publicProjection) };
  }

  async jwksDocument(): Promise<JwksDocument> {
    const keys = await this.currentKeys();
    const now = this.clock.now();
    const cached = this.document;
    if (cached?.keys === keys && now.getTime() < cached.validUntil) return cached.value;
    const published = publishedKeys(keys, now);
    const validUntil = Math.min(
      ...keys.verificationKeys.map((v) => v.expiry.getTime()).filter((expiry) => expiry > now.getTime()),
    );
    const body = Buffer.from(JSON.stringify({ keys: [...published.values()].map(publicProjection) }), 'utf8');
    const value = { body, etag: `"${createHash('sha256').update(body).digest('base64url')}"` };
    this.document = { keys, validUntil, value };
    return value;
  }

  async sign(
    payload: JWTPayload | ((alg: SigningAlgorithm) => JWTPayload),
    header: { readonly typ?: string } = {},
  ): Promise<string> {
    const keys = await this.currentKeys();
    const { kid, alg } = usable(keys.signingKeyPub);
    const claims = typeof payload === 'function' ? payload(alg) : payload;
    const maxExp = Math.ceil((this.clock.now().getTime() + this.idTokenTtlMs) / 1000);
    if (typeof claims.exp !== 'number' || claims.exp > maxExp) {
      throw new RangeError(
        'exp must be set and at most idTokenTtl from now: retired keys are published only that long',
      );
    }
    let key = this.privateKeys.get(kid);
    if (key === undefined) {
      key = await importAsymmetric(keys.signingKey, alg);
      this.privateKeys.set(kid, key);
    }
    const protectedHeader = header.typ === undefined ? { alg, kid } : { alg, kid, typ: header.typ };
    // A JWT is a JWS over the JSON claims (RFC 7519 §7.1): jose's SignJWT would deep-copy and re-check the claims
    // this module just built, a measurable share of a token grant. The compact JWS is still jose's.
    return new CompactSign(Buffer.from(JSON.stringify(claims), 'utf8')).setProtectedHeader(protectedHeader).sign(key);
  }

  async verify(jwt: string, options: VerifyOptions = {}): Promise<JWTPayload> {
    let kid: unknown;
    let exp: unknown;
    try {
      kid = decodeProtectedHeader(jwt).kid;
      // Only id_token_hint needs exp up front; everyone else leaves payload parsing to jwtVerify.
      if (options.ignoreExpiry === true) exp = decodeJwt(jwt).exp;
    } catch (err: unknown) {
      throw new TokenVerificationError('malformed', 'not a signed JWT', { cause: err });
    }
    if (typeof kid !== 'string') throw new TokenVerificationError('unknown_key', 'token has no kid');
    const now = this.clock.now();
    let published = publishedKeys(await this.currentKeys(), now);
    if (!published.has(kid) && now.getTime() - this.lastUnknownKidReload >= UNKNOWN_KID_RELOAD_INTERVAL_MS) {
      this.lastUnknownKidReload = now.getTime();
      published = publishedKeys(await this.reload(), now);
    }
    const jwk = published.get(kid);
    if (jwk === undefined) throw new TokenVerificationError('unknown_key', `no published key has kid ${kid}`);
    const { alg } = usable(jwk);
    // For id_token_hint, judge every other claim at a moment the token was still valid. `exp` is
    // read before the signature check, but a forged `exp` fails that check anyway.
    const expMs = typeof exp === 'number' ? exp * 1000 : Number.NaN;
    const currentDate = options.ignoreExpiry === true && expMs - 1000 < now.getTime() ? new Date(expMs - 1000) : now;
    try {
      const { payload } = await jwtVerify(
        jwt,
        async (header) => {
          // jose would also refuse a CryptoKey of another algorithm, but with a TypeError, not a verdict.
          if (header.alg !== alg)
            throw new TokenVerificationError('algorithm_not_allowed', `kid ${kid} is not an ${header.alg} key`);
          return this.publicKey(jwk, kid, alg);
        },
        {
          issuer: this.issuer,
          audience: options.audience,
          typ: options.typ,
          // Only algorithms of published keys: this refuses `none` and HS256 with a public key as secret.
          algorithms: [...new Set([...published.values()].map((k) => usable(k).alg))],
          currentDate,
          requiredClaims: ['exp'],
        },
      );
      return payload;
    } catch (err: unknown) {
      throw verificationErrorOf(err) ?? err;
    }
  }

  async nextRotation(): Promise<Date> {
    return (await this.currentKeys()).nextRotation;
  }

  signingAlgorithms(): SigningAlgorithm[] {
    const current = this.snapshot === undefined ? undefined : algorithmOf(this.snapshot.keys.signingKeyPub);
    return current === undefined || current === this.algorithm ? [this.algorithm] : [this.algorithm, current];
  }

  startRotation(intervalMs: number): void {
    this.stop();
    this.timer = setInterval(() => {
      // A slow storage must not pile up overlapping rotations.
      if (this.isTimerRotating) return;
      this.isTimerRotating = true;
      this.rotateIfDue()
        .catch((err: unknown) => this.log?.error({ err }, 'signing key rotation failed'))
        .finally(() => {
          this.isTimerRotating = false;
        });
    }, intervalMs);
    // The timer alone must not keep the process alive (graceful shutdown on SIGTERM).
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Checks the stored keys and, when due, replaces them by compare-and-swap. */
  private async rotate(trigger: RotationTrigger): Promise<{ keys: Keys; rotated: boolean }> {
    const stored = await this.storage.getKeys();
    if (stored !== undefined && !isRotationDue(stored, this.clock.now(), trigger, this.policy)) {
      this.adopt(stored);
      return { keys: stored, rotated: false };
    }
    // Generated outside the compare-and-swap: the updater may run more than once and must stay
    // pure. If another replica rotates meanwhile, nextKeys keeps its key and this one is discarded.
    const fresh = await generateSigningKey(this.algorithm);
    const now = this.clock.now();
    const keys = await this.storage.updateKeys((old) => nextKeys(old, fresh, { now, trigger }, this.policy));
    this.adopt(keys);
    // Thumbprints of fresh keys are unique, so this tells whether our updater's result was stored.
    const rotated = keys.signingKeyPub.kid === fresh.kid;
    if (rotated) {
      this.log?.info(
        { kid: fresh.kid, alg: fresh.alg, previousKid: stored?.signingKeyPub.kid, nextRotation: keys.nextRotation },
        stored === undefined ? 'created signing key' : 'rotated signing key',
      );
    }
    return { keys, rotated };
  }

  /** Keys to use now: the cached ones while fresh, else read again. */
  private async currentKeys(): Promise<Keys> {
    const snapshot = this.snapshot;
    const age = this.clock.now().getTime() - (snapshot?.loadedAt ?? Number.NEGATIVE_INFINITY);
    if (snapshot !== undefined && age >= 0 && age < this.keyCacheTtlMs) return snapshot.keys;
    return this.reload();
  }

  /** Reads keys from storage; concurrent callers share one read. */
  private reload(): Promise<Keys> {
    this.loading ??= this.load().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  private async load(): Promise<Keys> {
    // First use without ensureKeys(), or the row vanished: do what a start does.
    if (this.snapshot === undefined) return (await this.rotate('startup')).keys;
    const stored = await this.storage.getKeys();
    if (stored === undefined) return (await this.rotate('startup')).keys;
    this.adopt(stored);
    return stored;
  }

  /** Caches `keys` and forgets imported keys no longer published, so the caches stay bounded. */
  private adopt(keys: Keys): void {
    this.snapshot = { keys, loadedAt: this.clock.now().getTime() };
    const kids = new Set([keys.signingKeyPub.kid, ...keys.verificationKeys.map((v) => v.publicKey.kid)]);
    for (const cache of [this.privateKeys, this.publicKeys]) {
      for (const kid of cache.keys()) if (!kids.has(kid)) cache.delete(kid);
    }
  }

  private async publicKey(jwk: JWK, kid: string, alg: SigningAlgorithm): Promise<CryptoKey> {
    let key = this.publicKeys.get(kid);
    if (key === undefined) {
      key = await importAsymmetric(publicProjection(jwk), alg);
      this.publicKeys.set(kid, key);
    }
    return key;
  }
}

/** Current public key first, then retired keys whose expiry has not passed, by kid. */
function publishedKeys(keys: Keys, now: Date): Map<string, JWK> {
  const out = new Map<string, JWK>();
  for (const jwk of [
    keys.signingKeyPub,
    ...keys.verificationKeys.filter((v) => v.expiry.getTime() > now.getTime()).map((v) => v.publicKey),
  ]) {
    if (jwk.kid !== undefined && !out.has(jwk.kid)) out.set(jwk.kid, jwk);
  }
  return out;
}

/** The `kid` and `alg` of a stored key; a stored key without them is a storage bug, not a bad token. */
function usable(jwk: JWK): { kid: string; alg: SigningAlgorithm } {
  const alg = algorithmOf(jwk);
  if (jwk.kid === undefined || alg === undefined)
    throw new Error(`stored key ${String(jwk.kid)} has no usable kid or alg`);
  return { kid: jwk.kid, alg };
}

async function importAsymmetric(jwk: JWK, alg: SigningAlgorithm): Promise<CryptoKey> {
  // Non-extractable: once imported, even code holding the CryptoKey cannot read the private key out.
  const key = await importJWK(jwk, alg, { extractable: false });
  if (key instanceof Uint8Array) throw new TypeError(`key ${String(jwk.kid)} is symmetric`);
  return key;
}
