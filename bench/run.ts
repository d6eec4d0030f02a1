/**
 * `npm run bench`: idport side by side with node-oidc-provider 9 (issue 15). Both run in their own processes
 * (idport through `node bin/idport.js serve <config>`, the compiled build); wrk drives them from a third, one thread
 * and 32 connections on loopback, in alternating rounds; the signing ceiling of jose is measured in the same run.
 * Prints a table of req/s, p50, p99, the ratio and each target of the issue with PASS or FAIL.
 *
 *   npm run bench                                   # everything, SQLite then PostgreSQL
 *   npm run bench -- --quick                        # shorter rounds: a few minutes
 *   npm run bench -- --only client_credentials      # a subset (repeat --only, or a comma list)
 *   npm run bench -- --no-postgres                  # SQLite only
 *   npm run bench -- --leak                         # only the leak check (1,000,000 tokens)
 *
 * BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test) is where PostgreSQL runs; each idport gets a
 * fresh schema there, dropped at the end.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { leakScenario } from './lib/leak.js';
import { DEFAULT_POSTGRES_URL, openSchemas, statementsPerGrant } from './lib/postgres.js';
import { log, type Settings } from './lib/rounds.js';
import { runGroup, SCENARIOS, startScenario, type Context, type Scenario } from './lib/scenarios.js';
import { repo } from './lib/servers.js';
import { formatTable, type Row } from './lib/table.js';
import { requireWrk } from './lib/wrk.js';

const { values } = parseArgs({
  options: {
    only: { type: 'string', multiple: true },
    quick: { type: 'boolean', default: false },
    leak: { type: 'boolean', default: false },
    'no-postgres': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(`npm run bench -- [--quick] [--only ${SCENARIOS.join('|')}]... [--no-postgres] [--leak]`);
  process.exit(0);
}
const only = (values.only ?? []).flatMap((v) => v.split(',')).filter((v) => v !== '');
const unknown = only.filter((v) => !(SCENARIOS as readonly string[]).includes(v));
if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')} (known: ${SCENARIOS.join(', ')})`);
const wanted = (scenario: Scenario): boolean => only.length === 0 || only.includes(scenario);

requireWrk();
log('building idport if needed (scripts/ensure-build.mjs)');
if (spawnSync(process.execPath, ['scripts/ensure-build.mjs'], { cwd: repo, stdio: 'inherit' }).status !== 0)
  throw new Error('the build failed');

const dir = mkdtempSync(join(tmpdir(), 'idport-bench-run-'));
const settings: Settings = values.quick
  ? { seconds: 3, warmupSeconds: 1, rounds: 2, flowRounds: 2, flowSeconds: 3, dir }
  : { seconds: 10, warmupSeconds: 2, rounds: 3, flowRounds: 2, flowSeconds: 6, dir };
const started = new Date();
const load = loadavg()
  .map((l) => l.toFixed(2))
  .join(' ');

const runAll = async (rows: Row[]): Promise<void> => {
  const context: Context = { settings, wanted, ceilingSeconds: values.quick ? 3 : 5, rows };
  if (wanted('start')) await startScenario(context, { kind: 'sqlite' });
  await runGroup(context, { kind: 'sqlite' }, 'RS256');
  await runGroup(context, { kind: 'sqlite' }, 'ES256');
  if (values['no-postgres']) return;
  const url = process.env.BENCH_POSTGRES_URL ?? DEFAULT_POSTGRES_URL;
  const schemas = await openSchemas(url);
  try {
    if (wanted('start')) await startScenario(context, await schemas.fresh());
    await runGroup(context, await schemas.fresh(), 'RS256');
    await runGroup(context, await schemas.fresh(), 'ES256');
    if (wanted('statements')) rows.push(...(await statementsPerGrant(schemas, url)));
  } finally {
    await schemas.dropAll();
  }
};

const rows: Row[] = [];
try {
  if (values.leak) rows.push(...(await leakScenario()));
  else await runAll(rows);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const cpu = cpus()[0]?.model ?? 'unknown CPU';
console.log(
  `\nidport bench, ${started.toISOString()}; ${cpus().length} cores (${cpu}), load average at start ${load}, ` +
    `node ${process.version}; wrk -t1 -c32; side by side: ${settings.rounds} alternating rounds of ${settings.seconds} s ` +
    `per side; idport alone: ${settings.flowRounds} rounds of ${settings.flowSeconds} s; medians\n`,
);
console.log(formatTable(rows));
if (rows.some((row) => row.pass === false)) process.exitCode = 1;
