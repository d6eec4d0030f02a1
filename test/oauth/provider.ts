/** A Provider for domain tests: memory storage, a ManualClock, a real signer, and a refreshable test connector. No HTTP. */
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import type { Identity, PasswordConnector, Refreshable } from '../../connectors/connector.js';
import { ManualClock } from '../../src/deps.js';
import type { GrantFacts } from '../../src/oauth/tokens/claims.js';
import type { ConnectorEntry, Provider } from '../../src/oauth/provider.js';
import type { ProviderSettings } from '../../src/oauth/settings.js';
import { createSigner } from '../../src/signer/signer.js';
import { openMemory } from '../../storage/memory/memory.js';
import { testSettings } from '../support/settings.js';
import type { Client } from '../../storage/storage.js';

export const ISSUER = 'https://idport.example/dex';
export const REDIRECT = 'https://app.example/callback';

export const testUser: Identity = {
  userId: 'u-1',
  username: 'jane',
  email: 'jane@example.com',
  emailVerified: true,
  groups: ['devs'],
};

/** A password connector that accepts anyone as testUser and can refresh. */
export const testConnector: PasswordConnector & Refreshable = {
  kind: 'password',
  prompt: () => 'Email',
  login: async () => testUser,
  refresh: async (_scopes, identity) => identity,
};

export const client = (id: string, extra: Partial<Client> = {}): Client => ({
  id,
  secret: `${id}-secret`,
  redirectURIs: [REDIRECT],
  trustedPeers: [],
  public: false,
  name: id,
  logoURL: '',
  ...extra,
});

/** Settings from a minimal config (test/support/settings.ts): code and hybrid responses, 1 h tokens. */
export const defaultSettings: ProviderSettings = testSettings(ISSUER, {
  yaml: `
oauth2:
  responseTypes: [code, id_token, code id_token]
  grantTypes: [authorization_code, refresh_token]
expiry:
  idTokens: 1h
  authRequests: 1h
sessions:
  cookieName: idport_session
  # Single sign-on across every client, as these tests (and idport before Dex's sharing rules) expect.
  ssoSharedWithDefault: all
`,
});

export interface TestProvider extends Provider {
  readonly clock: ManualClock;
}

/** Builds a provider over fresh memory storage with the given clients. */
export const testProvider = async (
  clients: readonly Client[],
  settings: Partial<ProviderSettings> = {},
): Promise<TestProvider> => {
  const storage = openMemory();
  const clock = new ManualClock(new Date());
  const log = pino({ level: 'silent' });
  for (const c of clients) await storage.clients.create(c);
  const merged = { ...defaultSettings, ...settings };
  const signer = createSigner({
    storage,
    clock,
    issuer: ISSUER,
    algorithm: 'ES256',
    rotationPeriodMs: 6 * 3600_000,
    idTokenTtlMs: merged.idTokenTtlMs,
    log,
  });
  await signer.ensureKeys();
  const connectors = new Map<string, ConnectorEntry>([
    ['test', { id: 'test', type: 'test', name: 'Test', connector: testConnector }],
  ]);
  return {
    settings: merged,
    storage,
    signer,
    connectors,
    deps: { clock, randomBytes, fetch: globalThis.fetch },
    log,
    clock,
  };
};

/** The facts of one login of testUser through the test connector. */
export const loginFacts = (provider: TestProvider, clientId: string, scopes: readonly string[]): GrantFacts => ({
  clientId,
  scopes,
  claims: { ...testUser, preferredUsername: '', email: testUser.email ?? '', groups: [...testUser.groups] },
  connectorId: 'test',
  nonce: '',
  authTime: provider.clock.now(),
});
