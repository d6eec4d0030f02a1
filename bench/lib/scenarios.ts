/** The scenarios of `npm run bench`, each producing rows of the table with the targets (issue 15). */
import {
  alone,
  clientCredentialsLoad,
  codeLoad,
  discoveryLoad,
  jwksLoad,
  log,
  logins,
  measureCeiling,
  mintCodes,
  refreshLoad,
  seedRefreshTokens,
  sideBySide,
  type Load,
  type Settings,
} from './rounds.js';
import {
  PASSWORD_HASH,
  startFloor,
  startIdport,
  startOidcProvider,
  type Algorithm,
  type Running,
  type Storage,
} from './servers.js';
import { mainBudgetMs, rateAtZeroMain, type CpuSplit } from './cpu.js';
import { mb, NONE, percent, rate, ratio, type Row } from './table.js';
import type { Measured } from './wrk.js';

export const SCENARIOS = [
  'start',
  'discovery',
  'jwks',
  'client_credentials',
  'authorization_code',
  'refresh_token',
  'browser_login',
  'password_login',
  'statements',
] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface Context {
  readonly settings: Settings;
  readonly wanted: (scenario: Scenario) => boolean;
  /** Seconds the signing ceiling is measured for. */
  readonly ceilingSeconds: number;
  readonly rows: Row[];
}

const label = (storage: Storage, text: string): string => (storage.kind === 'postgres' ? `${text}, PostgreSQL` : text);

const failureNote = (idport: Measured, op?: Measured): string | undefined =>
  [idport.note && `idport: ${idport.note}`, op?.note && `oidc-provider: ${op.note}`].filter(Boolean).join('; ') ||
  undefined;

/** A row for a side-by-side measurement; a round with failures fails the row whatever the target says. */
const pairRow = (scenario: string, pair: [Measured, Measured], target: string, pass: boolean | undefined): Row => ({
  scenario,
  idport: rate(pair[0]),
  oidcProvider: rate(pair[1]),
  ratio: ratio(pair[0].perSecond, pair[1].perSecond),
  target,
  pass: pair[0].failures + pair[1].failures > 0 ? false : pass,
  note: failureNote(pair[0], pair[1]),
});

/**
 * What idport's CPU went to per request in a measurement's rounds, and the most its main thread may spend per request
 * for each of `targets` (requests a second) on this machine: the arithmetic behind a signing-bound target, measured.
 */
const cpuNote = (cpu: CpuSplit | undefined, targets: readonly [string, number][]): string | undefined => {
  if (cpu === undefined) return undefined;
  const ms = (value: number): string => `${value.toFixed(3)} ms`;
  const budgets = targets.map(([name, target]) => {
    // The main thread is one thread: it can never spend more than a second per second.
    const budget = Math.min(mainBudgetMs(cpu, target), 1000 / target);
    return `${name} (${target.toFixed(0)}/s) needs main ≤ ${budget <= 0 ? '0, out of reach' : ms(budget)}`;
  });
  return [
    `idport CPU per request: main thread ${ms(cpu.mainMs)}, other threads (signing pool, GC) ${ms(cpu.otherThreadsMs)}, ` +
      `rest of the machine (wrk, kernel) ${ms(cpu.restMs)}; ${cpu.busyCores.toFixed(2)} of ${cpu.cores} cores busy`,
    `at zero main-thread cost ≤ ${rateAtZeroMain(cpu).toFixed(0)}/s`,
    ...budgets,
  ].join('; ');
};

/** A row with another note after the one it has. */
const withNote = (row: Row, note: string | undefined): Row =>
  note === undefined ? row : { ...row, note: row.note === undefined ? note : `${row.note}; ${note}` };

const aloneRow = (scenario: string, m: Measured, target: string, pass: boolean | undefined): Row => ({
  scenario,
  idport: rate(m),
  oidcProvider: NONE,
  ratio: '',
  target,
  pass: m.failures > 0 ? false : pass,
  note: failureNote(m),
});

const START_SPAWNS = 7;

/** Start (spawn to first discovery answer) and RSS right after, fresh storage each time, alternating spawns. */
export const startScenario = async (context: Context, storage: Storage): Promise<void> => {
  const spawns: [Running[], Running[]] = [[], []];
  // Both sides search for a 2048-bit RSA key at start, which takes a random time (on a machine with slow RSA,
  // 100-900 ms): a median of 3 spawns moved by 20 % between runs, so 7.
  for (let round = 0; round < START_SPAWNS; round++) {
    const idport = await startIdport(storage, 'RS256');
    await idport.stop();
    spawns[0].push(idport);
    if (storage.kind === 'postgres') continue;
    const op = await startOidcProvider('RS256');
    await op.stop();
    spawns[1].push(op);
  }
  const med = (values: number[]): number => values.sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
  const start = spawns.map((runs) => med(runs.map((r) => r.startMs)));
  const rss = spawns.map((runs) => med(runs.map((r) => r.rssAfterStart)));
  const [idportStart = NaN, opStart = NaN] = start;
  const [idportRss = NaN, opRss = NaN] = rss;
  const sqlite = storage.kind === 'sqlite';
  context.rows.push({
    scenario: label(storage, 'start: spawn → first discovery answer (RS256 key generated)'),
    idport: [`${idportStart.toFixed(0)} ms`],
    oidcProvider: sqlite ? [`${opStart.toFixed(0)} ms`] : ['—'],
    ratio: sqlite ? ratio(idportStart, opStart) : '',
    target: sqlite ? '≤ oidc-provider' : '',
    pass: sqlite ? idportStart <= opStart : undefined,
    note: `median of ${spawns[0].length} spawns each`,
  });
  context.rows.push({
    scenario: label(storage, 'RSS after start'),
    idport: [mb(idportRss)],
    oidcProvider: sqlite ? [mb(opRss)] : ['—'],
    ratio: sqlite ? ratio(idportRss, opRss) : '',
    target: '≤ 100 MB',
    pass: idportRss <= 100e6,
  });
};

/** Discovery and JWKS, side by side, idport at its default log level (info). */
const metadataScenarios = async (context: Context, servers: [Running, Running]): Promise<void> => {
  const loads: [Scenario, string, Load][] = [
    ['discovery', 'discovery (/.well-known/openid-configuration)', discoveryLoad],
    ['jwks', 'JWKS (/keys, /jwks)', jwksLoad],
  ];
  for (const [scenario, name, load] of loads) {
    if (!context.wanted(scenario)) continue;
    log(name);
    const pair = await sideBySide(context.settings, servers, load);
    context.rows.push(pairRow(name, pair, '≥ 1.5× oidc-provider', pair[0].perSecond >= 1.5 * pair[1].perSecond));
  }
};

/**
 * The signing ceiling of `alg`, measured again for each group, just before its grants: the machine is shared, so a
 * figure from minutes earlier would compare the grants with another load.
 */
const signingCeiling = async (context: Context, storage: Storage, alg: Algorithm): Promise<number> => {
  log(`signing ceiling: jose ${alg}, all cores, separate process`);
  const ceiling = await measureCeiling(alg, context.ceilingSeconds);
  context.rows.push({
    scenario: label(storage, `signing ceiling ${alg} (jose, all cores), signatures/s`),
    idport: [ceiling.toFixed(0)],
    oidcProvider: [],
    ratio: '',
    target: '',
    pass: undefined,
  });
  return ceiling;
};

/** client_credentials with a JWT access token, side by side; returns idport's rate (a bound for the code grant). */
const clientCredentials = async (
  context: Context,
  servers: [Running, Running],
  options: { alg: Algorithm; ceiling: number },
): Promise<number> => {
  const { alg, ceiling } = options;
  log(`client_credentials ${alg}`);
  const pair = await sideBySide(context.settings, servers, clientCredentialsLoad);
  const fast = pair[0].perSecond >= 1.4 * pair[1].perSecond;
  const near = pair[0].perSecond >= 0.75 * ceiling;
  const rs = alg === 'RS256';
  const targets: [string, number][] = [['1.4× oidc-provider', 1.4 * pair[1].perSecond]];
  if (rs) targets.push(['75 % of the ceiling', 0.75 * ceiling]);
  context.rows.push(
    withNote(
      pairRow(
        `client_credentials ${alg} (${percent(pair[0].perSecond / ceiling)} of ${alg} ceiling)`,
        pair,
        rs ? '≥ 1.4× and ≥ 75 % of ceiling' : '≥ 1.4× oidc-provider',
        rs ? fast && near : fast,
      ),
      cpuNote(pair[0].cpu, targets),
    ),
  );
  await floorRow(context, servers[1], options);
  return pair[0].perSecond;
};

/**
 * The floor (bench/floor-server.mjs: fastify and jose signing one JWT, nothing else) against node-oidc-provider, in
 * alternating rounds: how far any server on these libraries could get on this machine, for reading the targets.
 */
const floorRow = async (
  context: Context,
  op: Running,
  { alg, ceiling }: { alg: Algorithm; ceiling: number },
): Promise<void> => {
  log(`floor ${alg}: fastify + jose signing only`);
  const floor = await startFloor(alg);
  try {
    const pair = await sideBySide(context.settings, [floor, op], clientCredentialsLoad);
    const share = percent(pair[0].perSecond / ceiling);
    context.rows.push(
      withNote(
        pairRow(`floor: fastify route that only signs one ${alg} JWT (jose), ${share} of ceiling`, pair, '', undefined),
        cpuNote(pair[0].cpu, []),
      ),
    );
  } finally {
    await floor.stop();
  }
};

/**
 * The code grant's floor: bench/floor-server.mjs signing an access token and then an ID token binding it (the two
 * signatures the grant makes, one after the other), alone, right after idport's code-grant rounds. Its share of half
 * the ceiling is the most a code grant on fastify and jose could reach on this machine.
 */
const twoTokenFloorRow = async (
  context: Context,
  { alg, half, idport }: { alg: Algorithm; half: number; idport: number },
): Promise<void> => {
  log(`floor ${alg}: fastify + jose signing an access token, then an ID token`);
  const floor = await startFloor(alg, 2);
  try {
    const { settings } = context;
    const m = await alone(settings, async (round) =>
      clientCredentialsLoad(floor, round < 0 ? settings.warmupSeconds : settings.flowSeconds),
    );
    const row = aloneRow(
      `floor: fastify route that signs an access token, then an ID token binding it (jose, ${alg}), ` +
        `${percent(m.perSecond / half)} of half the ceiling`,
      m,
      '',
      undefined,
    );
    const ofFloor = `idport's code grant: ${percent(idport / m.perSecond)} of this floor`;
    context.rows.push(withNote(withNote(row, cpuNote(m.cpu, [])), ofFloor));
  } finally {
    await floor.stop();
  }
};

/**
 * How many codes to mint for the next round: minting goes through the browser flow and costs more than redeeming,
 * so the warm-up gets at most 1,500 and each round 2.2× what the previous one redeemed per second (3.5× when it ran
 * out, which also counts as a failure of that round).
 */
const codesFor = (settings: Settings, bound: number, round: number, previous: Measured | undefined): number => {
  if (previous === undefined) return Math.min(1500, Math.ceil(bound * settings.warmupSeconds * 1.2) + 100);
  const seconds = round === 0 ? settings.warmupSeconds : settings.flowSeconds;
  const redeemed = (previous.requests - previous.failures) / seconds;
  return Math.ceil(redeemed * (previous.failures > 0 ? 3.5 : 2.2) * settings.flowSeconds) + 100;
};

/** idport-only grants and logins on `storage`. `bound` caps how many codes a round can redeem. */
const grantScenarios = async (
  context: Context,
  idport: Running,
  options: { storage: Storage; alg: Algorithm; bound: number; ceiling: number },
): Promise<void> => {
  const { settings } = context;
  const { storage, alg } = options;
  if (context.wanted('authorization_code')) {
    log(`authorization_code ${alg} (${label(storage, 'minting codes through the browser flow')})`);
    const m = await alone(settings, async (round, previous) => {
      const seconds = round < 0 ? settings.warmupSeconds : settings.flowSeconds;
      const file = await mintCodes(settings, idport.issuer, codesFor(settings, options.bound, round, previous), 'code');
      return codeLoad(idport, seconds, file);
    });
    const half = options.ceiling / 2;
    const gated = alg === 'RS256' && storage.kind === 'sqlite';
    context.rows.push(
      withNote(
        aloneRow(
          label(storage, `authorization_code ${alg}, ${percent(m.perSecond / half)} of half the ${alg} ceiling`),
          m,
          gated ? '≥ 75 % of half the RS256 ceiling' : '',
          gated ? m.perSecond >= 0.75 * half : undefined,
        ),
        cpuNote(m.cpu, gated ? [['75 % of half the ceiling', 0.75 * half]] : []),
      ),
    );
    if (storage.kind === 'sqlite') await twoTokenFloorRow(context, { alg, half, idport: m.perSecond });
  }
  if (alg !== 'RS256') return;
  if (context.wanted('refresh_token')) {
    log(label(storage, 'refresh_token rotation'));
    const m = await alone(settings, async (round) =>
      refreshLoad(
        idport,
        round < 0 ? settings.warmupSeconds : settings.flowSeconds,
        await seedRefreshTokens(settings, idport.issuer, 64),
      ),
    );
    context.rows.push(
      withNote(aloneRow(label(storage, 'refresh_token grant (rotation) RS256'), m, '', undefined), cpuNote(m.cpu, [])),
    );
  }
  if (context.wanted('browser_login')) {
    log(label(storage, 'browser login (mockCallback)'));
    const m = await logins(settings, idport.issuer, 'mock');
    context.rows.push(
      aloneRow(label(storage, 'login: /auth → mockCallback → code → token, logins/s'), m, '', undefined),
    );
  }
  if (context.wanted('password_login')) {
    log(label(storage, 'password page login'));
    const cost = PASSWORD_HASH.split('$')[2] ?? '?';
    const m = await logins(settings, idport.issuer, 'local');
    context.rows.push(
      aloneRow(label(storage, `login: password page (bcrypt cost ${cost}) → token, logins/s`), m, '', undefined),
    );
  }
};

/** Every scenario for one storage and one key algorithm, with both servers up. */
export const runGroup = async (context: Context, storage: Storage, alg: Algorithm): Promise<void> => {
  const idport = await startIdport(storage, alg);
  const op = storage.kind === 'sqlite' ? await startOidcProvider(alg) : undefined;
  try {
    if (op !== undefined && alg === 'RS256') await metadataScenarios(context, [idport, op]);
    const signs = context.wanted('client_credentials') || context.wanted('authorization_code');
    const ceiling = signs ? await signingCeiling(context, storage, alg) : NaN;
    let bound = ceiling / 2;
    if (op !== undefined && context.wanted('client_credentials'))
      bound = Math.min(bound, await clientCredentials(context, [idport, op], { alg, ceiling }));
    if (op === undefined && context.wanted('client_credentials')) {
      log(label(storage, `client_credentials ${alg}`));
      const m = await alone(context.settings, async (round) =>
        clientCredentialsLoad(idport, round < 0 ? context.settings.warmupSeconds : context.settings.flowSeconds),
      );
      bound = Math.min(bound, m.perSecond);
      context.rows.push(aloneRow(label(storage, `client_credentials ${alg}`), m, '', undefined));
    }
    await grantScenarios(context, idport, { storage, alg, bound, ceiling });
  } finally {
    await idport.stop();
    await op?.stop();
  }
};
