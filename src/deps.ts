/** Time, randomness and fetch, injected so expiry, rotation and upstream calls are testable without sleeping. */
import { randomBytes, randomFillSync } from 'node:crypto';

export interface Clock {
  now(): Date;
}

export interface Deps {
  readonly clock: Clock;
  /** CSPRNG bytes; tests may swap it only for determinism, never for production. */
  readonly randomBytes: (size: number) => Buffer;
  readonly fetch: typeof fetch;
}

export const systemClock: Clock = { now: () => new Date() };

/** Bytes read from the CSPRNG at a time by `pooledRandomBytes`. */
const RANDOM_POOL_BYTES = 4096;
/** Requests above this size go to the CSPRNG directly. */
const RANDOM_POOL_MAX_REQUEST = 256;

/**
 * CSPRNG bytes served from a pool filled 4 KiB at a time, each byte handed out once and copied out of the pool.
 * Every token, code and jti is 32 random bytes, and a call into the CSPRNG costs about as much for 32 bytes as for
 * 4 KiB: one fill serves 128 of them (a token grant asked twice, 5 % of its time, issue 15). Node pools
 * randomUUID() the same way.
 */
export const pooledRandomBytes = (): ((size: number) => Buffer) => {
  const pool = Buffer.allocUnsafe(RANDOM_POOL_BYTES);
  let offset = RANDOM_POOL_BYTES;
  return (size) => {
    if (size > RANDOM_POOL_MAX_REQUEST) return randomBytes(size);
    if (offset + size > RANDOM_POOL_BYTES) {
      randomFillSync(pool);
      offset = 0;
    }
    const bytes = Buffer.from(pool.subarray(offset, offset + size));
    // Wiped as it is handed out, so the pool never holds a copy of a secret already issued.
    pool.fill(0, offset, offset + size);
    offset += size;
    return bytes;
  };
};

export const defaultDeps: Deps = { clock: systemClock, randomBytes: pooledRandomBytes(), fetch: globalThis.fetch };

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  private current: number;
  constructor(start: Date | number = Date.UTC(2026, 0, 1)) {
    this.current = typeof start === 'number' ? start : start.getTime();
  }
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): void {
    this.current += ms;
  }
  set(at: Date): void {
    this.current = at.getTime();
  }
}
