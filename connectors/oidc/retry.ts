/**
 * Loads something from an upstream that may be down (the OIDC discovery document), retrying in the
 * background with capped exponential backoff, so idport starts and serves its other connectors while
 * this one's upstream is unreachable. Retry timers are unref'd (they never keep the process alive)
 * and close() stops them and aborts the attempt in flight.
 */
import type { Logger } from 'pino';

/** How often to retry: the first delay, doubled after each failure up to the cap. */
export interface RetryPolicy {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** How long a caller of get() waits for an attempt in flight (a silent upstream can take the whole request timeout). */
  readonly maxWaitMs: number;
}

/** Production policy: retry after 1 s, then 2, 4 … up to once a minute; a login waits at most 3 s. */
export const DEFAULT_RETRY: RetryPolicy = { initialDelayMs: 1_000, maxDelayMs: 60_000, maxWaitMs: 3_000 };

interface RetryingLoaderParts<T> {
  readonly load: (signal: AbortSignal) => Promise<T>;
  readonly policy: RetryPolicy;
  readonly log: Logger;
  readonly now: () => Date;
  /** In [0, 1); spreads retries of many replicas so a recovering upstream is not hit at once. */
  readonly random?: () => number;
}

/** A value loaded once, retried until it loads. */
export class RetryingLoader<T> {
  private value: T | undefined;
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private lastAttemptAt = Number.NEGATIVE_INFINITY;
  private readonly closing = new AbortController();

  private readonly load: (signal: AbortSignal) => Promise<T>;
  private readonly policy: RetryPolicy;
  private readonly log: Logger;
  private readonly now: () => Date;
  private readonly random: () => number;

  constructor(parts: RetryingLoaderParts<T>) {
    this.load = parts.load;
    this.policy = parts.policy;
    this.log = parts.log;
    this.now = parts.now;
    this.random = parts.random ?? Math.random;
  }

  /** Starts the first attempt without waiting for it. */
  start(): void {
    void this.attempt();
  }

  /** The loaded value, or undefined while the upstream has not answered. */
  get current(): T | undefined {
    return this.value;
  }

  /**
   * The value, trying once more now if the last attempt is at least one initial delay old, so a
   * user arriving after the upstream came back does not wait for the next scheduled retry. Waits
   * for an attempt in flight at most `maxWaitMs`; it carries on in the background after that.
   */
  async get(): Promise<T | undefined> {
    if (this.value !== undefined || this.closing.signal.aborted) return this.value;
    if (this.inFlight === undefined && this.now().getTime() - this.lastAttemptAt >= this.policy.initialDelayMs) {
      void this.attempt();
    }
    const inFlight = this.inFlight;
    if (inFlight !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      // Not unref'd, unlike the retry timer: a caller is waiting on it, as on any request timeout.
      const gaveUp = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.policy.maxWaitMs);
      });
      await Promise.race([inFlight, gaveUp]);
      clearTimeout(timer);
    }
    return this.value;
  }

  /** Stops retrying and aborts the attempt in flight. */
  close(): void {
    this.closing.abort(new Error('connector closed'));
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private attempt(): Promise<void> {
    if (this.value !== undefined || this.closing.signal.aborted) return Promise.resolve();
    this.inFlight ??= this.run().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async run(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.lastAttemptAt = this.now().getTime();
    try {
      this.value = await this.load(this.closing.signal);
      if (this.failures > 0) this.log.info({ failures: this.failures }, 'upstream reachable again');
      this.failures = 0;
    } catch (err: unknown) {
      if (this.closing.signal.aborted) return;
      this.failures += 1;
      const base = Math.min(this.policy.maxDelayMs, this.policy.initialDelayMs * 2 ** (this.failures - 1));
      const delay = Math.round(base * (0.8 + 0.4 * this.random())); // ±20 % jitter
      this.log.warn({ err, failures: this.failures, retryInMs: delay }, 'upstream not reachable; retrying');
      this.timer = setTimeout(() => void this.attempt(), delay);
      this.timer.unref();
    }
  }
}
