/**
 * Connector types by the `type` name a Dex config.yaml uses. Each entry pairs the type's config schema (from its
 * `config.ts`, which imports zod and nothing heavy) with a loader for the connector module itself, imported only
 * when a connector of that type is opened: a config with one GitHub connector never loads node-saml, ldapts'
 * connection code or openid-client's SAML neighbours. Adding a type is one schema import and one entry in
 * `connectorTypes`; the config loader and `openConnector` pick it up from there.
 * (`local` is not here: it is not configured as a connector entry but built by the server, see local/local.ts.)
 */
import { z } from 'zod';

import { configSchema as atlassianCrowdSchema } from './atlassian-crowd/config.js';
import { configSchema as authproxySchema } from './authproxy/config.js';
import { configSchema as bitbucketCloudSchema } from './bitbucketcloud/config.js';
import type { Connector, ConnectorDeps, ConnectorModule } from './connector.js';
import { configSchema as giteaSchema } from './gitea/config.js';
import { configSchema as githubSchema } from './github/config.js';
import { configSchema as gitlabSchema } from './gitlab/config.js';
import { configSchema as googleSchema } from './google/config.js';
import { configSchema as keystoneSchema } from './keystone/config.js';
import { configSchema as ldapSchema } from './ldap/config.js';
import { configSchema as linkedinSchema } from './linkedin/config.js';
import { configSchema as microsoftSchema } from './microsoft/config.js';
import { mockCallbackConfigSchema, mockPasswordConfigSchema } from './mock/config.js';
import { configSchema as oauthSchema } from './oauth/config.js';
import { configSchema as oidcSchema } from './oidc/config.js';
import { configSchema as openshiftSchema } from './openshift/config.js';
import { configSchema as samlSchema } from './saml/config.js';

/** A connector type: its config schema, cheap to import, and the module that opens it, loaded on first use. */
export interface ConnectorTypeEntry<S extends z.ZodType = z.ZodType> {
  readonly configSchema: S;
  load(): Promise<ConnectorModule<S>>;
}

const entry = <S extends z.ZodType>(
  configSchema: S,
  load: () => Promise<ConnectorModule<S>>,
): ConnectorTypeEntry<S> => ({
  configSchema,
  load,
});

/** Every configurable connector type, keyed by its Dex `type` name. */
export const connectorTypes = {
  'atlassian-crowd': entry(
    atlassianCrowdSchema,
    async () => (await import('./atlassian-crowd/crowd.js')).atlassianCrowd,
  ),
  authproxy: entry(authproxySchema, async () => (await import('./authproxy/authproxy.js')).authproxy),
  'bitbucket-cloud': entry(
    bitbucketCloudSchema,
    async () => (await import('./bitbucketcloud/bitbucketcloud.js')).bitbucketCloud,
  ),
  gitea: entry(giteaSchema, async () => (await import('./gitea/gitea.js')).gitea),
  github: entry(githubSchema, async () => (await import('./github/github.js')).github),
  gitlab: entry(gitlabSchema, async () => (await import('./gitlab/gitlab.js')).gitlab),
  google: entry(googleSchema, async () => (await import('./google/google.js')).google),
  keystone: entry(keystoneSchema, async () => (await import('./keystone/keystone.js')).keystone),
  ldap: entry(ldapSchema, async () => (await import('./ldap/ldap.js')).ldap),
  linkedin: entry(linkedinSchema, async () => (await import('./linkedin/linkedin.js')).linkedin),
  microsoft: entry(microsoftSchema, async () => (await import('./microsoft/microsoft.js')).microsoft),
  mockCallback: entry(mockCallbackConfigSchema, async () => (await import('./mock/mock.js')).mockCallback),
  mockPassword: entry(mockPasswordConfigSchema, async () => (await import('./mock/mock.js')).mockPassword),
  oauth: entry(oauthSchema, async () => (await import('./oauth/oauth.js')).oauth),
  oidc: entry(oidcSchema, async () => (await import('./oidc/oidc.js')).oidc),
  openshift: entry(openshiftSchema, async () => (await import('./openshift/openshift.js')).openshift),
  saml: entry(samlSchema, async () => (await import('./saml/saml.js')).saml),
};

/** A connector `type` idport supports. */
export type ConnectorType = keyof typeof connectorTypes;

/** Whether `type` names a supported connector type (own keys only, so "toString" is not a type). */
export function isConnectorType(type: string): type is ConnectorType {
  return Object.hasOwn(connectorTypes, type);
}

// Dex decodes an absent or null `config:` into the zero value of the type's config struct, so a type
// without settings (mockCallback) needs no `config` key, and a missing required key is reported by name.
const absentAsEmpty = (config: unknown): unknown => config ?? {};

/** The config schema per connector type, for the config loader's `connectors[].config`. */
export function connectorSchemas(): Record<string, z.ZodType> {
  return Object.fromEntries(
    Object.entries(connectorTypes).map(([type, { configSchema }]) => [type, z.preprocess(absentAsEmpty, configSchema)]),
  );
}

/** A connector config that does not match its type's schema; `issues` paths are relative to `config`. */
export class ConnectorConfigError extends Error {
  readonly connectorId: string;
  readonly issues: readonly z.core.$ZodIssue[];
  constructor(connectorId: string, type: string, error: z.ZodError) {
    const details = error.issues.map((i) => `${formatPath(['config', ...i.path])}: ${i.message}`).join('; ');
    super(`connector ${JSON.stringify(connectorId)} (type ${type}): invalid config: ${details}`, { cause: error });
    this.name = 'ConnectorConfigError';
    this.connectorId = connectorId;
    this.issues = error.issues;
  }
}

// config.servers[0].host, the way the YAML reads.
function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

const loaded = new Set<ConnectorType>();

/** The connector types whose modules this process has loaded (to open a connector), in first-use order. */
export const loadedConnectorTypes = (): readonly ConnectorType[] => [...loaded];

/**
 * Parses `config` with the schema of `type` and opens the connector. Throws an Error for an unknown
 * type and ConnectorConfigError (with every zod issue) for an invalid config.
 */
export async function openConnector(
  type: string,
  id: string,
  config: unknown,
  deps: ConnectorDeps,
): Promise<Connector> {
  if (!isConnectorType(type)) {
    const known = Object.keys(connectorTypes).join(', ');
    throw new Error(
      `connector ${JSON.stringify(id)}: unknown connector type ${JSON.stringify(type)} (supported: ${known})`,
    );
  }
  // Widened to the common entry type: the schema below produced exactly what this module's open expects.
  const typeEntry: ConnectorTypeEntry = connectorTypes[type];
  const parsed = z.preprocess(absentAsEmpty, typeEntry.configSchema).safeParse(config);
  if (!parsed.success) throw new ConnectorConfigError(id, type, parsed.error);
  loaded.add(type);
  const module = await typeEntry.load();
  return module.open(id, parsed.data, deps);
}
