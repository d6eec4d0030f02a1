/**
 * What SQL backends share about schema migrations: numbering and the refusal to open a newer schema.
 * Each backend keeps its own migration list and applies one migration per transaction, re-reading the
 * version under its write lock, so two processes starting at once never apply a migration twice.
 */

/** One numbered schema change. `up` runs inside the transaction that also records `version`. */
export interface Migration<Db, Result = void> {
  /** 1 for the first migration, then consecutive. */
  readonly version: number;
  /** What the migration changes and why, for logs and readers of the list. */
  readonly description: string;
  readonly up: (db: Db) => Result;
}

/** Thrown when the database was migrated by a newer idport; opening it could corrupt data the newer code relies on. */
export class SchemaTooNewError extends Error {
  constructor(
    readonly found: number,
    readonly supported: number,
  ) {
    super(`database schema version ${found} is newer than this idport supports (${supported}); upgrade idport`);
    this.name = 'SchemaTooNewError';
  }
}

/** Returns the latest version of a migration list, after checking it is numbered 1, 2, 3… with no gaps. */
export function latestVersion(migrations: readonly Migration<never, unknown>[]): number {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration at position ${i} has version ${m.version}, expected ${i + 1}`);
  });
  return migrations.length;
}

/**
 * The migration to apply to a database at `current`, or undefined when it is at `target` already.
 * Throws SchemaTooNewError when `current` is beyond the list, so an old binary never writes to a newer schema.
 */
export function nextMigration<M extends Migration<never, unknown>>(
  current: number,
  migrations: readonly M[],
  target: number = latestVersion(migrations),
): M | undefined {
  const latest = latestVersion(migrations);
  if (current > latest) throw new SchemaTooNewError(current, latest);
  if (!Number.isInteger(target) || target < 0 || target > latest)
    throw new RangeError(`no migration to version ${target}`);
  return current >= target ? undefined : migrations[current];
}
