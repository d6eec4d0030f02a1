/**
 * The server side of `npm run bench`, in its own process so the load generator does not share its event loop:
 * idport on a loopback port with the given storage and signing algorithm, N authorization codes minted
 * straight into storage. It reports `{ issuer, codes }` over IPC, answers `memory` with its RSS and heap,
 * and exits on `stop`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { openLocal } from '../connectors/local/local.js';
import { buildApp } from '../src/app.js';
import { systemClock } from '../src/deps.js';
import type { Provider } from '../src/oauth/provider.js';
import type { ProviderSettings } from '../src/oauth/settings.js';
import { hashSecret } from '../src/oauth/primitives/secrets.js';
import { createSigner, isSigningAlgorithm } from '../src/signer/signer.js';
import { openMemory } from '../storage/memory/memory.js';
import { openSqlite } from '../storage/sqlite/sqlite.js';
import { testSettings } from '../test/support/settings.js';

const [backend = 'sqlite', algorithm = 'RS256', count = '1000'] = process.argv.slice(2);
if (!isSigningAlgorithm(algorithm)) throw new Error(`unknown algorithm ${algorithm}`);
const n = Number(count);
const dir = mkdtempSync(join(tmpdir(), 'idport-bench-'));
const storage = backend === 'memory' ? openMemory() : await openSqlite({ file: join(dir, 'idport.db') });
const log = pino({ level: 'silent' });
const issuerPort = 20_000 + Math.floor(Math.random() * 30_000);
const issuer = `http://127.0.0.1:${issuerPort}/dex`;
// Derived from the config schema like the server's, so every default (device requests, bruteForce) has one home.
const settings: ProviderSettings = testSettings(issuer, {
  overrides: {
    responseTypes: ['code'],
    grantTypes: ['authorization_code', 'refresh_token'],
    skipApprovalScreen: true,
    idTokenTtlMs: 86_400_000,
    accessTokenTtlMs: 86_400_000,
    authRequestTtlMs: 86_400_000,
  },
});
await storage.clients.create({
  id: 'bench',
  secret: 'bench-secret',
  redirectURIs: ['http://127.0.0.1/cb'],
  trustedPeers: [],
  public: false,
  name: 'bench',
  logoURL: '',
});
// The local connector's refresh re-reads this entry, as it would in production.
await storage.passwords.create({
  email: 'b@example.com',
  hash: '$2b$10$95MS.6yF4X7/zb2PKBYKtOTjJFSfF8Iz9EZhD8koUPteIrvlOAmwy',
  username: 'bench',
  userId: 'bench-user',
});
const signer = createSigner({
  storage,
  clock: systemClock,
  issuer,
  algorithm,
  rotationPeriodMs: 6 * 3600_000,
  idTokenTtlMs: 86_400_000,
  log,
});
await signer.ensureKeys();
const connectors = new Map([
  [
    'local',
    {
      id: 'local',
      type: 'local',
      name: 'Email',
      connector: openLocal(storage.passwords, { log, fetch, now: () => new Date() }),
    },
  ],
]);
const provider: Provider = {
  settings,
  storage,
  signer,
  connectors,
  deps: { clock: systemClock, randomBytes, fetch },
  log,
};
const app = await buildApp({ provider, branding: { issuerName: 'bench', logoUrl: '', theme: 'light' } });
await app.listen({ port: issuerPort, host: '127.0.0.1' });

const codes: string[] = [];
const now = Date.now();
for (let i = 0; i < n; i++) {
  const code = randomBytes(32).toString('base64url');
  codes.push(code);
  await storage.authCodes.create({
    id: hashSecret(code),
    clientId: 'bench',
    redirectUri: 'http://127.0.0.1/cb',
    redirectUriSent: true,
    scopes: ['openid', 'email', 'profile', 'offline_access'],
    nonce: 'n',
    claims: {
      userId: 'bench-user',
      username: 'bench',
      preferredUsername: '',
      email: 'b@example.com',
      emailVerified: true,
      groups: [],
    },
    connectorId: 'local',
    codeChallenge: '',
    codeChallengeMethod: '',
    authTime: new Date(now),
    expiry: new Date(now + 600_000),
  });
}
global.gc?.();
process.send?.({ kind: 'ready', issuer, codes, memory: process.memoryUsage() });
process.on('message', (message: unknown) => {
  if (message === 'memory') {
    global.gc?.();
    process.send?.({ kind: 'memory', memory: process.memoryUsage() });
  }
  if (message === 'stop') {
    void app.close().then(async () => {
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    });
  }
});
