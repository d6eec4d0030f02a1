/** The config file's clients, passwords and connectors as the storage overlay holds them (storage/static.ts). */
import type { StaticEntries } from '../storage/static.js';
import type { Client, ConnectorRecord, Password } from '../storage/storage.js';
import { PASSWORD_DB_CONNECTOR_ID, type Config } from './config/schema.js';

const staticClients = (config: Config): Client[] =>
  config.staticClients.map((c) => ({
    id: c.id,
    secret: c.secret,
    redirectURIs: c.redirectURIs,
    trustedPeers: c.trustedPeers,
    public: c.public,
    name: c.name,
    logoURL: c.logoURL,
    postLogoutRedirectURIs: c.postLogoutRedirectURIs,
    backchannelLogoutURI: c.backchannelLogoutURI,
    refreshTokenLifetime: c.refreshTokenLifetime,
    ssoSharedWith: c.ssoSharedWith,
    clientCredentialsGroups: c.clientCredentialsClaims?.groups,
  }));

const staticPasswords = (config: Config): Password[] =>
  config.staticPasswords.map((p) => ({
    email: p.email,
    hash: p.hash,
    username: p.username,
    userId: p.userID,
    name: p.name,
    preferredUsername: p.preferredUsername,
    emailVerified: p.emailVerified,
    groups: p.groups,
  }));

/**
 * The config's connectors as the storage overlay lists them (Dex's WithStaticConnectors): read-only through the API,
 * and never opened from storage (they are opened from the config). `local` is Dex's "Email" entry without a config.
 */
const staticConnectors = (config: Config): ConnectorRecord[] => [
  ...(config.enablePasswordDB || config.staticPasswords.length > 0
    ? [{ id: PASSWORD_DB_CONNECTOR_ID, type: 'local', name: 'Email', resourceVersion: '', config: undefined }]
    : []),
  ...config.connectors.map((entry) => ({
    id: entry.id,
    type: entry.type,
    name: entry.name,
    resourceVersion: '',
    config: entry.config,
  })),
];

/** Everything the config file puts in front of storage, read-only through the API. */
export const staticEntries = (config: Config): StaticEntries => ({
  clients: staticClients(config),
  passwords: staticPasswords(config),
  connectors: staticConnectors(config),
});
