/**
 * ProviderSettings for tests, derived the way the server derives them: a minimal config.yaml through the real loader
 * and `settingsFromConfig`. Tests never write ProviderSettings by hand, so a new setting gets its default from the
 * config schema, the one place defaults live.
 */
import { connectorSchemas } from '../../connectors/registry.js';
import { loadConfig } from '../../src/config/load.js';
import type { ProviderSettings } from '../../src/oauth/settings.js';
import { settingsFromConfig } from '../../src/server.js';

/** Config keys besides `issuer` and `storage`, as YAML; the defaults below suit most route and domain tests. */
export const TEST_CONFIG_YAML = `
oauth2:
  responseTypes: [code, id_token, id_token token, code id_token, code token, code id_token token]
  grantTypes: [authorization_code, refresh_token, urn:ietf:params:oauth:grant-type:device_code]
sessions:
  cookieName: idport_session
  # Single sign-on across every client, as these tests (and idport before Dex's sharing rules) expect.
  ssoSharedWithDefault: all
# Every test of a file fails logins from 127.0.0.1: a high per-address budget; accounts keep the default lockout.
bruteForce:
  maxFailuresPerIP: 1000
`;

/**
 * Settings for `issuer` from `yaml` (TEST_CONFIG_YAML unless given) with Dex's defaults for everything else, then
 * `overrides` on top for the few values a test sets directly.
 */
export const testSettings = (
  issuer: string,
  options: { readonly yaml?: string; readonly overrides?: Partial<ProviderSettings> } = {},
): ProviderSettings => {
  // `web` only satisfies the schema: tests listen where startIdport says.
  const text = `issuer: ${issuer}\nstorage:\n  type: memory\nweb:\n  http: 127.0.0.1:0\n${options.yaml ?? TEST_CONFIG_YAML}`;
  const config = loadConfig(text, 'test-config.yaml', { env: {}, connectorSchemas: connectorSchemas() });
  const derived = settingsFromConfig(config);
  // Unless a test writes its own oauth2.responseTypes, discovery lists `responseTypes` in idport's order (what the
  // route tests pin) rather than the config's advertised list; so does a test narrowing responseTypes directly.
  if (options.yaml === undefined || options.overrides?.responseTypes !== undefined)
    delete (derived as { advertisedResponseTypes?: unknown }).advertisedResponseTypes;
  return { ...derived, ...options.overrides };
};

/** `bruteForce` as the config schema defaults it, for tests that change one budget. */
export const DEFAULT_BRUTE_FORCE = testSettings('https://defaults.example/dex', { yaml: '' }).bruteForce;
