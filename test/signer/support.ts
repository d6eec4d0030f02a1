/** Shared setup for the signer tests: a manual clock, memory storage and storage wrappers that count or retry. */
import type { JWTPayload } from 'jose';
import type { Keys, Storage } from '../../storage/storage.js';
import { openMemory } from '../../storage/memory/memory.js';
import { ManualClock } from '../../src/deps.js';
import { createSigner, type Signer, type SignerOptions } from '../../src/signer/signer.js';

export const issuer = 'https://idport.example.com/dex';
export const HOUR = 60 * 60 * 1000;
export const MINUTE = 60 * 1000;

/** Signer options as the server would pass them: 6 h rotation, 1 h tokens; ES256 because RSA key generation is slow. */
export function signerOptions(overrides: Partial<SignerOptions> = {}): SignerOptions {
  return {
    storage: overrides.storage ?? openMemory(),
    clock: overrides.clock ?? new ManualClock(),
    issuer,
    algorithm: 'ES256',
    rotationPeriodMs: 6 * HOUR,
    idTokenTtlMs: HOUR,
    ...overrides,
  };
}

/** A signer on fresh memory storage, with its clock and storage for the test to drive. */
export function newSigner(overrides: Partial<SignerOptions> = {}): {
  signer: Signer;
  clock: ManualClock;
  storage: Storage;
} {
  const clock = overrides.clock instanceof ManualClock ? overrides.clock : new ManualClock();
  const storage = overrides.storage ?? openMemory();
  return { signer: createSigner(signerOptions({ ...overrides, clock, storage })), clock, storage };
}

/** Claims of an ID token issued at the clock's time, living `ttlMs`. */
export function idTokenClaims(clock: ManualClock, ttlMs = HOUR, extra: JWTPayload = {}): JWTPayload {
  const iat = Math.floor(clock.now().getTime() / 1000);
  return { iss: issuer, sub: 'CgcyMzQyNzQ5EgZnaXRodWI', aud: 'example-app', iat, exp: iat + ttlMs / 1000, ...extra };
}

/** How often the wrapped storage was read and written, and how often updaters ran. */
export interface KeyCounts {
  getKeys: number;
  updateKeys: number;
  updaterRuns: number;
}

/**
 * Wraps `base` so key reads and writes are counted. With `retries`, every update runs the updater
 * that many extra times first and discards those results, as a SQL backend does after a conflict.
 */
export function instrumented(base: Storage, retries = 0): { storage: Storage; counts: KeyCounts } {
  const counts: KeyCounts = { getKeys: 0, updateKeys: 0, updaterRuns: 0 };
  const storage: Storage = Object.create(base) as Storage;
  Object.assign(storage, {
    getKeys: async (): Promise<Keys | undefined> => {
      counts.getKeys++;
      return base.getKeys();
    },
    updateKeys: async (update: (old: Keys | undefined) => Keys): Promise<Keys> => {
      counts.updateKeys++;
      return base.updateKeys((old) => {
        for (let i = 0; i < retries; i++) {
          counts.updaterRuns++;
          update(old === undefined ? undefined : structuredClone(old));
        }
        counts.updaterRuns++;
        return update(old);
      });
    },
  });
  return { storage, counts };
}
