/**
 * bcrypt for password logins and `idport hash-password`: the native `bcrypt` package, whose hash and compare run
 * on the libuv threadpool, so the event loop keeps answering /token, probes and pages while logins are checked.
 * A small gate bounds how many comparisons run at once (leaving threadpool threads and a CPU core for everything
 * else), how many may wait and for how long; past either a login is refused as temporarily unavailable instead of
 * queueing until the client's connection times out.
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
/**
 * The longest a password check waits for a slot before it is refused as temporarily unavailable, like a full queue.
 * Under a storm of slow guesses the queue can hold more work than a client will wait for, and a request that waits
 * silently is cut off by the socket's idle timeout (src/app.ts CONNECTION_TIMEOUT_MS, 30 s: nothing is sent while
 * it waits) with no answer at all. This wait plus one comparison (cost 16 at most, a few seconds) stays well under
 * that timeout, so every login gets an answer; src/app.ts checks the relation at startup.
 */
export const BCRYPT_MAX_QUEUE_WAIT_MS = 10_000;

/** Starts a one-shot timer and returns its cancel; tests pass one they fire by hand. */
export type StartTimer = (ms: number, fire: () => void) => () => void;

const realTimer: StartTimer = (ms, fire) => {
  // Unref'd: a waiting login must not keep a stopping process alive.
  const timer = setTimeout(fire, ms).unref();
  return () => clearTimeout(timer);
};

export interface WorkGateOptions {
  /** Tasks running at once. */
  readonly concurrency: number;
  /** Tasks allowed to wait for a slot; more are refused at once. */
  readonly queueLimit: number;
  /** How long a task may wait for a slot; then it is refused (BCRYPT_MAX_QUEUE_WAIT_MS says why). */
  readonly maxWaitMs: number;
  /** The timer bounding each wait (a real one by default). */
  readonly startTimer?: StartTimer;
}

/** The refusal for a task that cannot get a slot: temporary, so every route answers "try again later". */
const busy = (reason: string): ConnectorError =>
  new ConnectorError(reason, 'Too many logins at once. Try again in a moment.', { temporary: true });

interface Waiter {
  /** Hands the waiter a slot. */
  readonly admit: () => void;
}

/** A counting semaphore with a bounded wait queue and a bounded wait. */
export class WorkGate {
  readonly concurrency: number;
  readonly queueLimit: number;
  readonly maxWaitMs: number;
  private readonly startTimer: StartTimer;
  private running = 0;
  private readonly waiting: Waiter[] = [];
  constructor(options: WorkGateOptions) {
    this.concurrency = options.concurrency;
    this.queueLimit = options.queueLimit;
    this.maxWaitMs = options.maxWaitMs;
    this.startTimer = options.startTimer ?? realTimer;
  }

  /**
   * Runs `work` when a slot is free; rejects with a temporary ConnectorError when the queue is full or no slot
   * came within `maxWaitMs` (then `work` never runs).
   */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) await this.waitForSlot();
    else this.running++;
    try {
      return await work();
    } finally {
      // Hand the slot straight to the next waiter, so `running` never dips and a newcomer cannot jump the queue.
      const next = this.waiting.shift();
      if (next === undefined) this.running--;
      else next.admit();
    }
  }

  private waitForSlot(): Promise<void> {
    if (this.waiting.length >= this.queueLimit) return Promise.reject(busy('password check queue is full'));
    return new Promise<void>((resolve, reject) => {
      let cancel = (): void => undefined;
      const waiter: Waiter = {
        admit: () => {
          cancel();
          resolve();
        },
      };
      this.waiting.push(waiter);
      cancel = this.startTimer(this.maxWaitMs, () => {
        const at = this.waiting.indexOf(waiter);
        if (at < 0) return; // admitted meanwhile
        this.waiting.splice(at, 1);
        reject(busy(`password check waited ${this.maxWaitMs} ms for a slot`));
      });
    });
  }

  /** Comparisons running and waiting, for tests and metrics. */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }
}

const gate = new WorkGate({
  concurrency: BCRYPT_CONCURRENCY,
  queueLimit: BCRYPT_QUEUE_LIMIT,
  maxWaitMs: BCRYPT_MAX_QUEUE_WAIT_MS,
});

/**
 * `$2y$` (PHP, htpasswd) is crypt_blowfish's name for the same algorithm as `$2b$`, which Dex (Go) accepts but the
 * native library does not parse; `$2a$` and `$2b$` pass unchanged.
 */
export const nativeHashForm = (hash: string): string => (hash.startsWith('$2y$') ? `$2b$${hash.slice(4)}` : hash);

/**
 * Compares on the threadpool through `through`. A password with a NUL character never matches: the native library
 * reads the password as a C string and would compare only the part before the NUL.
 */
export const gatedCompare =
  (through: WorkGate): BcryptCompare =>
  async (password, hash) => {
    const matches = await through.run(() => bcrypt.compare(password, nativeHashForm(hash)));
    return matches && !password.includes('\0');
  };

/** Compares through the process's one gate. */
export const compareBcrypt: BcryptCompare = gatedCompare(gate);

/** A new `$2b$` hash of `password` at `cost`, computed on the threadpool. */
export const hashBcrypt = (password: string, cost: number): Promise<string> =>
  gate.run(() => bcrypt.hash(password, cost));
