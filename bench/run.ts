/**
 * `npm run bench`: token issuance speed and memory, measured over real loopback HTTP against an in-process
 * idport (SQLite file storage, as the default deployment runs). Every loop is bounded in count and time.
 *
 *   npm run bench                 # all scenarios
 *   BENCH_N=2000 npm run bench    # more iterations
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { openLocal } from '../connectors/local/local.js';
import { buildApp } from '../src/app.js';
import { systemClock } from '../src/deps.js';
import type { Provider } from '../src/oauth/provider.js';
import type { ProviderSettings } from '../src/oauth/settings.js';
import { hashSecret } from '../src/oauth/tokens.js';
import { createSigner } from '../src/signer/signer.js';
import { openMemory } from '../storage/memory/memory.js';
import { openSqlite } from '../storage/sqlite/sqlite.js';
import type { Storage } from '../storage/storage.js';

const N = Number(process.env.BENCH_N ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const TIME_LIMIT_MS = 60_000;

interface Result {
  readonly scenario: string;
  readonly ops: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

/** Runs `task(i)` for i in [0, n) with `concurrency` in flight; stops early at the time limit. */
const measure = async (scenario: string, n: number, task: (i: number) => Promise<void>): Promise<Result> => {
  const latencies: number[] = [];
  let next = 0;
  const deadline = performance.now() + TIME_LIMIT_MS;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < n && performance.now() < deadline) {
      const i = next++;
      const t0 = performance.now();
      await task(i);
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const elapsed = performance.now() - started;
  latencies.sort((a, b) => a - b);
  return { scenario, ops: latencies.length, perSecond: Math.round((latencies.length / elapsed) * 1000), p50Ms: round(percentile(latencies, 0.5)), p99Ms: round(percentile(latencies, 0.99)) };
};

const round = (x: number): number => Math.round(x * 100) / 100;

const settings = (issuer: string): ProviderSettings => ({
  issuer, basePath: '/dex', responseTypes: ['code'], grantTypes: ['authorization_code', 'refresh_token'], pkceEnforce: false,
  codeChallengeMethods: ['S256', 'plain'], skipApprovalScreen: true, alwaysShowLoginScreen: false, idTokenTtlMs: 86_400_000,
  accessTokenTtlMs: 86_400_000, authRequestTtlMs: 86_400_000, authCodeTtlMs: 600_000, refresh: { disableRotation: false, reuseIntervalMs: 3000 },
  sessions: { cookieName: 'idport_session', absoluteLifetimeMs: 86_400_000, idleLifetimeMs: 3_600_000, rememberMeDefault: true },
});

const runBackend = async (name: string, storage: Storage, algorithm: 'RS256' | 'ES256' | 'EdDSA'): Promise<Result[]> => {
  const log = pino({ level: 'silent' });
  const port = 30_000 + Math.floor(Math.random() * 20_000);
  const issuer = `http://127.0.0.1:${port}/dex`;
  await storage.clients.create({ id: 'bench', secret: 'bench-secret', redirectURIs: ['http://127.0.0.1/cb'], trustedPeers: [], public: false, name: 'bench', logoURL: '' });
  const signer = createSigner({ storage, clock: systemClock, issuer, algorithm, rotationPeriodMs: 6 * 3600_000, idTokenTtlMs: 86_400_000, log });
  await signer.ensureKeys();
  const connectors = new Map([['local', { id: 'local', type: 'local', name: 'Email', connector: openLocal(storage.passwords, { log, fetch, now: () => new Date() }) }]]);
  const provider: Provider = { settings: settings(issuer), storage, signer, connectors, deps: { clock: systemClock, randomBytes, fetch }, log };
  const app = await buildApp({ provider, branding: { issuerName: 'bench', logoUrl: '', theme: 'light' } });
  await app.listen({ port, host: '127.0.0.1' });

  // The local connector's refresh re-reads this entry, as it would in production.
  await storage.passwords.create({ email: 'b@example.com', hash: '$2b$10$95MS.6yF4X7/zb2PKBYKtOTjJFSfF8Iz9EZhD8koUPteIrvlOAmwy', username: 'bench', userId: 'bench-user' });
  // Codes are minted straight into storage: the benchmark measures the token endpoint, not the login pages.
  const codes: string[] = [];
  const now = Date.now();
  for (let i = 0; i < N; i++) {
    const code = randomBytes(32).toString('base64url');
    codes.push(code);
    await storage.authCodes.create({
      id: hashSecret(code), clientId: 'bench', redirectUri: 'http://127.0.0.1/cb', scopes: ['openid', 'email', 'profile', 'offline_access'],
      nonce: 'n', claims: { userId: 'bench-user', username: 'bench', preferredUsername: '', email: 'b@example.com', emailVerified: true, groups: [] },
      connectorId: 'local', codeChallenge: '', codeChallengeMethod: '', authTime: new Date(now), expiry: new Date(now + 600_000),
    });
  }
  const basic = `Basic ${Buffer.from('bench:bench-secret').toString('base64')}`;
  const post = async (body: string): Promise<Record<string, string>> => {
    const response = await fetch(`${issuer}/token`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body });
    if (response.status !== 200) throw new Error(`token endpoint answered ${response.status}: ${await response.text()}`);
    return (await response.json()) as Record<string, string>;
  };

  const refreshTokens: string[] = [];
  const rssBefore = process.memoryUsage().rss;
  const results: Result[] = [];
  results.push(await measure(`${name} ${algorithm}: authorization_code → tokens`, N, async (i) => {
    const tokens = await post(`grant_type=authorization_code&code=${codes[i]}&redirect_uri=${encodeURIComponent('http://127.0.0.1/cb')}`);
    if (tokens.refresh_token !== undefined) refreshTokens.push(tokens.refresh_token);
  }));
  results.push(await measure(`${name} ${algorithm}: refresh_token rotation`, refreshTokens.length, async (i) => {
    await post(`grant_type=refresh_token&refresh_token=${encodeURIComponent(refreshTokens[i] ?? '')}`);
  }));
  results.push(await measure(`${name} ${algorithm}: discovery`, N, async () => {
    await (await fetch(`${issuer}/.well-known/openid-configuration`)).arrayBuffer();
  }));
  const rssAfter = process.memoryUsage().rss;
  console.log(`  ${name} ${algorithm}: RSS ${(rssBefore / 2 ** 20).toFixed(1)} MiB → ${(rssAfter / 2 ** 20).toFixed(1)} MiB after ${N * 2} token responses`);
  await app.close();
  await storage.close();
  return results;
};

const main = async (): Promise<void> => {
  const dir = mkdtempSync(join(tmpdir(), 'idport-bench-'));
  try {
    console.log(`idport bench: N=${N}, concurrency=${CONCURRENCY}, node ${process.version}`);
    const results = [
      ...(await runBackend('sqlite', await openSqlite({ file: join(dir, 'rs.db') }), 'RS256')),
      ...(await runBackend('sqlite', await openSqlite({ file: join(dir, 'es.db') }), 'ES256')),
      ...(await runBackend('memory', openMemory(), 'RS256')),
    ];
    console.table(results);
    const heap = process.memoryUsage();
    console.log(`heapUsed ${(heap.heapUsed / 2 ** 20).toFixed(1)} MiB, rss ${(heap.rss / 2 ** 20).toFixed(1)} MiB`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

await main();
