/**
 * The pool and the one place driver failures become the storage contract's errors. Statements run
 * through `Database.run` (one connection, no transaction) or `Database.transaction` (READ COMMITTED,
 * retried a bounded number of times on serialization failures and deadlocks). Errors thrown by
 * the caller's code inside a transaction pass through unchanged.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DatabaseError, type ClientBase, type Pool, type PoolClient, type QueryResultRow } from 'pg';
import { AlreadyExistsError, StorageUnavailableError } from '../storage.js';

/** SQLSTATEs that mean "run the transaction again": serialization_failure and deadlock_detected. */
const RETRYABLE = new Set(['40001', '40P01']);
const UNIQUE_VIOLATION = '23505';
/** Attempts for a transaction that keeps hitting RETRYABLE; more would be Dex's retry storm (dexidp/dex#1341). */
const MAX_ATTEMPTS = 5;

/**
 * What the log sees of a driver error: code and message. The server's `detail` repeats row values
 * ("Key (email)=(…) already exists"), which must not reach the log.
 */
export class PostgresError extends Error {
  readonly code: string | undefined;
  constructor(err: unknown) {
    super(err instanceof Error ? err.message : String(err));
    this.name = 'PostgresError';
    this.code =
      err instanceof DatabaseError
        ? err.code
        : typeof err === 'object' && err !== null && 'code' in err
          ? String(err.code)
          : undefined;
  }
}

/** A failure of the driver or the server, as opposed to one thrown by our code or the caller's. */
export class DriverFailure extends Error {
  /** True when the server answered (the connection is still usable); false for network and timeout failures. */
  readonly answered: boolean;
  readonly code: string | undefined;
  constructor(err: unknown) {
    super('postgres driver failure', { cause: new PostgresError(err) });
    this.answered = err instanceof DatabaseError;
    this.code = err instanceof DatabaseError ? err.code : undefined;
  }
}

/** Whether `err` is a serialization failure or a deadlock: another writer won, and running again can succeed. */
export const lostToAnotherWriter = (err: unknown): boolean =>
  err instanceof DriverFailure && err.code !== undefined && RETRYABLE.has(err.code);

/** A statement runner bound to one checked-out connection; driver errors come out as DriverFailure. */
export type Query = <R extends QueryResultRow = QueryResultRow>(
  text: string,
  values?: unknown[],
) => Promise<{ rows: R[]; rowCount: number }>;

/** Wraps a connection's `query` so that driver errors come out as DriverFailure. */
export const queryOn =
  (client: ClientBase): Query =>
  async <R extends QueryResultRow>(text: string, values?: unknown[]) => {
    try {
      const result = await client.query<R>(text, values);
      return { rows: result.rows, rowCount: result.rowCount ?? 0 };
    } catch (err: unknown) {
      throw new DriverFailure(err);
    }
  };

/** The pool behind one storage; `what` and `action` name the operation in error messages ("get client"). */
export class Database {
  private isClosed = false;

  constructor(private readonly pool: Pool) {
    // An idle connection the server dropped (restart, failover, cut link) is removed by the pool,
    // which then emits 'error'; without a listener that would crash the process.
    pool.on('error', () => undefined);
  }

  /** Runs `use` on one connection outside a transaction. */
  async run<R>(what: string, action: string, use: (query: Query) => Promise<R>): Promise<R> {
    try {
      return await this.withClient(use, false);
    } catch (err: unknown) {
      throw contractError(err, what, action);
    }
  }

  /**
   * Runs `body` inside `BEGIN ISOLATION LEVEL READ COMMITTED … COMMIT`. Row locks (`FOR UPDATE`) make
   * it a compare-and-swap; READ COMMITTED is explicit so a server default of SERIALIZABLE cannot turn
   * lock waits into serialization failures. `body` may run again after 40001/40P01, up to MAX_ATTEMPTS.
   */
  async transaction<R>(what: string, action: string, body: (query: Query) => Promise<R>): Promise<R> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.withClient(async (query) => {
          await query('BEGIN ISOLATION LEVEL READ COMMITTED');
          const result = await body(query);
          await query('COMMIT');
          return result;
        }, true);
      } catch (err: unknown) {
        if (lostToAnotherWriter(err) && attempt < MAX_ATTEMPTS) {
          // Jitter, so the transactions that collided do not collide again in lockstep.
          await sleep(Math.random() * 10 * attempt);
          continue;
        }
        throw contractError(err, what, action);
      }
    }
  }

  /** Ends the pool; later calls fail with StorageUnavailableError. A second close does nothing. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    await this.pool.end();
  }

  private async withClient<R>(use: (query: Query) => Promise<R>, inTransaction: boolean): Promise<R> {
    if (this.isClosed) throw new StorageUnavailableError('postgres storage is closed');
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err: unknown) {
      throw new DriverFailure(err);
    }
    // While checked out, the pool does not listen for errors on the connection; a drop between two
    // statements would otherwise be an unhandled 'error' event.
    const ignore = (): void => undefined;
    client.on('error', ignore);
    let broken = false;
    try {
      return await use(queryOn(client));
    } catch (err: unknown) {
      broken = err instanceof DriverFailure && !err.answered;
      if (inTransaction && !broken)
        broken = !(await client.query('ROLLBACK').then(
          () => true,
          () => false,
        ));
      throw err;
    } finally {
      client.off('error', ignore);
      // A connection whose statement timed out on our side may still be busy; never reuse it.
      client.release(broken);
    }
  }
}

/** Maps a DriverFailure to AlreadyExistsError or StorageUnavailableError; any other error is returned as it is. */
export function contractError(err: unknown, what: string, action: string): unknown {
  if (!(err instanceof DriverFailure)) return err;
  if (err.code === UNIQUE_VIOLATION) return new AlreadyExistsError(what, { cause: err.cause });
  return new StorageUnavailableError(`postgres: ${action} ${what} failed`, { cause: err.cause });
}
