/**
 * How `npm run bench` measures: wrk rounds alternating between the two servers (idport, oidc-provider, idport, …)
 * after a warm-up of each, the median of the rounds; the signing ceiling in a process of its own.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { drive, repeat, browserLogin, completeLogin } from './flows.js';
import { BASIC, CLIENT, PASSWORD_USERS, repo, type Algorithm, type Running } from './servers.js';
import { medianOf } from './table.js';
import { wrk, type Measured, type WrkRun } from './wrk.js';

export interface Settings {
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly rounds: number;
  /** Rounds and their length for what idport alone runs (grants whose codes or logins are minted per round). */
  readonly flowRounds: number;
  readonly flowSeconds: number;
  /** Where code and token files for the Lua scripts go. */
  readonly dir: string;
}

export const log = (message: string): void => void process.stderr.write(`bench: ${message}\n`);

/** RS256 or ES256 signatures per second of jose, all cores, in a separate process. */
export const measureCeiling = (alg: Algorithm, seconds: number): Promise<number> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bench/ceiling.mjs', alg, String(seconds)], { cwd: repo });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    child.once('exit', (code) => {
      const parsed = code === 0 ? (JSON.parse(out) as { perSecond: number }) : undefined;
      if (parsed === undefined) reject(new Error(`bench/ceiling.mjs ${alg} exited with ${code}`));
      else resolve(parsed.perSecond);
    });
  });

/** What wrk runs against a server for a stateless scenario. */
export type Load = (server: Running, seconds: number) => WrkRun;

export const discoveryLoad: Load = (server, seconds) => ({
  url: `${server.issuer}${server.paths.discovery}`,
  seconds,
  script: undefined,
});
export const jwksLoad: Load = (server, seconds) => ({
  url: `${server.issuer}${server.paths.jwks}`,
  seconds,
  script: undefined,
});
export const clientCredentialsLoad: Load = (server, seconds) => ({
  url: `${server.issuer}${server.paths.token}`,
  watchPid: server.pid,
  seconds,
  script: 'post.lua',
  env: { BENCH_BODY: 'grant_type=client_credentials', BENCH_AUTH: BASIC },
});

/** Warm-up of each side, then `rounds` alternating rounds; the median of each side. */
export const sideBySide = async (
  settings: Settings,
  servers: readonly [Running, Running],
  load: Load,
): Promise<[Measured, Measured]> => {
  for (const server of servers) await wrk(load(server, settings.warmupSeconds));
  const rounds: [Measured[], Measured[]] = [[], []];
  for (let round = 0; round < settings.rounds; round++)
    for (const [i, server] of servers.entries()) rounds[i as 0 | 1].push(await wrk(load(server, settings.seconds)));
  return [medianOf(rounds[0]), medianOf(rounds[1])];
};

/**
 * idport alone: warm-up, then `rounds` rounds, the median. `prepare` runs before each round (-1: the warm-up),
 * untimed, and sees the previous round's result (to size what the next one consumes).
 */
export const alone = async (
  settings: Settings,
  prepare: (round: number, previous: Measured | undefined) => Promise<WrkRun>,
): Promise<Measured> => {
  let previous = await wrk({ ...(await prepare(-1, undefined)), seconds: settings.warmupSeconds });
  const rounds: Measured[] = [];
  for (let round = 0; round < settings.flowRounds; round++) {
    previous = await wrk(await prepare(round, previous));
    rounds.push(previous);
  }
  return medianOf(rounds);
};

/** Mints `n` authorization codes through the browser flow (mockCallback), 16 browsers at a time, into a file. */
export const mintCodes = async (settings: Settings, issuer: string, n: number, name: string): Promise<string> => {
  const codes = await repeat(n, 16, () => browserLogin(issuer, 'mock'));
  const file = join(settings.dir, `${name}.codes`);
  writeFileSync(file, `${codes.join('\n')}\n`);
  return file;
};

/** `n` fresh refresh tokens (browser login, then the code redeemed), into a file for refresh.lua. */
export const seedRefreshTokens = async (settings: Settings, issuer: string, n: number): Promise<string> => {
  const answers = await repeat(n, 16, () => completeLogin(issuer, 'mock'));
  const file = join(settings.dir, 'refresh.tokens');
  writeFileSync(file, `${answers.map((a) => a.refresh_token ?? '').join('\n')}\n`);
  return file;
};

export const codeLoad = (server: Running, seconds: number, file: string): WrkRun => ({
  url: `${server.issuer}${server.paths.token}`,
  watchPid: server.pid,
  seconds,
  script: 'codes.lua',
  env: { BENCH_CODES: file, BENCH_AUTH: BASIC, BENCH_REDIRECT: encodeURIComponent(CLIENT.redirectUri) },
});

export const refreshLoad = (server: Running, seconds: number, file: string): WrkRun => ({
  url: `${server.issuer}${server.paths.token}`,
  watchPid: server.pid,
  seconds,
  script: 'refresh.lua',
  env: { BENCH_TOKENS: file, BENCH_AUTH: BASIC },
});

/** Complete logins through `connector`, 32 browsers at a time, `rounds` rounds after a warm-up; the median. */
export const logins = async (settings: Settings, issuer: string, connector: 'mock' | 'local'): Promise<Measured> => {
  const login = (worker: number) => completeLogin(issuer, connector, worker);
  await drive(settings.warmupSeconds, PASSWORD_USERS, login);
  const rounds: Measured[] = [];
  for (let round = 0; round < settings.flowRounds; round++)
    rounds.push(await drive(settings.flowSeconds, PASSWORD_USERS, login));
  return medianOf(rounds);
};
