/**
 * Starts idport in-process, with memory storage unless given one: listening on an ephemeral loopback port, or with
 * `inProcess` on no socket at all (requests through `testFetch`, which injects them).
 */
import type { AddressInfo } from 'node:net';
import { createServer as createHttpServer, type RequestListener } from 'node:http';
import { randomBytes } from 'node:crypto';
import bcrypt from 'bcrypt';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { openLocal } from '../../connectors/local/local.js';
import type { Connector } from '../../connectors/connector.js';
import { addPlainServer, buildApp } from '../../src/app.js';
import { ManualClock, type Clock } from '../../src/deps.js';
import type { ConnectorEntry, Provider } from '../../src/oauth/provider.js';
import type { ProviderSettings } from '../../src/oauth/settings.js';
import { createSigner, type SigningAlgorithm } from '../../src/signer/signer.js';
import { openMemory } from '../../storage/memory/memory.js';
import type { Client, Password, Storage } from '../../storage/storage.js';
import { registerInProcess, reserveInProcessOrigin, unregisterInProcess } from './in-process.js';
import { testSettings } from './settings.js';

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
  /** ES256 by default: an RSA key costs about half a second to generate. Pass RS256 where RSA is under test. */
  readonly signingAlgorithm?: SigningAlgorithm;
  /** No socket: the issuer is an origin only `testFetch` answers, through inject(). For route rules. */
  readonly inProcess?: boolean;
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

/** Where the app is reached: a listening socket whose port is known before the app is built, or inject(). */
interface Endpoint {
  readonly origin: string;
  /** Hands requests to the app once it is built. */
  attach(app: FastifyInstance): void;
  close(): Promise<void>;
}

/**
 * The issuer includes the port, so the socket listens (on port 0) before the app exists; requests reach the app
 * once it is attached. Nothing else can take the port in between, as it could after probing a free port.
 */
const listeningEndpoint = async (): Promise<Endpoint> => {
  let handle: RequestListener | undefined;
  const server = createHttpServer((request, response) => {
    if (handle !== undefined) handle(request, response);
    else response.writeHead(503).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    attach: (app) => {
      // A server fed by the app (as for Dex's second listener); its handler answers this socket's requests.
      const fed = addPlainServer(app);
      handle = (request, response) => fed.emit('request', request, response);
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};

export const startIdport = async (options: TestIdportOptions): Promise<TestIdport> => {
  const storage = options.storage ?? openMemory();
  const clock = options.clock ?? { now: () => new Date() };
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  for (const client of options.clients) await storage.clients.create(client);
  for (const password of options.passwords ?? [demoUser]) await storage.passwords.create(password);

  const endpoint = options.inProcess === true ? undefined : await listeningEndpoint();
  const basePath = options.basePath ?? '/dex';
  const origin = endpoint?.origin ?? reserveInProcessOrigin();
  const issuer = `${origin}${basePath}`;
  try {
    return await startOn({ options, storage, clock, log, issuer, origin, endpoint });
  } catch (err: unknown) {
    await endpoint?.close();
    throw err;
  }
};

interface StartContext {
  readonly options: TestIdportOptions;
  readonly storage: Storage;
  readonly clock: Clock;
  readonly log: Logger;
  readonly issuer: string;
  readonly origin: string;
  readonly endpoint: Endpoint | undefined;
}

const startOn = async ({
  options,
  storage,
  clock,
  log,
  issuer,
  origin,
  endpoint,
}: StartContext): Promise<TestIdport> => {
  const settings = testSettings(issuer, { overrides: options.settings });
  const signer = createSigner({
    storage,
    clock,
    issuer,
    algorithm: options.signingAlgorithm ?? 'ES256',
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
  await app.ready();
  if (endpoint !== undefined) endpoint.attach(app);
  else registerInProcess(origin, app);
  return {
    issuer,
    origin,
    app,
    provider,
    storage,
    clock,
    close: async () => {
      await app.close();
      if (endpoint !== undefined) await endpoint.close();
      else unregisterInProcess(origin);
      await storage.close();
    },
  };
};

export { ManualClock };
