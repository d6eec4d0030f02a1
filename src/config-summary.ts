/**
 * What `idport check-config` prints about a valid config: the listeners, each client with what it must be set up with
 * (id, redirect URIs, the grants it may use), and the connectors — so an operator can copy a client's settings into
 * the application without reading YAML.
 */
import type { Config } from './config/schema.js';
import { mayUseDeviceFlow } from './oauth/device/authorization.js';
import { settingsFromConfig } from './server.js';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';

/** The grants a client may use under this config (the token endpoint's checks, said in advance). */
const grantsOf = (client: Config['staticClients'][number], config: Config): string[] => {
  const settings = settingsFromConfig(config);
  const grants: string[] = [];
  for (const grant of settings.grantTypes) {
    if (grant === 'authorization_code' && client.redirectURIs.length === 0 && !client.public) continue;
    if ((grant === 'password' || grant === TOKEN_EXCHANGE_GRANT) && client.public) continue;
    if (grant === DEVICE_GRANT && !mayUseDeviceFlow({ ...client, secret: client.secret ?? '' }, settings)) continue;
    grants.push(grant === DEVICE_GRANT ? 'device_code' : grant === TOKEN_EXCHANGE_GRANT ? 'token_exchange' : grant);
  }
  if (settings.responseTypes.some((type) => type !== 'code')) grants.push('implicit/hybrid');
  return grants;
};

const list = (values: readonly string[]): string => (values.length === 0 ? '(none)' : values.join(', '));

/** The lines check-config prints after "valid". */
export const describeConfig = (config: Config): string[] => {
  const lines: string[] = [];
  const { web, telemetry } = config;
  const listeners = [
    ...(web.http !== undefined ? [`web.http ${web.http}`] : []),
    ...(web.https !== undefined ? [`web.https ${web.https}`] : []),
    ...(telemetry.http !== undefined ? [`telemetry.http ${telemetry.http} (/metrics, /healthz)`] : []),
  ];
  lines.push(`listeners: ${list(listeners)}`);
  lines.push(`clients (${config.staticClients.length}):`);
  for (const client of config.staticClients) {
    const kind = client.public ? 'public' : 'confidential';
    lines.push(`  ${client.id}${client.name ? ` "${client.name}"` : ''} (${kind})`);
    lines.push(`    redirect URIs: ${list(client.redirectURIs)}`);
    if ((client.postLogoutRedirectURIs ?? []).length > 0)
      lines.push(`    post-logout redirect URIs: ${list(client.postLogoutRedirectURIs ?? [])}`);
    lines.push(`    grant types: ${list(grantsOf(client, config))}`);
  }
  const connectors = config.connectors.map((c) => `${c.id} (${c.type}${c.name ? `, "${c.name}"` : ''})`);
  if (config.enablePasswordDB || config.staticPasswords.length > 0)
    connectors.unshift(`local (password database, ${config.staticPasswords.length} static user(s))`);
  lines.push(`connectors: ${list(connectors)}`);
  return lines;
};
