/**
 * The two servers of `npm run bench`, each in its own process: idport through its real CLI with a config file
 * (`node bin/idport.js serve <cfg>`, the compiled JavaScript users run) and node-oidc-provider through
 * bench/oidc-provider-server.mjs. Start time is measured from spawn to the first discovery answer; RSS is read
 * from /proc right after it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

export const repo = fileURLToPath(new URL('../..', import.meta.url));

/** The bench's confidential client, on both sides. */
export const CLIENT = { id: 'bench', secret: 'bench-secret', redirectUri: 'http://127.0.0.1:1/cb' } as const;
export const BASIC = `Basic ${Buffer.from(`${CLIENT.id}:${CLIENT.secret}`).toString('base64')}`;
/** bcrypt hash of "password" (config.example.yaml's), cost 10. */
export const PASSWORD_HASH = '$2b$10$YSTrr.rdrfbKx4KchJqelOzDrWI4vS9/N8eMIt1vtSvsnAWN2alzq';
/**
 * The password page's users: one per concurrent browser, since idport counts an account's attempts in flight against
 * its failure budget (`bruteForce.maxFailures`, 5), as it should; 32 browsers on one account would be refused.
 */
export const PASSWORD_USERS = 32;
export const passwordUser = (i: number): string => `user${i}@example.com`;
export const PASSWORD = 'password';

export type Algorithm = 'RS256' | 'ES256';
export type Side = 'idport' | 'oidc-provider' | 'floor';

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });

/** Resident set size of a process, from /proc (Linux), in bytes. */
export const rssOf = (pid: number): number => {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match?.[1] !== undefined ? Number(match[1]) * 1024 : Number.NaN;
};

/** A running server. `base` + `tokenPath` etc. are where the load goes. */
export interface Running {
  readonly side: Side;
  readonly issuer: string;
  readonly pid: number;
  /** Milliseconds from spawn to the first 200 answer of discovery. */
  readonly startMs: number;
  /** RSS right after that answer, bytes. */
  readonly rssAfterStart: number;
  readonly paths: { readonly token: string; readonly discovery: string; readonly jwks: string };
  /** idport's telemetry listener (`/metrics`), when it has one. */
  readonly telemetry?: string | undefined;
  stop(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls discovery every 5 ms until it answers 200; rejects when the child exits first or after 60 s. */
const waitForDiscovery = async (child: ChildProcess, url: string, started: number, log: () => string) => {
  let exited = false;
  child.once('exit', () => (exited = true));
  while (performance.now() - started < 60_000) {
    if (exited) throw new Error(`server exited before answering ${url}:\n${log()}`);
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (response.status === 200) return performance.now() - started;
    } catch {
      // not listening yet
    }
    await sleep(5);
  }
  throw new Error(`no answer from ${url} within 60 s:\n${log()}`);
};

interface SpawnSpec {
  readonly side: Side;
  readonly args: string[];
  readonly issuer: string;
  readonly paths: Running['paths'];
  readonly telemetry?: string | undefined;
  readonly cleanup?: (() => void | Promise<void>) | undefined;
}

const launch = async (spec: SpawnSpec): Promise<Running> => {
  let output = '';
  const started = performance.now();
  const child = spawn(process.execPath, spec.args, { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  // Drained so a chatty server never blocks on a full pipe; the tail is kept for error messages.
  const keep = (chunk: Buffer): void => void (output = (output + chunk.toString()).slice(-8_000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const startMs = await waitForDiscovery(child, `${spec.issuer}${spec.paths.discovery}`, started, () => output);
  const pid = child.pid ?? 0;
  return {
    side: spec.side,
    issuer: spec.issuer,
    pid,
    startMs,
    rssAfterStart: rssOf(pid),
    paths: spec.paths,
    telemetry: spec.telemetry,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      await spec.cleanup?.();
    },
  };
};

export type Storage = { readonly kind: 'sqlite' } | { readonly kind: 'postgres'; readonly url: string };

const storageYaml = (storage: Storage, dir: string): string =>
  storage.kind === 'sqlite'
    ? `storage:\n  type: sqlite3\n  config:\n    file: ${join(dir, 'idport.db')}\n`
    : `storage:\n  type: postgres\n  config:\n    url: "${storage.url}"\n`;

/** idport's bench config: the mockCallback connector, the password database, the bench client, signer `alg`. */
export const idportConfig = (options: {
  issuer: string;
  port: number;
  telemetryPort: number;
  storage: Storage;
  alg: Algorithm;
  dir: string;
}): string => `issuer: ${options.issuer}
${storageYaml(options.storage, options.dir)}web:
  http: 127.0.0.1:${options.port}
telemetry:
  http: 127.0.0.1:${options.telemetryPort}
signer:
  type: local
  config:
    keysRotationPeriod: 6h
    algorithm: ${options.alg}
oauth2:
  grantTypes: [authorization_code, refresh_token, client_credentials]
  skipApprovalScreen: true
connectors:
  - type: mockCallback
    id: mock
    name: Mock
enablePasswordDB: true
staticPasswords:
${Array.from({ length: PASSWORD_USERS }, (_, i) => `  - email: ${passwordUser(i)}\n    hash: "${PASSWORD_HASH}"\n    username: user${i}\n    userID: user-${i}\n`).join('')}staticClients:
  - id: ${CLIENT.id}
    secret: ${CLIENT.secret}
    redirectURIs: ['${CLIENT.redirectUri}']
    name: Bench
`;

/**
 * Starts `node bin/idport.js serve <cfg>` on fresh storage (a new SQLite file, or the given PostgreSQL schema).
 * `nodeFlags` go to node before the script (the leak check's GC trigger).
 */
export const startIdport = async (
  storage: Storage,
  alg: Algorithm,
  nodeFlags: readonly string[] = [],
): Promise<Running> => {
  const dir = mkdtempSync(join(tmpdir(), 'idport-bench-'));
  const [port, telemetryPort] = [await freePort(), await freePort()];
  const issuer = `http://127.0.0.1:${port}/dex`;
  const file = join(dir, 'config.yaml');
  writeFileSync(file, idportConfig({ issuer, port, telemetryPort, storage, alg, dir }));
  return launch({
    side: 'idport',
    args: [...nodeFlags, 'bin/idport.js', 'serve', file],
    issuer,
    paths: { token: '/token', discovery: '/.well-known/openid-configuration', jwks: '/keys' },
    telemetry: `http://127.0.0.1:${telemetryPort}`,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  });
};

/** Starts node-oidc-provider (bench/oidc-provider-server.mjs) with a key of `alg` generated at start. */
export const startOidcProvider = async (alg: Algorithm): Promise<Running> => {
  const port = await freePort();
  return launch({
    side: 'oidc-provider',
    args: ['bench/oidc-provider-server.mjs', String(port), alg],
    issuer: `http://127.0.0.1:${port}`,
    paths: { token: '/token', discovery: '/.well-known/openid-configuration', jwks: '/jwks' },
  });
};

/**
 * Starts bench/floor-server.mjs: a fastify route that only signs per POST /token with a key of `alg`, one JWT or
 * (`tokens` 2) an access token and then an ID token binding it, as the code grant does.
 */
export const startFloor = async (alg: Algorithm, tokens: 1 | 2 = 1): Promise<Running> => {
  const port = await freePort();
  return launch({
    side: 'floor',
    args: ['bench/floor-server.mjs', String(port), alg, String(tokens)],
    issuer: `http://127.0.0.1:${port}`,
    paths: { token: '/token', discovery: '/.well-known/openid-configuration', jwks: '/jwks' },
  });
};
