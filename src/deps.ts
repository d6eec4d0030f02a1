/** Time, randomness and fetch, injected so expiry, rotation and upstream calls are testable without sleeping. */
import { randomBytes } from 'node:crypto';

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

export const defaultDeps: Deps = { clock: systemClock, randomBytes, fetch: globalThis.fetch };

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
