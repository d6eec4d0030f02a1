/**
 * Dex's documented example configs (dexidp/website content/docs/connectors/*.md) for the microsoft, google,
 * gitlab, gitea and bitbucket-cloud connectors, verbatim: each passes `check-config`, and idport serves them
 * with no network at all (Google's discovery fails in the background; the login page says so).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

import { pino } from 'pino';

import { connectorSchemas } from '../../connectors/registry.js';
import { loadConfig } from '../../src/config/load.js';
import { defaultDeps } from '../../src/deps.js';
import { createServer } from '../../src/server.js';
import { Browser } from '../support/browser.js';
import { freePort } from '../support/config-server.js';

const EXAMPLES: Record<string, string> = {
  microsoft: `  - type: microsoft
    # Required field for connector id.
    id: microsoft
    # Required field for connector name.
    name: Microsoft
    config:
      # Credentials can be string literals or pulled from the environment.
      clientID: $MICROSOFT_APPLICATION_ID
      clientSecret: $MICROSOFT_CLIENT_SECRET
      redirectURI: http://127.0.0.1:5556/dex/callback
      tenant: myorg.onmicrosoft.com
      groups:
        - developers
        - devops
      # All relevant E-Mail Addresses delivered by AD will transformed to
      # lowercase if config is TRUE
      emailToLowercase: true
`,
  'microsoft-domain-hint': `  - type: microsoft
    id: microsoft-domain-hint
    name: Microsoft
    config:
      clientID: $MICROSOFT_APPLICATION_ID
      clientSecret: $MICROSOFT_CLIENT_SECRET
      redirectURI: http://127.0.0.1:5556/dex/callback
      tenant: example.onmicrosoft.com
      domainHint: example.com
      scopes:
        - openid
        - email
`,
  google: `- type: google
  id: google
  name: Google
  config:

    # Connector config values starting with a "$" will read from the environment.
    clientID: $GOOGLE_CLIENT_ID
    clientSecret: $GOOGLE_CLIENT_SECRET

    # Dex's issuer URL + "/callback"
    redirectURI: http://127.0.0.1:5556/dex/callback

    # Set the value of \`prompt\` query parameter in the authorization request
    # The default value is "consent" when not set.
    # promptType: consent
`,
  gitlab: `  - type: gitlab
    # Required field for connector id.
    id: gitlab
    # Required field for connector name.
    name: GitLab
    config:
      # optional, default = https://gitlab.com
      baseURL: https://gitlab.com
      # Credentials can be string literals or pulled from the environment.
      clientID: $GITLAB_APPLICATION_ID
      clientSecret: $GITLAB_CLIENT_SECRET
      redirectURI: http://127.0.0.1:5556/dex/callback
      groups:
      - my-group
      useLoginAsID: false
      getGroupsPermission: false
`,
  gitea: `- type: gitea
  # Required field for connector id.
  id: gitea
  # Required field for connector name.
  name: Gitea
  config:
    # Credentials can be string literals or pulled from the environment.
    clientID: $GITEA_CLIENT_ID
    clientSecret: $GITEA_CLIENT_SECRET
    redirectURI: http://127.0.0.1:5556/dex/callback
    # optional, default = https://gitea.com
    baseURL: https://gitea.com
`,
  'bitbucket-cloud': `- type: bitbucket-cloud
  # Required field for connector id.
  id: bitbucket-cloud
  # Required field for connector name.
  name: Bitbucket Cloud
  config:
    # Credentials can be string literals or pulled from the environment.
    clientID: $BITBUCKET_CLIENT_ID
    clientSecret: $BITBUCKET_CLIENT_SECRET
    redirectURI: http://127.0.0.1:5556/dex/callback
    teams:
    - my-team
    includeTeamGroups: true
`,
};

const ENV = Object.fromEntries(
  [
    'MICROSOFT_APPLICATION_ID',
    'MICROSOFT_CLIENT_SECRET',
    'GOOGLE_CLIENT_ID',
    'GOOGLE_CLIENT_SECRET',
    'GITLAB_APPLICATION_ID',
    'GITLAB_CLIENT_SECRET',
    'GITEA_CLIENT_ID',
    'GITEA_CLIENT_SECRET',
    'BITBUCKET_CLIENT_ID',
    'BITBUCKET_CLIENT_SECRET',
  ].map((name) => [name, `value-of-${name.toLowerCase()}`]),
);

// The docs indent some examples' list by two spaces; one `connectors:` list needs one indentation.
const dedent = (example: string): string => (example.startsWith('  -') ? example.replace(/^ {2}/gm, '') : example);
const configWith = (port: number, examples: readonly string[]): string => `issuer: http://127.0.0.1:${port}/dex
storage: { type: memory }
web: { http: '127.0.0.1:${port}' }
staticClients:
- id: app
  name: App
  secret: app-secret
  redirectURIs: ['http://127.0.0.1:5555/callback']
connectors:
${examples.map(dedent).join('')}`;

describe("Dex's documented examples of the social connectors", () => {
  const dir = mkdtempSync(join(tmpdir(), 'idport-social-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const [name, example] of Object.entries(EXAMPLES)) {
    it(`${name}: loads as check-config reads it`, () => {
      const config = loadConfig(configWith(5556, [example]), 'config.yaml', {
        env: ENV,
        connectorSchemas: connectorSchemas(),
      });
      assert.equal(config.connectors.length, 1);
    });
  }

  it('check-config accepts all of them together', () => {
    const path = join(dir, 'config.yaml');
    writeFileSync(path, configWith(5556, Object.values(EXAMPLES)));
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'check-config', path], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, ...ENV },
    });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /6 connector\(s\)/);
  });

  it('serve starts with no network, and the Google login page says Google is not reachable', async () => {
    const attempts: string[] = [];
    const offline: typeof fetch = async (input) => {
      attempts.push(input instanceof Request ? input.url : String(input));
      throw new TypeError('fetch failed: no network in this test');
    };
    const port = await freePort();
    // The examples' redirectURI names Dex's port; serve them at this test's port.
    const yaml = configWith(port, Object.values(EXAMPLES)).replaceAll('127.0.0.1:5556', `127.0.0.1:${port}`);
    const config = loadConfig(yaml, 'config.yaml', {
      env: ENV,
      connectorSchemas: connectorSchemas(),
    });
    const server = await createServer(config, {
      log: pino({ level: 'silent' }),
      deps: { ...defaultDeps, fetch: offline },
    });
    try {
      await server.app.listen({ host: '127.0.0.1', port });
      const discovery = await fetch(`http://127.0.0.1:${port}/dex/.well-known/openid-configuration`);
      assert.equal(discovery.status, 200);
      assert.ok(
        attempts.every((url) => url.startsWith('https://accounts.google.com/')),
        attempts.join(', '),
      );
      const page = await new Browser().follow(
        `http://127.0.0.1:${port}/dex/auth?connector_id=google&client_id=app&redirect_uri=${encodeURIComponent('http://127.0.0.1:5555/callback')}&response_type=code&scope=openid&state=s`,
        'http://127.0.0.1:5555/callback',
      );
      assert.equal(page.location, undefined);
      assert.match(page.page.body, /Google is not reachable/);
    } finally {
      await server.close();
    }
  });
});
