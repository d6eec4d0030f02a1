/**
 * Helpers for bench/abuse sections: idport started through its real CLI (`src/cli.ts serve`) with a config file, in
 * its own process, on a free loopback port; its RSS read from /proc; sizes of files on disk.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One line of the table: what was measured, its value and limit as printed, and whether it kept the limit. */
export interface AbuseRow {
  readonly measure: string;
  readonly value: string;
  readonly limit: string;
  readonly pass: boolean;
}

/**
 * The start every section's config shares: SQLite in the run's directory, the loopback listener and JSON logs;
 * `trustProxy` lets a section speak for many client addresses through X-Forwarded-For from 127.0.0.1.
 */
export const configHead = (o: { issuer: string; port: number; dir: string; trustProxy: boolean }): string =>
  `issuer: ${o.issuer}
storage:
  type: sqlite3
  config:
    file: ${o.dir}/idport.db
web:
  http: 127.0.0.1:${o.port}
${o.trustProxy ? '  clientRemoteIP:\n    trustedProxies: [127.0.0.1/32]\n' : ''}logger:
  format: json
`;

const repo = fileURLToPath(new URL('../..', import.meta.url));

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });

/** A running idport: where it answers, its data directory, and how to stop it. */
export interface BenchIdport {
  readonly base: string;
  readonly issuer: string;
  readonly dir: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * Starts `idport serve` with `configOf(issuer, port, dir)` (YAML), waiting for its "idport listening" log line.
 * The config's storage should live under `dir`, which is removed on stop.
 */
export const startIdport = async (
  configOf: (issuer: string, port: number, dir: string) => string,
): Promise<BenchIdport> => {
  const dir = mkdtempSync(join(tmpdir(), 'idport-abuse-'));
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}/dex`;
  const file = join(dir, 'config.yaml');
  writeFileSync(file, configOf(issuer, port, dir));
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve', file], {
    cwd: repo,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      seen = (seen + chunk.toString()).slice(-20_000);
      if (seen.includes('"msg":"idport listening"')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`idport exited (${code}) before listening: ${seen}`)));
  });
  child.stderr?.resume();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    base: `http://127.0.0.1:${port}`,
    issuer,
    dir,
    pid: child.pid ?? 0,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

/** Resident set size of a process, in bytes (Linux /proc). */
export const rssOf = (pid: number): number => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  return Number(kib ?? 0) * 1024;
};

/** Total size of the files in `dir` whose names start with `prefix` (a SQLite file with its -wal and -shm). */
export const sizeOf = (dir: string, prefix: string): number =>
  readdirSync(dir)
    .filter((name) => name.startsWith(prefix))
    .reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);

export const mb = (bytes: number): string => `${(bytes / 1_000_000).toFixed(1)} MB`;
