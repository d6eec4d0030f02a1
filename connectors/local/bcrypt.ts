/**
 * bcrypt for password logins and `idport hash-password`: the native `bcrypt` package, whose hash and compare run
 * on the libuv threadpool, so the event loop keeps answering /token, probes and pages while logins are checked.
 * A small gate bounds how many comparisons run at once (leaving threadpool threads and a CPU core for everything
 * else) and how many may wait; past that a login is refused as temporarily unavailable instead of queueing forever.
 */
import { availableParallelism } from 'node:os';
import bcrypt from 'bcrypt';
import { ConnectorError } from '../connector.js';

/** Checks a password against a bcrypt hash. */
export type BcryptCompare = (password: string, hash: string) => Promise<boolean>;

// libuv's default threadpool has 4 threads and also serves fs, dns and zlib; keep at least two for them, and one
// CPU core for the event loop.
const threadpoolSize = Number(process.env['UV_THREADPOOL_SIZE'] ?? '4') || 4;
/** Comparisons running at once. */
export const BCRYPT_CONCURRENCY = Math.max(1, Math.min(threadpoolSize - 2, availableParallelism() - 1));
/** Comparisons allowed to wait for a slot; more are refused (a cost-10 check takes about 50 ms, so ~25 s of work). */
export const BCRYPT_QUEUE_LIMIT = 512;

/** A counting semaphore with a bounded wait queue. */
export class WorkGate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(
    readonly concurrency: number,
    readonly queueLimit: number,
  ) {}

  /** Runs `work` when a slot is free; rejects with a temporary ConnectorError when the queue is full. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.queueLimit) {
        throw new ConnectorError('password check queue is full', 'Too many logins at once. Try again in a moment.', {
          temporary: true,
        });
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await work();
    } finally {
      // Hand the slot straight to the next waiter, so `running` never dips and a newcomer cannot jump the queue.
      const next = this.waiting.shift();
      if (next === undefined) this.running--;
      else next();
    }
  }

  /** Comparisons running and waiting, for tests and metrics. */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }
}

const gate = new WorkGate(BCRYPT_CONCURRENCY, BCRYPT_QUEUE_LIMIT);

/**
 * `$2y$` (PHP, htpasswd) is crypt_blowfish's name for the same algorithm as `$2b$`, which Dex (Go) accepts but the
 * native library does not parse; `$2a$` and `$2b$` pass unchanged.
 */
export const nativeHashForm = (hash: string): string => (hash.startsWith('$2y$') ? `$2b$${hash.slice(4)}` : hash);

/**
 * Compares on the threadpool through the gate. A password with a NUL character never matches: the native library
 * reads the password as a C string and would compare only the part before the NUL.
 */
export const compareBcrypt: BcryptCompare = async (password, hash) => {
  const matches = await gate.run(() => bcrypt.compare(password, nativeHashForm(hash)));
  return matches && !password.includes('\0');
};

/** A new `$2b$` hash of `password` at `cost`, computed on the threadpool. */
export const hashBcrypt = (password: string, cost: number): Promise<string> =>
  gate.run(() => bcrypt.hash(password, cost));
