/**
 * Connector types by the `type` name a Dex config.yaml uses. Adding a type is one import and one
 * entry in `connectorModules`; the config loader and `openConnector` pick it up from there.
 * (`local` is not here: it is not configured as a connector entry but built by the server, see local/local.ts.)
 */
import { z } from 'zod';

import { atlassianCrowd } from './atlassian-crowd/crowd.js';
import { authproxy } from './authproxy/authproxy.js';
import { bitbucketCloud } from './bitbucketcloud/bitbucketcloud.js';
import type { Connector, ConnectorDeps, ConnectorModule } from './connector.js';
import { gitea } from './gitea/gitea.js';
import { github } from './github/github.js';
import { gitlab } from './gitlab/gitlab.js';
import { google } from './google/google.js';
import { keystone } from './keystone/keystone.js';
import { ldap } from './ldap/ldap.js';
import { linkedin } from './linkedin/linkedin.js';
import { microsoft } from './microsoft/microsoft.js';
import { mockCallback, mockPassword } from './mock/mock.js';
import { oauth } from './oauth/oauth.js';
import { oidc } from './oidc/oidc.js';
import { openshift } from './openshift/openshift.js';
import { saml } from './saml/saml.js';

/** Every configurable connector type, keyed by its Dex `type` name. */
export const connectorModules = {
  'atlassian-crowd': atlassianCrowd,
  authproxy,
  'bitbucket-cloud': bitbucketCloud,
  gitea,
  github,
  gitlab,
  google,
  keystone,
  ldap,
  linkedin,
  microsoft,
  mockCallback,
  mockPassword,
  oauth,
  oidc,
  openshift,
  saml,
} satisfies Record<string, ConnectorModule>;

/** A connector `type` idport supports. */
export type ConnectorType = keyof typeof connectorModules;

/** Whether `type` names a supported connector type (own keys only, so "toString" is not a type). */
export function isConnectorType(type: string): type is ConnectorType {
  return Object.hasOwn(connectorModules, type);
}

// Dex decodes an absent or null `config:` into the zero value of the type's config struct, so a type
// without settings (mockCallback) needs no `config` key, and a missing required key is reported by name.
const absentAsEmpty = (config: unknown): unknown => config ?? {};

/** The config schema per connector type, for the config loader's `connectors[].config`. */
export function connectorSchemas(): Record<string, z.ZodType> {
  return Object.fromEntries(
    Object.entries(connectorModules).map(([type, module]) => [type, z.preprocess(absentAsEmpty, module.configSchema)]),
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
    const known = Object.keys(connectorModules).join(', ');
    throw new Error(
      `connector ${JSON.stringify(id)}: unknown connector type ${JSON.stringify(type)} (supported: ${known})`,
    );
  }
  // Widened to the common module type: the schema below produced exactly what this module's open expects.
  const module: ConnectorModule = connectorModules[type];
  const parsed = z.preprocess(absentAsEmpty, module.configSchema).safeParse(config);
  if (!parsed.success) throw new ConnectorConfigError(id, type, parsed.error);
  return module.open(id, parsed.data, deps);
}
