/**
 * PostgreSQL for tests: the database named by TEST_POSTGRES_URL, with a fresh schema for each storage
 * a test opens, so runs (and parallel test files) never see each other's rows. Schemas are dropped
 * when the test file ends. Without the URL, tests skip locally; in CI (CI=true) they fail instead,
 * because a skip there would hide that PostgreSQL was never tested.
 */
import { randomBytes } from 'node:crypto';
import { after } from 'node:test';
import { Client } from 'pg';

/** The database URL from TEST_POSTGRES_URL, or undefined. */
export const postgresUrl: string | undefined =
  process.env.TEST_POSTGRES_URL === '' ? undefined : process.env.TEST_POSTGRES_URL;

const isCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';

if (postgresUrl === undefined && isCi) {
  // Thrown at import, so the test file fails with this message instead of skipping.
  throw new Error('TEST_POSTGRES_URL is not set, but CI is: PostgreSQL tests must run in CI (see .ci/run)');
}

/** `skip` option for describe/it: a reason when PostgreSQL is not configured (never in CI), else false. */
export const postgresSkip: string | false = postgresUrl === undefined ? 'TEST_POSTGRES_URL not set' : false;

/** The URL, for code that runs only when the tests are not skipped. */
export const requirePostgresUrl = (): string => {
  if (postgresUrl === undefined) throw new Error('TEST_POSTGRES_URL not set');
  return postgresUrl;
};

/** Runs SQL as the test user on the test database (not in any test schema unless the SQL names it). */
export async function adminQuery<R extends Record<string, unknown> = Record<string, unknown>>(
  text: string,
  values?: unknown[],
): Promise<R[]> {
  const client = new Client({ connectionString: requirePostgresUrl() });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

const created = new Set<string>();
// Registered at import, on the file's root test: registering from inside a hook would attach it to that hook's test.
after(async () => {
  // Names handed out by a skipped file (no database configured) were never created.
  if (created.size === 0 || postgresUrl === undefined) return;
  // One statement: each DROP SCHEMA needs catalog locks, and a round trip per schema adds up.
  await adminQuery(`DROP SCHEMA IF EXISTS ${[...created].join(', ')} CASCADE`);
  created.clear();
});

/**
 * A new, unused schema name, dropped (with everything in it) when the test file ends. The schema
 * itself is not created: openPostgres({ schema }) creates it, as a first start would.
 */
export function freshSchema(label = 't'): string {
  const name = `idport_${label}_${process.pid}_${randomBytes(4).toString('hex')}`;
  created.add(name);
  return name;
}

/** Creates a fresh schema now (for configs that name it only in the URL's search_path) and returns its name. */
export async function createSchema(label = 't'): Promise<string> {
  const name = freshSchema(label);
  await adminQuery(`CREATE SCHEMA ${name}`);
  return name;
}

/** The test URL with `search_path` set to `schema` through libpq's `options`, as an operator's YAML would do it. */
export const urlWithSchema = (schema: string): string => {
  const url = new URL(requirePostgresUrl());
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.href;
};
