/** Starts idport in-process on an ephemeral loopback port, with memory storage unless given one. */
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import bcrypt from 'bcrypt';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { openLocal } from '../../connectors/local/local.js';
import type { Connector } from '../../connectors/connector.js';
import { buildApp } from '../../src/app.js';
import { ManualClock, type Clock } from '../../src/deps.js';
import type { ConnectorEntry, Provider } from '../../src/oauth/provider.js';
import type { ProviderSettings } from '../../src/oauth/settings.js';
import { DEFAULT_BRUTE_FORCE } from '../../src/oauth/brute-force.js';
import { createSigner } from '../../src/signer/signer.js';
import { openMemory } from '../../storage/memory/memory.js';
import type { Client, Password, Storage } from '../../storage/storage.js';

export const DEMO_PASSWORD = 'password';
/** Cost 10 keeps tests fast; hashed once per process. */
export const DEMO_HASH = bcrypt.hashSync(DEMO_PASSWORD, 10);

export const demoUser: Password = {
  email: 'admin@example.com',
  hash: DEMO_HASH,
  username: 'admin',
  userId: '08a8684b-db88-4b73-90a9-3cd1661f5466',
  groups: ['admins', 'devs'],
};

export interface TestIdport {
  readonly issuer: string;
  readonly origin: string;
  readonly app: FastifyInstance;
  readonly provider: Provider;
  readonly storage: Storage;
  readonly clock: Clock;
  close(): Promise<void>;
}

export interface TestIdportOptions {
  readonly clients: readonly Client[];
  readonly passwords?: readonly Password[];
  /** Extra connectors; the local password connector is always `local`, first. */
  readonly connectors?: readonly { id: string; type: string; name: string; connector: Connector }[];
  readonly settings?: Partial<ProviderSettings>;
  readonly storage?: Storage;
  /** Defaults to the real clock; pass a ManualClock to move time. */
  readonly clock?: Clock;
  readonly basePath?: string;
  readonly withLocal?: boolean;
}

export const confidentialClient = (id: string, redirectURIs: string[], extra: Partial<Client> = {}): Client => ({
  id,
  secret: `${id}-secret`,
  redirectURIs,
  trustedPeers: [],
  public: false,
  name: `${id} app`,
  logoURL: '',
  ...extra,
});

/** A public client (CLI, SPA): no secret, PKCE required, loopback and OOB redirect URIs allowed. */
export const publicClient = (id: string, redirectURIs: string[], extra: Partial<Client> = {}): Client => ({
  id,
  secret: '',
  redirectURIs,
  trustedPeers: [],
  public: true,
  name: `${id} app`,
  logoURL: '',
  ...extra,
});

/** Listens first (to learn the port, which is part of the issuer), then builds the app on that server. */
export const startIdport = async (options: TestIdportOptions): Promise<TestIdport> => {
  const storage = options.storage ?? openMemory();
  const clock = options.clock ?? { now: () => new Date() };
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  for (const client of options.clients) await storage.clients.create(client);
  for (const password of options.passwords ?? [demoUser]) await storage.passwords.create(password);

  // The issuer must include the port, so reserve one first.
  const { createServer } = await import('node:net');
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port: p } = probe.address() as AddressInfo;
      probe.close(() => resolve(p));
    });
  });
  const basePath = options.basePath ?? '/dex';
  const origin = `http://127.0.0.1:${port}`;
  const issuer = `${origin}${basePath}`;
  const settings: ProviderSettings = {
    issuer,
    basePath,
    responseTypes: ['code', 'id_token', 'id_token token', 'code id_token', 'code token', 'code id_token token'],
    grantTypes: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
    pkceEnforce: false,
    codeChallengeMethods: ['S256', 'plain'],
    skipApprovalScreen: false,
    alwaysShowLoginScreen: false,
    idTokenTtlMs: 24 * 3600_000,
    accessTokenTtlMs: 24 * 3600_000,
    authRequestTtlMs: 24 * 3600_000,
    authCodeTtlMs: 10 * 60_000,
    refresh: { disableRotation: false, reuseIntervalMs: 3_000 },
    sessions: {
      cookieName: 'idport_session',
      absoluteLifetimeMs: 24 * 3600_000,
      idleLifetimeMs: 3600_000,
      rememberMeDefault: true,
      // Single sign-on across every client, as these tests (and idport before Dex's sharing rules) expect.
      ssoSharedWithDefault: 'all',
    },
    // Every test of a file fails logins from 127.0.0.1: a high per-IP budget; accounts keep the default lockout.
    bruteForce: { ...DEFAULT_BRUTE_FORCE, maxFailuresPerIP: 1000 },
    ...options.settings,
  };
  const signer = createSigner({
    storage,
    clock,
    issuer,
    algorithm: 'RS256',
    rotationPeriodMs: 6 * 3600_000,
    idTokenTtlMs: settings.idTokenTtlMs,
    log,
  });
  await signer.ensureKeys();
  const deps = { clock, randomBytes, fetch: globalThis.fetch };
  const connectors = new Map<string, ConnectorEntry>();
  if (options.withLocal ?? true) {
    connectors.set('local', {
      id: 'local',
      type: 'local',
      name: 'Email',
      connector: openLocal(storage.passwords, { log, fetch, now: () => clock.now() }),
    });
  }
  for (const c of options.connectors ?? []) connectors.set(c.id, c);
  const provider: Provider = { settings, storage, signer, connectors, deps, log };
  const app = await buildApp({
    provider,
    branding: { issuerName: 'idport test', logoUrl: '', theme: 'light' },
  });
  await app.listen({ port, host: '127.0.0.1' });
  return {
    issuer,
    origin,
    app,
    provider,
    storage,
    clock,
    close: async () => {
      await app.close();
      await storage.close();
    },
  };
};

export { ManualClock };
